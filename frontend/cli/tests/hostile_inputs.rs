//! The `kiln` binary on hostile model files, tensor files and flags (issue 16, findings 1, 2
//! and 6): each is a clear error on stderr naming the file (or the flag) with exit status 1 —
//! never an abort, a panic (status 101) or an output with a wrapped size such as a header's
//! `…_LEN 0`.
//!
//! The files are built here from a small saved model (its config edited, the checksum
//! rewritten by `kiln::saving::container::encode`). The library-level checks are tested in
//! `frontend/tests/hostile_model_files.rs` and `hostile_tensor_files.rs`.

use std::path::{Path, PathBuf};
use std::process::Output;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln::saving::container::{decode, encode};
use serde_json::{Value, json};

mod common;

fn scratch_dir(test: &str) -> PathBuf {
    common::scratch_dir("hostile", test)
}

/// `Input([4]) → Dense(3)` saved to `path`, compiled (a full save) or weights only.
fn save_small(path: &Path, compiled: bool) {
    let mut model = sequential![Input::new([4]), Dense::new(3)].with_seed(1);
    if compiled {
        model
            .compile(
                Adam::default(),
                SoftmaxCrossEntropyWithLogits,
                std::iter::empty::<Accuracy>(),
            )
            .unwrap();
        model.save(path).unwrap();
    } else {
        model.save_weights(path).unwrap();
    }
}

/// The Kiln file `from` written to `to` with its `class` layer's `field` set to `value`.
fn edit(from: &Path, to: &Path, class: &str, field: &str, value: Value) {
    let mut file = decode(from, &std::fs::read(from).unwrap()).unwrap();
    let layer = file.model_config["config"]["layers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|l| l["class_name"] == class)
        .unwrap();
    layer["config"][field] = value;
    std::fs::write(to, encode(&file)).unwrap();
}

/// Requires `out` to be a clean failure (status 1) whose stderr mentions each of `words`.
fn failed_clearly(out: &Output, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "not a clean failure: {stderr}");
    for word in words {
        assert!(
            stderr.contains(word),
            "stderr must mention {word:?}: {stderr}"
        );
    }
}

#[test]
fn a_kiln_file_asking_for_a_huge_layer_is_a_clear_error() {
    let dir = scratch_dir("units");
    let good = dir.join("good.kiln");
    save_small(&good, true);
    let huge = dir.join("huge.kiln");
    edit(&good, &huge, "Dense", "units", json!(u64::MAX));
    let out_dir = dir.join("out");
    for args in [
        vec![Path::new("summary"), &huge],
        vec![Path::new("compile"), &huge, Path::new("-o"), &out_dir],
    ] {
        failed_clearly(&common::kiln(&args), &["huge.kiln", "dense"]);
    }
    let input = dir.join("x.json");
    std::fs::write(
        &input,
        r#"{"dtype":"float32","shape":[1,4],"data":[1,2,3,4]}"#,
    )
    .unwrap();
    let out = common::kiln(&[
        Path::new("predict"),
        Path::new("--model"),
        &huge,
        Path::new("--input"),
        &input,
        Path::new("--output"),
        &dir.join("y.json"),
    ]);
    failed_clearly(&out, &["huge.kiln", "dense"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_wrapping_input_shape_or_tensor_shape_is_a_clear_error() {
    let dir = scratch_dir("wrap");
    let good = dir.join("good.kiln");
    save_small(&good, true);
    // 2^63 + 2 times 2 wraps to 4, the Dense kernel's input size.
    let wraps = dir.join("wraps.kiln");
    let shape = json!([null, 9_223_372_036_854_775_810u64, 2]);
    edit(&good, &wraps, "InputLayer", "batch_input_shape", shape);
    let out = common::kiln(&[Path::new("summary"), &wraps]);
    failed_clearly(&out, &["wraps.kiln", "batch_input_shape"]);
    // A batch of 2^62 examples of 4 values is 2^64 values: zero in wrapping arithmetic.
    let input = dir.join("batch.json");
    std::fs::write(
        &input,
        r#"{"dtype":"float32","shape":[4611686018427387904,4],"data":[]}"#,
    )
    .unwrap();
    let out = common::kiln(&[
        Path::new("predict"),
        Path::new("--model"),
        &good,
        Path::new("--input"),
        &input,
        Path::new("--output"),
        &dir.join("y.json"),
    ]);
    failed_clearly(&out, &["batch.json", "too many elements"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn kiln_compile_refuses_a_batch_too_large_for_its_header() {
    let dir = scratch_dir("batch");
    let path = dir.join("small.kiln");
    save_small(&path, true);
    let out_dir = dir.join("out");
    let out = common::kiln(&[
        Path::new("compile"),
        &path,
        Path::new("-o"),
        &out_dir,
        Path::new("--batch"),
        Path::new("4611686018427387904"),
    ]);
    failed_clearly(&out, &["batch", "4611686018427387904", "too many"]);
    assert!(!out_dir.join("small.h").exists(), "a header was written");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn errors_of_weights_only_kiln_files_name_the_file() {
    let dir = scratch_dir("weights_only");
    let weights = dir.join("weights.kiln");
    save_small(&weights, false);
    let broken = dir.join("broken.kiln");
    edit(
        &weights,
        &broken,
        "InputLayer",
        "batch_input_shape",
        json!([null, 0]),
    );
    let out = common::kiln(&[Path::new("summary"), &broken]);
    failed_clearly(&out, &["broken.kiln", "no elements"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// A model file larger than the stated limit (a sparse file, so the test writes nothing) is
/// refused before it is read: the CLI once read model files whole with no bound.
#[test]
fn a_model_file_over_the_size_limit_is_refused_before_reading() {
    let dir = scratch_dir("too_large");
    let path = dir.join("huge.kiln");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(kiln::read_limit::MAX_MODEL_FILE_BYTES + 1)
        .unwrap();
    drop(file);
    failed_clearly(
        &common::kiln(&[Path::new("summary"), &path]),
        &["huge.kiln", "at most"],
    );
}
