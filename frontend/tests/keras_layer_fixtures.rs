//! The Keras 2 layer fixtures (`fixtures/keras/layers/`, see its README: LSTM, GRU, Conv1D,
//! MultiHeadAttention, LayerNormalization, Conv2DTranspose, UpSampling2D, Cropping2D, PReLU,
//! SimpleRNN, Bidirectional, Permute, RepeatVector, Embedding) loaded through the library:
//! each predicts what Keras stored, elementwise within the fixture's own tolerance
//! `atol + rtol * |want|`, with Keras' argmax per example, and prints Keras' summary.

use std::path::{Path, PathBuf};

use kiln::Model;
use kiln::tensor_file::read_tensor;
use serde_json::Value;

/// A file under `frontend/tests/fixtures/keras/layers`.
fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/layers")
        .join(file)
}

/// The index entry of fixture `name`.
fn entry(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture("index.json")).unwrap();
    let index: Value = serde_json::from_str(&text).unwrap();
    index["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .clone()
}

/// Loads fixture `name` and checks its predictions and argmax against Keras'.
fn predicts_what_keras_predicted(name: &str) {
    let entry = entry(name);
    let file = |key: &str| fixture(entry[key].as_str().unwrap());
    let model = Model::load_keras(file("model")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let input = read_tensor(file("input")).unwrap();
    let want = read_tensor(file("output")).unwrap();
    let got = model
        .predict(&input, 4)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(got.shape, want.shape, "{name}");
    let atol = entry["tolerance"]["atol"].as_f64().unwrap() as f32;
    let rtol = entry["tolerance"]["rtol"].as_f64().unwrap() as f32;
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{name}[{i}]: got {g}, Keras {w}"
        );
    }
    let classes = got.shape.dims()[1..].iter().product::<usize>();
    let argmax: Vec<u64> = got
        .data
        .chunks(classes)
        .map(|row| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (k, v)| if *v > row[b] { k } else { b });
            best as u64
        })
        .collect();
    let want_argmax: Vec<u64> = entry["output_argmax"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(argmax, want_argmax, "{name}: argmax");
    let summary = std::fs::read_to_string(file("summary")).unwrap();
    assert_eq!(
        model.summary().unwrap().trim_end(),
        summary.trim_end(),
        "{name}: summary"
    );
}

#[test]
fn text_lstm_matches_keras() {
    predicts_what_keras_predicted("text_lstm");
}

#[test]
fn seq_gru_conv1d_matches_keras() {
    predicts_what_keras_predicted("seq_gru_conv1d");
}

#[test]
fn transformer_block_matches_keras() {
    predicts_what_keras_predicted("transformer_block");
}

#[test]
fn decoder_2d_matches_keras() {
    predicts_what_keras_predicted("decoder_2d");
}

#[test]
fn rnn_misc_matches_keras() {
    predicts_what_keras_predicted("rnn_misc");
}
