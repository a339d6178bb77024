//! Without a usable adapter, `Gpu::new` fails with an error that says how to install a
//! Vulkan driver, and (with `KILN_GPU_TESTS` unset) `gpu_tests_enabled` sees that there is no
//! adapter and skips the GPU tests. Simulated by asking for the GL backend, which this crate
//! does not build. Its own test binary: it changes the process environment.

use codegen_gpu::{GPU_TESTS_VAR, Gpu, GpuError, gpu_tests_enabled};

#[test]
fn no_adapter_says_how_to_install_a_driver_and_gpu_tests_skip_themselves() {
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe {
        std::env::set_var("WGPU_BACKEND", "gl");
        std::env::remove_var(GPU_TESTS_VAR);
    }
    let err = Gpu::new().expect_err("the GL backend is not built, so no adapter exists");
    assert!(matches!(err, GpuError::NoAdapter(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("mesa-vulkan-drivers") && text.contains("KILN_GPU_TESTS=skip"),
        "{text}"
    );
    assert!(
        !gpu_tests_enabled(),
        "no adapter and {GPU_TESTS_VAR} unset: GPU tests skip themselves"
    );
}
