//! The `kiln` binary run on the Keras fixtures (the older ones and every one of
//! `keras/layers/`): `summary` prints Keras' summary, `predict` writes Keras' predictions
//! (within the fixture's tolerance), `convert` goes .h5 → Kiln →
//! .h5 with bit-identical predictions, and bad input exits non-zero with a message on
//! stderr naming the file.

use std::path::{Path, PathBuf};

use common::{kiln, kiln_ok};
use kiln::tensor_file::read_tensor;

mod common;

/// A fixture file under `frontend/tests/fixtures` (the `kiln` crate's Keras fixtures).
fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(relative)
}

/// A fresh empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    common::scratch_dir("main", test)
}

#[test]
fn summary_of_a_keras_file_is_keras_summary() {
    for name in ["mlp", "cnn"] {
        let got = kiln_ok(&[Path::new("summary"), &fixture(&format!("keras/{name}.h5"))]);
        let want = std::fs::read_to_string(fixture(&format!("keras/{name}_summary.txt"))).unwrap();
        assert_eq!(got.trim_end(), want.trim_end(), "{name}");
    }
}

/// Runs `kiln predict` of `model` on `input` and checks its predictions against `want`
/// elementwise within `atol + rtol * |want|`.
fn assert_predicts(test: &str, model: &Path, input: &Path, want: &Path, atol: f32, rtol: f32) {
    let dir = scratch_dir(test);
    let out = dir.join("out.json");
    kiln_ok(&[
        Path::new("predict"),
        Path::new("--model"),
        model,
        Path::new("--input"),
        input,
        Path::new("--output"),
        &out,
    ]);
    let got = read_tensor(&out).unwrap();
    let want = read_tensor(want).unwrap();
    assert_eq!(got.shape, want.shape, "{test}");
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{test}[{i}]: kiln predict {g}, Keras {w}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn predict_writes_keras_predictions() {
    // The fixture's tolerance (index.json): atol 1e-4, rtol 1e-4.
    assert_predicts(
        "predict",
        &fixture("keras/mlp.h5"),
        &fixture("keras/mlp_input.json"),
        &fixture("keras/mlp_output.json"),
        1e-4,
        1e-4,
    );
}

/// Every fixture of `keras/layers/` (listed in its index.json with its input, output,
/// tolerance and summary) through the binary: `predict` within the fixture's tolerance and
/// `summary` equal to Keras' text.
#[test]
fn layer_fixtures_predict_and_summarise_as_keras() {
    let file = |name: &str| fixture(&format!("keras/layers/{name}"));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file("index.json")).unwrap()).unwrap();
    let fixtures = index["fixtures"].as_array().unwrap();
    assert_eq!(fixtures.len(), 5, "the layer fixtures listed in index.json");
    for entry in fixtures {
        let name = entry["name"].as_str().unwrap();
        let path = |key: &str| file(entry[key].as_str().unwrap());
        let tolerance = |key: &str| entry["tolerance"][key].as_f64().unwrap() as f32;
        assert_predicts(
            &format!("layers-{name}"),
            &path("model"),
            &path("input"),
            &path("output"),
            tolerance("atol"),
            tolerance("rtol"),
        );
        let got = kiln_ok(&[Path::new("summary"), &path("model")]);
        let want = std::fs::read_to_string(path("summary")).unwrap();
        assert_eq!(got.trim_end(), want.trim_end(), "{name}: summary");
    }
}

/// `kiln predict` of `model` on the cnn fixture input, as written.
fn predict_cnn(model: &Path, dir: &Path, name: &str) -> Vec<u32> {
    let out = dir.join(name);
    kiln_ok(&[
        Path::new("predict"),
        Path::new("--model"),
        model,
        Path::new("--input"),
        &fixture("keras/cnn_input.json"),
        Path::new("--output"),
        &out,
    ]);
    read_tensor(&out)
        .unwrap()
        .data
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn convert_to_kiln_and_back_keeps_predictions_bit_for_bit() {
    let dir = scratch_dir("convert");
    let keras = fixture("keras/cnn.h5");
    let kiln_file = dir.join("cnn.kiln");
    let back = dir.join("cnn_back.h5");
    kiln_ok(&[Path::new("convert"), &keras, &kiln_file]);
    assert!(std::fs::read(&kiln_file).unwrap().starts_with(b"KILN"));
    kiln_ok(&[Path::new("convert"), &kiln_file, &back]);
    assert!(
        std::fs::read(&back)
            .unwrap()
            .starts_with(b"\x89HDF\r\n\x1a\n")
    );
    let want = predict_cnn(&keras, &dir, "a.json");
    assert_eq!(predict_cnn(&kiln_file, &dir, "b.json"), want);
    assert_eq!(predict_cnn(&back, &dir, "c.json"), want);
    // An uncompiled Keras model (no training_config) converts too.
    let uncompiled = dir.join("activations.kiln");
    kiln_ok(&[
        Path::new("convert"),
        &fixture("keras/activations.h5"),
        &uncompiled,
    ]);
    let summary = kiln_ok(&[Path::new("summary"), &uncompiled]);
    assert!(summary.contains("dense_11"), "{summary}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_input_exits_non_zero_naming_the_file() {
    let dir = scratch_dir("bad");
    let text = dir.join("model.h5");
    std::fs::write(&text, "not a model").unwrap();
    let truncated = dir.join("truncated.h5");
    let bytes = std::fs::read(fixture("keras/cnn.h5")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let missing = dir.join("missing.h5");
    for file in [&text, &truncated, &missing] {
        let out = kiln(&[Path::new("summary"), file]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&*file.to_string_lossy()), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = kiln(&[Path::new("frobnicate")]);
    assert!(!out.status.success());
    assert!(!out.stderr.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// A two-input model built here: cross attention between two sequences, A `[5, 8]` and B
/// `[7, 8]`, `MultiHeadAttention(query=A, value=B) → Flatten → Dense(3)`, saved as Keras .h5.
fn cross_attention_file(dir: &Path) -> (PathBuf, kiln::Model) {
    use kiln::prelude::*;
    let mut f = Functional::builder("cross_attention").with_seed(3);
    let a = f.input(Input::new([5, 8]).named("a"));
    let b = f.input(Input::new([7, 8]).named("b"));
    let h = f
        .apply_many(MultiHeadAttention::new(2, 4), &[a, b])
        .unwrap();
    let h = f.apply(Flatten::new(), h).unwrap();
    let y = f.apply(Dense::new(3), h).unwrap();
    let model = f.build(&[a, b], &[y]).unwrap();
    let path = dir.join("cross.h5");
    model.save_keras(&path).unwrap();
    (path, model)
}

#[test]
fn predict_takes_one_input_file_per_model_input() {
    use kiln::tensor_file::{Encoding, write_tensor};
    let dir = scratch_dir("two_inputs");
    let (model_path, model) = cross_attention_file(&dir);
    let tensor = |dims: &[usize], seed: u32| {
        let n = dims.iter().product();
        let data = (0..n)
            .map(|i| ((i as u32 * 7 + seed) % 11) as f32 / 5.0 - 1.0)
            .collect();
        kiln::Tensor::new(dims, data).unwrap()
    };
    let (a, b) = (tensor(&[2, 5, 8], 1), tensor(&[2, 7, 8], 4));
    let (a_path, b_path, out) = (dir.join("a.json"), dir.join("b.json"), dir.join("out.json"));
    write_tensor(&a_path, &a, Encoding::Inline).unwrap();
    write_tensor(&b_path, &b, Encoding::Inline).unwrap();
    let predict = |inputs: &[&Path]| {
        let mut args: Vec<&Path> = vec![Path::new("predict"), Path::new("--model"), &model_path];
        for input in inputs {
            args.extend([Path::new("--input"), input]);
        }
        args.extend([Path::new("--output"), &out]);
        kiln(&args)
    };
    let run = predict(&[&a_path, &b_path]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got = read_tensor(&out).unwrap();
    let want = model.predict_many(&[&a, &b], 2).unwrap().remove(0);
    assert_eq!(got.shape, want.shape);
    for (g, w) in got.data.iter().zip(&want.data) {
        assert!((g - w).abs() <= 1e-5 + 1e-5 * w.abs(), "{g} vs {w}");
    }
    // One input for a two-input model: the error names the inputs expected.
    let run = predict(&[&a_path]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("--input") && stderr.contains("2 inputs (a, b)"),
        "{stderr}"
    );
    // Swapped inputs do not fit the model's shapes.
    let run = predict(&[&b_path, &a_path]);
    assert!(!run.status.success());
    let _ = std::fs::remove_dir_all(dir);
}
