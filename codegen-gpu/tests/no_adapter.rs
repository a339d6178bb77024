//! Without a usable adapter, `Gpu::new` fails with an error that says how to install a
//! Vulkan driver. Simulated by asking for the GL backend, which this crate does not build.
//! Its own test binary: it changes the process environment.

use codegen_gpu::{Gpu, GpuError};

#[test]
fn no_adapter_says_how_to_install_a_driver() {
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("WGPU_BACKEND", "gl") };
    let err = Gpu::new().expect_err("the GL backend is not built, so no adapter exists");
    assert!(matches!(err, GpuError::NoAdapter(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("mesa-vulkan-drivers") && text.contains("KILN_GPU_TESTS=skip"),
        "{text}"
    );
}
