//! The `Embedding` layer: finite-difference gradients of its table, CPU≡GPU training, ids
//! out of range as errors naming the layer (through `predict`, `predict_one` and `fit`, before
//! any kernel runs), a short training run on a toy task, save/load round trips (Kiln file
//! and Keras `.h5`), its Keras config and refused options, and the Embedding of the
//! `text_lstm` Keras fixture (its table, `(100, 16)`, gathers what Keras stored).

mod devices;
mod gradcheck;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gradcheck::{Init, case, check_all};
use kiln::keras::KerasFile;
use kiln::layers::{layer_from_config, layer_to_json};
use kiln::losses::{MeanSquaredError, SoftmaxCrossEntropyWithLogits};
use kiln::metrics::Accuracy;
use kiln::optimizers::{Adam, SGD};
use kiln::prelude::*;
use kiln::tensor_file::read_tensor;
use kiln::{Model, Tensor};
use serde_json::json;

/// A fresh, empty directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-embedding-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` examples of `len` ids in `0..vocab` (deterministic), as `[n, len]`.
fn ids(n: usize, len: usize, vocab: usize, seed: u32) -> Vec<f32> {
    (0..n * len)
        .map(|i| ((ir::random::uniform(seed, i as u32) * vocab as f32) as usize % vocab) as f32)
        .collect()
}

/// ids `[len]` -> Embedding(vocab, 4) -> Flatten -> Dense(classes).
fn model(len: usize, vocab: usize, classes: usize) -> Model {
    sequential![
        Input::new([len]),
        Embedding::new(vocab, 4),
        Flatten::new(),
        Dense::new(classes),
    ]
    .with_seed(3)
}

#[test]
fn embedding_gradients_match_finite_differences() {
    // Six ids over four rows repeat some row (their gradients add); twelve rows for twelve
    // ids leave some row unused (its gradient is zero).
    check_all(vec![
        case("ids [2, 3]", &[2, 3], Embedding::new(4, 4), Init::Ids(4)),
        case(
            "ids [3, 2, 2]",
            &[3, 2, 2],
            Embedding::new(12, 3),
            Init::Ids(12),
        ),
        case(
            "one id per example",
            &[5],
            Embedding::new(9, 2),
            Init::Ids(9),
        ),
    ]);
}

#[test]
fn embedding_trains_the_same_on_cpu_and_gpu() {
    let (n, len, vocab) = (8, 5, 10);
    let labels: Vec<f32> = (0..n * 3).map(|i| (i % 5) as f32 * 0.2).collect();
    let data = Dataset::new(ids(n, len, vocab, 1), &[n, len], labels, &[n, 3]).unwrap();
    devices::assert_training_matches("embedding", &|| model(len, vocab, 3), &data);
    let x = Tensor::new([n, len], ids(n, len, vocab, 2)).unwrap();
    devices::assert_predictions_match("embedding", &|| model(len, vocab, 3), &[&x]);
}

#[test]
fn out_of_range_ids_are_errors_naming_the_layer() {
    let mut m = model(4, 10, 2);
    let mut x = ids(5, 4, 10, 3);
    x[17] = 1234.0;
    let t = Tensor::new([5, 4], x.clone()).unwrap();
    let err = m.predict(&t, 2).unwrap_err().to_string();
    assert_eq!(
        err,
        "layer embedding (Embedding): id 1234 at input position 17 is outside [0, 10)"
    );
    let err = m
        .predict_one(&[0.0, 1.0, -1.0, 2.0])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("embedding (Embedding): id -1 at input position 2"),
        "{err}"
    );
    let err = m
        .predict_one(&[0.0, 1.0, 2.5, 2.0])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("id 2.5 at input position 2 is not an integer id in [0, 10)"),
        "{err}"
    );
    m.compile(SGD::default(), MeanSquaredError, [Accuracy])
        .unwrap();
    let labels = vec![0.0; 10];
    let bad = Dataset::new(x, &[5, 4], labels.clone(), &[5, 2]).unwrap();
    let before = m.layer_weights().unwrap();
    let err = m
        .fit_with(&bad, FitOptions::new(1, 2).verbose(0))
        .unwrap_err();
    assert!(
        err.to_string().contains("id 1234 at input position 17"),
        "{err}"
    );
    assert_eq!(m.layer_weights().unwrap(), before, "no step ran");
    let err = m.evaluate(&bad, 2).unwrap_err();
    assert!(
        err.to_string().starts_with("layer embedding (Embedding)"),
        "{err}"
    );
    let nan = Dataset::new(vec![f32::NAN; 20], &[5, 4], labels, &[5, 2]).unwrap();
    let err = m
        .fit_with(&nan, FitOptions::new(1, 2).verbose(0))
        .unwrap_err();
    assert!(
        err.to_string().contains("id NaN at input position 0"),
        "{err}"
    );
}

#[test]
fn a_toy_task_is_learned() {
    // The class of a sequence is the class of its first token (id mod 3): the model must
    // tell the tokens apart through their rows.
    let (n, len, vocab) = (96, 3, 12);
    let x = ids(n, len, vocab, 5);
    let mut labels = vec![0.0; n * 3];
    for e in 0..n {
        labels[e * 3 + x[e * len] as usize % 3] = 1.0;
    }
    let data = Dataset::new(x, &[n, len], labels, &[n, 3]).unwrap();
    let mut m = model(len, vocab, 3);
    m.compile(
        Adam::default().learning_rate(0.05),
        SoftmaxCrossEntropyWithLogits,
        [Accuracy],
    )
    .unwrap();
    let history = m
        .fit_with(&data, FitOptions::new(30, 16).verbose(0))
        .unwrap();
    let loss = history.get("loss").unwrap();
    let (first, last) = (loss[0], *loss.last().unwrap());
    assert!(last < 0.2 * first, "loss {first} -> {last}");
    let accuracy = *history.get("accuracy").unwrap().last().unwrap();
    assert!(accuracy > 0.95, "accuracy {accuracy}");
}

/// A trained model and its predictions on `x`.
fn trained_model() -> (Model, Tensor) {
    let (n, len, vocab) = (16, 4, 9);
    let x = Tensor::new([n, len], ids(n, len, vocab, 7)).unwrap();
    let labels: Vec<f32> = (0..n * 2).map(|i| (i % 3) as f32).collect();
    let data = Dataset::new(x.data.clone(), &[n, len], labels, &[n, 2]).unwrap();
    let mut m = model(len, vocab, 2);
    m.compile(
        SGD::default().learning_rate(0.1),
        MeanSquaredError,
        [Accuracy],
    )
    .unwrap();
    m.fit_with(&data, FitOptions::new(2, 8).verbose(0)).unwrap();
    (m, x)
}

#[test]
fn kiln_file_and_keras_h5_round_trips_keep_the_table() {
    let dir = scratch("round-trip");
    let (mut m, x) = trained_model();
    let want = m.predict(&x, 16).unwrap();
    let table = m.layer_weights().unwrap()["embedding/embeddings"].clone();
    assert_eq!(table.shape.dims(), [9, 4]);
    m.save(dir.join("model.kiln")).unwrap();
    let loaded = Model::load(dir.join("model.kiln")).unwrap();
    assert_eq!(loaded.predict(&x, 16).unwrap(), want);
    m.save_keras(dir.join("model.h5")).unwrap();
    let keras = Model::load_keras(dir.join("model.h5")).unwrap();
    assert_eq!(keras.predict(&x, 16).unwrap(), want);
    assert_eq!(
        keras.layer_weights().unwrap()["embedding/embeddings"],
        table
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn config_round_trips_and_unsupported_options_are_refused() {
    let layer = Embedding::new(50, 8)
        .embeddings_initializer(Initializer::Zeros)
        .embeddings_regularizer(Regularizer::L1(0.01))
        .input_length(7)
        .named("tokens");
    let text = layer_to_json(&layer);
    assert_eq!(text["class_name"], "Embedding");
    let config = &text["config"];
    assert_eq!(config["input_dim"], 50);
    assert_eq!(config["output_dim"], 8);
    assert_eq!(config["mask_zero"], false);
    assert_eq!(config["input_length"], 7);
    let back = layer_from_config("Embedding", config).unwrap();
    assert_eq!(layer_to_json(back.as_ref()), text);
    let defaults = layer_from_config(
        "Embedding",
        &json!({"name": "e", "input_dim": 4, "output_dim": 2}),
    )
    .unwrap();
    assert_eq!(
        layer_to_json(defaults.as_ref())["config"]["embeddings_initializer"]["class_name"],
        "RandomUniform"
    );
    for (field, value) in [
        ("mask_zero", json!(true)),
        (
            "embeddings_constraint",
            json!({"class_name": "NonNeg", "config": {}}),
        ),
    ] {
        let mut bad = json!({"name": "emb", "input_dim": 4, "output_dim": 2});
        bad[field] = value;
        let err = layer_from_config("Embedding", &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("emb") && err.contains(field), "{err}");
    }
    let wrong_length = sequential![Input::new([5]), Embedding::new(4, 2).input_length(6)];
    let err = wrong_length.output_shape().unwrap_err().to_string();
    assert!(
        err.contains("embedding (Embedding)") && err.contains("input_length"),
        "{err}"
    );
}

/// A file of the Keras layer fixtures.
fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/layers")
        .join(file)
}

#[test]
fn the_text_lstm_fixture_embedding_loads_and_gathers_its_rows() {
    let file = KerasFile::read(fixture("text_lstm.h5")).unwrap();
    let config = &file.model_config.as_ref().unwrap()["config"]["layers"][1];
    assert_eq!(config["class_name"], "Embedding");
    let layer = layer_from_config("Embedding", &config["config"]).unwrap();
    let weights = &file.layer("embedding").unwrap().weights;
    assert_eq!(weights[0].0, "embedding/embeddings:0");
    let table = weights[0].1.clone();
    assert_eq!(table.shape.dims(), [100, 16]);
    let mut m = Model::of([Input::new([20]).into(), layer]);
    let values = BTreeMap::from([("embedding/embeddings".to_string(), table.clone())]);
    m.set_weights(&values).unwrap();
    let x = read_tensor(fixture("text_lstm_input.json")).unwrap();
    let got = m.predict(&x, 4).unwrap();
    assert_eq!(got.shape.dims(), [x.shape.dims()[0], 20, 16]);
    for (k, &id) in x.data.iter().enumerate() {
        let row = &table.data[id as usize * 16..(id as usize + 1) * 16];
        assert_eq!(&got.data[k * 16..(k + 1) * 16], row, "id {id} at {k}");
    }
}
