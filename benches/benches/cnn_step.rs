//! Training steps of the `examples/mnist_cnn` model ([`kiln_examples::mnist_cnn`]:
//! Conv2D(32,3,relu) → MaxPool2D → Conv2D(64,3,relu) → MaxPool2D → Flatten → Dropout(0.5) →
//! Dense(10); Adam; softmax cross-entropy) at batch 100, through the public `kiln` API.
//!
//! One iteration is one unshuffled, silent epoch of [`STEPS`] batches of synthetic 28x28
//! images, so criterion's time is per `STEPS` steps and its elem/s reads as images/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const BATCH: usize = 100;
const STEPS: usize = 100;
const CLASSES: usize = 10;

/// The example CNN, compiled with Adam and softmax cross-entropy on its logits.
fn mnist_cnn() -> kiln::Result<Sequential> {
    let mut model = kiln_examples::mnist_cnn();
    model.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    Ok(model)
}

/// `n` images of deterministic pseudo-random pixels in [0, 1) with one-hot labels.
fn synthetic_images(n: usize) -> kiln::Result<Dataset> {
    let pixels: Vec<f32> = (0..n * 28 * 28)
        .map(|i| ir::random::uniform(5, i as u32))
        .collect();
    let mut labels = vec![0.0; n * CLASSES];
    for (i, row) in labels.chunks_mut(CLASSES).enumerate() {
        row[(i * 7) % CLASSES] = 1.0;
    }
    Dataset::new(pixels, &[n, 28, 28, 1], labels, &[n, CLASSES])
}

fn cnn_step(c: &mut Criterion) {
    let mut model = mnist_cnn().expect("mnist_cnn compiles");
    let data = synthetic_images(BATCH * STEPS).expect("synthetic dataset");
    let epoch = |model: &mut Sequential| {
        model
            .fit_with(&data, FitOptions::new(1, BATCH).shuffle(false).verbose(0))
            .expect("training epoch")
    };
    epoch(&mut model); // compiles the step outside the measurement
    let mut group = c.benchmark_group("mnist_cnn_train_b100");
    group.throughput(Throughput::Elements((BATCH * STEPS) as u64));
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(30));
    group.bench_function(format!("{STEPS}_steps"), |b| {
        b.iter(|| black_box(epoch(&mut model)))
    });
    group.finish();
}

criterion_group!(benches, cnn_step);
criterion_main!(benches);
