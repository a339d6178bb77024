//! Training through the compiled CPU backend on tiny synthetic data: the loss falls, the same
//! seed gives the same curve, partial batches and validation work, sparse labels (per
//! example, or per position of a sequence output), predictions match a
//! plain-Rust forward pass of the trained weights, regularizer penalties enter the loss, and
//! misuse is an error.

use ir::Tensor;
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

mod common;

use common::{CLASSES, FEATURES, relu_classifier, synthetic};

fn small_model(seed: u64) -> Sequential {
    relu_classifier(16, seed)
}

fn compiled(seed: u64) -> Sequential {
    let mut model = small_model(seed);
    model
        .compile(
            Adam::default().learning_rate(0.02),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    model
}

#[test]
fn the_loss_falls_and_accuracy_rises() {
    let mut model = compiled(1);
    // 100 examples in batches of 16: six full batches and a partial one of 4.
    let history = model
        .fit_with(&synthetic(100, 7), FitOptions::new(15, 16).verbose(false))
        .unwrap();
    let loss = history.get("loss").unwrap();
    let accuracy = history.get("accuracy").unwrap();
    assert_eq!(loss.len(), 15);
    assert!(loss[14] < 0.6 * loss[0], "loss {loss:?}");
    assert!(accuracy[14] > 0.8, "accuracy {accuracy:?}");
}

#[test]
fn the_same_seed_gives_the_same_weights_and_curve() {
    let data = synthetic(64, 3);
    let run = |seed| {
        let mut model = compiled(seed);
        let initial = model.weights().unwrap();
        let history = model
            .fit_with(&data, FitOptions::new(3, 16).verbose(false))
            .unwrap();
        (initial, history.history, model.weights().unwrap())
    };
    let (a, b, c) = (run(11), run(11), run(12));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    assert_ne!(a.0["dense/kernel"], c.0["dense/kernel"]);
    assert_eq!(
        a.0["dense/bias"].data,
        vec![0.0; 16],
        "Keras' bias default is zeros"
    );
}

#[test]
fn evaluation_weights_partial_batches_by_size() {
    let mut model = compiled(2);
    let data = synthetic(20, 9);
    let whole = model.evaluate(&data, 20).unwrap();
    let pieces = model.evaluate(&data, 7).unwrap(); // 7 + 7 + 6
    assert!(
        (whole.loss - pieces.loss).abs() < 1e-5,
        "{} vs {}",
        whole.loss,
        pieces.loss
    );
    assert!((whole.metrics["accuracy"] - pieces.metrics["accuracy"]).abs() < 1e-6);
}

/// The MLP's forward pass in plain Rust from the model's weights.
fn reference_forward(weights: &std::collections::BTreeMap<String, Tensor>, x: &[f32]) -> Vec<f32> {
    let dense = |input: &[f32], layer: &str, relu: bool| -> Vec<f32> {
        let (w, b) = (
            &weights[&format!("{layer}/kernel")],
            &weights[&format!("{layer}/bias")],
        );
        let (n_in, n_out) = (w.shape.dims()[0], w.shape.dims()[1]);
        let rows = input.len() / n_in;
        let mut out = vec![0.0f32; rows * n_out];
        for r in 0..rows {
            for o in 0..n_out {
                let z = b.data[o]
                    + (0..n_in)
                        .map(|i| input[r * n_in + i] * w.data[i * n_out + o])
                        .sum::<f32>();
                out[r * n_out + o] = if relu { z.max(0.0) } else { z };
            }
        }
        out
    };
    dense(&dense(x, "dense", true), "dense_1", false)
}

#[test]
fn predictions_use_the_trained_weights() {
    let mut model = compiled(4);
    let data = synthetic(48, 5);
    model
        .fit_with(&data, FitOptions::new(2, 16).verbose(false))
        .unwrap();
    let x = Tensor::new([10, FEATURES], data.features()[..10 * FEATURES].to_vec()).unwrap();
    let predicted = model.predict(&x, 4).unwrap(); // batches 4, 4, 2
    assert_eq!(predicted.shape.dims(), [10, CLASSES]);
    let want = reference_forward(&model.weights().unwrap(), &x.data);
    for (p, w) in predicted.data.iter().zip(&want) {
        assert!((p - w).abs() < 1e-4 * (1.0 + w.abs()), "{p} vs {w}");
    }
}

#[test]
fn validation_split_reports_val_values() {
    let mut model = compiled(6);
    let options = FitOptions::new(2, 16).validation_split(0.25).verbose(false);
    let history = model.fit_with(&synthetic(64, 2), options).unwrap();
    let keys: Vec<&str> = history.history.keys().map(String::as_str).collect();
    assert_eq!(keys, ["accuracy", "loss", "val_accuracy", "val_loss"]);
    assert_eq!(history.epochs(), 2);
}

#[test]
fn regularizer_penalty_enters_the_loss() {
    let l2 = 0.1;
    let data = synthetic(32, 8);
    let mut plain = compiled(9);
    let mut regularized = Sequential::of([
        Input::new([FEATURES]).into(),
        Dense::new(16)
            .activation(Activation::Relu)
            .kernel_regularizer(Regularizer::L2(l2))
            .into(),
        Dense::new(CLASSES).into(),
    ])
    .with_seed(9);
    regularized
        .compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
        .unwrap();
    let kernel = &plain.weights().unwrap()["dense/kernel"];
    assert_eq!(
        kernel,
        &regularized.weights().unwrap()["dense/kernel"],
        "same seed, same initial weights"
    );
    let penalty: f32 = l2 * kernel.data.iter().map(|w| w * w).sum::<f32>();
    let difference =
        regularized.evaluate(&data, 32).unwrap().loss - plain.evaluate(&data, 32).unwrap().loss;
    assert!(
        (difference - penalty).abs() < 1e-4 * (1.0 + penalty),
        "{difference} vs {penalty}"
    );
}

#[test]
fn misuse_is_an_error() {
    let data = synthetic(8, 1);
    let mut uncompiled = small_model(1);
    let err = uncompiled.fit(&data, 1, 4).unwrap_err().to_string();
    assert!(err.contains("not compiled"), "{err}");

    let mut model = compiled(1);
    let wrong = Dataset::new(
        vec![0.0; 8 * 5],
        &[8, 5],
        vec![0.0; 8 * CLASSES],
        &[8, CLASSES],
    )
    .unwrap();
    let err = model.fit(&wrong, 1, 4).unwrap_err().to_string();
    assert!(err.contains("[5]") && err.contains("[4]"), "{err}");
    let err = model.evaluate(&data, 0).unwrap_err().to_string();
    assert!(err.contains("batch_size"), "{err}");

    // Dense applies to the last axis of any rank (as Keras); a layer whose shape rule
    // fails is named with the shape it got.
    let image_dense = Sequential::of([Input::new([28, 28, 1]).into(), Dense::new(10).into()]);
    assert_eq!(image_dense.output_shape().unwrap(), [28, 28, 10].into());
    let mut bad_permute = Sequential::of([
        Input::new([28, 28, 1]).into(),
        kiln::layers::Permute::new([1, 2]).into(),
    ]);
    let err = bad_permute
        .compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("permute (Permute)") && err.contains("(None, 28, 28, 1)"),
        "{err}"
    );
}

#[test]
fn sparse_losses_train_on_class_index_labels() {
    use kiln::losses::SparseCategoricalCrossentropy;
    use kiln::metrics::SparseCategoricalAccuracy;
    let one_hot = synthetic(64, 4);
    let indices: Vec<f32> = one_hot
        .labels()
        .chunks(CLASSES)
        .map(|row| row.iter().position(|&v| v == 1.0).unwrap() as f32)
        .collect();
    let sparse =
        Dataset::new(one_hot.features().to_vec(), &[64, FEATURES], indices, &[64]).unwrap();
    let mut model = small_model(3);
    let loss = SparseCategoricalCrossentropy::new().from_logits(true);
    model
        .compile(
            Adam::default().learning_rate(0.02),
            loss,
            [SparseCategoricalAccuracy],
        )
        .unwrap();
    let history = model
        .fit_with(&sparse, FitOptions::new(8, 16).verbose(false))
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses[7] < 0.8 * losses[0], "loss {losses:?}");
    // The one-hot dataset no longer fits the compiled loss.
    let err = model.evaluate(&one_hot, 16).unwrap_err().to_string();
    assert!(
        err.contains("labels have shape [3]") && err.contains("loss takes []"),
        "{err}"
    );
}

/// A sequence output `[steps, classes]` takes one class index per position, as Keras'
/// sparse losses do: labels `[steps]`.
#[test]
fn sparse_losses_take_one_label_per_position_of_a_sequence() {
    use kiln::losses::SparseCategoricalCrossentropy;
    use kiln::metrics::SparseCategoricalAccuracy;
    // Each position's label is its id's successor (mod 5): learnable position by position.
    let ids: Vec<f32> = (0..32 * 6).map(|i| ((i * 7 + i / 6) % 5) as f32).collect();
    let labels: Vec<f32> = ids.iter().map(|&v| (v + 1.0) % 5.0).collect();
    let label_dims = [32, 6];
    let data = Dataset::new(ids, &[32, 6], labels, &label_dims).unwrap();
    let mut model = sequential![Input::new([6]), Embedding::new(5, 8), Dense::new(5)];
    model
        .compile(
            Adam::default().learning_rate(0.05),
            SparseCategoricalCrossentropy::new().from_logits(true),
            [SparseCategoricalAccuracy],
        )
        .unwrap();
    let history = model
        .fit_with(&data, FitOptions::new(10, 8).verbose(false))
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(
        losses[9] < 0.5 * losses[0],
        "{label_dims:?}: loss {losses:?}"
    );
    let accuracy = history.get("sparse_categorical_accuracy").unwrap()[9];
    assert!(accuracy > 0.9, "{label_dims:?}: accuracy {accuracy}");
}

#[test]
fn predict_rejects_features_that_do_not_fit() {
    let model = compiled(1);
    let err = model
        .predict(&Tensor::zeros([2, 5]), 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[2, 5]") && err.contains("[n, 4]"), "{err}");
    let inconsistent = Tensor {
        shape: ir::Shape::from([2, FEATURES]),
        data: vec![0.0; 3],
    };
    let err = model.predict(&inconsistent, 2).unwrap_err().to_string();
    assert!(err.contains("3 values for shape [2, 4]"), "{err}");
    assert_eq!(
        model
            .predict(&Tensor::zeros([0, FEATURES]), 2)
            .unwrap()
            .shape
            .dims(),
        [0, CLASSES]
    );
}
