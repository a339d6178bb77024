//! W3, VGG16 inference: Keras' VGG16 (include_top, 224×224×3) built from the config Keras
//! wrote (`frontend/tests/fixtures/keras/architectures/vgg16_config.json`, as the
//! `vgg16_forward` example) with Keras' random initializers, run through `Model::predict`
//! uncompiled. Warm-up as the peers (batch 1, batch 8, batch 1), then the batch-1 latency
//! (median of the timed calls) and the seconds per batch of 8 (median).

use std::time::Instant;

use kiln::{Model, Shape, Tensor};
use serde_json::{Value, json};

use crate::error::{BenchError, Result};
use crate::payload::Section;
use crate::rows::Row;
use crate::timing::median;
use crate::w1_mlp::SEED;

/// Keras' VGG16 architecture (no weights), as `model.to_json()` writes it.
const VGG16_CONFIG: &str =
    include_str!("../../../../frontend/tests/fixtures/keras/architectures/vgg16_config.json");

/// `n` images of standard-normal pixels (Box–Muller on the IR's counter-based generator),
/// `[n, 224, 224, 3]`, like the peers' `standard_normal` inputs.
fn normal_images(n: usize, seed: u32) -> Tensor {
    let len = n * 224 * 224 * 3;
    let data = (0..len)
        .map(|i| {
            let u1 = 1.0 - ir::random::uniform(seed, 2 * i as u32); // (0, 1]: ln is finite
            let u2 = ir::random::uniform(seed, 2 * i as u32 + 1);
            (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect();
    Tensor {
        shape: Shape::new([n, 224, 224, 3]),
        data,
    }
}

/// Seconds of one `predict` of `images` as a single batch.
fn timed_predict(model: &Model, images: &Tensor) -> Result<f64> {
    let start = Instant::now();
    let out = model.predict(images, images.shape.dims()[0])?;
    let seconds = start.elapsed().as_secs_f64();
    debug_assert_eq!(out.data.len(), images.shape.dims()[0] * 1000);
    Ok(seconds)
}

/// Run W3 with `b1_calls` timed batch-1 calls and `b8_calls` timed batch-8 calls.
pub fn run(b1_calls: usize, b8_calls: usize) -> Result<Section> {
    let config: Value = serde_json::from_str(VGG16_CONFIG).map_err(|source| BenchError::Json {
        what: "the VGG16 config",
        source,
    })?;
    let model = Model::from_config(&config)?.with_seed(SEED);
    let (one, eight) = (
        normal_images(1, SEED as u32),
        normal_images(8, SEED as u32 + 1),
    );
    // The first calls initialise the weights and compile a predictor per batch size.
    let first_calls = timed_predict(&model, &one)? + timed_predict(&model, &eight)?;
    timed_predict(&model, &one)?;
    println!("  W3 warm-up kiln {first_calls:.2} s (first b1+b8 calls)");
    let latencies = (0..b1_calls)
        .map(|_| timed_predict(&model, &one))
        .collect::<Result<Vec<_>>>()?;
    let batch8 = (0..b8_calls)
        .map(|_| timed_predict(&model, &eight))
        .collect::<Result<Vec<_>>>()?;
    let (latency, per_batch) = (median(&latencies), median(&batch8));
    println!("  W3 kiln b1 median {latency:.3} s, b8 median {per_batch:.3} s/batch");
    let (b1, b8) = (Row::w3_b1(latency), Row::w3_b8(per_batch));
    let results = json!({
        "model": "Model::from_config(tf_keras VGG16(weights=None).to_json()), uncompiled predict",
        "latency_b1_s": latencies,
        "latency_b1_median_s": latency,
        "batch8_s": batch8,
        "batch8_median_s": per_batch,
        "images_per_s_b8": 8.0 / per_batch,
        "gflops_b1": b1.gflops,
        "gflops_b8": b8.gflops,
        "first_calls_s": first_calls,
    });
    Ok(Section {
        results,
        note: "Model::predict(images, batch_size = 1 or 8) on one tensor; the first calls \
               initialise the weights (Keras' initializers) and compile one predictor per \
               batch size",
        rows: vec![b1, b8],
    })
}
