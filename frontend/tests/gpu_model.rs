//! Models compiled for the GPU (`compile_on(Device::Gpu, ..)`) against the same models on
//! the CPU backend: tiny versions of the MNIST MLP and CNN (8x8 inputs, batch 8) take their
//! first three Adam steps to the same losses and weights within [`STEP_TOL`]; a short GPU
//! fit lowers the loss; evaluate and predict agree; `Device::Auto` picks the GPU.
//!
//! Runs on any Vulkan driver (lavapipe in CI). Where no GPU adapter exists the tests skip
//! themselves (`KILN_GPU_TESTS=require` makes that a failure): see
//! `codegen_gpu::gpu_tests_enabled`, the one rule of every GPU test.

mod devices;

use codegen_gpu::gpu_tests_enabled;
use devices::{BatchLosses, assert_close, close};
use kiln::Tensor;
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

/// Relative tolerance after three Adam steps (as in the GPU backend's own training tests):
/// Adam divides by the gradients' running RMS, which amplifies summation-order differences.
const STEP_TOL: f32 = 1e-3;
/// Relative tolerance of a forward pass (evaluate, predict) on the same weights.
const FORWARD_TOL: f32 = 1e-4;
const CLASSES: usize = 10;
const BATCH: usize = 8;

/// `n` 8x8 images whose class is the brightest row (so a model can learn it), one-hot.
fn images(n: usize, seed: u32) -> Dataset {
    let mut x: Vec<f32> = (0..n * 64)
        .map(|i| ir::random::uniform(seed, i as u32) * 0.5)
        .collect();
    let mut y = vec![0.0; n * CLASSES];
    for b in 0..n {
        let class = b * 7 % 8;
        for c in 0..8 {
            x[b * 64 + class * 8 + c] += 0.5;
        }
        y[b * CLASSES + class] = 1.0;
    }
    Dataset::new(x, &[n, 8, 8, 1], y, &[n, CLASSES]).unwrap()
}

fn mlp() -> Sequential {
    sequential![
        Input::new([8, 8, 1]),
        Flatten::new(),
        Dense::new(24).activation(Activation::Relu),
        Dense::new(16).activation(Activation::Relu),
        Dense::new(CLASSES),
    ]
    .with_seed(7)
}

fn cnn() -> Sequential {
    sequential![
        Input::new([8, 8, 1]),
        Conv2D::new(4, 3).activation(Activation::Relu),
        MaxPool2D::default(),
        Conv2D::new(6, 2).activation(Activation::Relu),
        Flatten::new(),
        Dropout::new(0.5),
        Dense::new(CLASSES),
    ]
    .with_seed(11)
}

/// `model` compiled on `device` after `epochs` unshuffled epochs on `data` in batches of 8;
/// the running mean loss after each batch.
fn trained(
    mut model: Sequential,
    device: Device,
    data: &Dataset,
    epochs: usize,
) -> (Sequential, Vec<f32>) {
    model
        .compile_on(
            device,
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    assert_eq!(model.device(), device);
    let mut losses = BatchLosses::default();
    model
        .fit_with(
            data,
            FitOptions::new(epochs, BATCH)
                .shuffle(false)
                .verbose(0)
                .callback(&mut losses),
        )
        .unwrap();
    (model, losses.0)
}

/// Three training steps on each device give the same losses, layer weights and optimizer
/// state (the GPU's read back from the device by `weights`).
fn first_steps_match(build: fn() -> Sequential) {
    let data = images(3 * BATCH, 1);
    let (mut cpu, cpu_losses) = trained(build(), Device::Cpu, &data, 1);
    let (mut gpu, gpu_losses) = trained(build(), Device::Gpu, &data, 1);
    assert_eq!(gpu_losses.len(), 3);
    assert_close("running loss", &gpu_losses, &cpu_losses, STEP_TOL);
    let cpu_weights = cpu.weights().unwrap();
    let gpu_weights = gpu.weights().unwrap();
    assert_eq!(
        cpu_weights.keys().collect::<Vec<_>>(),
        gpu_weights.keys().collect::<Vec<_>>()
    );
    for (name, want) in &cpu_weights {
        assert_close(name, &gpu_weights[name].data, &want.data, STEP_TOL);
    }
    // `weight` reads one parameter back without syncing everything.
    let (name, _) = cpu.layer_weights().unwrap().pop_first().unwrap();
    assert_close(
        &name,
        &gpu.weight(&name).unwrap().data,
        &cpu_weights[&name].data,
        STEP_TOL,
    );
}

#[test]
fn mlp_first_steps_match_the_cpu() {
    if gpu_tests_enabled() {
        first_steps_match(mlp);
    }
}

#[test]
fn cnn_first_steps_match_the_cpu() {
    if gpu_tests_enabled() {
        first_steps_match(cnn);
    }
}

#[test]
fn a_short_gpu_fit_lowers_the_loss_and_evaluate_and_predict_agree_with_the_cpu() {
    if !gpu_tests_enabled() {
        return;
    }
    let data = images(4 * BATCH, 2);
    let (mut gpu, losses) = trained(mlp(), Device::Gpu, &data, 5);
    let first = losses[3]; // mean over the first epoch
    let last = *losses.last().unwrap();
    assert!(
        last < 0.8 * first,
        "the loss does not fall: {first} -> {last}"
    );

    // A CPU model with the GPU model's trained weights evaluates and predicts the same.
    let mut cpu = mlp();
    cpu.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
        .unwrap();
    cpu.set_weights(&gpu.layer_weights().unwrap()).unwrap();
    let test = images(13, 3); // batches of 8: one full and a partial one of 5
    let on_gpu = gpu.evaluate(&test, BATCH).unwrap();
    let on_cpu = cpu.evaluate(&test, BATCH).unwrap();
    assert!(
        close(on_gpu.loss, on_cpu.loss, FORWARD_TOL),
        "loss {} vs {}",
        on_gpu.loss,
        on_cpu.loss
    );
    assert_eq!(on_gpu.metrics, on_cpu.metrics);

    let features = Tensor::new([13, 8, 8, 1], test.features().to_vec()).unwrap();
    let gpu_predictions = gpu.predict(&features, BATCH).unwrap();
    let cpu_predictions = cpu.predict(&features, BATCH).unwrap();
    assert_eq!(gpu_predictions.shape, cpu_predictions.shape);
    assert_close(
        "predictions",
        &gpu_predictions.data,
        &cpu_predictions.data,
        FORWARD_TOL,
    );
    assert_close(
        "predict_one",
        &gpu.predict_one(&test.features()[..64]).unwrap(),
        &cpu_predictions.data[..CLASSES],
        FORWARD_TOL,
    );

    // Weights set on a GPU model reach the device: training continues from them.
    let zeros: std::collections::BTreeMap<String, Tensor> = gpu
        .layer_weights()
        .unwrap()
        .into_iter()
        .map(|(name, t)| {
            (
                name,
                Tensor {
                    data: vec![0.0; t.data.len()],
                    shape: t.shape,
                },
            )
        })
        .collect();
    gpu.set_weights(&zeros).unwrap();
    let uniform = gpu.predict(&features, BATCH).unwrap();
    assert!(
        uniform.data.iter().all(|&v| v == 0.0),
        "zero weights give zero logits"
    );
    let evaluation = gpu.evaluate(&test, BATCH).unwrap();
    assert!(
        close(evaluation.loss, (CLASSES as f32).ln(), FORWARD_TOL),
        "uniform loss {}",
        evaluation.loss
    );
}

#[test]
fn auto_picks_the_gpu_when_there_is_one() {
    if !gpu_tests_enabled() {
        return;
    }
    let mut model = mlp();
    assert_eq!(
        model.device(),
        Device::Cpu,
        "an uncompiled model predicts on the CPU"
    );
    model
        .compile_on(
            Device::Auto,
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    assert_eq!(model.device(), Device::Gpu);
    assert!(
        model.device_name().starts_with("gpu: "),
        "{}",
        model.device_name()
    );
    // `compile` keeps meaning the CPU, also when recompiling.
    model
        .compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
        .unwrap();
    assert_eq!(model.device(), Device::Cpu);
}

/// The shared CPU≡GPU helper of the layer tests, on the tiny CNN.
#[test]
fn the_shared_device_check_passes_on_the_cnn() {
    devices::assert_training_matches("cnn", &|| cnn(), &images(2 * BATCH, 3));
    let x = Tensor::new([BATCH, 8, 8, 1], images(BATCH, 4).features().to_vec()).unwrap();
    devices::assert_predictions_match("cnn", &|| cnn(), &[&x]);
}
