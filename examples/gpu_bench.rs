//! Training speed on the GPU and on the CPU, side by side.
//!
//! `cargo run --release --example gpu_bench [-- --steps N] [--cnn-steps N] [--no-cnn]` —
//! times one epoch of the seed MLP (Input(28,28,1) → Flatten → Dense(300, relu) →
//! Dense(100, relu) → Dense(10), Adam, batch 100: 600 steps on MNIST's 60000 training
//! images) and 100 training steps of the `mnist_cnn` model (batch 100) on each device, and
//! prints seconds, milliseconds per step and images per second. `--steps N` times N steps of
//! the MLP instead of a whole epoch (for slow devices such as a software Vulkan driver);
//! `--cnn-steps N` changes the CNN's step count, `--no-cnn` skips it.
//!
//! Each timing starts after one warm-up step, which compiles the step (and, on the GPU,
//! its pipelines) and uploads the parameters. Without a GPU adapter the GPU rows show the
//! error, which says how to install a driver.

use std::time::Instant;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const BATCH_SIZE: usize = 100;

/// The seed MLP: 784-300-100-10 with relu.
fn mlp() -> Sequential {
    sequential![
        Input::new([28, 28, 1]),
        Flatten::new(),
        Dense::new(300).activation(Activation::Relu),
        Dense::new(100).activation(Activation::Relu),
        Dense::new(10),
    ]
}

/// The value after `flag` on the command line, parsed; `default` when absent.
fn option(flag: &str, default: usize) -> kiln::Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == flag) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::InvalidArgument {
                name: "steps",
                msg: format!("{flag} takes a positive number of steps"),
            }),
    }
}

/// The first `n` examples of `data`.
fn first(data: &Dataset, n: usize) -> kiln::Result<Dataset> {
    let n = n.min(data.len());
    let mut features = vec![n];
    features.extend_from_slice(data.feature_shape());
    let mut labels = vec![n];
    labels.extend_from_slice(data.label_shape());
    Dataset::new(
        data.features()[..n * data.feature_size()].to_vec(),
        &features,
        data.labels()[..n * data.label_size()].to_vec(),
        &labels,
    )
}

/// Seconds for `steps` training steps of `build()` on `device`, after one warm-up step;
/// also the device's name.
fn time_steps(
    build: fn() -> Sequential,
    device: Device,
    data: &Dataset,
    steps: usize,
) -> kiln::Result<(String, f64)> {
    let mut model = build();
    model.compile_on(
        device,
        Adam::default(),
        SoftmaxCrossEntropyWithLogits,
        [Accuracy],
    )?;
    model.fit_with(
        &first(data, BATCH_SIZE)?,
        FitOptions::new(1, BATCH_SIZE).verbose(0),
    )?;
    let timed = first(data, steps * BATCH_SIZE)?;
    let started = Instant::now();
    model.fit_with(&timed, FitOptions::new(1, BATCH_SIZE).verbose(0))?;
    // Make sure the device has finished: read the weights back.
    model.weights()?;
    Ok((model.device_name(), started.elapsed().as_secs_f64()))
}

fn report(what: &str, build: fn() -> Sequential, data: &Dataset, steps: usize) {
    for device in [Device::Gpu, Device::Cpu] {
        match time_steps(build, device, data, steps) {
            Ok((name, seconds)) => println!(
                "{what:<28} {device:<4} {steps:>5} steps {seconds:>9.2} s {:>9.2} ms/step {:>10.0} images/s   ({name})",
                1e3 * seconds / steps as f64,
                (steps * BATCH_SIZE) as f64 / seconds
            ),
            Err(e) => println!("{what:<28} {device:<4} failed: {e}"),
        }
    }
}

fn main() -> kiln::Result<()> {
    let (train, _) = kiln::datasets::mnist::load(kiln_examples::dataset_dir("mnist"))?;
    let epoch = train.len().div_ceil(BATCH_SIZE);
    let mlp_steps = option("--steps", epoch)?.min(epoch);
    let cnn_steps = option("--cnn-steps", 100)?.min(epoch);
    let what = if mlp_steps == epoch {
        "MLP 784-300-100-10, 1 epoch".to_string()
    } else {
        "MLP 784-300-100-10".to_string()
    };
    report(&what, mlp, &train, mlp_steps);
    if !std::env::args().any(|a| a == "--no-cnn") {
        report("mnist_cnn", kiln_examples::mnist_cnn, &train, cnn_steps);
    }
    Ok(())
}
