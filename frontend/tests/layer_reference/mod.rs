//! Single layers checked against tf-keras 2.21: `fixtures/keras/conv1d/reference.json`
//! (made by `make_reference.py` there) holds per case a layer's Keras class and config, its
//! weights and an input with the output Keras computed. [`check_keras_case`] rebuilds the
//! layer from Keras' own config, sets the weights and compares the prediction. Also the
//! small helpers the layer tests share (CPU≡GPU cases and their data, error
//! text, the summary and round-trip checks of a Keras-loaded model). It does not generate
//! values (no test runs Python).

#![allow(dead_code)] // each test crate uses only some of the helpers

use std::collections::BTreeMap;
use std::path::Path;

use kiln::Tensor;
use kiln::layers::{Input, Layer, layer_from_config};
use kiln::prelude::*;
use serde_json::Value;

/// Tolerance of a reference comparison: `|got - want| <= TOL * (1 + |want|)`.
pub const TOL: f32 = 1e-4;

/// The whole reference file.
pub fn reference() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras/conv1d/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A `{"shape": [..], "data": [..]}` entry as a tensor.
pub fn tensor(entry: &Value) -> Tensor {
    let shape: Vec<usize> = entry["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = entry["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    Tensor::new(shape.as_slice(), data).unwrap()
}

/// Asserts `got` matches `want` within [`TOL`].
pub fn assert_matches(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape, want.shape, "{what}: shape");
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        assert!(
            (g - w).abs() <= TOL * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, Keras {w}"
        );
    }
}

/// The reference case called `name`.
pub fn keras_case(name: &str) -> Value {
    reference()["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no reference case {name}"))
        .clone()
}

/// The layer of a reference case, rebuilt from Keras' config.
pub fn keras_layer(case: &Value) -> Box<dyn Layer> {
    let class = case["class_name"].as_str().unwrap();
    layer_from_config(class, &case["config"]).unwrap_or_else(|e| panic!("{class}: {e}"))
}

/// Rebuilds case `name`'s layer from Keras' config, gives it Keras' weights (in the order of
/// its parameters) and checks its prediction against Keras'.
pub fn check_keras_case(name: &str) {
    let case = keras_case(name);
    let layer = keras_layer(&case);
    let x = tensor(&case["input"]);
    let layer_name = layer.name().unwrap().to_string();
    let mut model = Model::of([
        Box::new(Input::new(&x.shape.dims()[1..])) as Box<dyn Layer>,
        layer,
    ]);
    set_weights_in_order(&mut model, &layer_name, &case["weights"]);
    let got = model.predict(&x, x.shape.dims()[0]).unwrap();
    assert_matches(name, &got, &tensor(&case["output"]));
}

/// Sets the parameters of layer `layer_name` of `model`, in their order, from `weights`.
pub fn set_weights_in_order(model: &mut Model, layer_name: &str, weights: &Value) {
    let names: Vec<String> = model
        .layer_weights()
        .unwrap()
        .into_keys()
        .filter(|n| n.starts_with(&format!("{layer_name}/")))
        .collect();
    let order = ["kernel", "bias", "alpha"];
    let mut names = names;
    names.sort_by_key(|n| order.iter().position(|o| n.ends_with(o)));
    let values = weights.as_array().unwrap();
    assert_eq!(names.len(), values.len(), "{layer_name}: weights");
    let map: BTreeMap<String, Tensor> = names
        .into_iter()
        .zip(values)
        .map(|(n, v)| (n, tensor(v)))
        .collect();
    model.set_weights(&map).unwrap();
}

/// Asserts a layer's config survives `layer_to_json` → `layer_from_json` unchanged.
pub fn assert_config_round_trips(layer: &dyn Layer) {
    let json = kiln::layers::layer_to_json(layer);
    let back = kiln::layers::layer_from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(back.class_name(), layer.class_name());
    assert_eq!(back.config(), layer.config(), "{json}");
}

/// Asserts every field Keras wrote for `case` among `fields` reads back from Kiln's config
/// of the same layer unchanged.
pub fn assert_keras_fields_kept(case_name: &str, fields: &[&str]) {
    let case = keras_case(case_name);
    let ours = keras_layer(&case).config();
    for field in fields {
        assert_eq!(
            ours[field], case["config"][field],
            "{case_name}: field {field}"
        );
    }
}

/// A CPU≡GPU case: its name, its per-example input shape, and the model.
pub type DeviceCase = (&'static str, &'static [usize], fn() -> Model);

/// Four examples of input `shape` and `outputs` labels each, fixed values in `[-1, 1]`.
pub fn data(shape: &[usize], outputs: usize) -> Dataset {
    let n = 4;
    let per: usize = shape.iter().product();
    let features = (0..n * per)
        .map(|i| ((i * 37 % 23) as f32 / 11.0) - 1.0)
        .collect();
    let labels = (0..n * outputs).map(|i| (i % 3) as f32 * 0.5).collect();
    let mut fshape = vec![n];
    fshape.extend(shape);
    Dataset::new(features, &fshape, labels, &[n, outputs]).unwrap()
}

/// `Error` text of a failing `Result`.
pub fn error_of<T>(r: kiln::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A model loaded from a Keras file prints Keras' `summary` text, its config reads back to
/// itself, and the `.h5` Kiln writes of it (under `dir`) loads to the same config and
/// predicts every output of `inputs` bit-identically. `name` labels failures.
pub fn assert_summary_and_round_trips(
    name: &str,
    model: &Model,
    summary: &str,
    dir: &Path,
    inputs: &[Tensor],
) {
    assert_eq!(
        model.summary().unwrap().trim_end(),
        summary.trim_end(),
        "{name}: summary"
    );
    let config = model.to_config();
    let rebuilt = Model::from_config(&config).unwrap();
    assert_eq!(rebuilt.to_config(), config, "{name}: config round trip");
    let path = dir.join(format!("{name}.h5"));
    model.save_keras(&path).unwrap();
    let again = Model::load_keras(&path).unwrap();
    assert_eq!(again.to_config(), config, "{name}: .h5 round trip");
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let batch = inputs[0].shape.dims()[0];
    let before = model.predict_many(&refs, batch).unwrap();
    let after = again.predict_many(&refs, batch).unwrap();
    for (k, (a, b)) in after.iter().zip(&before).enumerate() {
        assert_eq!(a.data, b.data, "{name}: reloaded output {k}");
    }
}
