//! Saving and loading models compiled with a loss per output (`compile_outputs`): Kiln
//! files keep the optimizer (with its state) and each output's loss, loss weight and
//! metrics, so training resumes exactly; Keras `.h5` files carry them in tf-keras 2's
//! `training_config` form and `.keras` archives in Keras 3's `compile_config`; compiled
//! two-output files written by tf-keras 2.21 load compiled. Reference values:
//! `fixtures/multi_io/compiled.json`, written by `make_compiled.py` beside it.

use std::path::PathBuf;

use kiln::datasets::MultiDataset;
use kiln::keras::{CompileStatus, KerasFile, load_model};
use kiln::layers::Concatenate;
use kiln::losses::{CategoricalCrossentropy, Loss, MeanSquaredError};
use kiln::metrics::{Accuracy, MeanAbsoluteError};
use kiln::model::OutputLosses;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use serde_json::{Value, json};

const FIXTURES: &str = include_str!("fixtures/multi_io/compiled.json");
/// Relative tolerance against Keras after a step (f32, other summation orders).
const TOL: f32 = 2e-5;

fn fixture() -> Value {
    serde_json::from_str(FIXTURES).expect("valid JSON")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-multi-io-saving-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Rows of numbers as a tensor `[rows, columns]`.
fn matrix(value: &Value) -> Tensor {
    let rows = value.as_array().expect("rows");
    let data: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.as_array().expect("a row").iter())
        .map(|v| v.as_f64().expect("a number") as f32)
        .collect();
    let shape = Shape::new(vec![rows.len(), data.len() / rows.len()]);
    Tensor::new(shape, data).expect("rectangular")
}

fn matrices(value: &Value) -> Vec<Tensor> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(matrix)
        .collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= TOL * 1f32.max(g.abs()).max(w.abs()),
            "{what}[{i}]: got {g}, Keras {w}"
        );
    }
}

/// The values of a step's logs, in order.
fn values(logs: &kiln::progress::Logs) -> Vec<f32> {
    logs.iter().map(|(_, v)| v).collect()
}

/// Keras' `two_heads` of `make_compiled.py`: inputs `in_a` [3], `in_b` [2], concatenated
/// into `hidden` Dense(4, tanh), then `cls` Dense(3, softmax) and `reg` Dense(1).
fn two_heads() -> Model {
    let mut f = Functional::builder("two_heads");
    let a = f.input(Input::new([3]).named("in_a"));
    let b = f.input(Input::new([2]).named("in_b"));
    let c = f
        .apply_many(Concatenate::new().named("cat"), &[a, b])
        .unwrap();
    let h = f
        .apply(
            Dense::new(4).activation(Activation::Tanh).named("hidden"),
            c,
        )
        .unwrap();
    let cls = f
        .apply(
            Dense::new(3).activation(Activation::Softmax).named("cls"),
            h,
        )
        .unwrap();
    let reg = f.apply(Dense::new(1).named("reg"), h).unwrap();
    f.build(&[a, b], &[cls, reg]).unwrap()
}

fn two_heads_losses() -> OutputLosses {
    OutputLosses::by_name([
        (
            "cls",
            Box::new(CategoricalCrossentropy::default()) as Box<dyn Loss>,
        ),
        ("reg", Box::new(MeanSquaredError)),
    ])
    .loss_weights([1.0, 0.5])
    .output_metric("cls", Accuracy)
    .output_metric("reg", MeanAbsoluteError)
}

fn compiled_two_heads() -> Model {
    let mut model = two_heads();
    model
        .compile_outputs(Adam::default().learning_rate(0.05), two_heads_losses())
        .expect("compile");
    model
}

fn data() -> MultiDataset {
    let fx = fixture();
    MultiDataset::new(matrices(&fx["inputs"]), matrices(&fx["labels"])).expect("data")
}

fn one_epoch() -> FitOptions<'static> {
    FitOptions::new(1, 2).shuffle(false).verbose(0)
}

#[test]
fn kiln_file_resumes_two_output_training_exactly() {
    let data = data();
    let mut straight = compiled_two_heads();
    let mut resumed = compiled_two_heads();
    resumed
        .set_weights(&straight.layer_weights().unwrap())
        .unwrap();
    let whole = straight
        .fit_multi(&data, FitOptions::new(2, 2).shuffle(false).verbose(0))
        .unwrap();
    resumed.fit_multi(&data, one_epoch()).unwrap();
    let path = scratch("two_heads.kiln");
    resumed
        .save(&path)
        .expect("save a model with a loss per output");
    let mut loaded = Model::load(&path).expect("load");
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded.metric_names(), straight.metric_names());
    assert_eq!(loaded.weights().unwrap(), resumed.weights().unwrap());
    let second = loaded.fit_multi(&data, one_epoch()).unwrap();
    for (name, values) in &whole.history {
        let got = second.get(name).unwrap_or_else(|| panic!("no `{name}`"));
        assert_eq!(got[0], values[1], "epoch 2 `{name}`");
    }
    // Every weight and optimizer slot (moments, iterations) as if never interrupted.
    assert_eq!(loaded.weights().unwrap(), straight.weights().unwrap());
}

#[test]
fn keras_h5_and_archive_keep_the_loss_per_output() {
    let mut model = compiled_two_heads();
    let data = data();
    let want = model.evaluate_multi(&data, 4).unwrap();
    let path = scratch("two_heads.h5");
    model.save_keras(&path).expect("save .h5");
    let training = KerasFile::read(&path).unwrap().training_config.unwrap();
    assert_eq!(
        training["loss"]["cls"]["class_name"],
        "CategoricalCrossentropy"
    );
    assert_eq!(training["loss"]["reg"]["class_name"], "MeanSquaredError");
    assert_eq!(training["loss_weights"], json!({"cls": 1.0, "reg": 0.5}));
    let metrics = training["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 2, "one metric list per output");
    assert_eq!(metrics[0][0]["class_name"], "Accuracy");
    assert_eq!(metrics[1][0]["class_name"], "MeanAbsoluteError");
    for path in [path, scratch("two_heads.keras")] {
        if path.extension().unwrap() == "keras" {
            model.save_keras_archive(&path).expect("save .keras");
        }
        let loaded = load_model(&path).expect("load");
        let _ = std::fs::remove_file(&path);
        assert_eq!(loaded.compile, CompileStatus::Compiled, "{path:?}");
        let mut again = loaded.model;
        assert_eq!(again.metric_names(), model.metric_names());
        let got = again.evaluate_multi(&data, 4).unwrap();
        assert_eq!(got.loss, want.loss, "{path:?}: the weighted total");
        assert_eq!(got.metrics, want.metrics, "{path:?}");
    }
}

#[test]
fn tf_keras_files_with_a_loss_per_output_load_compiled() {
    let fx = fixture();
    let inputs = matrices(&fx["inputs"]);
    let labels = matrices(&fx["labels"]);
    let x: Vec<&Tensor> = inputs.iter().collect();
    let y: Vec<&Tensor> = labels.iter().collect();
    for name in ["by_name", "as_list"] {
        let keras = &fx[name];
        let path = format!("tests/fixtures/multi_io/two_heads_{name}.h5");
        let loaded = load_model(&path).expect("load tf-keras' file");
        assert_eq!(loaded.compile, CompileStatus::Compiled, "{name}");
        let mut model = loaded.model;
        // Keras' `cls_accuracy` is its categorical accuracy of the `cls` output.
        assert_eq!(
            model.metric_names()[..2],
            ["cls_loss".to_string(), "reg_loss".to_string()]
        );
        let floats = |v: &Value| -> Vec<f32> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_f64().unwrap() as f32)
                .collect()
        };
        let before = model.test_on_batch(&x, &y).unwrap();
        assert_close(name, &values(&before), &floats(&keras["evaluate"]));
        model.train_on_batch(&x, &y).unwrap();
        let after = model.test_on_batch(&x, &y).unwrap();
        assert_close(
            name,
            &values(&after),
            &floats(&keras["evaluate_after_step"]),
        );
    }
}

#[test]
fn one_output_keeps_the_one_loss_training_config() {
    let mut f = Functional::builder("one");
    let x = f.input(Input::new([3]));
    let y = f.apply(Dense::new(2).named("out"), x).unwrap();
    let mut model = f.build(&[x], &[y]).unwrap();
    model
        .compile(Adam::default(), MeanSquaredError, [MeanAbsoluteError])
        .unwrap();
    let path = scratch("one.h5");
    model.save_keras(&path).unwrap();
    let training = KerasFile::read(&path).unwrap().training_config.unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(training["loss"]["class_name"], "MeanSquaredError");
    assert_eq!(training["loss_weights"], Value::Null);
    assert_eq!(training["metrics"][0]["class_name"], "MeanAbsoluteError");
}
