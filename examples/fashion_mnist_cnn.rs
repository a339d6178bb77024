//! A convolutional network with batch normalization and dropout on Fashion-MNIST.
//!
//! `cargo run --release --example fashion_mnist_cnn` — loads Fashion-MNIST from
//! `datasets/fashion-mnist`, trains Input(28,28,1) → Conv2D(32, 3, relu) →
//! BatchNormalization → MaxPool2D → Conv2D(64, 3, relu) → BatchNormalization → MaxPool2D →
//! Flatten → Dropout(0.3) → Dense(128, relu) → Dropout(0.5) → Dense(10) with Adam and
//! softmax cross-entropy on logits for 8 epochs of batch 100, and prints the summary, one
//! line per epoch, the mean seconds per epoch and the test accuracy.

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const EPOCHS: usize = 8;
const BATCH_SIZE: usize = 100;

fn main() -> kiln::Result<()> {
    let mut model = sequential![
        Input::new([28, 28, 1]),
        Conv2D::new(32, 3).activation(Activation::Relu),
        BatchNormalization::new(),
        MaxPool2D::default(),
        Conv2D::new(64, 3).activation(Activation::Relu),
        BatchNormalization::new(),
        MaxPool2D::default(),
        Flatten::new(),
        Dropout::new(0.3),
        Dense::new(128).activation(Activation::Relu),
        Dropout::new(0.5),
        Dense::new(10),
    ];

    let (train, test) =
        kiln::datasets::fashion_mnist::load(kiln_examples::dataset_dir("fashion-mnist"))?;

    model.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    print!("{}", model.summary()?);
    let history = model.fit(&train, EPOCHS, BATCH_SIZE)?;
    let mean_epoch = history.epoch_seconds.iter().sum::<f64>() / history.epochs().max(1) as f64;
    println!("Seconds per epoch: {mean_epoch:.2}");

    let test_accuracy = model.evaluate(&test, BATCH_SIZE)?.metrics["accuracy"];
    println!("Test accuracy: {test_accuracy:.4}");
    Ok(())
}
