//! The Keras `.h5` file layer: reading Keras 2 and Keras 3 files (checked against what
//! h5py reads, `fixtures/keras_h5/reference.json`, and against the weights Keras itself
//! dumped, `fixtures/keras3/*_weights.json`), writing and reading back bit-identically,
//! Keras 3 config normalisation, and clear errors on damaged or foreign files.

use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, FileBuilder};
use kiln::Error;
use kiln::keras::{KerasFile, LayerWeights, normalize_model_config};
use serde_json::{Value, json};

/// A fixture file under `frontend/tests/fixtures`.
fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// Every `.h5` fixture, by its path under `tests/fixtures`.
const H5_FIXTURES: [&str; 6] = [
    "keras/mlp.h5",
    "keras/cnn.h5",
    "keras/activations.h5",
    "keras3/k3_mlp.h5",
    "keras3/k3_functional.h5",
    "keras3/k3_functional_weights_only.h5",
];

/// A fresh empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-keras-h5-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The CRC-32 of a tensor's little-endian float32 bytes (what the reference records).
fn crc32(data: &[f32]) -> u32 {
    let mut crc = flate2::Crc::new();
    for v in data {
        crc.update(&v.to_le_bytes());
    }
    crc.sum()
}

/// The file's `ModelFile` message, failing the test on any other outcome.
fn model_file_error(result: kiln::Result<KerasFile>, path: &Path) -> String {
    match result {
        Err(Error::ModelFile { path: p, msg }) => {
            assert_eq!(p, path);
            msg
        }
        other => panic!(
            "expected a ModelFile error about {}, got {other:?}",
            path.display()
        ),
    }
}

#[test]
fn every_fixture_reads_as_h5py_reads_it() {
    let text = std::fs::read_to_string(fixture("keras_h5/reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    for relative in H5_FIXTURES {
        let file_name = relative.rsplit('/').next().unwrap();
        let want = &reference[file_name];
        let got = KerasFile::read(fixture(relative)).unwrap();
        assert_eq!(
            got.keras_version.as_deref(),
            want["keras_version"].as_str(),
            "{relative}"
        );
        assert_eq!(
            got.backend.as_deref(),
            want["backend"].as_str(),
            "{relative}"
        );
        assert_eq!(
            got.model_config.is_some(),
            want["has_model_config"] == true,
            "{relative}"
        );
        assert_eq!(
            got.training_config.is_some(),
            want["has_training_config"] == true
        );
        let want_layers = want["layers"].as_array().unwrap();
        let names: Vec<&str> = got.layers.iter().map(|l| l.layer.as_str()).collect();
        let want_names: Vec<&str> = want_layers
            .iter()
            .map(|l| l["layer"].as_str().unwrap())
            .collect();
        assert_eq!(names, want_names, "{relative}: layer order");
        for (layer, want_layer) in got.layers.iter().zip(want_layers) {
            let want_weights = want_layer["weights"].as_array().unwrap();
            assert_eq!(
                layer.weights.len(),
                want_weights.len(),
                "{relative} {}",
                layer.layer
            );
            for ((name, tensor), w) in layer.weights.iter().zip(want_weights) {
                let at = format!("{relative} {}/{name}", layer.layer);
                assert_eq!(name, w["name"].as_str().unwrap(), "{at}");
                let shape: Vec<usize> = w["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect();
                assert_eq!(tensor.shape.dims(), shape.as_slice(), "{at}");
                assert_eq!(
                    crc32(&tensor.data),
                    w["crc32"].as_u64().unwrap() as u32,
                    "{at}"
                );
                for (g, f) in tensor.data.iter().zip(w["first"].as_array().unwrap()) {
                    assert_eq!(*g, f.as_f64().unwrap() as f32, "{at}");
                }
            }
        }
    }
}

#[test]
fn layers_follow_layer_names_and_skip_optimizer_and_top_level_groups() {
    let file = KerasFile::read(fixture("keras/activations.h5")).unwrap();
    let names: Vec<&str> = file.layers.iter().map(|l| l.layer.as_str()).collect();
    // HDF5 stores the groups sorted (dense_10, dense_11, dense_4, ...); Keras' order wins.
    let want: Vec<String> = (4..=11).map(|i| format!("dense_{i}")).collect();
    assert_eq!(names, want);
    // The two layers without bias hold only a kernel.
    let kernel_only: Vec<&str> = file
        .layers
        .iter()
        .filter(|l| l.weights.len() == 1)
        .map(|l| l.layer.as_str())
        .collect();
    assert_eq!(kernel_only, ["dense_8", "dense_10"]);

    let mlp = KerasFile::read(fixture("keras/mlp.h5")).unwrap();
    let names: Vec<&str> = mlp.layers.iter().map(|l| l.layer.as_str()).collect();
    assert_eq!(names, ["flatten", "dense", "dense_1", "dense_2"]);
    assert!(mlp.layer("flatten").unwrap().weights.is_empty());
    let training = mlp.training_config.as_ref().unwrap();
    assert!(training.get("optimizer_config").is_some());
}

/// Compares two layer lists bit for bit.
fn assert_bit_identical(a: &[LayerWeights], b: &[LayerWeights], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (la, lb) in a.iter().zip(b) {
        assert_eq!(la.layer, lb.layer, "{what}");
        assert_eq!(la.weights.len(), lb.weights.len(), "{what} {}", la.layer);
        for ((na, ta), (nb, tb)) in la.weights.iter().zip(&lb.weights) {
            assert_eq!(na, nb, "{what} {}", la.layer);
            assert_eq!(ta.shape, tb.shape, "{what} {}/{na}", la.layer);
            let bits_a: Vec<u32> = ta.data.iter().map(|v| v.to_bits()).collect();
            let bits_b: Vec<u32> = tb.data.iter().map(|v| v.to_bits()).collect();
            assert!(bits_a == bits_b, "{what} {}/{na}: weights differ", la.layer);
        }
    }
}

#[test]
fn every_fixture_round_trips_through_write() {
    let dir = scratch_dir("round-trip");
    for relative in H5_FIXTURES {
        let original = KerasFile::read(fixture(relative)).unwrap();
        let out = dir.join(relative.replace('/', "_"));
        original.write(&out).unwrap();
        let back = KerasFile::read(&out).unwrap();
        assert_eq!(back.keras_version, original.keras_version, "{relative}");
        assert_eq!(back.backend, original.backend, "{relative}");
        assert_eq!(back.model_config, original.model_config, "{relative}");
        assert_eq!(back.training_config, original.training_config, "{relative}");
        assert_bit_identical(&original.layers, &back.layers, relative);
    }
    // Only the written files are left: no temporary files.
    let left = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(left, H5_FIXTURES.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn written_file_has_the_keras_layout() {
    let dir = scratch_dir("layout");
    let out = dir.join("mlp.h5");
    KerasFile::read(fixture("keras/mlp.h5"))
        .unwrap()
        .write(&out)
        .unwrap();
    let file = hdf5_pure::File::open(&out).unwrap();
    let root = file.root().attrs().unwrap();
    assert_eq!(
        root["keras_version"],
        AttrValue::VarLenString("2.21.0".into())
    );
    assert_eq!(
        root["backend"],
        AttrValue::VarLenString("tensorflow".into())
    );
    assert!(matches!(
        root["model_config"],
        AttrValue::VarLenAsciiString(_)
    ));
    assert!(matches!(
        root["training_config"],
        AttrValue::VarLenAsciiString(_)
    ));
    let weights = file.group("model_weights").unwrap().attrs().unwrap();
    assert_eq!(
        weights["layer_names"],
        AttrValue::VarLenAsciiStringArray(
            ["flatten", "dense", "dense_1", "dense_2"]
                .map(String::from)
                .to_vec()
        )
    );
    assert_eq!(
        weights["backend"],
        AttrValue::VarLenAsciiString("tensorflow".into())
    );
    let flatten = file
        .group("model_weights/flatten")
        .unwrap()
        .attrs()
        .unwrap();
    assert_eq!(flatten["weight_names"], AttrValue::F64Array(Vec::new()));
    let top = file
        .group("model_weights/top_level_model_weights")
        .unwrap()
        .attrs()
        .unwrap();
    assert_eq!(top["weight_names"], AttrValue::F64Array(Vec::new()));
    let kernel = file.dataset("model_weights/dense/dense/kernel:0").unwrap();
    assert_eq!(kernel.shape().unwrap(), [784, 300]);
    assert_eq!(kernel.dtype().unwrap(), hdf5_pure::DType::F32);

    // Without configs the file takes the save_weights layout: the root is the weights group.
    let out = dir.join("weights_only.h5");
    let source = KerasFile::read(fixture("keras3/k3_functional_weights_only.h5")).unwrap();
    source.write(&out).unwrap();
    let file = hdf5_pure::File::open(&out).unwrap();
    let root = file.root().attrs().unwrap();
    assert_eq!(root["backend"], AttrValue::VarLenAsciiString("jax".into()));
    assert!(root.contains_key("layer_names") && !root.contains_key("model_config"));
    assert!(file.group("model_weights").is_err());
    let kernel = file.dataset("left/left/kernel").unwrap();
    assert_eq!(kernel.shape().unwrap(), [4, 3]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_rejects_names_hdf5_cannot_hold_and_leaves_no_file() {
    let dir = scratch_dir("bad-names");
    let tensor = kiln::Tensor::new(kiln::Shape::new(vec![2]), vec![1.0, 2.0]).unwrap();
    let file_with = |layer: &str, names: &[&str]| KerasFile {
        keras_version: None,
        backend: None,
        model_config: None,
        training_config: None,
        layers: vec![LayerWeights {
            layer: layer.into(),
            weights: names
                .iter()
                .map(|n| (n.to_string(), tensor.clone()))
                .collect(),
        }],
    };
    let out = dir.join("bad.h5");
    for (file, needle) in [
        (file_with("a/b", &["w"]), "a/b"),
        (file_with("d", &["d/w", "d/w"]), "d/w"),
        (file_with("d", &["d/w", "d/w/x"]), "already a weight"),
        (file_with("d", &["d//w"]), "empty"),
    ] {
        let err = file.write(&out).unwrap_err();
        assert!(matches!(err, Error::ModelFile { .. }), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
        assert!(!out.exists());
    }
    // A missing directory is a write error naming the file.
    let missing = dir.join("no/such/dir/m.h5");
    let err = file_with("d", &["d/w"]).write(&missing).unwrap_err();
    assert!(
        matches!(err, Error::WriteFile { ref path, .. } if *path == missing),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The weights Keras 3 itself dumped beside a fixture: layer → [(path, shape, data)].
fn keras3_dumped_weights(relative: &str) -> Value {
    let text = std::fs::read_to_string(fixture(relative)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn keras3_weights_match_what_keras_dumped() {
    for (h5, dump) in [
        ("keras3/k3_mlp.h5", "keras3/k3_mlp_weights.json"),
        (
            "keras3/k3_functional.h5",
            "keras3/k3_functional_weights.json",
        ),
        (
            "keras3/k3_functional_weights_only.h5",
            "keras3/k3_functional_weights.json",
        ),
    ] {
        let file = KerasFile::read(fixture(h5)).unwrap();
        let dumped = keras3_dumped_weights(dump);
        for layer in &file.layers {
            let want = dumped[&layer.layer].as_array().unwrap();
            assert_eq!(layer.weights.len(), want.len(), "{h5} {}", layer.layer);
            for ((_, tensor), w) in layer.weights.iter().zip(want) {
                let data: Vec<f32> = w["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect();
                assert_eq!(tensor.data, data, "{h5} {}", layer.layer);
            }
        }
    }
    let mlp = KerasFile::read(fixture("keras3/k3_mlp.h5")).unwrap();
    let names: Vec<&str> = mlp.layers[0]
        .weights
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["sequential/dense/kernel", "sequential/dense/bias"]);
}

#[test]
fn keras3_functional_config_normalizes_to_keras2_form() {
    let file = KerasFile::read(fixture("keras3/k3_functional.h5")).unwrap();
    let config = normalize_model_config(file.model_config.as_ref().unwrap()).unwrap();
    let inner = &config["config"];
    assert_eq!(inner["input_layers"], json!([["input_layer", 0, 0]]));
    assert_eq!(inner["output_layers"], json!([["head", 0, 0]]));
    let layers = inner["layers"].as_array().unwrap();
    assert_eq!(layers[0]["config"]["batch_input_shape"], json!([null, 4]));
    assert!(layers[0]["config"].get("batch_shape").is_none());
    assert_eq!(
        layers[1]["inbound_nodes"],
        json!([[["input_layer", 0, 0, {}]]])
    );
    assert_eq!(
        layers[3]["inbound_nodes"],
        json!([[["left", 0, 0, {}], ["right", 0, 0, {}]]])
    );
    for layer in layers {
        assert!(layer.get("module").is_none() && layer.get("registered_name").is_none());
        if let Some(dtype) = layer["config"].get("dtype") {
            assert_eq!(dtype, "float32", "{layer}");
        }
    }
    // Normalising twice changes nothing.
    assert_eq!(normalize_model_config(&config).unwrap(), config);
}

#[test]
fn keras3_sequential_config_drops_its_extra_keys() {
    let file = KerasFile::read(fixture("keras3/k3_mlp.h5")).unwrap();
    let config = normalize_model_config(file.model_config.as_ref().unwrap()).unwrap();
    let inner = config["config"].as_object().unwrap();
    let mut keys: Vec<&str> = inner.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["layers", "name"]);
    let dense = &inner["layers"][1]["config"];
    assert_eq!(dense["dtype"], "float32");
    assert_eq!(dense["units"], 5);
}

#[test]
fn keras2_fixture_configs_pass_through_unchanged() {
    for relative in ["keras/mlp.h5", "keras/cnn.h5", "keras/activations.h5"] {
        let file = KerasFile::read(fixture(relative)).unwrap();
        let config = file.model_config.unwrap();
        assert_eq!(
            normalize_model_config(&config).unwrap(),
            config,
            "{relative}"
        );
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = fixture("keras/no_such_model.h5");
    match KerasFile::read(&path) {
        Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Io error, got {other:?}"),
    }
}

#[test]
fn non_hdf5_file_is_refused() {
    let path = fixture("keras/index.json");
    let msg = model_file_error(KerasFile::read(&path), &path);
    assert!(msg.contains("not an HDF5 file"), "{msg}");
}

#[test]
fn weights_only_file_has_no_model_config_and_read_model_refuses_it() {
    let path = fixture("keras3/k3_functional_weights_only.h5");
    let file = KerasFile::read(&path).unwrap();
    assert!(file.model_config.is_none());
    assert_eq!(file.layers.len(), 5);
    let msg = model_file_error(KerasFile::read_model(&path), &path);
    assert!(msg.contains("model_config"), "{msg}");
    assert!(KerasFile::read_model(fixture("keras/cnn.h5")).is_ok());
}

/// Writes a small HDF5 file built by `build` and returns its path.
fn handmade(dir: &Path, name: &str, build: impl FnOnce(&mut FileBuilder)) -> PathBuf {
    let mut builder = FileBuilder::new();
    build(&mut builder);
    let path = dir.join(name);
    builder.write(&path).unwrap();
    path
}

/// A `/model_weights` group holding layer `d` with one weight `d/w`, whose dataset
/// `dataset` fills in.
fn one_weight_file(builder: &mut FileBuilder, dataset: impl FnOnce(&mut hdf5_pure::GroupBuilder)) {
    let mut weights = builder.create_group("model_weights");
    weights.set_attr(
        "layer_names",
        AttrValue::VarLenAsciiStringArray(vec!["d".into()]),
    );
    let mut layer = weights.create_group("d");
    layer.set_attr(
        "weight_names",
        AttrValue::VarLenAsciiStringArray(vec!["d/w".into()]),
    );
    let mut inner = layer.create_group("d");
    dataset(&mut inner);
    layer.add_group(inner.finish());
    weights.add_group(layer.finish());
    builder.add_group(weights.finish());
}

#[test]
fn a_weight_of_the_wrong_type_is_named_with_its_dtype() {
    let dir = scratch_dir("wrong-type");
    let path = handmade(&dir, "ints.h5", |b| {
        one_weight_file(b, |g| {
            g.create_dataset("w").with_u8_data(&[1, 2, 3]);
        })
    });
    let msg = model_file_error(KerasFile::read(&path), &path);
    for needle in ["layer `d`", "weight `d/w`", "u8"] {
        assert!(msg.contains(needle), "{msg}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn int64_weights_read_as_float32() {
    // Keras' Normalization stores its sample `count` as int64.
    let dir = scratch_dir("int64");
    let path = handmade(&dir, "i64.h5", |b| {
        one_weight_file(b, |g| {
            g.create_dataset("w").with_i64_data(&[7, -2, 1 << 40]);
        })
    });
    let file = KerasFile::read(&path).unwrap();
    assert_eq!(
        file.layers[0].weights[0].1.data,
        [7.0, -2.0, (1u64 << 40) as f32]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn float64_and_gzip_chunked_weights_read_as_float32() {
    let dir = scratch_dir("f64-gzip");
    let values: Vec<f64> = (0..24).map(|i| i as f64 * 0.25 - 1.0).collect();
    let path = handmade(&dir, "f64.h5", |b| {
        one_weight_file(b, |g| {
            g.create_dataset("w")
                .with_f64_data(&values)
                .with_shape(&[4, 6]);
        })
    });
    let file = KerasFile::read(&path).unwrap();
    let (_, tensor) = &file.layers[0].weights[0];
    assert_eq!(tensor.shape.dims(), [4, 6]);
    let want: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    assert_eq!(tensor.data, want);

    let data: Vec<f32> = (0..600).map(|i| (i % 7) as f32 * 0.5).collect();
    let path = handmade(&dir, "gzip.h5", |b| {
        one_weight_file(b, |g| {
            g.create_dataset("w")
                .with_f32_data(&data)
                .with_shape(&[20, 30])
                .with_chunks(&[5, 30])
                .with_shuffle()
                .with_deflate(6);
        })
    });
    let file = KerasFile::read(&path).unwrap();
    let (_, tensor) = &file.layers[0].weights[0];
    assert_eq!(tensor.shape.dims(), [20, 30]);
    assert_eq!(tensor.data, data);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Fills a [`FileBuilder`] with one test case's content.
type Builder = Box<dyn FnOnce(&mut FileBuilder)>;

#[test]
fn foreign_or_incomplete_keras_layouts_are_named() {
    let dir = scratch_dir("layouts");
    let cases: [(&str, Builder, &str); 4] = [
        (
            "plain.h5",
            Box::new(|b| {
                b.create_dataset("x").with_f32_data(&[1.0]);
            }),
            "no `model_weights` group",
        ),
        (
            "no_layer_names.h5",
            Box::new(|b| {
                let g = b.create_group("model_weights");
                b.add_group(g.finish());
            }),
            "no `layer_names`",
        ),
        (
            "missing_layer.h5",
            Box::new(|b| {
                let mut g = b.create_group("model_weights");
                g.set_attr(
                    "layer_names",
                    AttrValue::VarLenAsciiStringArray(vec!["gone".into()]),
                );
                b.add_group(g.finish());
            }),
            "layer `gone`",
        ),
        (
            "missing_dataset.h5",
            Box::new(|b| one_weight_file(b, |_| {})),
            "weight `d/w`",
        ),
    ];
    for (name, build, needle) in cases {
        let path = handmade(&dir, name, build);
        let msg = model_file_error(KerasFile::read(&path), &path);
        assert!(msg.contains(needle), "{name}: {msg}");
    }
    let path = handmade(&dir, "bad_json.h5", |b| {
        b.set_attr(
            "model_config",
            AttrValue::VarLenAsciiString("{not json".into()),
        );
        one_weight_file(b, |g| {
            g.create_dataset("w").with_f32_data(&[1.0]);
        });
    });
    let msg = model_file_error(KerasFile::read(&path), &path);
    assert!(
        msg.contains("model_config") && msg.contains("JSON"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_files_are_errors_naming_the_file() {
    let dir = scratch_dir("truncated");
    let bytes = std::fs::read(fixture("keras/activations.h5")).unwrap();
    let path = dir.join("cut.h5");
    for len in [
        0,
        4,
        8,
        40,
        95,
        96,
        200,
        512,
        800,
        1400,
        2048,
        4096,
        10_000,
        30_000,
        bytes.len() - 1,
    ] {
        std::fs::write(&path, &bytes[..len]).unwrap();
        // A cut that keeps every byte the reader needs may still read; anything else is a
        // ModelFile error about this path, never a panic.
        if let Err(err) = KerasFile::read(&path) {
            assert!(
                matches!(&err, Error::ModelFile { path: p, .. } if *p == path),
                "{len}: {err}"
            );
        }
    }
    // Cutting the file before its metadata ends is always an error.
    for len in [0, 8, 96, 800, 2048] {
        std::fs::write(&path, &bytes[..len]).unwrap();
        assert!(KerasFile::read(&path).is_err(), "cut at {len} read fine");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flipped_bytes_in_metadata_never_panic() {
    let bytes = std::fs::read(fixture("keras/activations.h5")).unwrap();
    let path = PathBuf::from("flipped.h5");
    // Every byte of the superblock and the first object headers, then samples across
    // the rest (more headers, heaps and B-trees sit between the datasets).
    let positions = (0..1024).chain((1024..bytes.len()).step_by(41));
    let mut errors = 0;
    for pos in positions {
        for mask in [0x01u8, 0xff] {
            let mut damaged = bytes.clone();
            damaged[pos] ^= mask;
            if let Err(err) = KerasFile::read_bytes(damaged, &path) {
                errors += 1;
                assert!(
                    matches!(&err, Error::ModelFile { path: p, .. } if *p == path),
                    "byte {pos} ^ {mask:#x}: {err}"
                );
            }
        }
    }
    // The 8 signature bytes alone give 16 errors; damaged headers give many more.
    assert!(errors > 200, "only {errors} damaged files were refused");
}

#[test]
fn normalize_converts_a_hand_written_keras3_functional_config() {
    let keras3 = json!({
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "m",
            "trainable": true,
            "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "registered_name": null,
                 "config": {"batch_shape": [null, 8], "dtype": "float32", "name": "in"},
                 "name": "in", "inbound_nodes": []},
                {"module": "keras.layers", "class_name": "Dense", "registered_name": null,
                 "config": {"name": "d", "units": 2,
                            "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                      "config": {"name": "float32"}, "registered_name": null}},
                 "name": "d",
                 "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                     "config": {"shape": [null, 8], "dtype": "float32",
                                "keras_history": ["in", 0, 0]}}],
                     "kwargs": {"training": false}}]}
            ],
            "input_layers": ["in", 0, 0],
            "output_layers": [["d", 0, 0]]
        }
    });
    let keras2 = json!({
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "m",
            "trainable": true,
            "layers": [
                {"class_name": "InputLayer",
                 "config": {"batch_input_shape": [null, 8], "dtype": "float32", "name": "in"},
                 "name": "in", "inbound_nodes": []},
                {"class_name": "Dense",
                 "config": {"name": "d", "units": 2, "dtype": "float32"},
                 "name": "d",
                 "inbound_nodes": [[["in", 0, 0, {"training": false}]]]}
            ],
            "input_layers": [["in", 0, 0]],
            "output_layers": [["d", 0, 0]]
        }
    });
    assert_eq!(normalize_model_config(&keras3).unwrap(), keras2);
}

#[test]
fn normalize_handles_a_nested_keras3_sequential() {
    let inner_model = json!({
        "module": "keras", "class_name": "Sequential", "registered_name": null,
        "name": "block",
        "config": {"name": "block", "trainable": true, "build_input_shape": [null, 3],
                   "dtype": {"class_name": "DTypePolicy", "config": {"name": "float32"}},
                   "layers": [{"module": "keras.layers", "class_name": "InputLayer",
                               "config": {"batch_shape": [null, 3], "name": "x"}}]},
        "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
            "config": {"keras_history": ["in", 0, 0]}}], "kwargs": {}}]
    });
    let outer = json!({"class_name": "Functional", "config": {
        "name": "outer", "layers": [inner_model],
        "input_layers": [["in", 0, 0]], "output_layers": [["block", 0, 0]]}});
    let got = normalize_model_config(&outer).unwrap();
    let block = &got["config"]["layers"][0];
    assert_eq!(block["inbound_nodes"], json!([[["in", 0, 0, {}]]]));
    assert!(block.get("module").is_none());
    let block_config = block["config"].as_object().unwrap();
    let mut keys: Vec<&str> = block_config.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["layers", "name"]);
    assert_eq!(
        block_config["layers"][0]["config"]["batch_input_shape"],
        json!([null, 3])
    );
}

#[test]
fn normalize_names_the_layer_of_a_malformed_node() {
    let bad = json!({"class_name": "Functional", "config": {"name": "m",
        "input_layers": ["a", 0, 0], "output_layers": ["b", 0, 0],
        "layers": [{"class_name": "Dense", "name": "b", "config": {"name": "b"},
                    "inbound_nodes": [{"args": [3.5], "kwargs": {}}]}]}});
    match normalize_model_config(&bad) {
        Err(Error::Config {
            owner,
            class,
            field,
            msg,
        }) => {
            assert_eq!(
                (owner.as_str(), class.as_str(), field.as_str()),
                ("b", "Dense", "inbound_nodes")
            );
            assert!(msg.contains("3.5"), "{msg}");
        }
        other => panic!("expected a Config error, got {other:?}"),
    }
}
