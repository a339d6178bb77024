//! The `kiln` binary on every model format it reads, recognised by content: Keras 3
//! `.keras` archives (every shared archive fixture predicts what Keras predicted), a Keras
//! JSON config with and without `--weights` (Keras 3 `.weights.h5`), conversions between
//! `.keras`, `.h5` and Kiln files whatever the input's extension, and clear errors.

use std::path::{Path, PathBuf};

use common::{kiln, kiln_ok};
use kiln::tensor_file::read_tensor;

mod common;

/// A fixture under `frontend/tests/fixtures/keras/archives`.
fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/keras/archives")
        .join(relative)
}

/// A fresh empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    common::scratch_dir("formats", test)
}

/// `kiln predict` of `model` (plus `extra` arguments) on `input`, read back.
fn predict(dir: &Path, model: &Path, input: &Path, extra: &[&Path]) -> kiln::Tensor {
    let out = dir.join("out.json");
    let mut args: Vec<&Path> = vec![Path::new("predict"), Path::new("--model"), model];
    args.extend([Path::new("--input"), input, Path::new("--output"), &out]);
    args.extend(extra);
    kiln_ok(&args);
    read_tensor(&out).unwrap()
}

/// Asserts `|got - want| <= tol + tol * |want|` elementwise.
fn assert_close(name: &str, got: &kiln::Tensor, want: &kiln::Tensor, tol: f32) {
    assert_eq!(got.shape, want.shape, "{name}");
    for (g, w) in got.data.iter().zip(&want.data) {
        assert!((g - w).abs() <= tol + tol * w.abs(), "{name}: {g} vs {w}");
    }
}

#[test]
fn every_archive_fixture_predicts_what_keras_predicted() {
    let dir = scratch_dir("archives");
    for name in ["mlp", "cnn_functional", "text_lstm"] {
        let input = fixture(&format!("{name}_input.json"));
        let want = read_tensor(fixture(&format!("{name}_output.json"))).unwrap();
        // Renamed without an extension: found by content.
        let model = dir.join(name);
        std::fs::copy(fixture(&format!("{name}.keras")), &model).unwrap();
        assert_close(name, &predict(&dir, &model, &input, &[]), &want, 1e-4);
        let summary = kiln_ok(&[Path::new("summary"), &model]);
        assert!(summary.contains("Total params"), "{summary}");
    }
}

#[test]
fn a_json_config_with_keras3_weights_predicts_and_converts() {
    let dir = scratch_dir("json");
    let name = "k3_sequence";
    let config = fixture(&format!("k3/{name}.json"));
    let weights = fixture(&format!("k3/{name}.weights.h5"));
    let input = fixture(&format!("k3/{name}_input.json"));
    let want = read_tensor(fixture(&format!("k3/{name}_output.json"))).unwrap();
    let got = predict(&dir, &config, &input, &[Path::new("--weights"), &weights]);
    assert_close(name, &got, &want, 1e-4);
    // .json + weights → .keras → .h5 → Kiln file, each predicting the same.
    let archive = dir.join("a.keras");
    kiln_ok(&[
        Path::new("convert"),
        &config,
        &archive,
        Path::new("--weights"),
        &weights,
    ]);
    let h5 = dir.join("b.h5");
    kiln_ok(&[Path::new("convert"), &archive, &h5]);
    let back_to_archive = dir.join("c.keras");
    kiln_ok(&[Path::new("convert"), &h5, &back_to_archive]);
    let kiln_file = dir.join("d.kiln");
    kiln_ok(&[Path::new("convert"), &back_to_archive, &kiln_file]);
    for file in [&archive, &h5, &back_to_archive, &kiln_file] {
        assert_eq!(
            predict(&dir, file, &input, &[]).data,
            got.data,
            "{}",
            file.display()
        );
    }
}

#[test]
fn summary_of_a_mobilenet_config_without_weights() {
    let out = kiln_ok(&[Path::new("summary"), &fixture("k3/mobilenet_config.json")]);
    assert!(out.contains("Total params: 219829"), "{out}");
}

#[test]
fn unknown_and_damaged_files_are_named_errors() {
    let dir = scratch_dir("errors");
    let cases: [(&str, &[u8], &str); 4] = [
        ("text.bin", b"hello", "not a model file"),
        ("fake.keras", b"PK\x03\x04 truncated", "zip"),
        ("bad.json", b"{\"class_name\": ", "not a JSON model config"),
        // An empty zip archive: no config.json, so not a Keras archive.
        (
            "empty.zip",
            b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            "not a model file",
        ),
    ];
    for (name, bytes, says) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = kiln(&[Path::new("summary"), &path]);
        assert!(!out.status.success(), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(name) && stderr.contains(says),
            "{name}: {stderr}"
        );
    }
}

/// A fixture under `frontend/tests/fixtures/onnx` (inputs and outputs in the file's layout).
fn onnx_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/onnx")
        .join(name)
}

#[test]
fn every_onnx_fixture_predicts_what_onnxruntime_predicted() {
    let dir = scratch_dir("onnx");
    for name in [
        "mlp_gemm",
        "cnn_bn",
        "resnet_block_dynamo",
        "onnx_helper_ops",
    ] {
        let input = onnx_fixture(&format!("{name}_input.json"));
        let want = read_tensor(onnx_fixture(&format!("{name}_output.json"))).unwrap();
        let model = onnx_fixture(&format!("{name}.onnx"));
        assert_close(name, &predict(&dir, &model, &input, &[]), &want, 1e-4);
        let summary = kiln_ok(&[Path::new("summary"), &model]);
        assert!(summary.contains("Total params"), "{summary}");
    }
    // Found by content: the CNN without its extension.
    let renamed = dir.join("cnn_bn");
    std::fs::copy(onnx_fixture("cnn_bn.onnx"), &renamed).unwrap();
    let want = read_tensor(onnx_fixture("cnn_bn_output.json")).unwrap();
    let got = predict(&dir, &renamed, &onnx_fixture("cnn_bn_input.json"), &[]);
    assert_close("cnn_bn renamed", &got, &want, 1e-4);
}

#[test]
fn onnx_converts_to_keras_archives_kiln_files_and_back_to_onnx() {
    let dir = scratch_dir("onnx-convert");
    let input = onnx_fixture("cnn_bn_input.json");
    let source = onnx_fixture("cnn_bn.onnx");
    let want = predict(&dir, &source, &input, &[]);
    let archive = dir.join("a.keras");
    kiln_ok(&[Path::new("convert"), &source, &archive]);
    let kiln_file = dir.join("b.kiln");
    kiln_ok(&[Path::new("convert"), &archive, &kiln_file]);
    let onnx = dir.join("c.onnx");
    kiln_ok(&[Path::new("convert"), &kiln_file, &onnx]);
    for file in [&archive, &kiln_file, &onnx] {
        let got = predict(&dir, file, &input, &[]);
        assert_close(&file.display().to_string(), &got, &want, 1e-5);
    }
}
