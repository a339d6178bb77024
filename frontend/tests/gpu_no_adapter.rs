//! Without a GPU adapter, `compile_on(Device::Gpu, ..)` fails with an error that says how
//! to install a Vulkan driver, and `Device::Auto` falls back to the CPU. Simulated by asking
//! wgpu for the GL backend, which Kiln does not build. Its own test binary: it changes the
//! process environment.

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

#[test]
fn no_adapter_says_how_to_install_a_driver_and_auto_falls_back_to_the_cpu() {
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("WGPU_BACKEND", "gl") };
    let mut model = sequential![Input::new([4]), Dense::new(3)];
    let err = model
        .compile_on(
            Device::Gpu,
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .expect_err("no adapter exists");
    assert!(
        matches!(err, Error::Gpu(codegen_gpu::GpuError::NoAdapter(_))),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("mesa-vulkan-drivers libvulkan1"), "{text}");
    assert!(
        !model.is_compiled(),
        "a failed compile leaves the model as it was"
    );

    model
        .compile_on(
            Device::Auto,
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    assert_eq!(model.device(), Device::Cpu);
    assert_eq!(model.device_name(), "cpu");
    let data = Dataset::new(
        vec![0.5; 8],
        &[2, 4],
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        &[2, 3],
    )
    .unwrap();
    model
        .fit_with(&data, FitOptions::new(1, 2).verbose(0))
        .unwrap();
}
