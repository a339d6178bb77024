//! Keras `.h5` models in and out: every Keras 2 fixture's predictions against the output
//! Keras stored (the fixture's own tolerance `atol + rtol * |want|`, and the argmax), the
//! Keras 3 files' weights against Keras' dump (exactly), summaries against Keras', the
//! compile status of each file, `save_keras` → `load_keras` round trips (bit-identical
//! predictions and weights), weights-only loading, and errors naming the file, layer,
//! class and option at fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln::keras::{CompileStatus, KerasFile, load_model};
use kiln::layers::registry::known_layer_classes;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln::tensor_file::read_tensor;
use kiln::{Error, Model, Tensor};
use serde_json::{Value, json};

/// A fixture file under `frontend/tests/fixtures`.
fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// A fresh empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-keras-models-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Keras 2 fixtures' index.
fn index() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("keras/index.json")).unwrap();
    let index: Value = serde_json::from_str(&text).unwrap();
    index["fixtures"].as_array().unwrap().clone()
}

/// The index of each row's largest value.
fn argmax_rows(t: &Tensor) -> Vec<usize> {
    let cols = *t.shape.dims().last().unwrap();
    t.data
        .chunks(cols)
        .map(|row| {
            (0..cols)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap()
        })
        .collect()
}

/// The `ModelFile` message of `result`, checking it names `path`.
fn file_error<T: std::fmt::Debug>(result: kiln::Result<T>, path: &Path) -> String {
    match result {
        Err(Error::ModelFile { path: p, msg }) => {
            assert_eq!(p, path);
            msg
        }
        other => panic!("expected an error about {}, got {other:?}", path.display()),
    }
}

#[test]
fn every_keras2_fixture_predicts_what_keras_predicted() {
    let fixtures = index();
    assert_eq!(fixtures.len(), 3);
    for entry in fixtures {
        let name = entry["name"].as_str().unwrap();
        let model = Model::load_keras(fixture(&format!(
            "keras/{}",
            entry["model"].as_str().unwrap()
        )))
        .unwrap();
        let input = read_tensor(fixture(&format!(
            "keras/{}",
            entry["input"].as_str().unwrap()
        )))
        .unwrap();
        let want = read_tensor(fixture(&format!(
            "keras/{}",
            entry["output"].as_str().unwrap()
        )))
        .unwrap();
        let got = model.predict(&input, 4).unwrap();
        assert_eq!(got.shape, want.shape, "{name}");
        let atol = entry["tolerance"]["atol"].as_f64().unwrap() as f32;
        let rtol = entry["tolerance"]["rtol"].as_f64().unwrap() as f32;
        for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
            assert!(
                (g - w).abs() <= atol + rtol * w.abs(),
                "{name}[{i}]: got {g}, Keras {w}"
            );
        }
        let want_argmax: Vec<usize> = entry["output_argmax"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(argmax_rows(&got), want_argmax, "{name}");
    }
}

#[test]
fn keras2_files_compile_as_keras_compiled_them() {
    for (file, status) in [
        ("keras/mlp.h5", CompileStatus::Compiled),
        ("keras/cnn.h5", CompileStatus::Compiled),
        ("keras/activations.h5", CompileStatus::NotSaved),
    ] {
        let loaded = load_model(fixture(file)).unwrap();
        assert_eq!(loaded.compile, status, "{file}");
        assert_eq!(
            loaded.model.is_compiled(),
            status == CompileStatus::Compiled
        );
        assert_eq!(loaded.keras_version.as_deref(), Some("2.21.0"));
    }
    let mlp = Model::load_keras(fixture("keras/mlp.h5")).unwrap();
    assert_eq!(mlp.metric_names(), ["accuracy"]);
    assert!((mlp.learning_rate().unwrap() - 0.05).abs() < 1e-7);
}

#[test]
fn loaded_summaries_equal_keras_summaries() {
    for name in ["mlp", "cnn"] {
        let model = Model::load_keras(fixture(&format!("keras/{name}.h5"))).unwrap();
        let want = std::fs::read_to_string(fixture(&format!("keras/{name}_summary.txt"))).unwrap();
        assert_eq!(
            model.summary().unwrap().trim_end(),
            want.trim_end(),
            "{name}"
        );
    }
}

/// The weights Keras 3 dumped for `file` (`{layer: [{name, shape, data}]}`), by layer.
fn keras3_dump(file: &str) -> BTreeMap<String, Vec<Tensor>> {
    let text = std::fs::read_to_string(fixture(file)).unwrap();
    let dump: BTreeMap<String, Vec<Value>> = serde_json::from_str(&text).unwrap();
    dump.into_iter()
        .map(|(layer, weights)| {
            let tensors = weights
                .iter()
                .map(|w| {
                    let shape: Vec<usize> = serde_json::from_value(w["shape"].clone()).unwrap();
                    let data: Vec<f32> = serde_json::from_value(w["data"].clone()).unwrap();
                    Tensor::new(shape.as_slice(), data).unwrap()
                })
                .collect();
            (layer, tensors)
        })
        .collect()
}

/// Every layer's weights of `model` equal `dump`'s, bit for bit (a layer the dump leaves
/// out has none).
fn assert_weights_equal_dump(model: &Model, dump: &BTreeMap<String, Vec<Tensor>>) {
    let weights = model.layer_weights().unwrap();
    let mut checked = 0;
    for layer in model.layers() {
        let name = layer.name().unwrap();
        let want = dump.get(name).cloned().unwrap_or_default();
        let got: Vec<&Tensor> = weights
            .iter()
            .filter(|(k, _)| k.split('/').next() == Some(name))
            .map(|(_, t)| t)
            .collect();
        assert_eq!(got.len(), want.len(), "layer {name}");
        for w in &want {
            assert!(got.contains(&w), "layer {name}: {w:?} not loaded");
            checked += 1;
        }
    }
    assert_eq!(checked, weights.len());
}

#[test]
fn keras3_sequential_loads_keras_weights_exactly() {
    let loaded = load_model(fixture("keras3/k3_mlp.h5")).unwrap();
    assert_eq!(loaded.keras_version.as_deref(), Some("3.15.1"));
    assert_eq!(loaded.compile, CompileStatus::Compiled);
    assert_weights_equal_dump(&loaded.model, &keras3_dump("keras3/k3_mlp_weights.json"));
}

#[test]
fn keras3_functional_loads_and_round_trips_or_names_its_unsupported_layer() {
    let path = fixture("keras3/k3_functional.h5");
    let dump = keras3_dump("keras3/k3_functional_weights.json");
    if known_layer_classes().contains(&"Add") {
        let model = Model::load_keras(&path).unwrap();
        assert_weights_equal_dump(&model, &dump);
        let mut again = Model::load_keras(&path).unwrap();
        let before = again.layer_weights().unwrap();
        again
            .load_keras_weights(fixture("keras3/k3_functional_weights_only.h5"))
            .unwrap();
        assert_eq!(again.layer_weights().unwrap(), before);
        // A functional model with an Add round-trips through save_keras bit for bit.
        let dir = scratch_dir("functional_add");
        let copy = dir.join("k3_functional_copy.h5");
        model.save_keras(&copy).unwrap();
        let reloaded = Model::load_keras(&copy).unwrap();
        let x = Tensor::new([3, 4], (0..12).map(|i| (i as f32 * 0.61).cos()).collect()).unwrap();
        assert_same_predictions(&model, &reloaded, &x);
        let _ = std::fs::remove_dir_all(dir);
    } else {
        let msg = file_error(Model::load_keras(&path), &path);
        assert!(msg.contains("add") && msg.contains("Add"), "{msg}");
    }
}

/// Predictions of `a` and `b` on `x` are bit-identical.
fn assert_same_predictions(a: &Model, b: &Model, x: &Tensor) {
    let (pa, pb) = (
        a.predict_many(&[x], 3).unwrap(),
        b.predict_many(&[x], 3).unwrap(),
    );
    assert_eq!(pa.len(), pb.len());
    for (ta, tb) in pa.iter().zip(&pb) {
        assert_eq!(ta.shape, tb.shape);
        let bits = |t: &Tensor| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(ta), bits(tb));
    }
}

#[test]
fn save_keras_round_trips_a_sequential_model_bit_for_bit() {
    let dir = scratch_dir("sequential");
    let original = Model::load_keras(fixture("keras/cnn.h5")).unwrap();
    let path = dir.join("cnn_copy.h5");
    original.save_keras(&path).unwrap();
    let written = KerasFile::read(&path).unwrap();
    let names: Vec<&str> = written.layers.iter().map(|l| l.layer.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv2d",
            "max_pooling2d",
            "conv2d_1",
            "average_pooling2d",
            "flatten_1",
            "dropout",
            "dense_3"
        ]
    );
    assert_eq!(written.layers[0].weights[0].0, "conv2d/kernel:0");
    assert!(written.training_config.is_some());
    let loaded = load_model(&path).unwrap();
    assert_eq!(loaded.compile, CompileStatus::Compiled);
    assert_eq!(
        loaded.model.layer_weights().unwrap(),
        original.layer_weights().unwrap()
    );
    let x = read_tensor(fixture("keras/cnn_input.json")).unwrap();
    assert_same_predictions(&original, &loaded.model, &x);
    // The file Keras wrote and the one Kiln wrote hold the same weights under the same names.
    let keras = KerasFile::read(fixture("keras/cnn.h5")).unwrap();
    assert_eq!(keras.layers, written.layers);
    let _ = std::fs::remove_dir_all(dir);
}

/// A functional model with two branches and two outputs, trained a little so its weights
/// are not the initial ones, and a frozen layer.
fn branching_model() -> Model {
    let mut f = Functional::builder("branches").with_seed(3);
    let x = f.input(Input::new([5]).named("features_in"));
    let h = f
        .apply(Dense::new(6).activation(Activation::Tanh), x)
        .unwrap();
    let n = f.apply(BatchNormalization::new(), h).unwrap();
    let a = f.apply(Dense::new(3).named("head_a"), n).unwrap();
    let b = f.apply(Dense::new(2).named("head_b"), h).unwrap();
    let mut model = f.build(&[x], &[a, b]).unwrap();
    model.set_trainable("head_b", false).unwrap();
    let mut weights = model.layer_weights().unwrap();
    for (k, t) in weights.iter_mut().enumerate() {
        for (i, v) in t.1.data.iter_mut().enumerate() {
            *v += 0.01 * ((k * 7 + i) % 13) as f32 - 0.05;
        }
    }
    model.set_weights(&weights).unwrap();
    model
}

#[test]
fn save_keras_round_trips_a_functional_model_bit_for_bit() {
    let dir = scratch_dir("functional");
    let original = branching_model();
    let path = dir.join("branches.h5");
    original.save_keras(&path).unwrap();
    let written = KerasFile::read(&path).unwrap();
    assert_eq!(written.layers[0].layer, "features_in");
    assert!(written.training_config.is_none());
    let bn = written.layer("batch_normalization").unwrap();
    let bn_names: Vec<&str> = bn.weights.iter().map(|w| w.0.as_str()).collect();
    assert_eq!(
        bn_names,
        [
            "batch_normalization/gamma:0",
            "batch_normalization/beta:0",
            "batch_normalization/moving_mean:0",
            "batch_normalization/moving_variance:0"
        ]
    );
    let loaded = load_model(&path).unwrap();
    assert_eq!(loaded.compile, CompileStatus::NotSaved);
    assert_eq!(loaded.model.kind(), original.kind());
    assert!(!loaded.model.is_trainable("head_b").unwrap());
    assert_eq!(
        loaded.model.layer_weights().unwrap(),
        original.layer_weights().unwrap()
    );
    let x = Tensor::new([4, 5], (0..20).map(|i| (i as f32 * 0.37).sin()).collect()).unwrap();
    assert_same_predictions(&original, &loaded.model, &x);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_compiled_model_saves_its_training_config() {
    let dir = scratch_dir("compiled");
    let mut model = Sequential::of([
        Input::new([4]).into(),
        Dense::new(3).activation(Activation::Relu).into(),
        Dense::new(2).into(),
    ]);
    model
        .compile(
            Adam::default(),
            kiln::losses::SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )
        .unwrap();
    let path = dir.join("compiled.h5");
    model.save_keras(&path).unwrap();
    let written = KerasFile::read(&path).unwrap();
    let training = written.training_config.unwrap();
    assert_eq!(training["optimizer_config"]["class_name"], json!("Adam"));
    let loaded = load_model(&path).unwrap();
    assert_eq!(loaded.compile, CompileStatus::Compiled);
    assert_eq!(loaded.model.metric_names(), ["accuracy"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unsupported_optimizer_loads_the_model_uncompiled_and_says_why() {
    let dir = scratch_dir("optimizer");
    let mut file = KerasFile::read(fixture("keras/mlp.h5")).unwrap();
    let training = file.training_config.as_mut().unwrap();
    training["optimizer_config"]["class_name"] = json!("Custom>Lion");
    let path = dir.join("lion.h5");
    file.write(&path).unwrap();
    let loaded = load_model(&path).unwrap();
    match &loaded.compile {
        CompileStatus::Unsupported(why) => assert!(why.contains("Lion"), "{why}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(!loaded.model.is_compiled());
    let x = read_tensor(fixture("keras/mlp_input.json")).unwrap();
    let keras = Model::load_keras(fixture("keras/mlp.h5")).unwrap();
    assert_same_predictions(&keras, &loaded.model, &x);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn weights_only_files_load_onto_a_built_model() {
    let dir = scratch_dir("weights_only");
    let keras = KerasFile::read(fixture("keras/mlp.h5")).unwrap();
    let weights_only = KerasFile {
        model_config: None,
        training_config: None,
        ..keras.clone()
    };
    let path = dir.join("mlp_weights.h5");
    weights_only.write(&path).unwrap();
    let config = kiln::keras::normalize_model_config(keras.model_config.as_ref().unwrap()).unwrap();
    let mut model = Model::from_config(&config).unwrap();
    model.load_keras_weights(&path).unwrap();
    let reference = Model::load_keras(fixture("keras/mlp.h5")).unwrap();
    assert_eq!(
        model.layer_weights().unwrap(),
        reference.layer_weights().unwrap()
    );
    // A whole-model load of a weights-only file says what to do instead.
    let msg = file_error(Model::load_keras(&path), &path);
    assert!(
        msg.contains("weights only") || msg.contains("model_config"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn weights_that_do_not_fit_are_errors_naming_layer_weight_and_shapes() {
    let dir = scratch_dir("mismatch");
    let keras = KerasFile::read(fixture("keras/mlp.h5")).unwrap();
    let write = |file: &KerasFile, name: &str| {
        let path = dir.join(name);
        file.write(&path).unwrap();
        path
    };
    let mut wrong_shape = keras.clone();
    let dense = wrong_shape
        .layers
        .iter_mut()
        .find(|l| l.layer == "dense_1")
        .unwrap();
    dense.weights[0].1 = Tensor::new([300, 99], vec![0.0; 300 * 99]).unwrap();
    let path = write(&wrong_shape, "shape.h5");
    let msg = file_error(Model::load_keras(&path), &path);
    for part in [
        "dense_1",
        "Dense",
        "dense_1/kernel:0",
        "[300, 99]",
        "[300, 100]",
    ] {
        assert!(msg.contains(part), "`{part}` missing from: {msg}");
    }
    let mut missing_bias = keras.clone();
    missing_bias
        .layers
        .iter_mut()
        .find(|l| l.layer == "dense")
        .unwrap()
        .weights
        .pop();
    let path = write(&missing_bias, "count.h5");
    let msg = file_error(Model::load_keras(&path), &path);
    assert!(
        msg.contains("`dense`") && msg.contains("has 2 weights"),
        "{msg}"
    );
    let mut missing_layer = keras.clone();
    missing_layer.layers.retain(|l| l.layer != "dense_2");
    let path = write(&missing_layer, "layer.h5");
    let msg = file_error(Model::load_keras(&path), &path);
    assert!(
        msg.contains("`dense_2`") && msg.contains("no layer"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn corrupt_or_truncated_files_are_errors_naming_the_file() {
    let dir = scratch_dir("corrupt");
    let bytes = std::fs::read(fixture("keras/cnn.h5")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.h5", Vec::new()),
        ("header.h5", bytes[..64].to_vec()),
        ("half.h5", bytes[..bytes.len() / 2].to_vec()),
        ("last_byte_cut.h5", bytes[..bytes.len() - 1].to_vec()),
        ("text.h5", b"not an hdf5 file at all".to_vec()),
        ("flipped.h5", {
            let mut b = bytes.clone();
            for i in (100..b.len()).step_by(997) {
                b[i] ^= 0x5a;
            }
            b
        }),
    ];
    for (name, content) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let _ = file_error(Model::load_keras(&path), &path);
        let mut model = Model::load_keras(fixture("keras/cnn.h5")).unwrap();
        let _ = file_error(model.load_keras_weights(&path), &path);
    }
    let missing = dir.join("absent.h5");
    assert!(matches!(
        Model::load_keras(&missing),
        Err(Error::Io { .. }) | Err(Error::ModelFile { .. })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

/// The error of loading mlp.h5 with its layer `dense` changed by `edit`.
fn error_with_dense_edited(test: &str, edit: impl Fn(&mut Value)) -> String {
    let dir = scratch_dir(test);
    let mut file = KerasFile::read(fixture("keras/mlp.h5")).unwrap();
    let layers = file.model_config.as_mut().unwrap()["config"]["layers"]
        .as_array_mut()
        .unwrap();
    edit(
        layers
            .iter_mut()
            .find(|l| l["config"]["name"] == json!("dense"))
            .unwrap(),
    );
    let path = dir.join("edited.h5");
    file.write(&path).unwrap();
    let msg = file_error(Model::load_keras(&path), &path);
    let _ = std::fs::remove_dir_all(dir);
    msg
}

#[test]
fn unsupported_classes_activations_and_options_name_layer_class_and_option() {
    let msg = error_with_dense_edited("class", |l| l["class_name"] = json!("ConvLSTM2D"));
    for part in ["dense", "ConvLSTM2D", "class_name"] {
        assert!(msg.contains(part), "`{part}` missing from: {msg}");
    }
    let msg = error_with_dense_edited("activation", |l| {
        l["config"]["activation"] = json!("no_such_activation")
    });
    for part in ["dense", "Dense", "activation", "no_such_activation"] {
        assert!(msg.contains(part), "`{part}` missing from: {msg}");
    }
    let msg = error_with_dense_edited("option", |l| {
        l["config"]["kernel_constraint"] =
            json!({"class_name": "MaxNorm", "config": {"max_value": 2}})
    });
    for part in ["dense", "Dense", "kernel_constraint"] {
        assert!(msg.contains(part), "`{part}` missing from: {msg}");
    }
}
