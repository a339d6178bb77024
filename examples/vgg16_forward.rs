//! VGG16 inference speed: builds Keras' VGG16 from the config Keras wrote
//! (`tf_keras.applications.VGG16(weights=None).to_json()`), fills it with random weights
//! (Keras' initializers), and times one 224×224 image through it.
//!
//! `cargo run --release --example vgg16_forward` — prints the parameter count, the time to
//! compile the model (initialising its weights), the first forward pass (which compiles the
//! batch-1 predictor) and the median forward time over [`RUNS`] further runs.

use std::time::Instant;

use kiln::Model;
use kiln::losses::MeanSquaredError;
use kiln::metrics::Accuracy;
use kiln::optimizers::SGD;
use serde_json::Value;

/// Keras' VGG16 architecture (no weights), as `model.to_json()` writes it.
const VGG16_CONFIG: &str =
    include_str!("../frontend/tests/fixtures/keras/architectures/vgg16_config.json");
/// Timed forward passes after the first (which compiles the predictor).
const RUNS: usize = 5;

fn main() -> kiln::Result<()> {
    let config: Value = serde_json::from_str(VGG16_CONFIG).expect("the VGG16 config is JSON");
    let mut model = Model::from_config(&config)?;
    println!("VGG16: {} parameters", model.count_params()?);

    let start = Instant::now();
    model.compile(SGD::default(), MeanSquaredError, [] as [Accuracy; 0])?;
    let setup_seconds = start.elapsed().as_secs_f64();
    let input_shape = model.input_shape()?;
    let image: Vec<f32> = (0..input_shape.numel())
        .map(|i| ((i * 7919) % 256) as f32 / 255.0)
        .collect();
    let start = Instant::now();
    let first = model.predict_one(&image)?;
    let first_seconds = start.elapsed().as_secs_f64();

    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let out = model.predict_one(&image)?;
            assert_eq!(out.len(), first.len());
            Ok(start.elapsed().as_secs_f64())
        })
        .collect::<kiln::Result<_>>()?;
    times.sort_by(f64::total_cmp);
    let median = times[RUNS / 2];
    println!("compile (weights initialised): {setup_seconds:.2} s");
    println!("first forward (includes compiling the batch-1 predictor): {first_seconds:.2} s");
    let top = first
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(class, _)| class);
    println!(
        "forward, batch 1, 224x224: median {:.1} ms over {RUNS} runs (top class {top}, p = {:.4})",
        median * 1e3,
        first[top]
    );
    Ok(())
}
