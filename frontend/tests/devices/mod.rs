//! The CPU≡GPU check every layer test shares: one model built twice, compiled on
//! `Device::Cpu` and on `Device::Gpu` with plain SGD and a mean squared error, trained two
//! unshuffled steps on the same data; the per-batch losses, every weight afterwards, and the
//! predictions on the data must agree within the tolerances below. Models of several inputs
//! (which `fit` does not train) compare their predictions only ([`assert_predictions_match`]).
//!
//! Skips itself where no GPU adapter exists (`codegen_gpu::gpu_tests_enabled`, the one rule
//! of every GPU test; `KILN_GPU_TESTS=require` makes that a failure).

#![allow(dead_code)] // each test crate uses only some of the helpers

use codegen_gpu::gpu_tests_enabled;
use kiln::Tensor;
use kiln::callbacks::{Callback, Logs, Training};
use kiln::losses::MeanSquaredError;
use kiln::metrics::Accuracy;
use kiln::optimizers::SGD;
use kiln::prelude::*;

/// Relative tolerance after two SGD steps (summation orders differ between the backends).
pub const STEP_TOL: f32 = 1e-3;
/// Relative tolerance of a forward pass on the same weights.
pub const FORWARD_TOL: f32 = 1e-4;

/// `|a - b| <= tol * max(1, |a|, |b|)`.
pub fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * 1f32.max(a.abs()).max(b.abs())
}

pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(*g, *w, tol),
            "{what}: element {i} is {g} on the GPU, {w} on the CPU (tolerance {tol})"
        );
    }
}

/// The running mean loss after each batch.
#[derive(Default)]
pub struct BatchLosses(pub Vec<f32>);

impl Callback for BatchLosses {
    fn on_batch_end(
        &mut self,
        _batch: usize,
        logs: &Logs,
        _training: &mut Training<'_>,
    ) -> kiln::Result<()> {
        self.0.push(logs.get("loss").expect("fit reports the loss"));
        Ok(())
    }
}

/// `build()` compiled on `device`, trained one epoch of two unshuffled batches on `data`.
fn trained(build: &dyn Fn() -> Model, device: Device, data: &Dataset) -> (Model, Vec<f32>) {
    let mut model = build();
    model
        .compile_on(
            device,
            SGD::default().learning_rate(0.05),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap_or_else(|e| panic!("compiling on {device:?}: {e}"));
    let mut losses = BatchLosses::default();
    let batch = data.len().div_ceil(2);
    model
        .fit_with(
            data,
            FitOptions::new(1, batch)
                .shuffle(false)
                .verbose(0)
                .callback(&mut losses),
        )
        .unwrap_or_else(|e| panic!("training on {device:?}: {e}"));
    (model, losses.0)
}

/// Two SGD steps of `build()` on `data` give the same losses, weights and predictions on
/// the GPU as on the CPU. `name` labels failures. Does nothing where GPU tests are off.
pub fn assert_training_matches(name: &str, build: &dyn Fn() -> Model, data: &Dataset) {
    if !gpu_tests_enabled() {
        return;
    }
    let (mut cpu, cpu_losses) = trained(build, Device::Cpu, data);
    let (mut gpu, gpu_losses) = trained(build, Device::Gpu, data);
    assert_close(
        &format!("{name}: losses"),
        &gpu_losses,
        &cpu_losses,
        STEP_TOL,
    );
    let cpu_weights = cpu.weights().unwrap();
    let gpu_weights = gpu.weights().unwrap();
    for (param, want) in &cpu_weights {
        let got = &gpu_weights[param].data;
        assert_close(&format!("{name}: {param}"), got, &want.data, STEP_TOL);
    }
    let mut shape = vec![data.len()];
    shape.extend(data.feature_shape());
    let features = Tensor::new(shape.as_slice(), data.features().to_vec()).unwrap();
    let want = cpu.predict(&features, data.len()).unwrap();
    let got = gpu.predict(&features, data.len()).unwrap();
    assert_close(
        &format!("{name}: predictions"),
        &got.data,
        &want.data,
        FORWARD_TOL,
    );
}

/// `build()` compiled on each device (SGD, mean squared error: only the device matters)
/// predicts the same outputs for `inputs` (one tensor per model input, in order).
pub fn assert_predictions_match(name: &str, build: &dyn Fn() -> Model, inputs: &[&Tensor]) {
    if !gpu_tests_enabled() {
        return;
    }
    let outputs = |device: Device| {
        let mut model = build();
        model
            .compile_on(
                device,
                SGD::default(),
                MeanSquaredError,
                [] as [Accuracy; 0],
            )
            .unwrap_or_else(|e| panic!("{name}: compiling on {device:?}: {e}"));
        let batch = inputs[0].shape.dims()[0];
        model
            .predict_many(inputs, batch)
            .unwrap_or_else(|e| panic!("{name}: predicting on {device:?}: {e}"))
    };
    let (want, got) = (outputs(Device::Cpu), outputs(Device::Gpu));
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_close(
            &format!("{name}: output {k}"),
            &g.data,
            &w.data,
            FORWARD_TOL,
        );
    }
}
