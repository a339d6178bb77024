//! The seed program: an MLP on MNIST, as in KotlinDL's first example.
//!
//! `cargo run --release --example mnist_mlp` — loads MNIST from `datasets/mnist`, holds out
//! 5% of the training set for validation, trains Input(28,28,1) → Flatten → Dense(300, relu)
//! → Dense(100, relu) → Dense(10) with Adam and softmax cross-entropy for 10 epochs of batch
//! 100, and prints the summary, one line per epoch, the validation and test accuracy. It then
//! saves the model to `target/models/mnist_mlp.kiln`, loads it back and checks that the
//! reloaded model's test-set predictions are bit-identical.
//!
//! `--gpu` trains and evaluates on the GPU (`Device::Gpu`; the reloaded model predicts on
//! the CPU, so the reload check then allows rounding differences between the devices).

use std::path::Path;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln::{Shape, Tensor};

const EPOCHS: usize = 10;
const BATCH_SIZE: usize = 100;

fn main() -> kiln::Result<()> {
    let mut model = kiln_examples::mnist_mlp();

    let (train, test) = kiln::datasets::mnist::load(kiln_examples::dataset_dir("mnist"))?;
    let (train, validation) = train.split(0.95)?;

    let device = if std::env::args().any(|a| a == "--gpu") {
        Device::Gpu
    } else {
        Device::Cpu
    };
    model.compile_on(
        device,
        Adam::default(),
        SoftmaxCrossEntropyWithLogits,
        [Accuracy],
    )?;
    println!("Device: {}", model.device_name());
    print!("{}", model.summary()?);
    let history = model.fit(&train, EPOCHS, BATCH_SIZE)?;
    let mean_epoch = history.epoch_seconds.iter().sum::<f64>() / history.epochs().max(1) as f64;
    println!("Seconds per epoch: {mean_epoch:.2}");

    let accuracy = model.evaluate(&validation, BATCH_SIZE)?.metrics["accuracy"];
    println!("Accuracy: {accuracy:.4}");
    let test_accuracy = model.evaluate(&test, BATCH_SIZE)?.metrics["accuracy"];
    println!("Test accuracy: {test_accuracy:.4}");

    save_and_reload(&mut model, &test, Path::new("target/models/mnist_mlp.kiln"))
}

/// Saves `model` to `path`, loads it back, and checks that both predict the test set
/// bit-identically.
fn save_and_reload(model: &mut Sequential, test: &Dataset, path: &Path) -> kiln::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::WriteFile {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    model.save(path)?;
    let reloaded = Sequential::load(path)?;
    let mut dims = vec![test.len()];
    dims.extend_from_slice(test.feature_shape());
    let features = Tensor {
        shape: Shape::new(dims),
        data: test.features().to_vec(),
    };
    let before = model.predict(&features, BATCH_SIZE)?;
    let after = reloaded.predict(&features, BATCH_SIZE)?;
    // Across devices the summation order differs: equal up to rounding.
    let tolerance = if model.device() == Device::Cpu {
        0.0
    } else {
        1e-4
    };
    let identical = before.shape == after.shape
        && before.data.iter().zip(&after.data).all(|(a, b)| {
            a.to_bits() == b.to_bits() || (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0)
        });
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!(
        "Saved to {} ({bytes} bytes); reloaded predictions on {} test images identical{}: {identical}",
        path.display(),
        test.len(),
        if tolerance > 0.0 {
            " (up to rounding)"
        } else {
            ""
        }
    );
    if !identical {
        return Err(Error::Model {
            model: model.name().to_string(),
            msg: "the reloaded model predicts differently".into(),
        });
    }
    Ok(())
}
