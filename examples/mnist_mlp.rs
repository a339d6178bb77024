//! The seed program: an MLP on MNIST, as in KotlinDL's first example.
//!
//! `cargo run --release --example mnist_mlp` — loads MNIST from `datasets/mnist`, holds out
//! 5% of the training set for validation, trains Input(28,28,1) → Flatten → Dense(300, relu)
//! → Dense(100, relu) → Dense(10) with Adam and softmax cross-entropy for 10 epochs of batch
//! 100, and prints the summary, one line per epoch, the validation and test accuracy.

use std::path::PathBuf;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const EPOCHS: usize = 10;
const BATCH_SIZE: usize = 100;

/// `datasets/mnist` from the working directory, else beside this crate in the repository.
fn mnist_dir() -> PathBuf {
    let local = PathBuf::from("datasets/mnist");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/mnist")
    }
}

fn main() -> kiln::Result<()> {
    let mut model = Sequential::of([
        Input::new([28, 28, 1]).into(),
        Flatten::new().into(),
        Dense::new(300).activation(Activation::Relu).into(),
        Dense::new(100).activation(Activation::Relu).into(),
        Dense::new(10).into(),
    ]);

    let (train, test) = kiln::datasets::mnist::load(mnist_dir())?;
    let (train, validation) = train.split(0.95)?;

    model.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    print!("{}", model.summary()?);
    let history = model.fit(&train, EPOCHS, BATCH_SIZE)?;
    let mean_epoch = history.epoch_seconds.iter().sum::<f64>() / history.epochs().max(1) as f64;
    println!("Seconds per epoch: {mean_epoch:.2}");

    let accuracy = model.evaluate(&validation, BATCH_SIZE)?.metrics["accuracy"];
    println!("Accuracy: {accuracy:.4}");
    let test_accuracy = model.evaluate(&test, BATCH_SIZE)?.metrics["accuracy"];
    println!("Test accuracy: {test_accuracy:.4}");
    Ok(())
}
