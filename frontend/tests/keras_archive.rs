//! Keras 3 `.keras` archives and `.weights.h5` files: every shared archive fixture and the
//! Keras-3-written fixtures of `fixtures/keras/archives/k3/` (made by
//! `keras_archive/make_fixtures.py`: every sub-layer nesting rule) predict what Keras
//! predicted, with Keras' layer output shapes and parameter counts; a JSON config plus
//! `.weights.h5` loads the same model; Kiln's own archives read back to identical
//! predictions and summaries (`keras_archive/check_with_keras3.py` opens them in Keras 3
//! when `KILN_KERAS_ARCHIVE_OUT` names a directory to leave them in).

use std::path::{Path, PathBuf};

use kiln::Tensor;
use kiln::keras::{CompileStatus, load_archive};
use kiln::prelude::*;
use kiln::tensor_file::{Encoding, read_tensor, write_tensor};
use serde_json::Value;

/// A fixture file under `tests/fixtures/keras/archives`.
fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/archives")
        .join(relative)
}

/// A fresh empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kiln-keras-archive-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asserts `|got - want| <= tol + tol * |want|` elementwise.
fn assert_close(name: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.shape, want.shape, "{name}");
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        assert!(
            (g - w).abs() <= tol + tol * w.abs(),
            "{name}[{i}]: got {g}, Keras {w}"
        );
    }
}

/// `(layer name, output shape, parameter count)` of every row of a Keras 3 summary, and
/// its count of model parameters (trainable and not).
fn keras3_summary(text: &str) -> (Vec<(String, String, usize)>, usize) {
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('│')) {
        let cells: Vec<&str> = line.split('│').map(str::trim).collect();
        let (Some(first), Some(shape), Some(params)) = (cells.get(1), cells.get(2), cells.get(3))
        else {
            continue;
        };
        if params.is_empty() {
            continue;
        }
        let name = first.split_whitespace().next().unwrap().to_string();
        rows.push((
            name,
            shape.to_string(),
            params.replace(',', "").parse().unwrap(),
        ));
    }
    // "Total params" of a compiled model counts the optimizer's variables too.
    let count = |prefix: &str| -> usize {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .map(|n| n.replace(',', "").parse().unwrap())
            .unwrap()
    };
    (
        rows,
        count("Trainable params: ") + count("Non-trainable params: "),
    )
}

/// Asserts Kiln's summary of `model` has Keras' output shape and parameter count on each
/// layer's row, and Keras' total.
fn assert_summary_matches(name: &str, model: &Model, keras_summary: &str) {
    let ours = model.summary().unwrap();
    let (rows, total) = keras3_summary(keras_summary);
    assert!(!rows.is_empty(), "{name}: no rows parsed");
    for (layer, shape, params) in rows {
        let found = ours.lines().any(|line| {
            line.trim_start().starts_with(&format!("{layer} ("))
                && line.contains(&shape)
                && line.split_whitespace().any(|t| t == params.to_string())
        });
        assert!(
            found,
            "{name}: no row `{layer}` {shape} {params} in\n{ours}"
        );
    }
    assert_eq!(model.count_params().unwrap(), total, "{name}");
}

/// The shared fixtures' index entries.
fn index() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("index.json")).unwrap();
    let index: Value = serde_json::from_str(&text).unwrap();
    index["fixtures"].as_array().unwrap().clone()
}

#[test]
fn every_shared_archive_predicts_what_keras_predicted() {
    let fixtures = index();
    assert_eq!(fixtures.len(), 3);
    for entry in fixtures {
        let name = entry["name"].as_str().unwrap();
        let loaded = load_archive(fixture(entry["model"].as_str().unwrap())).unwrap();
        let input = read_tensor(fixture(entry["input"].as_str().unwrap())).unwrap();
        let want = read_tensor(fixture(entry["output"].as_str().unwrap())).unwrap();
        let got = loaded.model.predict(&input, 4).unwrap();
        let tol = entry["tolerance"]["atol"].as_f64().unwrap() as f32;
        assert_close(name, &got, &want, tol);
        let summary = std::fs::read_to_string(fixture(entry["summary"].as_str().unwrap())).unwrap();
        assert_summary_matches(name, &loaded.model, &summary);
        let compiled = entry["compiled"].as_bool().unwrap();
        assert_eq!(loaded.keras_version.as_deref(), Some("3.15.1"), "{name}");
        match compiled {
            true => assert_eq!(loaded.compile, CompileStatus::Compiled, "{name}"),
            false => assert_eq!(loaded.compile, CompileStatus::NotSaved, "{name}"),
        }
        // `load_keras` recognises the archive by content too.
        let again = Model::load_keras(fixture(entry["model"].as_str().unwrap())).unwrap();
        assert_eq!(again.predict(&input, 4).unwrap().data, got.data, "{name}");
    }
}

#[test]
fn a_compiled_archive_keeps_its_optimizer_loss_and_metrics() {
    let model = Model::load_keras_archive(fixture("mlp.keras")).unwrap();
    assert!(model.is_compiled());
    assert_eq!(model.metric_names(), ["accuracy"]);
    assert!((model.learning_rate().unwrap() - 0.001).abs() < 1e-7);
}

/// The Keras-3-written fixtures of `k3/`.
const K3_FIXTURES: [&str; 2] = ["k3_image", "k3_sequence"];

#[test]
fn keras3_sub_layer_nesting_reads_as_keras_wrote_it() {
    for name in K3_FIXTURES {
        let input = read_tensor(fixture(&format!("k3/{name}_input.json"))).unwrap();
        let want = read_tensor(fixture(&format!("k3/{name}_output.json"))).unwrap();
        let summary = std::fs::read_to_string(fixture(&format!("k3/{name}_summary.txt"))).unwrap();
        let archive = Model::load_keras_archive(fixture(&format!("k3/{name}.keras"))).unwrap();
        assert_close(name, &archive.predict(&input, 2).unwrap(), &want, 1e-4);
        assert_summary_matches(name, &archive, &summary);
        // model.to_json() + save_weights("x.weights.h5").
        let weights = fixture(&format!("k3/{name}.weights.h5"));
        let json =
            Model::load_keras_json(fixture(&format!("k3/{name}.json")), Some(&weights)).unwrap();
        assert_close(name, &json.predict(&input, 2).unwrap(), &want, 1e-4);
        // ... and a model built from the config alone takes the weights file too.
        let mut fresh = Model::load_keras_json(fixture(&format!("k3/{name}.json")), None).unwrap();
        fresh.load_keras_weights(&weights).unwrap();
        assert_close(name, &fresh.predict(&input, 2).unwrap(), &want, 1e-4);
    }
}

#[test]
fn the_mobilenet_config_builds_with_keras_parameter_count() {
    let model = Model::load_keras_json(fixture("k3/mobilenet_config.json"), None).unwrap();
    assert_eq!(model.count_params().unwrap(), 219_829);
}

/// Deterministic values in [-1, 1) of shape `dims`.
fn values(dims: &[usize], seed: u32) -> Tensor {
    let n = dims.iter().product();
    let data = (0..n)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect();
    Tensor::new(dims, data).unwrap()
}

/// Token ids in [0, vocab) as float32 values, shape `[batch, steps]`.
fn token_ids(batch: usize, steps: usize, vocab: usize) -> Tensor {
    let data = (0..batch * steps)
        .map(|i| ((i * 7 + 3) % vocab) as f32)
        .collect();
    Tensor::new([batch, steps], data).unwrap()
}

/// Gives every weight of `model` a distinct non-trivial value (biases and BatchNorm
/// statistics included, so a mix-up shows in the predictions).
fn randomise(model: &mut Model, seed: u32) {
    let mut values_by_name = std::collections::BTreeMap::new();
    for (k, (name, current)) in model.layer_weights().unwrap().into_iter().enumerate() {
        let mut t = values(current.shape.dims(), seed + k as u32);
        if name.ends_with("moving_variance") || name.ends_with("gamma") {
            t.data.iter_mut().for_each(|v| *v = 1.0 + 0.4 * *v);
        } else {
            t.data.iter_mut().for_each(|v| *v *= 0.5);
        }
        values_by_name.insert(name, t);
    }
    model.set_weights(&values_by_name).unwrap();
}

/// The six round-trip models with an input batch each.
fn round_trip_models() -> Vec<(&'static str, Model, Tensor)> {
    let mlp = sequential![
        Input::new([6]),
        Dense::new(8).activation(Activation::Relu),
        Dense::new(3).activation(Activation::Softmax),
    ]
    .named("rt_mlp");
    let cnn = sequential![
        Input::new([8, 8, 2]),
        Conv2D::new(4, 3).padding(Padding::Same),
        BatchNormalization::new(),
        ReLU::new(),
        MaxPooling2D::new(2),
        Flatten::new(),
        Dense::new(3),
    ]
    .named("rt_cnn");
    let residual = {
        let mut f = Functional::builder("rt_residual");
        let x = f.input(Input::new([5]).named("x"));
        let h = f
            .apply(Dense::new(5).activation(Activation::Tanh).named("h"), x)
            .unwrap();
        let s = f
            .apply_many(kiln::layers::Add::new().named("skip"), &[x, h])
            .unwrap();
        let y = f.apply(Dense::new(2).named("out"), s).unwrap();
        f.build(&[x], &[y]).unwrap()
    };
    let lstm = sequential![
        Input::new([7]),
        Embedding::new(12, 4),
        LSTM::new(5),
        Dense::new(2),
    ]
    .named("rt_lstm");
    let bigru = sequential![
        Input::new([6, 3]),
        Bidirectional::new(GRU::new(4).return_sequences(true)).unwrap(),
        Bidirectional::new(GRU::new(2).reset_after(false)).unwrap(),
        Dense::new(2),
    ]
    .named("rt_bigru");
    let mha = {
        let mut f = Functional::builder("rt_mha");
        let x = f.input(Input::new([4, 6]).named("x"));
        // Keras' `mha(x, x)` (Kiln's one-input form reads back as this two-input one).
        let a = f
            .apply_many(MultiHeadAttention::new(2, 3).named("mha"), &[x, x])
            .unwrap();
        let h = f.apply_many(kiln::layers::Add::new(), &[x, a]).unwrap();
        let h = f.apply(LayerNormalization::new(), h).unwrap();
        let h = f.apply(Flatten::new(), h).unwrap();
        let y = f.apply(Dense::new(2), h).unwrap();
        f.build(&[x], &[y]).unwrap()
    };
    vec![
        ("rt_mlp", mlp, values(&[3, 6], 1)),
        ("rt_cnn", cnn, values(&[2, 8, 8, 2], 2)),
        ("rt_residual", residual, values(&[3, 5], 3)),
        ("rt_lstm", lstm, token_ids(3, 7, 12)),
        ("rt_bigru", bigru, values(&[2, 6, 3], 4)),
        ("rt_mha", mha, values(&[2, 4, 6], 5)),
    ]
}

#[test]
fn written_archives_read_back_to_identical_predictions_and_summaries() {
    let keep = std::env::var_os("KILN_KERAS_ARCHIVE_OUT").map(PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| scratch_dir("round-trip"));
    std::fs::create_dir_all(&dir).unwrap();
    for (k, (name, mut model, x)) in round_trip_models().into_iter().enumerate() {
        randomise(&mut model, 100 * k as u32);
        if name == "rt_mlp" {
            model
                .compile(
                    kiln::optimizers::Adam::default().learning_rate(0.01),
                    kiln::losses::SparseCategoricalCrossentropy::new(),
                    [kiln::metrics::Accuracy],
                )
                .unwrap();
        }
        let want = model.predict(&x, 2).unwrap();
        let path = dir.join(format!("{name}.keras"));
        model.save_keras_archive(&path).unwrap();
        let back = load_archive(&path).unwrap();
        assert_eq!(back.model.predict(&x, 2).unwrap().data, want.data, "{name}");
        assert_eq!(
            back.model.summary().unwrap(),
            model.summary().unwrap(),
            "{name}"
        );
        assert_eq!(
            back.model.is_compiled(),
            model.is_compiled(),
            "{name}: {:?}",
            back.compile
        );
        if keep.is_some() {
            write_tensor(dir.join(format!("{name}_input.json")), &x, Encoding::Inline).unwrap();
            write_tensor(
                dir.join(format!("{name}_output.json")),
                &want,
                Encoding::Inline,
            )
            .unwrap();
        }
    }
}
