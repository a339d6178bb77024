//! Thread-safe prediction: one compiled model shared by several threads (`Sequential` is
//! `Sync`); concurrent `predict` and `predict_one` calls give results identical to
//! sequential ones, and see the weights training left.

use ir::Tensor;
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const FEATURES: usize = 6;
const CLASSES: usize = 4;

fn features(n: usize, seed: u32) -> Vec<f32> {
    (0..n * FEATURES)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect()
}

/// A model trained a few epochs on labels from the sign pattern of the first two features.
fn trained() -> Sequential {
    let mut model = Sequential::of([
        Input::new([FEATURES]).into(),
        Dense::new(16).activation(Activation::Tanh).into(),
        Dense::new(CLASSES).into(),
    ]);
    model
        .compile(
            Adam::default().learning_rate(0.02),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    let n = 40;
    let x = features(n, 1);
    let mut y = vec![0.0; n * CLASSES];
    for b in 0..n {
        let class = (x[b * FEATURES] > 0.0) as usize * 2 + (x[b * FEATURES + 1] > 0.0) as usize;
        y[b * CLASSES + class] = 1.0;
    }
    let data = Dataset::new(x, &[n, FEATURES], y, &[n, CLASSES]).unwrap();
    model
        .fit_with(&data, FitOptions::new(3, 8).verbose(0))
        .unwrap();
    model
}

fn assert_sync_send<T: Sync + Send>() {}

#[test]
fn four_threads_predict_what_sequential_predict_gives() {
    assert_sync_send::<Sequential>();
    let model = trained();
    let n = 37; // batches of 8: four full ones and a partial one of 5
    let x = Tensor::new([n, FEATURES], features(n, 2)).unwrap();
    let batched = model.predict(&x, 8).unwrap();
    let single = model.predict(&x, 1).unwrap();
    assert_eq!(batched.shape.dims(), [n, CLASSES]);
    // Different batch sizes run different executables: equal up to rounding.
    for (a, b) in batched.data.iter().zip(&single.data) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    std::thread::scope(|s| {
        for t in 0..4 {
            let (model, x, batched, single) = (&model, &x, &batched, &single);
            s.spawn(move || {
                for round in 0..5 {
                    assert_eq!(
                        model.predict(x, 8).unwrap().data,
                        batched.data,
                        "thread {t} round {round}"
                    );
                    for row in 0..n {
                        let one = model
                            .predict_one(&x.data[row * FEATURES..(row + 1) * FEATURES])
                            .unwrap();
                        assert_eq!(
                            one,
                            single.data[row * CLASSES..(row + 1) * CLASSES],
                            "thread {t} row {row}"
                        );
                    }
                }
            });
        }
    });
}

#[test]
fn predictions_follow_training_and_set_weights() {
    let mut model = trained();
    let x = Tensor::new([5, FEATURES], features(5, 3)).unwrap();
    let before = model.predict(&x, 5).unwrap();
    let weights = model.layer_weights().unwrap();
    let data = Dataset::new(
        features(8, 4),
        &[8, FEATURES],
        vec![0.25; 8 * CLASSES],
        &[8, CLASSES],
    )
    .unwrap();
    model
        .fit_with(&data, FitOptions::new(2, 4).verbose(0))
        .unwrap();
    let after = model.predict(&x, 5).unwrap();
    assert_ne!(
        after.data, before.data,
        "predict sees the weights the last train step wrote"
    );
    model.set_weights(&weights).unwrap();
    assert_eq!(model.predict(&x, 5).unwrap().data, before.data);
}

#[test]
fn predict_one_checks_its_input() {
    let model = trained();
    let err = model.predict_one(&[0.0; 5]).unwrap_err().to_string();
    assert!(
        err.contains("5 feature values") && err.contains("[6]"),
        "{err}"
    );
    // An uncompiled model predicts with its initial weights (as Keras allows).
    let uncompiled = Sequential::of([Input::new([FEATURES]).into(), Dense::new(2).into()]);
    let x: Vec<f32> = (0..FEATURES).map(|i| i as f32 * 0.25 - 0.5).collect();
    let got = uncompiled.predict_one(&x).unwrap();
    let weights = uncompiled.layer_weights().unwrap();
    let (kernel, bias) = (&weights["dense/kernel"].data, &weights["dense/bias"].data);
    for (j, value) in got.iter().enumerate() {
        let want: f32 = bias[j] + (0..FEATURES).map(|i| x[i] * kernel[i * 2 + j]).sum::<f32>();
        assert!(
            (value - want).abs() <= 1e-5,
            "output {j}: {value} vs {want}"
        );
    }
}
