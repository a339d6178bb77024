//! Hostile Kiln model files (issue 16, findings 1, 2 and 6): a `.kiln` file with a valid
//! checksum whose model config asks for a huge layer, or an input shape whose element count
//! wraps, must be a clear error naming the file and the layer — never an abort in the
//! allocator, a `capacity overflow` panic or gigabytes of work — and every error of a
//! weights-only file names the file.
//!
//! The files are built here: a small model is saved, its config JSON edited, and the file
//! re-encoded by `kiln::saving::container::encode`, which writes a fresh CRC-32 (so the
//! decoder's checksum passes and the loader behind it is reached). No fixtures.
//!
//! What this file does not test: damaged bytes (truncation, flips) of Kiln files — see
//! `save_load.rs` — nor Keras `.h5` files.

use std::path::{Path, PathBuf};

use kiln::Tensor;
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln::saving::container::{ModelFile, decode, encode};
use serde_json::{Value, json};

mod alloc_probe;

#[global_allocator]
static PROBE: alloc_probe::Probe = alloc_probe::Probe;

/// The most a rejected load may allocate at once: the test files are a few hundred bytes, so
/// a 1 MiB allocation means the loader built what the config asked for before refusing it.
const SMALL: usize = 1 << 20;

fn scratch_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kiln-hostile-model-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `Input([4]) → Flatten → Dense(3)`, compiled (a full save) or not (weights only).
fn small_model(compiled: bool) -> Model {
    let mut model = sequential![Input::new([4]), Flatten::new(), Dense::new(3)].with_seed(3);
    if compiled {
        model
            .compile(
                Adam::default(),
                SoftmaxCrossEntropyWithLogits,
                std::iter::empty::<Accuracy>(),
            )
            .unwrap();
    }
    model
}

/// The decoded file at `path`.
fn read(path: &Path) -> ModelFile {
    decode(path, &std::fs::read(path).unwrap()).unwrap()
}

/// The config of the first layer of class `class` in a Sequential model config.
fn layer_config<'a>(model_config: &'a mut Value, class: &str) -> &'a mut Value {
    model_config["config"]["layers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|l| l["class_name"] == class)
        .map(|l| &mut l["config"])
        .unwrap_or_else(|| panic!("no {class} layer in the config"))
}

/// Writes `file` to `dir/name` with its config's `class` layer's `field` set to `value`, a
/// valid checksum included; returns the path.
fn edited(
    file: &ModelFile,
    dir: &Path,
    name: &str,
    class: &str,
    field: &str,
    value: Value,
) -> PathBuf {
    let mut file = file.clone();
    layer_config(&mut file.model_config, class)[field] = value;
    let path = dir.join(name);
    std::fs::write(&path, encode(&file)).unwrap();
    path
}

/// The error of `load`, checked to name the file and to mention each of `words`, and the
/// largest allocation it made (at most [`SMALL`]).
fn refused<T: std::fmt::Debug>(
    path: &Path,
    words: &[&str],
    load: impl FnOnce() -> kiln::Result<T>,
) {
    let (result, largest) = alloc_probe::largest_allocation(load);
    let err = result
        .expect_err("a hostile file must not load")
        .to_string();
    let file = path.file_name().unwrap().to_string_lossy();
    assert!(
        err.contains(&*file),
        "the error must name the file {file}: {err}"
    );
    for word in words {
        assert!(err.contains(word), "the error must mention {word:?}: {err}");
    }
    assert!(
        largest <= SMALL,
        "{file}: the rejected load allocated {largest} bytes at once ({err})"
    );
}

#[test]
fn a_huge_layer_in_a_kiln_file_is_refused_before_anything_is_built() {
    let dir = scratch_dir("units");
    let good = dir.join("good.kiln");
    small_model(true).save(&good).unwrap();
    let file = read(&good);
    // 64 MB of kernel, a kernel whose size overflows, and the 4.8 TB (an abort in
    // the allocator before the fix); the file holds a [4, 3] kernel.
    for (name, units) in [
        ("four_million.kiln", json!(4_000_000u64)),
        ("u64_max.kiln", json!(u64::MAX)),
        ("terabytes.kiln", json!(300_000_000_000u64)),
    ] {
        let path = edited(&file, &dir, name, "Dense", "units", units);
        refused(&path, &["dense"], || Model::load(&path));
        // The weights-only route (what `kiln summary` takes for such a file) refuses it too.
        let config = read(&path).model_config;
        refused(&path, &["dense"], || {
            let mut model = Model::from_config(&config)?;
            model.load_weights(&path)
        });
    }
    assert!(Model::load(&good).is_ok());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_input_shape_whose_element_count_wraps_is_refused() {
    let dir = scratch_dir("input");
    let good = dir.join("good.kiln");
    small_model(true).save(&good).unwrap();
    let file = read(&good);
    // 9223372036854775810 · 2 = 2^64 + 4: "holds 4 values" in wrapping arithmetic, which is
    // what the Flatten → Dense(3) kernel of the file ([4, 3]) expects.
    let shape = json!([null, 9_223_372_036_854_775_810u64, 2]);
    let path = edited(
        &file,
        &dir,
        "wraps.kiln",
        "InputLayer",
        "batch_input_shape",
        shape.clone(),
    );
    refused(&path, &["batch_input_shape"], || Model::load(&path));
    // The same config as a Keras JSON model config, and the same shape built in code.
    let mut config = file.model_config.clone();
    layer_config(&mut config, "InputLayer")["batch_input_shape"] = shape;
    let err = Model::from_config(&config).unwrap_err().to_string();
    assert!(err.contains("batch_input_shape"), "{err}");
    let model = sequential![Input::new([9_223_372_036_854_775_810, 2]), Flatten::new()];
    let err = model.summary().unwrap_err().to_string();
    assert!(err.contains("too many elements"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn layers_whose_shapes_overflow_name_the_layer() {
    // Each is refused by the checked shape arithmetic, naming the layer, not by a panic.
    let cases: [(&str, Model); 3] = [
        (
            "dense",
            sequential![Input::new([1 << 40]), Dense::new(1 << 40).named("dense")],
        ),
        (
            "reshape",
            sequential![
                Input::new([4]),
                Reshape::new([1 << 62, 1 << 62]).named("reshape")
            ],
        ),
        (
            "up",
            sequential![
                Input::new([8, 8, 1]),
                UpSampling2D::new([1 << 62, 2]).named("up")
            ],
        ),
    ];
    for (layer, model) in cases {
        let err = model.summary().unwrap_err().to_string();
        assert!(err.contains(layer), "{layer}: {err}");
        assert!(model.count_params().is_err(), "{layer}");
    }
}

#[test]
fn errors_of_weights_only_kiln_files_name_the_file() {
    let dir = scratch_dir("weights_only");
    let good = dir.join("weights.kiln");
    small_model(false).save_weights(&good).unwrap();
    let file = read(&good);
    // An architecture that does not validate: an input with no elements.
    let path = edited(
        &file,
        &dir,
        "broken.kiln",
        "InputLayer",
        "batch_input_shape",
        json!([null, 0]),
    );
    let config = read(&path).model_config;
    // What `kiln` does with a weights-only file: build the config, then load the weights.
    let err = Model::from_config(&config)
        .and_then(|mut model| model.load_weights(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.kiln"), "{err}");
    assert!(err.contains("no elements"), "{err}");
    // Model::load of a weights-only file says what it is, naming the file.
    let err = Model::load(&good).unwrap_err().to_string();
    assert!(
        err.contains("weights.kiln") && err.contains("weights only"),
        "{err}"
    );
    // A tensor of the wrong shape in a weights-only file, loaded into a fresh model.
    let mut wrong = file.clone();
    wrong.tensors[0].1 = Tensor::new([2, 2], vec![0.0; 4]).unwrap();
    let wrong_path = dir.join("wrong.kiln");
    std::fs::write(&wrong_path, encode(&wrong)).unwrap();
    let err = small_model(false)
        .load_weights(&wrong_path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrong.kiln"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
