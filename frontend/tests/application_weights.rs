//! `kiln::applications` with weights and data from tf-keras 2.21 (`fixtures/applications/`,
//! written by `make_weights.py` there): a randomised MobileNet (alpha 0.25, 32×32, every
//! weight and BatchNormalization statistic random) saved by Keras' `save_weights` with its
//! top and without (the two layouts Keras publishes), loaded with
//! `applications::load_weights` into the builders' models, predicts Keras' logits and
//! pooled features; a file whose layer names differ (another Keras version's) loads by
//! order, as Keras' `load_weights` does; a file of the other top variant is refused.
//! `preprocess_input` equals Keras' in all three modes; `decode_predictions` reads a small
//! hand-made class index.

use std::path::PathBuf;

use kiln::activations::Activation;
use kiln::applications::{self, Mode, Options, Pooling};
use kiln::keras::KerasFile;
use kiln::{Model, Tensor};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/applications")
        .join(name)
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("fixture");
    serde_json::from_str(&text).expect("valid JSON")
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_f64().expect("a number") as f32)
        .collect()
}

/// The issue's tolerance: atol = 1e-4 × the largest |value|, rtol = 1e-3.
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .fold(0.0f32, |m, (g, w)| m.max((g - w).abs()));
    eprintln!("{what}: worst |kiln - keras| {worst:e} (largest |value| {scale})");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-4 * scale + 1e-3 * w.abs();
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: kiln {g}, keras {w} (tolerance {tol})"
        );
    }
}

fn base_options() -> Options {
    Options::new().alpha(0.25).input_shape([32, 32, 3])
}

fn top_model() -> Model {
    let options = base_options()
        .classes(5)
        .classifier_activation(Activation::Linear);
    applications::mobilenet(&options).expect("builds")
}

fn notop_model() -> Model {
    let options = base_options().include_top(false).pooling(Pooling::Avg);
    applications::mobilenet(&options).expect("builds")
}

/// Keras' input batch, preprocessed by Kiln as `mobilenet.preprocess_input` does.
fn inputs(expected: &Value) -> Tensor {
    let images = Tensor::new([2, 32, 32, 3], floats(&expected["images"])).expect("2 images");
    applications::preprocess_input(&images, Mode::of("mobilenet").expect("known"))
        .expect("3 channels")
}

#[test]
fn keras_weight_files_load_with_and_without_the_top() {
    let expected = expected();
    let x = inputs(&expected);
    let mut top = top_model();
    applications::load_weights(&mut top, fixture("mobilenet_025_top5.h5")).expect("loads");
    let logits = top.predict(&x, 2).expect("predicts");
    assert_close("top logits", &logits.data, &floats(&expected["top_logits"]));

    let mut notop = notop_model();
    applications::load_weights(&mut notop, fixture("mobilenet_025_notop.h5")).expect("loads");
    let features = notop.predict(&x, 2).expect("predicts");
    assert_close(
        "no-top features",
        &features.data,
        &floats(&expected["notop_features"]),
    );

    let err = applications::load_weights(&mut notop_model(), fixture("mobilenet_025_top5.h5"))
        .expect_err("the top file has one more layer with weights")
        .to_string();
    assert!(
        err.contains("include_top") && err.contains("mobilenet_025_top5.h5"),
        "{err}"
    );
}

#[test]
fn layers_are_matched_in_order_like_keras_load_weights() {
    let mut file = KerasFile::read(fixture("mobilenet_025_top5.h5")).expect("reads");
    for layer in &mut file.layers {
        layer.layer = format!("old_{}", layer.layer);
    }
    let dir = std::env::temp_dir().join(format!("kiln-apps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let renamed = dir.join("renamed.h5");
    file.write(&renamed).expect("writes");
    let mut by_order = top_model();
    applications::load_weights(&mut by_order, &renamed).expect("loads by order");
    let mut by_name = top_model();
    by_name
        .load_keras_weights(fixture("mobilenet_025_top5.h5"))
        .expect("loads by name");
    for (name, value) in by_name.layer_weights().expect("weights") {
        assert_eq!(
            by_order.weight(&name).expect("same parameters"),
            value,
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn preprocess_input_equals_keras_in_every_mode() {
    let expected = expected();
    let small = Tensor::new([2, 2, 2, 3], floats(&expected["small"])).expect("shape");
    for (mode, key) in [
        (Mode::Caffe, "caffe"),
        (Mode::Tf, "tf"),
        (Mode::Torch, "torch"),
    ] {
        let got = applications::preprocess_input(&small, mode).expect("3 channels");
        assert_eq!(got.shape, small.shape);
        assert_eq!(got.data, floats(&expected["preprocessed"][key]), "{key}");
    }
    let two_channels = Tensor::zeros([1, 2, 2, 2]);
    let err = applications::preprocess_input(&two_channels, Mode::Caffe).expect_err("2 channels");
    assert!(err.to_string().contains("3 channels"), "{err}");
    assert!(applications::preprocess_input(&two_channels, Mode::Tf).is_ok());
}

#[test]
fn decode_predictions_reads_a_class_index() {
    let dir = std::env::temp_dir().join(format!("kiln-apps-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let index = dir.join("index.json");
    std::fs::write(
        &index,
        r#"{"0": ["n01", "tench"], "1": ["n02", "goldfish"], "2": ["n03", "shark"], "3": ["n04", "ray"]}"#,
    )
    .expect("writes");
    let preds = Tensor::new([2, 4], vec![0.1, 0.6, 0.2, 0.1, 0.5, 0.0, 0.25, 0.25]).expect("2x4");
    let top = applications::decode_predictions(&preds, 3, &index).expect("decodes");
    let names: Vec<Vec<&str>> = top
        .iter()
        .map(|row| row.iter().map(|d| d.name.as_str()).collect())
        .collect();
    // Ties (0.1, 0.1 and 0.25, 0.25) come higher index first, as Keras' argsort gives them.
    assert_eq!(
        names,
        [
            vec!["goldfish", "shark", "ray"],
            vec!["tench", "ray", "shark"]
        ]
    );
    assert_eq!((top[0][0].class_id.as_str(), top[0][0].score), ("n02", 0.6));

    let wide = Tensor::zeros([1, 5]);
    let err = applications::decode_predictions(&wide, 5, &index).expect_err("class 4 missing");
    assert!(err.to_string().contains("no class 4"), "{err}");
    std::fs::write(&index, r#"{"0": "tench"}"#).expect("writes");
    let err = applications::decode_predictions(&preds, 1, &index).expect_err("malformed");
    assert!(err.to_string().contains("[id, name]"), "{err}");
    let err = applications::decode_predictions(&Tensor::zeros([4]), 1, &index).expect_err("1-D");
    assert!(err.to_string().contains("2-D"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
