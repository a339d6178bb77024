//! Keras application architectures built from their Keras configs (shipped in
//! `tests/fixtures/keras/architectures`, made by tf-keras 2.21): every layer's output shape
//! and parameter count, the totals, and `summary(line_length=110)` equal Keras' own.

use kiln::Model;
use serde_json::Value;

const INDEX: &str = include_str!("fixtures/keras/architectures/index.json");

/// Per-example dims of a Keras `[null, d1, ...]` shape (or a one-element list of one).
fn dims(shape: &Value) -> Vec<usize> {
    let shape = match shape.get(0) {
        Some(Value::Array(inner)) => inner,
        _ => shape.as_array().expect("a shape list"),
    };
    shape
        .iter()
        .skip(1)
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// Builds `name` from its config and checks it against the index and Keras' summary.
fn check(name: &str, config: &str, summary: &str) {
    let index: Value = serde_json::from_str(INDEX).unwrap();
    let want = &index[name];
    let model = Model::from_config(&serde_json::from_str(config).unwrap()).unwrap();
    let shapes = model.layer_shapes().unwrap();
    let layers = want["layers"].as_array().unwrap();
    assert_eq!(model.layers().len(), layers.len(), "{name}: layer count");
    for ((layer, s), w) in model.layers().iter().zip(&shapes).zip(layers) {
        let label = layer.name().unwrap();
        assert_eq!(label, w["name"], "{name}: layer order");
        assert_eq!(layer.class_name(), w["class_name"], "{name}/{label}");
        assert_eq!(
            s.output.dims(),
            dims(&w["output_shape"]),
            "{name}/{label}: output shape"
        );
        let params: usize = s.params.iter().map(|p| p.shape.numel()).sum();
        assert_eq!(
            params as u64,
            w["params"].as_u64().unwrap(),
            "{name}/{label}: params"
        );
    }
    assert_eq!(
        model.count_params().unwrap() as u64,
        want["total_params"].as_u64().unwrap()
    );
    assert_eq!(
        model.count_trainable_params().unwrap() as u64,
        want["trainable_params"].as_u64().unwrap()
    );
    assert_eq!(
        model.count_non_trainable_params().unwrap() as u64,
        want["non_trainable_params"].as_u64().unwrap()
    );
    assert_eq!(
        model.input_shape().unwrap().dims(),
        dims(&want["input_shape"])
    );
    assert_eq!(
        model.output_shape().unwrap().dims(),
        dims(&want["output_shape"])
    );
    let got = model.summary_with_line_length(110).unwrap();
    for (i, (g, w)) in got.lines().zip(summary.lines()).enumerate() {
        assert_eq!(g, w, "{name}: summary line {}", i + 1);
    }
    assert_eq!(
        got.lines().count(),
        summary.lines().count(),
        "{name}: summary lines"
    );
}

#[test]
fn vgg16_matches_keras() {
    check(
        "vgg16",
        include_str!("fixtures/keras/architectures/vgg16_config.json"),
        include_str!("fixtures/keras/architectures/vgg16_summary.txt"),
    );
}

#[test]
fn vgg19_matches_keras() {
    check(
        "vgg19",
        include_str!("fixtures/keras/architectures/vgg19_config.json"),
        include_str!("fixtures/keras/architectures/vgg19_summary.txt"),
    );
}
