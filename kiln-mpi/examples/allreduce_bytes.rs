//! The gradient bytes one training step allreduces, per model, from Kiln's own builders:
//! `cargo run --release --example allreduce_bytes` (no MPI needed to run it; docs/distributed.md
//! quotes its output). For each model: trainable parameters (summed every step), the other
//! parameters (BatchNormalization's moving statistics, averaged too), f32 bytes, and the bytes
//! each rank sends (and receives) in a ring allreduce over n ranks, 2(n−1)/n × the bytes.
//! It does NOT measure time (`allreduce_overlap` and the MNIST examples do).

use kiln::applications::{self, Options};
use kiln::prelude::*;

/// Builds one of the models measured.
type Builder = fn() -> kiln::Result<Model>;

fn seed_mlp() -> kiln::Result<Model> {
    Ok(Sequential::of([
        Input::new([28, 28, 1]).into(),
        Flatten::new().into(),
        Dense::new(300).activation(Activation::Relu).into(),
        Dense::new(100).activation(Activation::Relu).into(),
        Dense::new(10).into(),
    ]))
}

fn main() -> kiln::Result<()> {
    let models: [(&str, Builder); 3] = [
        ("seed MLP", seed_mlp),
        ("VGG16", || applications::vgg16(&Options::new())),
        ("ResNet50", || applications::resnet50(&Options::new())),
    ];
    println!(
        "| model | trainable params | other params | f32 gradient MB | ring MB per rank, n=2 | n=8 | n=64 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, build) in models {
        let model = build()?;
        let trainable = model.count_trainable_params()?;
        let other = model.count_params()? - trainable;
        let mb = trainable as f64 * 4.0 / 1e6;
        let ring = |n: f64| 2.0 * (n - 1.0) / n * mb;
        println!(
            "| {name} | {trainable} | {other} | {mb:.2} | {:.2} | {:.2} | {:.2} |",
            ring(2.0),
            ring(8.0),
            ring(64.0)
        );
    }
    Ok(())
}
