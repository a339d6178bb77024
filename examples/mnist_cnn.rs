//! A small convolutional network on MNIST.
//!
//! `cargo run --release --example mnist_cnn` — loads MNIST from `datasets/mnist`, trains
//! Input(28,28,1) → Conv2D(32, 3, relu) → MaxPool2D → Conv2D(64, 3, relu) → MaxPool2D →
//! Flatten → Dropout(0.5) → Dense(10) with Adam and softmax cross-entropy on logits for 5
//! epochs of batch 100, and prints the summary, one line per epoch, the mean seconds per
//! epoch and the test accuracy.


use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const EPOCHS: usize = 5;
const BATCH_SIZE: usize = 100;

fn main() -> kiln::Result<()> {
    let mut model = sequential![
        Input::new([28, 28, 1]),
        Conv2D::new(32, 3).activation(Activation::Relu),
        MaxPool2D::default(),
        Conv2D::new(64, 3).activation(Activation::Relu),
        MaxPool2D::default(),
        Flatten::new(),
        Dropout::new(0.5),
        Dense::new(10),
    ];

    let (train, test) = kiln::datasets::mnist::load(kiln_examples::dataset_dir("mnist"))?;

    model.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    print!("{}", model.summary()?);
    let history = model.fit(&train, EPOCHS, BATCH_SIZE)?;
    let mean_epoch = history.epoch_seconds.iter().sum::<f64>() / history.epochs().max(1) as f64;
    println!("Seconds per epoch: {mean_epoch:.2}");

    let test_accuracy = model.evaluate(&test, BATCH_SIZE)?.metrics["accuracy"];
    println!("Test accuracy: {test_accuracy:.4}");
    Ok(())
}
