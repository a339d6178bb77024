//! Saving and loading: a save→load round trip is bit-exact (weights, optimizer state,
//! predictions), training resumes exactly, every kind of damaged file is a clear error naming
//! the file, writes are atomic, and every layer / activation / initializer / regularizer /
//! optimizer / loss / metric config survives a JSON round trip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ir::{Shape, Tensor};
use kiln::initializers::{Distribution, FanMode};
use kiln::layers::{layer_from_config, layer_from_json, layer_to_json};
use kiln::losses::{self, Loss};
use kiln::metrics::{self, Metric};
use kiln::optimizers::{self, Optimizer};
use kiln::prelude::*;
use kiln::saving::container::{ModelFile, crc32, decode, encode};
use kiln::saving::{training_config_from_json, training_config_json};
use serde_json::{Value, json};

mod common;

use common::{CLASSES, FEATURES, synthetic};

/// A fresh, empty directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-save-load-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Names of the files in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn model(seed: u64) -> Sequential {
    Sequential::of([
        Input::new([FEATURES]).into(),
        Dense::new(8)
            .activation(Activation::Tanh)
            .kernel_regularizer(Regularizer::L2(1e-3))
            .into(),
        Dense::new(CLASSES).into(),
    ])
    .named("small")
    .with_seed(seed)
}

fn compiled(seed: u64, optimizer: impl Optimizer + 'static) -> Sequential {
    let mut m = model(seed);
    m.compile(
        optimizer,
        losses::SoftmaxCrossEntropyWithLogits,
        [metrics::Accuracy],
    )
    .unwrap();
    m
}

fn quiet(epochs: usize) -> FitOptions<'static> {
    FitOptions::new(epochs, 16).verbose(false)
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.data.iter().map(|x| x.to_bits()).collect()
}

fn assert_same_store(a: &BTreeMap<String, Tensor>, b: &BTreeMap<String, Tensor>) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, t) in a {
        assert_eq!(t.shape, b[name].shape, "{name}");
        assert_eq!(bits(t), bits(&b[name]), "{name} differs");
    }
}

#[test]
fn round_trip_is_bit_exact() {
    let dir = scratch("round-trip");
    let path = dir.join("model.kiln");
    let data = synthetic(64, 1);
    let mut trained = compiled(
        5,
        optimizers::Adam::default()
            .learning_rate(0.02)
            .amsgrad(true)
            .clipnorm(1.0),
    );
    trained.fit_with(&data, quiet(3)).unwrap();
    trained.save(&path).unwrap();
    assert_eq!(listing(&dir), ["model.kiln"], "no temp file is left behind");

    let mut loaded = Sequential::load(&path).unwrap();
    assert_eq!(loaded.name(), "small");
    assert_eq!(loaded.seed(), 5);
    assert_eq!(loaded.metric_names(), ["accuracy"]);
    assert_eq!(loaded.to_config(), trained.to_config());
    let (before, after) = (trained.weights().unwrap(), loaded.weights().unwrap());
    assert_same_store(&before, &after);
    // 3 epochs of 4 batches: the step count and the optimizer slots are restored too.
    assert_eq!(after["optimizer/iterations"].data, [12.0]);
    assert!(after.contains_key("dense/kernel/vhat"));

    let features = Tensor {
        shape: Shape::from([64, FEATURES]),
        data: data.features().to_vec(),
    };
    let (p, q) = (
        trained.predict(&features, 10).unwrap(),
        loaded.predict(&features, 10).unwrap(),
    );
    assert_eq!(bits(&p), bits(&q), "predictions are bit-identical");
    // Saving the loaded model again gives the same bytes.
    let again = dir.join("again.kiln");
    loaded.save(&again).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&again).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Builds a freshly compiled model.
type MakeModel = fn() -> Sequential;

#[test]
fn training_resumes_exactly_after_load() {
    let dir = scratch("resume");
    let data = synthetic(48, 2);
    let optimizers: [(&str, MakeModel); 3] = [
        ("adam", || {
            compiled(9, optimizers::Adam::default().learning_rate(0.01))
        }),
        ("sgd", || {
            compiled(
                9,
                optimizers::SGD::default()
                    .learning_rate(0.1)
                    .momentum(0.9)
                    .nesterov(true),
            )
        }),
        ("rmsprop", || {
            compiled(
                9,
                optimizers::RMSProp::default().centered(true).momentum(0.5),
            )
        }),
    ];
    for (label, make) in optimizers {
        let mut straight = make();
        straight.fit_with(&data, quiet(2)).unwrap();
        let want = straight.fit_with(&data, quiet(2)).unwrap();

        let mut first_half = make();
        first_half.fit_with(&data, quiet(2)).unwrap();
        let path = dir.join(format!("{label}.kiln"));
        first_half.save(&path).unwrap();
        let mut resumed = Sequential::load(&path).unwrap();
        let got = resumed.fit_with(&data, quiet(2)).unwrap();

        for key in ["loss", "accuracy"] {
            let (w, g) = (want.get(key).unwrap(), got.get(key).unwrap());
            assert_eq!(
                w.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                g.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{label} {key}: {w:?} vs {g:?}"
            );
        }
        assert_same_store(&straight.weights().unwrap(), &resumed.weights().unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn changed_learning_rate_is_restored() {
    let dir = scratch("learning-rate");
    let path = dir.join("m.kiln");
    let mut m = compiled(3, optimizers::SGD::default());
    m.fit_with(&synthetic(16, 3), quiet(1)).unwrap();
    // What a learning-rate schedule does between epochs: overwrite the param.
    let mut lr = m.weights().unwrap()["optimizer/learning_rate"].clone();
    lr.data[0] = 0.125;
    let path_lr = dir.join("lr.kiln");
    let mut file = decode(&path, &{
        m.save(&path).unwrap();
        std::fs::read(&path).unwrap()
    })
    .unwrap();
    for (name, t) in &mut file.tensors {
        if name == "optimizer/learning_rate" {
            *t = lr.clone();
        }
    }
    std::fs::write(&path_lr, encode(&file)).unwrap();
    let mut loaded = Sequential::load(&path_lr).unwrap();
    assert_eq!(
        loaded.weights().unwrap()["optimizer/learning_rate"].data,
        [0.125]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A valid file's decoded contents, for tests that damage them.
fn saved_file(dir: &Path) -> (PathBuf, Vec<u8>, ModelFile) {
    let path = dir.join("good.kiln");
    let mut m = compiled(4, optimizers::Adam::default());
    m.fit_with(&synthetic(16, 4), quiet(1)).unwrap();
    m.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let file = decode(&path, &bytes).unwrap();
    (path, bytes, file)
}

/// Writes `bytes` as `name` in `dir`, loads it, and checks the error names the file and says `what`.
fn assert_load_fails(dir: &Path, name: &str, bytes: &[u8], what: &[&str]) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = Sequential::load(&path).expect_err(name).to_string();
    assert!(
        err.contains(&path.display().to_string()),
        "{name}: error does not name the file: {err}"
    );
    for w in what {
        assert!(err.contains(w), "{name}: expected `{w}` in: {err}");
    }
}

/// `file` encoded after `change`.
fn altered(file: &ModelFile, change: impl FnOnce(&mut ModelFile)) -> Vec<u8> {
    let mut file = file.clone();
    change(&mut file);
    encode(&file)
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one catalogue of damaged files, a few asserted lines each"
)]
fn damaged_and_foreign_files_are_clear_errors() {
    let dir = scratch("damaged");
    let (_, good, file) = saved_file(&dir);

    assert_load_fails(
        &dir,
        "foreign.kiln",
        b"PK\x03\x04 this is a zip file",
        &["not a Kiln model file", "KILN"],
    );
    assert_load_fails(&dir, "empty.kiln", b"", &["not a Kiln model file"]);
    let mut future = good.clone();
    future[4] = 9;
    assert_load_fails(&dir, "future.kiln", &future, &["format version 9"]);
    for cut in [6, 12, 40, good.len() / 2, good.len() - 1] {
        assert_load_fails(
            &dir,
            &format!("cut{cut}.kiln"),
            &good[..cut],
            &["truncated"],
        );
    }
    let mut flipped = good.clone();
    let at = good.len() - 10; // inside the last tensor's data
    flipped[at] ^= 0x10;
    assert_load_fails(
        &dir,
        "flipped.kiln",
        &flipped,
        &["checksum mismatch", "damaged"],
    );
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    assert_load_fails(&dir, "trailing.kiln", &trailing, &["checksum mismatch"]);

    // Bad JSON with a valid checksum: rewrite the model-config section by hand.
    let config_len = u64::from_le_bytes(good[8..16].try_into().unwrap()) as usize;
    let bad_json = b"{\"class_name\": \"Sequential\", oops";
    let mut bytes = good[..8].to_vec();
    bytes.extend_from_slice(&(bad_json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(bad_json);
    bytes.extend_from_slice(&good[16 + config_len..good.len() - 4]);
    let crc = crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    assert_load_fails(
        &dir,
        "bad-json.kiln",
        &bytes,
        &["model config is not valid JSON"],
    );

    let shape = altered(&file, |f| {
        let kernel = f
            .tensors
            .iter_mut()
            .find(|(n, _)| n == "dense_1/kernel")
            .unwrap();
        kernel.1 = Tensor::zeros(Shape::from([CLASSES, 8]));
    });
    assert_load_fails(
        &dir,
        "shape.kiln",
        &shape,
        &["dense_1/kernel", "[3, 8]", "architecture needs [8, 3]"],
    );
    let missing = altered(&file, |f| f.tensors.retain(|(n, _)| n != "dense/bias/m"));
    assert_load_fails(
        &dir,
        "missing.kiln",
        &missing,
        &["`dense/bias/m` is missing"],
    );
    let extra = altered(&file, |f| {
        f.tensors
            .push(("dense_9/kernel".into(), Tensor::zeros(Shape::from([2]))))
    });
    assert_load_fails(
        &dir,
        "extra.kiln",
        &extra,
        &["`dense_9/kernel` is not a parameter"],
    );
    let unknown = altered(&file, |f| {
        f.model_config["config"]["layers"][1]["class_name"] = json!("Conv3D")
    });
    assert_load_fails(
        &dir,
        "unknown-layer.kiln",
        &unknown,
        &["dense (Conv3D)", "class_name", "unknown layer class"],
    );
    let bad_activation = altered(&file, |f| {
        f.model_config["config"]["layers"][1]["config"]["activation"] = json!("mish")
    });
    assert_load_fails(
        &dir,
        "activation.kiln",
        &bad_activation,
        &["dense (Dense)", "`activation`", "unknown activation `mish`"],
    );
    let bad_optimizer = altered(&file, |f| {
        f.training_config["optimizer_config"]["class_name"] = json!("Lion")
    });
    assert_load_fails(
        &dir,
        "optimizer.kiln",
        &bad_optimizer,
        &["unknown optimizer", "Lion"],
    );
    let weights_only = altered(&file, |f| f.training_config = Value::Null);
    assert_load_fails(&dir, "weights-only.kiln", &weights_only, &["weights only"]);

    let absent = dir.join("absent.kiln");
    let err = Sequential::load(&absent).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("absent.kiln"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn saving_is_atomic() {
    let dir = scratch("atomic");
    let mut m = compiled(6, optimizers::Adam::default());
    // A missing directory: an error naming the path, nothing created.
    let missing = dir.join("no-such-dir").join("m.kiln");
    let err = m.save(&missing).unwrap_err();
    assert!(
        matches!(err, Error::WriteFile { .. }) && err.to_string().contains("no-such-dir"),
        "{err}"
    );
    assert!(listing(&dir).is_empty());
    // The rename fails (the target is a directory): the temp file is removed, the target kept.
    let occupied = dir.join("occupied.kiln");
    std::fs::create_dir(&occupied).unwrap();
    let err = m.save(&occupied).unwrap_err();
    assert!(matches!(err, Error::WriteFile { .. }), "{err}");
    assert_eq!(
        listing(&dir),
        ["occupied.kiln"],
        "no temp file is left behind"
    );
    assert!(occupied.is_dir());

    // An existing file is replaced only by a successful save.
    let path = dir.join("m.kiln");
    m.save(&path).unwrap();
    let first = std::fs::read(&path).unwrap();
    let mut uncompiled = model(6);
    assert!(uncompiled.save(&path).is_err());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        first,
        "a failed save leaves the old file"
    );
    m.fit_with(&synthetic(16, 6), quiet(1)).unwrap();
    m.save(&path).unwrap();
    assert_ne!(
        std::fs::read(&path).unwrap(),
        first,
        "a successful save replaces it"
    );
    assert_eq!(
        Sequential::load(&path).unwrap().weights().unwrap()["optimizer/iterations"].data,
        [1.0]
    );
    assert_eq!(listing(&dir), ["m.kiln", "occupied.kiln"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn weights_alone_move_between_models() {
    let dir = scratch("weights");
    let path = dir.join("w.kiln");
    let data = synthetic(32, 7);
    let mut trained = compiled(7, optimizers::Adam::default());
    trained.fit_with(&data, quiet(2)).unwrap();
    trained.save_weights(&path).unwrap();
    let mut fresh = compiled(99, optimizers::SGD::default());
    fresh.load_weights(&path).unwrap();
    let features = Tensor {
        shape: Shape::from([32, FEATURES]),
        data: data.features().to_vec(),
    };
    assert_eq!(
        bits(&trained.predict(&features, 8).unwrap()),
        bits(&fresh.predict(&features, 8).unwrap())
    );
    // A full save works too (its optimizer state is skipped); a weights file cannot be `load`ed.
    let full = dir.join("full.kiln");
    trained.save(&full).unwrap();
    fresh.load_weights(&full).unwrap();
    assert!(
        Sequential::load(&path)
            .unwrap_err()
            .to_string()
            .contains("weights only")
    );
    // A model of another architecture is refused.
    let mut other = Sequential::of([
        Input::new([FEATURES]).into(),
        Dense::new(5).into(),
        Dense::new(CLASSES).into(),
    ])
    .named("small");
    other
        .compile(
            optimizers::SGD::default(),
            losses::MeanSquaredError,
            [metrics::MeanSquaredError],
        )
        .unwrap();
    let err = other.load_weights(&path).unwrap_err().to_string();
    assert!(
        err.contains("dense/kernel") && !err.contains("[5, 3]") && err.contains("[4, 8]"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every initializer kind Kiln has, with non-default arguments where it takes any.
fn every_initializer() -> Vec<Initializer> {
    let mut all = vec![
        Initializer::Zeros,
        Initializer::Ones,
        Initializer::Constant(0.25),
        Initializer::RandomNormal {
            mean: 0.5,
            stddev: 0.1,
        },
        Initializer::RandomUniform {
            minval: -0.3,
            maxval: 0.7,
        },
        Initializer::TruncatedNormal {
            mean: -0.1,
            stddev: 0.02,
        },
        Initializer::GlorotNormal,
        Initializer::GlorotUniform,
        Initializer::HeNormal,
        Initializer::HeUniform,
        Initializer::LecunNormal,
        Initializer::LecunUniform,
        Initializer::Orthogonal { gain: 1.5 },
        Initializer::Identity { gain: 2.0 },
    ];
    for mode in [FanMode::FanIn, FanMode::FanOut, FanMode::FanAvg] {
        for distribution in [
            Distribution::TruncatedNormal,
            Distribution::UntruncatedNormal,
            Distribution::Uniform,
        ] {
            all.push(Initializer::VarianceScaling {
                scale: 0.7,
                mode,
                distribution,
            });
        }
    }
    all
}

/// Config → layer → config, compared as JSON and as printed text.
fn assert_layer_round_trip(layer: &dyn Layer) {
    let json = layer_to_json(layer);
    let rebuilt = layer_from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(rebuilt.class_name(), layer.class_name());
    assert_eq!(layer_to_json(rebuilt.as_ref()), json);
    let reparsed: Value = serde_json::from_str(&json.to_string()).unwrap();
    assert_eq!(
        layer_to_json(layer_from_json(&reparsed).unwrap().as_ref()),
        json
    );
    assert_eq!(
        format!("{:?}", rebuilt),
        format!("{:?}", layer),
        "the rebuilt layer equals the original"
    );
}

#[test]
fn every_layer_config_round_trips() {
    let mut activations: Vec<Activation> = Activation::all().collect();
    activations.push(Activation::LeakyRelu { alpha: 0.3 });
    for activation in activations {
        assert_layer_round_trip(&Dense::new(7).activation(activation).named("d"));
        assert_layer_round_trip(&ActivationLayer::new(activation).named("a"));
    }
    for initializer in every_initializer() {
        assert_layer_round_trip(
            &Dense::new(3)
                .kernel_initializer(initializer)
                .bias_initializer(initializer)
                .named("d"),
        );
    }
    for regularizer in [
        Regularizer::L1(0.02),
        Regularizer::L2(0.5),
        Regularizer::L1L2 { l1: 0.1, l2: 0.2 },
    ] {
        assert_layer_round_trip(
            &Dense::new(3)
                .kernel_regularizer(regularizer)
                .bias_regularizer(regularizer)
                .use_bias(true)
                .named("d"),
        );
    }
    assert_layer_round_trip(&Dense::new(3).use_bias(false).named("d"));
    assert_layer_round_trip(&Flatten::new().named("f"));
    assert_layer_round_trip(&Input::new([28, 28, 1]).named("input_1"));
}

#[test]
fn configs_use_keras_field_names() {
    let dense = Dense::new(300)
        .activation(Activation::Relu)
        .kernel_regularizer(Regularizer::L2(0.01))
        .named("dense");
    assert_eq!(
        layer_to_json(&dense),
        json!({"class_name": "Dense", "config": {
            "name": "dense", "trainable": true, "dtype": "float32", "units": 300, "activation": "relu", "use_bias": true,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}, "bias_regularizer": null,
            "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}})
    );
    let input = Input::new([28, 28, 1]).named("input_1");
    assert_eq!(
        input.config()["batch_input_shape"],
        json!([null, 28, 28, 1])
    );
}

/// The `model_config` of the Keras 2 fixture `mlp.h5`, verbatim.
const KERAS_MLP_CONFIG: &str = r#"{"class_name": "Sequential", "config": {"name": "mlp", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 28, 28, 1], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_1", "optional": false}}, {"class_name": "Flatten", "config": {"name": "flatten", "trainable": true, "dtype": "float32", "data_format": "channels_last"}}, {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 300, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}, {"class_name": "Dense", "config": {"name": "dense_1", "trainable": true, "dtype": "float32", "units": 100, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}, {"class_name": "Dense", "config": {"name": "dense_2", "trainable": true, "dtype": "float32", "units": 10, "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}]}}"#;

#[test]
fn reads_a_keras_model_config() {
    let config: Value = serde_json::from_str(KERAS_MLP_CONFIG).unwrap();
    let model = Sequential::from_config(&config).unwrap();
    assert_eq!(model.name(), "mlp");
    let names: Vec<&str> = model.layers().iter().map(|l| l.name().unwrap()).collect();
    assert_eq!(names, ["input_1", "flatten", "dense", "dense_1", "dense_2"]);
    assert_eq!(
        model.count_params().unwrap(),
        784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
    );
    assert_eq!(model.output_shape().unwrap(), Shape::from([10]));
    // Keras 2 training_config of the same file: SGD with momentum, sparse loss, accuracy.
    let training: Value = serde_json::from_str(r#"{"loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"reduction": "auto", "name": "sparse_categorical_crossentropy", "from_logits": true, "ignore_class": null, "fn": "sparse_categorical_crossentropy"}}, "metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32", "fn": "sparse_categorical_accuracy"}}]], "weighted_metrics": null, "loss_weights": null, "optimizer_config": {"class_name": "Custom>SGD", "config": {"name": "SGD", "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null, "jit_compile": false, "is_legacy_optimizer": false, "learning_rate": 0.05000000074505806, "momentum": 0.9, "nesterov": false}}}"#).unwrap();
    let parsed = training_config_from_json(&training).unwrap();
    assert_eq!(parsed.optimizer.name(), "SGD");
    assert_eq!(parsed.optimizer.config()["learning_rate"], json!(0.05));
    assert_eq!(parsed.optimizer.config()["momentum"], json!(0.9));
    assert_eq!(parsed.loss.name(), "sparse_categorical_crossentropy");
    assert_eq!(parsed.loss.config(), json!({"from_logits": true}));
    assert_eq!(
        parsed.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
        ["accuracy"]
    );
}

#[test]
fn bad_layer_configs_name_layer_class_and_field() {
    let cases: [(&str, Value, &[&str]); 7] = [
        (
            "Conv3D",
            json!({"name": "c"}),
            &["c (Conv3D)", "`class_name`", "unknown layer class", "Dense"],
        ),
        (
            "Dense",
            json!({"name": "d"}),
            &["d (Dense)", "`units`", "required"],
        ),
        (
            "Dense",
            json!({"name": "d", "units": -3}),
            &["d (Dense)", "`units`", "non-negative integer"],
        ),
        (
            "Dense",
            json!({"name": "d", "units": 3, "kernel_initializer": {"class_name": "Magic"}}),
            &["`kernel_initializer`", "unknown initializer class `Magic`"],
        ),
        (
            "Dense",
            json!({"name": "d", "units": 3, "activity_regularizer": {"class_name": "L2"}}),
            &["`activity_regularizer`", "not supported"],
        ),
        (
            "Flatten",
            json!({"name": "f", "data_format": "channels_first"}),
            &["f (Flatten)", "`data_format`", "channels_last"],
        ),
        (
            "InputLayer",
            json!({"name": "i", "batch_input_shape": [null, null, 3]}),
            &["i (InputLayer)", "`batch_input_shape`", "size"],
        ),
    ];
    for (class, config, want) in cases {
        let err = layer_from_config(class, &config).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        let err = err.to_string();
        for w in want {
            assert!(
                err.contains(w),
                "{class} {config}: expected `{w}` in: {err}"
            );
        }
    }
    let regularizer = layer_from_config(
        "Dense",
        &json!({"name": "d", "units": 2, "kernel_regularizer": {"class_name": "L3"}}),
    )
    .unwrap_err();
    assert!(
        regularizer.to_string().contains("unknown regularizer `L3`"),
        "{regularizer}"
    );
    let frozen = layer_from_config(
        "Dense",
        &json!({"name": "d", "units": 2, "trainable": "no"}),
    )
    .unwrap_err();
    assert!(frozen.to_string().contains("`trainable`"), "{frozen}");
    let dtype = layer_from_config(
        "Dense",
        &json!({"name": "d", "units": 2, "dtype": "float16"}),
    )
    .unwrap_err();
    assert!(dtype.to_string().contains("only float32"), "{dtype}");
}

#[test]
fn every_training_component_round_trips() {
    let all_optimizers: Vec<Box<dyn Optimizer>> = vec![
        Box::new(
            optimizers::SGD::default()
                .learning_rate(0.3)
                .momentum(0.8)
                .nesterov(true)
                .clipvalue(2.0),
        ),
        Box::new(
            optimizers::Adam::default()
                .beta_1(0.8)
                .amsgrad(true)
                .global_clipnorm(1.5),
        ),
        Box::new(optimizers::Adamax::default().epsilon(1e-5)),
        Box::new(optimizers::Nadam::default().beta_2(0.99).clipnorm(0.5)),
        Box::new(optimizers::RMSProp::default().rho(0.8).centered(true)),
        Box::new(optimizers::AdaGrad::default().initial_accumulator_value(0.2)),
        Box::new(optimizers::AdaDelta::default().rho(0.9)),
    ];
    let all_losses: Vec<Box<dyn Loss>> = vec![
        Box::new(losses::SoftmaxCrossEntropyWithLogits),
        Box::new(losses::CategoricalCrossentropy::new().from_logits(true)),
        Box::new(losses::BinaryCrossentropy::new().from_logits(true)),
        Box::new(losses::SparseCategoricalCrossentropy::new().from_logits(true)),
        Box::new(losses::MeanSquaredError),
        Box::new(losses::MeanAbsoluteError),
        Box::new(losses::Huber::new().delta(0.3)),
    ];
    let all_metrics: Vec<Box<dyn Metric>> = vec![
        Box::new(metrics::Accuracy),
        Box::new(metrics::CategoricalAccuracy),
        Box::new(metrics::SparseCategoricalAccuracy),
        Box::new(metrics::BinaryAccuracy { threshold: 0.3 }),
        Box::new(metrics::MeanAbsoluteError),
        Box::new(metrics::MeanSquaredError),
    ];
    for optimizer in &all_optimizers {
        for loss in &all_losses {
            let json =
                training_config_json(optimizer.as_ref(), loss.as_ref(), &all_metrics).unwrap();
            let text = json.to_string();
            let parsed = training_config_from_json(&serde_json::from_str(&text).unwrap()).unwrap();
            assert_eq!(parsed.optimizer.name(), optimizer.name());
            assert_eq!(parsed.optimizer.config(), optimizer.config(), "{text}");
            assert_eq!(format!("{:?}", parsed.optimizer), format!("{optimizer:?}"));
            assert_eq!(format!("{:?}", parsed.loss), format!("{loss:?}"));
            assert_eq!(format!("{:?}", parsed.metrics), format!("{all_metrics:?}"));
            assert_eq!(
                training_config_json(
                    parsed.optimizer.as_ref(),
                    parsed.loss.as_ref(),
                    &parsed.metrics
                )
                .unwrap(),
                json
            );
        }
    }
}

#[test]
fn crc32_matches_the_standard_check_value() {
    // The CRC-32/ISO-HDLC check value (zlib, gzip, PNG).
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn model_config_forms_and_errors() {
    // Keras 2 may leave the InputLayer out and put batch_input_shape on the first layer.
    let implicit_input = json!({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 5]}},
    ]}});
    let implicit = Sequential::from_config(&implicit_input).unwrap();
    assert_eq!(implicit.input_shape().unwrap(), Shape::from([5]));
    assert_eq!(implicit.count_params().unwrap(), 5 * 2 + 2);
    // Round trip of a whole model config, seed included.
    let m = model(21);
    let again = Sequential::from_config(&m.to_config()).unwrap();
    assert_eq!(again.to_config(), m.to_config());
    assert_eq!(again.seed(), 21);

    let subclassed = json!({"class_name": "MyModel", "config": {"name": "f", "layers": []}});
    let err = Sequential::from_config(&subclassed)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("only Sequential and Functional") && err.contains("MyModel"),
        "{err}"
    );
    let functional = json!({"class_name": "Functional", "config": {"name": "f", "layers": []}});
    let err = Sequential::from_config(&functional)
        .unwrap_err()
        .to_string();
    assert!(err.contains("input_layers"), "{err}");
    let no_layers = json!({"class_name": "Sequential", "config": {"name": "s"}});
    let err = Sequential::from_config(&no_layers).unwrap_err().to_string();
    assert!(err.contains("`layers`"), "{err}");
    let duplicate = json!({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 3]}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}},
    ]}});
    let err = Sequential::from_config(&duplicate)
        .unwrap()
        .count_params()
        .unwrap_err()
        .to_string();
    assert!(err.contains("two layers are named `d`"), "{err}");
}
