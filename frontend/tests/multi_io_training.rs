//! Training and evaluating models with several inputs and outputs against tf-keras 2.21:
//! a loss per output with `loss_weights` and per-output metrics (`fit_multi`,
//! `evaluate_multi`, Keras' names of the logged values), `train_on_batch`,
//! `test_on_batch`, `predict_on_batch`, sample weights on every output's loss, and CPU≡GPU
//! for a two-output model. Reference values: `fixtures/multi_io/multi_io.json`, written by
//! `make_fixtures.py` beside it, and `weighted.json` (by `make_weighted.py`).

mod devices;

use std::collections::BTreeMap;

use kiln::datasets::{Generator, MultiDataset};
use kiln::layers::Concatenate;
use kiln::losses::{CategoricalCrossentropy, Loss, MeanSquaredError};
use kiln::metrics::Accuracy;
use kiln::model::OutputLosses;
use kiln::optimizers::SGD;
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use serde_json::Value;

const FIXTURES: &str = include_str!("fixtures/multi_io/multi_io.json");
const WEIGHTED: &str = include_str!("fixtures/multi_io/weighted.json");
/// Relative tolerance against Keras after a step or two (f32, other summation orders).
const TOL: f32 = 2e-5;

fn fixture(name: &str) -> Value {
    let all: Value = serde_json::from_str(FIXTURES).expect("valid JSON");
    all[name].clone()
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .expect("a list of numbers")
        .iter()
        .map(|v| v.as_f64().expect("a number") as f32)
        .collect()
}

fn tensor(value: &Value) -> Tensor {
    let dims: Vec<usize> = value["shape"]
        .as_array()
        .expect("a shape")
        .iter()
        .map(|d| d.as_u64().expect("a dim") as usize)
        .collect();
    Tensor::new(Shape::new(dims), floats(&value["data"])).expect("data fits the shape")
}

fn tensors(value: &Value) -> Vec<Tensor> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(tensor)
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

/// Set every weight of `model` to the fixture's values (named `layer/param` as Kiln names them).
fn set_weights(model: &mut Model, weights: &Value) {
    let current = model.weights().expect("weights");
    let values: BTreeMap<String, Tensor> = current
        .iter()
        .filter(|(name, _)| !name.starts_with("optimizer/"))
        .map(|(name, t)| {
            let data = floats(&weights[name.as_str()]);
            (
                name.clone(),
                Tensor::new(t.shape.clone(), data).expect("fixture size"),
            )
        })
        .collect();
    model.set_weights(&values).expect("set weights");
}

fn assert_weights(model: &mut Model, want: &Value) {
    let got = model.weights().expect("weights");
    for (name, values) in want.as_object().expect("weights by name") {
        let name = name.strip_suffix(":0").unwrap_or(name);
        let param = got.get(name).unwrap_or_else(|| panic!("no weight {name}"));
        assert_close(name, &param.data, &floats(values));
    }
}

/// Keras' `two_heads`: inputs `in_a` [3], `in_b` [2]; `da`, `db` Dense(4, tanh);
/// concatenated into `cls` Dense(3, softmax) and `reg` Dense(1).
fn two_heads() -> Model {
    let mut f = Functional::builder("two_heads");
    let a = f.input(Input::new([3]).named("in_a"));
    let b = f.input(Input::new([2]).named("in_b"));
    let ha = f
        .apply(Dense::new(4).activation(Activation::Tanh).named("da"), a)
        .unwrap();
    let hb = f
        .apply(Dense::new(4).activation(Activation::Tanh).named("db"), b)
        .unwrap();
    let c = f
        .apply_many(Concatenate::new().named("cat"), &[ha, hb])
        .unwrap();
    let cls = f
        .apply(
            Dense::new(3).activation(Activation::Softmax).named("cls"),
            c,
        )
        .unwrap();
    let reg = f.apply(Dense::new(1).named("reg"), c).unwrap();
    f.build(&[a, b], &[cls, reg]).unwrap()
}

/// Keras' compile of `two_heads`: a loss per output by name, `loss_weights`, accuracy for `cls`.
fn two_heads_losses() -> OutputLosses {
    OutputLosses::by_name([
        (
            "cls",
            Box::new(CategoricalCrossentropy::default()) as Box<dyn Loss>,
        ),
        ("reg", Box::new(MeanSquaredError)),
    ])
    .loss_weights_by_name([("cls", 1.0), ("reg", 0.5)])
    .output_metric("cls", Accuracy)
}

fn compiled_two_heads(device: Device, fixture: &Value) -> Model {
    let mut model = two_heads();
    set_weights(&mut model, &fixture["initial"]);
    model
        .compile_outputs_on(
            device,
            SGD::default().learning_rate(0.1),
            two_heads_losses(),
        )
        .expect("compile");
    model
}

fn two_heads_data(fixture: &Value) -> MultiDataset {
    MultiDataset::new(tensors(&fixture["inputs"]), tensors(&fixture["labels"])).expect("data")
}

#[test]
fn two_input_two_output_fit_matches_keras() {
    let fx = fixture("two_in_two_out");
    let mut model = compiled_two_heads(Device::Cpu, &fx);
    let names = model.metric_names();
    let keras_names: Vec<String> = fx["metrics_names"].as_array().unwrap()[1..]
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, keras_names);
    let data = two_heads_data(&fx);
    let history = model
        .fit_multi(&data, FitOptions::new(2, 4).shuffle(false).verbose(0))
        .expect("fit");
    for (key, values) in fx["history"].as_object().unwrap() {
        let got = history
            .get(key)
            .unwrap_or_else(|| panic!("history has no `{key}`"));
        assert_close(key, got, &floats(values));
    }
    assert_weights(&mut model, &fx["after_fit"]);
    let evaluation = model.evaluate_multi(&data, 4).expect("evaluate");
    for (key, value) in fx["evaluate"].as_object().unwrap() {
        let got = match key.as_str() {
            "loss" => evaluation.loss,
            other => evaluation.metrics[other],
        };
        assert_close(key, &[got], &[value.as_f64().unwrap() as f32]);
    }
}

#[test]
fn train_and_test_on_batch_return_keras_values() {
    let fx = fixture("two_in_two_out");
    let mut model = compiled_two_heads(Device::Cpu, &fx);
    let inputs = tensors(&fx["inputs"]);
    let labels = tensors(&fx["labels"]);
    let x: Vec<&Tensor> = inputs.iter().collect();
    let y: Vec<&Tensor> = labels.iter().collect();
    let values = |logs: &kiln::progress::Logs| logs.iter().map(|(_, v)| v).collect::<Vec<f32>>();
    let test = model.test_on_batch(&x, &y).expect("test_on_batch");
    let keys: Vec<&str> = test.keys().collect();
    assert_eq!(keys, ["loss", "cls_loss", "reg_loss", "cls_accuracy"]);
    assert_close(
        "test_on_batch",
        &values(&test),
        &floats(&fx["test_on_batch_initial"]),
    );
    for (step, want) in fx["train_on_batch"].as_array().unwrap().iter().enumerate() {
        let got = model.train_on_batch(&x, &y).expect("train_on_batch");
        assert_close(
            &format!("train_on_batch {step}"),
            &values(&got),
            &floats(want),
        );
    }
    assert_weights(&mut model, &fx["after_train_on_batch"]);
    let predictions = model.predict_on_batch(&x).expect("predict_on_batch");
    for (k, (got, want)) in predictions
        .iter()
        .zip(tensors(&fx["predict_on_batch"]))
        .enumerate()
    {
        assert_eq!(got.shape, want.shape);
        assert_close(&format!("predict_on_batch {k}"), &got.data, &want.data);
    }
}

#[test]
fn one_loss_applies_to_every_output() {
    let mut model = two_heads();
    model
        .compile(SGD::default(), MeanSquaredError, [Accuracy])
        .expect("one loss for both outputs");
    assert_eq!(
        model.metric_names(),
        ["cls_loss", "reg_loss", "cls_accuracy", "reg_accuracy"]
    );
}

#[test]
fn bad_output_specs_are_errors() {
    let list = OutputLosses::list([Box::new(MeanSquaredError) as Box<dyn Loss>]);
    let err = two_heads()
        .compile_outputs(SGD::default(), list)
        .expect_err("one loss for two outputs");
    assert!(
        err.to_string()
            .contains("1 values for a model with 2 outputs"),
        "{err}"
    );
    let named = OutputLosses::same(MeanSquaredError).loss_weights_by_name([("nope", 2.0)]);
    let err = two_heads()
        .compile_outputs(SGD::default(), named)
        .expect_err("unknown output");
    assert!(
        err.to_string().contains("`nope`, which is not an output"),
        "{err}"
    );
    let fx = fixture("two_in_two_out");
    let mut model = compiled_two_heads(Device::Cpu, &fx);
    let inputs = tensors(&fx["inputs"]);
    let one = Dataset::new(
        inputs[0].data.clone(),
        &[4, 3],
        fx["labels"][1]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect(),
        &[4, 1],
    )
    .unwrap();
    let err = model.fit(&one, 1, 4).expect_err("a Dataset for two inputs");
    assert!(err.to_string().contains("use a MultiDataset"), "{err}");
    let swapped = MultiDataset::new(
        vec![inputs[1].clone(), inputs[0].clone()],
        tensors(&fx["labels"]),
    )
    .unwrap();
    let err = model
        .evaluate_multi(&swapped, 4)
        .expect_err("inputs swapped");
    assert!(
        err.to_string().contains("features 0 have shape [2]"),
        "{err}"
    );
}

/// Keras' `loss_weights` as a list weigh the outputs in order; the weighted total is what
/// `loss` reports.
#[test]
fn loss_weights_list_weighs_the_total() {
    let fx = fixture("two_in_two_out");
    let mut model = two_heads();
    set_weights(&mut model, &fx["initial"]);
    let losses = OutputLosses::list([
        Box::new(CategoricalCrossentropy::default()) as Box<dyn Loss>,
        Box::new(MeanSquaredError),
    ])
    .loss_weights([2.0, 0.25]);
    model.compile_outputs(SGD::default(), losses).unwrap();
    let eval = model.evaluate_multi(&two_heads_data(&fx), 3).unwrap();
    let (cls, reg) = (eval.metrics["cls_loss"], eval.metrics["reg_loss"]);
    assert!(
        (eval.loss - (2.0 * cls + 0.25 * reg)).abs() < 1e-5,
        "{eval:?}"
    );
}

#[test]
fn two_output_training_matches_on_gpu() {
    if !codegen_gpu::gpu_tests_enabled() {
        return;
    }
    let fx = fixture("two_in_two_out");
    let data = two_heads_data(&fx);
    let run = |device| {
        let mut model = compiled_two_heads(device, &fx);
        let history = model
            .fit_multi(&data, FitOptions::new(2, 2).shuffle(false).verbose(0))
            .expect("fit");
        (model, history)
    };
    let (mut cpu, cpu_history) = run(Device::Cpu);
    let (mut gpu, gpu_history) = run(Device::Gpu);
    for key in ["loss", "cls_loss", "reg_loss", "cls_accuracy"] {
        let (g, c) = (gpu_history.get(key).unwrap(), cpu_history.get(key).unwrap());
        devices::assert_close(key, g, c, devices::STEP_TOL);
    }
    let cpu_weights = cpu.weights().unwrap();
    let gpu_weights = gpu.weights().unwrap();
    for (name, want) in &cpu_weights {
        devices::assert_close(name, &gpu_weights[name].data, &want.data, devices::STEP_TOL);
    }
    let inputs = tensors(&fx["inputs"]);
    let x: Vec<&Tensor> = inputs.iter().collect();
    let (want, got) = (
        cpu.predict_on_batch(&x).unwrap(),
        gpu.predict_on_batch(&x).unwrap(),
    );
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        devices::assert_close(
            &format!("output {k}"),
            &g.data,
            &w.data,
            devices::FORWARD_TOL,
        );
    }
}

/// Keras' `outer`: the model `encoder` (`inner_in` [3] → `enc` Dense(4, tanh)) applied as a
/// layer, then `head` Dense(2); `inner.trainable = trainable`, MSE, SGD(0.1), two epochs.
fn nested_matches_keras(name: &str, trainable: bool) {
    let fx = fixture(name);
    let mut inner = Functional::builder("encoder");
    let x = inner.input(Input::new([3]).named("inner_in"));
    let h = inner
        .apply(Dense::new(4).activation(Activation::Tanh).named("enc"), x)
        .unwrap();
    let mut encoder = inner.build(&[x], &[h]).unwrap();
    encoder.set_layers_trainable(trainable);
    let mut f = Functional::builder("outer");
    let x = f.input(Input::new([3]).named("outer_in"));
    let h = f.apply_model(&encoder, &[x]).unwrap()[0];
    let y = f.apply(Dense::new(2).named("head"), h).unwrap();
    let mut model = f.build(&[x], &[y]).unwrap();
    assert_eq!(model.is_trainable("enc").unwrap(), trainable);
    set_weights(&mut model, &fx["initial"]);
    model
        .compile(
            SGD::default().learning_rate(0.1),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap();
    let data = MultiDataset::new(tensors(&fx["inputs"]), tensors(&fx["labels"])).unwrap();
    let history = model
        .fit_multi(&data, FitOptions::new(2, 4).shuffle(false).verbose(0))
        .unwrap();
    assert_close(
        "loss",
        history.get("loss").unwrap(),
        &floats(&fx["history"]["loss"]),
    );
    assert_weights(&mut model, &fx["after_fit"]);
    let moved = fx["initial"]["enc/kernel"] != fx["after_fit"]["enc/kernel"];
    assert_eq!(
        moved, trainable,
        "Keras moves the inner weights iff trainable"
    );
}

#[test]
fn nested_model_trains_like_keras() {
    nested_matches_keras("nested_trainable", true);
}

#[test]
fn frozen_nested_model_stays_unchanged_like_keras() {
    nested_matches_keras("nested_frozen", false);
}

#[test]
fn nested_model_with_a_clashing_layer_name_is_an_error() {
    let inner = Sequential::of([Input::new([3]).into(), Dense::new(2).named("d").into()]);
    let mut f = Functional::builder("outer");
    let x = f.input(Input::new([3]));
    let h = f.apply(Dense::new(3).named("d"), x).unwrap();
    let err = f
        .apply_model(&inner, &[h])
        .expect_err("two layers called d");
    assert!(err.to_string().contains("rename one"), "{err}");
}

/// Keras' `siamese`: `embed` Dense(2, tanh) called on `left` and on `right` (one set of
/// weights), `diff` = Subtract, `score` Dense(1); MSE, SGD(0.1), one step.
fn siamese() -> Model {
    let mut f = Functional::builder("siamese");
    let left = f.input(Input::new([4]).named("left"));
    let right = f.input(Input::new([4]).named("right"));
    let a = f
        .apply(
            Dense::new(2).activation(Activation::Tanh).named("embed"),
            left,
        )
        .unwrap();
    let b = f.apply_shared("embed", &[right]).unwrap()[0];
    let d = f
        .apply_many(kiln::layers::Subtract::new().named("diff"), &[a, b])
        .unwrap();
    let y = f.apply(Dense::new(1).named("score"), d).unwrap();
    f.build(&[left, right], &[y]).unwrap()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-multi-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn shared_layer_step_matches_keras() {
    let fx = fixture("siamese");
    let mut model = siamese();
    assert_eq!(model.count_params().unwrap(), 4 * 2 + 2 + 2 + 1);
    set_weights(&mut model, &fx["initial"]);
    model
        .compile(
            SGD::default().learning_rate(0.1),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap();
    let data = MultiDataset::new(tensors(&fx["inputs"]), tensors(&fx["labels"])).unwrap();
    let history = model
        .fit_multi(&data, FitOptions::new(1, 3).shuffle(false).verbose(0))
        .unwrap();
    assert_close(
        "loss",
        history.get("loss").unwrap(),
        &floats(&fx["history"]["loss"]),
    );
    // Both calls' gradients land in the one `embed` kernel.
    assert_weights(&mut model, &fx["after_fit"]);
    let inputs = tensors(&fx["inputs"]);
    let x: Vec<&Tensor> = inputs.iter().collect();
    let want = tensor(&fx["predictions"]);
    assert_close(
        "predictions",
        &model.predict_on_batch(&x).unwrap()[0].data,
        &want.data,
    );
}

#[test]
fn shared_layer_round_trips_through_keras_h5() {
    let fx = fixture("siamese");
    let inputs = tensors(&fx["inputs"]);
    let x: Vec<&Tensor> = inputs.iter().collect();
    let want = tensor(&fx["predictions"]);
    // Keras' own file: `embed` has two inbound nodes.
    let keras = Model::load_keras("tests/fixtures/multi_io/siamese.h5").expect("load Keras' file");
    assert_eq!(keras.count_params().unwrap(), 13);
    assert_close(
        "Keras file",
        &keras.predict_on_batch(&x).unwrap()[0].data,
        &want.data,
    );
    let config = keras.to_config();
    let embed = config["config"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "embed")
        .expect("one embed entry");
    assert_eq!(embed["inbound_nodes"], fx["inbound_nodes_of_embed"]);
    // Kiln writes it back and reads its own file.
    let path = scratch("siamese.h5");
    keras.save_keras(&path).expect("save");
    let again = Model::load_keras(&path).expect("load");
    assert_eq!(
        again.predict_on_batch(&x).unwrap(),
        keras.predict_on_batch(&x).unwrap()
    );
    assert_eq!(again.to_config(), config);
    let _ = std::fs::remove_file(path);
    // Keras' summary: one row for `embed`, connected to both calls' inputs.
    assert_eq!(keras.summary().unwrap(), fx["summary"].as_str().unwrap());
    // And through a Keras 3 `.keras` archive.
    let path = scratch("siamese.keras");
    keras.save_keras_archive(&path).expect("save archive");
    let archived = Model::load_keras(&path).expect("load archive");
    assert_eq!(archived.count_params().unwrap(), 13);
    assert_eq!(
        archived.predict_on_batch(&x).unwrap(),
        keras.predict_on_batch(&x).unwrap()
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn shared_layer_on_another_shape_is_an_error() {
    let mut f = Functional::builder("bad");
    let a = f.input(Input::new([4]));
    let b = f.input(Input::new([3]));
    f.apply(Dense::new(2).named("d"), a).unwrap();
    let err = f.apply_shared("d", &[b]);
    // Dense(2) on [3] builds, but needs a [3, 2] kernel: refused when the model is built.
    let err = match err {
        Err(e) => e,
        Ok(y) => f.build(&[a, b], &y).expect_err("other weights"),
    };
    assert!(err.to_string().contains("is shared"), "{err}");
}

/// Validation reports every value under `val_`, computed after the epoch's steps: the same
/// values `evaluate_multi` gives then.
#[test]
fn validation_values_carry_the_val_prefix() {
    let fx = fixture("two_in_two_out");
    let mut model = compiled_two_heads(Device::Cpu, &fx);
    let data = two_heads_data(&fx);
    let history = model
        .fit_multi(
            &data,
            FitOptions::new(1, 4)
                .shuffle(false)
                .verbose(0)
                .validation_multi(&data),
        )
        .unwrap();
    let evaluation = model.evaluate_multi(&data, 4).unwrap();
    assert_close(
        "val_loss",
        history.get("val_loss").unwrap(),
        &[evaluation.loss],
    );
    for name in ["cls_loss", "reg_loss", "cls_accuracy"] {
        let got = history.get(&format!("val_{name}")).unwrap();
        assert_close(name, got, &[evaluation.metrics[name]]);
    }
}

/// Keras' own file of `outer` with its nested `encoder` frozen: loaded (the nested model is
/// inlined, its layer keeps `trainable: false`), it trains as Keras trained it.
#[test]
fn keras_file_with_a_frozen_nested_model_trains_like_keras() {
    let fx = fixture("nested_frozen");
    let mut model = Model::load_keras("tests/fixtures/multi_io/nested_frozen.h5").unwrap();
    assert!(!model.is_trainable("enc").unwrap());
    assert!(model.is_trainable("head").unwrap());
    model
        .compile(
            SGD::default().learning_rate(0.1),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap();
    let data = MultiDataset::new(tensors(&fx["inputs"]), tensors(&fx["labels"])).unwrap();
    let history = model
        .fit_multi(&data, FitOptions::new(2, 4).shuffle(false).verbose(0))
        .unwrap();
    assert_close(
        "loss",
        history.get("loss").unwrap(),
        &floats(&fx["history"]["loss"]),
    );
    assert_weights(&mut model, &fx["after_fit"]);
}

/// Cutting a model keeps a shared layer's first call with its later ones; ONNX export,
/// which writes one node per layer, refuses a shared layer by name.
#[test]
fn shared_layers_survive_cutting_and_onnx_refuses_them() {
    let model = siamese();
    let cut = model.truncated("diff").unwrap();
    assert_eq!(cut.count_params().unwrap(), 4 * 2 + 2);
    assert_eq!(cut.output_shape().unwrap(), Shape::from([2]));
    let fx = fixture("siamese");
    let inputs = tensors(&fx["inputs"]);
    let x: Vec<&Tensor> = inputs.iter().collect();
    let diff = &cut.predict_on_batch(&x).unwrap()[0];
    assert!(
        diff.data.iter().any(|v| *v != 0.0),
        "the two calls see different inputs"
    );
    let err = kiln::onnx::to_onnx(&model).expect_err("shared layer");
    assert!(
        err.to_string().contains("embed") && err.to_string().contains("is shared"),
        "{err}"
    );
}

/// Sample weights weigh both outputs' losses as Keras applies them: a weighted `evaluate`
/// and two epochs of weighted `fit_multi` (total, each output's loss, the unweighted
/// accuracy, the weights after) match tf-keras; `class_weight` and a generator are refused
/// for a model with two outputs, with errors saying why.
#[test]
fn sample_weights_weigh_every_output_like_keras() {
    let fx = fixture("two_in_two_out");
    let want: Value = serde_json::from_str(WEIGHTED).expect("valid JSON");
    let number = |v: &Value| v.as_f64().expect("a number") as f32;
    let weights = floats(&want["sample_weight"]);
    let data = two_heads_data(&fx);
    let mut model = compiled_two_heads(Device::Cpu, &fx);
    let evaluation = model.evaluate((&data, weights.as_slice()), 4).unwrap();
    let keras = &want["evaluation"];
    assert_close("loss", &[evaluation.loss], &[number(&keras["loss"])]);
    for name in ["cls_loss", "reg_loss", "cls_accuracy"] {
        assert_close(name, &[evaluation.metrics[name]], &[number(&keras[name])]);
    }
    let options = FitOptions::new(2, 4)
        .shuffle(false)
        .verbose(0)
        .sample_weight(&weights);
    let history = model.fit_multi(&data, options).unwrap();
    for name in ["loss", "cls_loss", "reg_loss", "cls_accuracy"] {
        let got = history.get(name).unwrap();
        assert_close(name, got, &floats(&want["history"][name]));
    }
    assert_weights(&mut model, &want["after_fit"]);
    let options = FitOptions::new(1, 4).verbose(0).class_weight([(0, 2.0)]);
    let err = model.fit_multi(&data, options).expect_err("class_weight");
    assert!(err.to_string().contains("one output"), "{err}");
    let batch = Dataset::new(vec![0.0; 3], &[1, 3], vec![0.0; 3], &[1, 3]).unwrap();
    let options = FitOptions::new(1, 1).steps_per_epoch(1).verbose(0);
    let err = model
        .fit_with(Generator::new([batch]), options)
        .expect_err("a generator for two inputs");
    assert!(
        err.to_string()
            .contains("a generator feeds models with one input"),
        "{err}"
    );
}
