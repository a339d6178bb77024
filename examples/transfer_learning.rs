//! Transfer learning from a Keras model: MNIST features reused for Fashion-MNIST.
//!
//! `cargo run --release --example transfer_learning` — loads the MNIST-trained Keras CNN
//! `examples/data/mnist_cnn.h5` (`Model::load_keras`), freezes its convolution layers, cuts
//! it after its Dropout (before the Dense head), puts a new Dense(10) logits head on it and
//! fine-tunes that head on Fashion-MNIST (`datasets/fashion-mnist`) for two epochs with Adam.
//! Prints the test accuracy with the untrained head and after fine-tuning, checks that the
//! frozen convolution weights are bit-identical after training, and saves the new model as a
//! Keras `.h5` file that loads back to the same predictions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln::{Model, Tensor};

const EPOCHS: usize = 2;
const BATCH_SIZE: usize = 100;

/// The Keras model shipped with the examples.
fn keras_model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist_cnn.h5")
}

/// The weights of `layers`, by parameter name.
fn weights_of(model: &Model, layers: &[String]) -> kiln::Result<BTreeMap<String, Tensor>> {
    Ok(model
        .layer_weights()?
        .into_iter()
        .filter(|(name, _)| layers.iter().any(|l| name.starts_with(&format!("{l}/"))))
        .collect())
}

/// Whether two weight sets are equal bit for bit.
fn bit_identical(a: &BTreeMap<String, Tensor>, b: &BTreeMap<String, Tensor>) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((na, ta), (nb, tb))| {
            na == nb
                && ta.shape == tb.shape
                && ta
                    .data
                    .iter()
                    .zip(&tb.data)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
        })
}

/// "yes" or "NO", for the printed checks.
fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

/// The MNIST-trained Keras CNN shipped with the examples; prints where it came from.
fn load_base_model() -> kiln::Result<Model> {
    let path = keras_model_path();
    let loaded = kiln::keras::load_model(&path)?;
    println!(
        "Loaded {} (Keras {}), compile: {:?}",
        path.display(),
        loaded.keras_version.as_deref().unwrap_or("?"),
        loaded.compile
    );
    Ok(loaded.model)
}

/// The names of `model`'s convolution layers: the features to keep frozen.
fn conv_layer_names(model: &Model) -> Vec<String> {
    model
        .layers()
        .iter()
        .filter(|l| l.class_name() == "Conv2D")
        .filter_map(|l| l.name().map(str::to_string))
        .collect()
}

/// The layer to cut `model` after: its last Dropout or Flatten, just before the Dense head.
fn cut_point(model: &Model) -> String {
    model
        .layers()
        .iter()
        .rev()
        .find(|l| matches!(l.class_name(), "Dropout" | "Flatten"))
        .and_then(|l| l.name())
        .expect("the CNN has a Flatten/Dropout before its head")
        .to_string()
}

/// `base` cut after `cut_at`, with `frozen` layers not trainable and a new Dense(10) logits
/// head `fashion_head`, compiled with Adam; prints what was done and the summary.
fn fashion_model(base: &Model, frozen: &[String], cut_at: &str) -> kiln::Result<Model> {
    let mut model = base.truncated(cut_at)?;
    for layer in frozen {
        model.set_trainable(layer, false)?;
    }
    model.add(Dense::new(10).named("fashion_head"))?;
    model.compile(
        Adam::new().learning_rate(0.003),
        SoftmaxCrossEntropyWithLogits,
        [Accuracy],
    )?;
    println!(
        "Frozen: {}; cut after `{cut_at}`; new head `fashion_head`",
        frozen.join(", ")
    );
    print!("{}", model.summary()?);
    Ok(model)
}

/// Trains `model` for `EPOCHS` epochs on `train`, printing the test accuracy before and after.
fn fine_tune(model: &mut Model, train: &Dataset, test: &Dataset) -> kiln::Result<()> {
    let before = model.evaluate(test, BATCH_SIZE)?.metrics["accuracy"];
    println!("Fashion-MNIST test accuracy, untrained head: {before:.4}");
    let history = model.fit(train, EPOCHS, BATCH_SIZE)?;
    let seconds: f64 = history.epoch_seconds.iter().sum();
    let after = model.evaluate(test, BATCH_SIZE)?.metrics["accuracy"];
    println!("Fashion-MNIST test accuracy after {EPOCHS} epochs ({seconds:.1} s): {after:.4}");
    Ok(())
}

/// Saves `model` as a Keras `.h5` file, loads it back and compares the predictions of both
/// on the first 16 test images; prints and returns whether they are identical.
fn save_and_reload_keras(model: &mut Model, test: &Dataset) -> kiln::Result<bool> {
    let saved =
        std::env::temp_dir().join(format!("kiln_fashion_transfer_{}.h5", std::process::id()));
    model.save_keras(&saved)?;
    let reloaded = Model::load_keras(&saved)?;
    let sample = Tensor::new([16, 28, 28, 1], test.features()[..16 * 784].to_vec())
        .expect("16 images of 28x28x1");
    let same = model.predict(&sample, 16)?.data == reloaded.predict(&sample, 16)?.data;
    println!(
        "Saved {} and reloaded it: identical predictions: {}",
        saved.display(),
        yes_no(same)
    );
    std::fs::remove_file(&saved).ok();
    Ok(same)
}

fn main() -> kiln::Result<()> {
    let base = load_base_model()?;
    let conv_layers = conv_layer_names(&base);
    let mut model = fashion_model(&base, &conv_layers, &cut_point(&base))?;

    let (train, test) =
        kiln::datasets::fashion_mnist::load(kiln_examples::dataset_dir("fashion-mnist"))?;
    let frozen_before = weights_of(&model, &conv_layers)?;
    fine_tune(&mut model, &train, &test)?;
    let frozen_after = weights_of(&model, &conv_layers)?;
    let unchanged = bit_identical(&frozen_before, &frozen_after);
    println!(
        "Frozen conv weights bit-identical after training: {} ({} tensors)",
        yes_no(unchanged),
        frozen_after.len()
    );

    let same = save_and_reload_keras(&mut model, &test)?;
    if !unchanged || !same {
        return Err(kiln::Error::Model {
            model: model.name().to_string(),
            msg: "frozen weights changed or the saved model predicts differently".into(),
        });
    }
    Ok(())
}
