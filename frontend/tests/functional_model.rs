//! The layer-graph model: the functional builder, several inputs and outputs, weights
//! before compile, frozen layers, truncation and extension, configs and model files.
//! Numbers are checked against a plain Rust forward pass (tolerance 1e-5) or bit for bit
//! where the same computation runs twice.

use std::collections::BTreeMap;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::model::{DEFAULT_SEED, ModelKind};
use kiln::optimizers::{Adam, SGD};
use kiln::prelude::*;
use kiln::{Model, Shape, Tensor};

mod common;
use common::{CLASSES, FEATURES, synthetic};

/// `x @ kernel + bias` for `n` rows of `inputs` features (row-major).
fn dense_ref(x: &[f32], weights: &BTreeMap<String, Tensor>, layer: &str, relu: bool) -> Vec<f32> {
    let kernel = &weights[&format!("{layer}/kernel")];
    let bias = &weights[&format!("{layer}/bias")].data;
    let (inputs, units) = (kernel.shape.dims()[0], kernel.shape.dims()[1]);
    let n = x.len() / inputs;
    let mut out = vec![0.0; n * units];
    for r in 0..n {
        for u in 0..units {
            let v = bias[u]
                + (0..inputs)
                    .map(|i| x[r * inputs + i] * kernel.data[i * units + u])
                    .sum::<f32>();
            out[r * units + u] = if relu { v.max(0.0) } else { v };
        }
    }
    out
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5, "{what}[{i}]: {g} vs {w}");
    }
}

fn bits(weights: &BTreeMap<String, Tensor>) -> BTreeMap<String, Vec<u32>> {
    weights
        .iter()
        .map(|(k, t)| (k.clone(), t.data.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

fn features(n: usize, width: usize, seed: u32) -> Tensor {
    let data = (0..n * width)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect();
    Tensor {
        shape: Shape::new(vec![n, width]),
        data,
    }
}

/// x → relu Dense(6) → { Dense(3), Dense(2) }: one input, two outputs.
fn two_heads() -> Model {
    let mut f = Functional::builder("two_heads");
    let x = f.input(Input::new([FEATURES]));
    let h = f
        .apply(Dense::new(6).activation(Activation::Relu), x)
        .unwrap();
    let a = f.apply(Dense::new(3), h).unwrap();
    let b = f.apply(Dense::new(2).named("head_b"), h).unwrap();
    f.build(&[x], &[a, b]).unwrap()
}

#[test]
fn a_branching_model_predicts_every_output() {
    let model = two_heads();
    assert_eq!(model.output_names(), ["dense_1", "head_b"]);
    assert_eq!(model.inbound_layers(3), ["dense"]);
    let x = features(5, FEATURES, 1);
    let outs = model.predict_many(&[&x], 2).unwrap();
    let w = model.layer_weights().unwrap();
    let h = dense_ref(&x.data, &w, "dense", true);
    assert_eq!(outs[0].shape.dims(), [5, 3]);
    assert_eq!(outs[1].shape.dims(), [5, 2]);
    assert_close(
        &outs[0].data,
        &dense_ref(&h, &w, "dense_1", false),
        "head a",
    );
    assert_close(&outs[1].data, &dense_ref(&h, &w, "head_b", false), "head b");
    // One loss for two outputs applies to each (Keras); one Dataset cannot feed two
    // outputs: fit says to use a MultiDataset.
    let mut model = model;
    model
        .compile(
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            Vec::<Box<dyn kiln::metrics::Metric>>::new(),
        )
        .unwrap();
    let err = model.fit(&synthetic(8, 1), 1, 4).unwrap_err().to_string();
    assert!(
        err.contains("2 labels tensor(s)") && err.contains("use a MultiDataset"),
        "{err}"
    );
    let err = model.predict(&x, 2).unwrap_err().to_string();
    assert!(err.contains("predict_many"), "{err}");
}

#[test]
fn several_inputs_feed_their_own_layers() {
    let mut f = Functional::builder("two_inputs");
    let x1 = f.input(Input::new([3]));
    let x2 = f.input(Input::new([2]).named("side"));
    let a = f.apply(Dense::new(2), x1).unwrap();
    let b = f.apply(Dense::new(4), x2).unwrap();
    let model = f.build(&[x1, x2], &[a, b]).unwrap();
    assert_eq!(model.input_names(), ["input", "side"]);
    let (t1, t2) = (features(3, 3, 2), features(3, 2, 3));
    let outs = model.predict_many(&[&t1, &t2], 2).unwrap();
    let w = model.layer_weights().unwrap();
    assert_close(
        &outs[0].data,
        &dense_ref(&t1.data, &w, "dense", false),
        "first",
    );
    assert_close(
        &outs[1].data,
        &dense_ref(&t2.data, &w, "dense_1", false),
        "second",
    );
    let err = model.predict_many(&[&t1], 2).unwrap_err().to_string();
    assert!(
        err.contains("1 input tensors") && err.contains("2 inputs"),
        "{err}"
    );
    let err = model
        .predict_many(&[&t1, &features(4, 2, 3)], 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("different numbers of examples"), "{err}");
}

#[test]
fn a_functional_chain_equals_the_sequential_stack() {
    let mut f = Functional::builder("chain").with_seed(5);
    let x = f.input(Input::new([FEATURES]));
    let h = f
        .apply(Dense::new(7).activation(Activation::Relu), x)
        .unwrap();
    let y = f.apply(Dense::new(CLASSES), h).unwrap();
    let functional = f.build(&[x], &[y]).unwrap();
    let sequential = common::relu_classifier(7, 5);
    assert_eq!(
        bits(&functional.layer_weights().unwrap()),
        bits(&sequential.layer_weights().unwrap())
    );
    let x = features(6, FEATURES, 4);
    let (a, b) = (
        functional.predict(&x, 4).unwrap(),
        sequential.predict(&x, 4).unwrap(),
    );
    assert_eq!(a.data, b.data);
    assert_eq!(
        functional.count_params().unwrap(),
        sequential.count_params().unwrap()
    );
}

#[test]
fn builder_errors_name_what_is_wrong() {
    let mut f = Functional::builder("bad");
    let x = f.input(Input::new([4]));
    // A 2D convolution needs a [h, w, c] input.
    let err = f
        .apply(Conv2D::new(3, 3).named("conv"), x)
        .unwrap_err()
        .to_string();
    assert!(err.contains("conv (Conv2D)"), "{err}");
    let mut other = Functional::builder("other");
    let z = other.input(Input::new([2]));
    let err = f.apply(Dense::new(1), z).unwrap_err().to_string();
    assert!(err.contains("another Functional builder"), "{err}");
    // An output that depends on an input not given.
    let mut g = Functional::builder("missing");
    let a = g.input(Input::new([2]));
    let b = g.input(Input::new([2]));
    let y = g.apply(Dense::new(1), b).unwrap();
    let err = g.build(&[a], &[y]).unwrap_err().to_string();
    assert!(
        err.contains("input_1 (InputLayer)") && err.contains("not among"),
        "{err}"
    );
    // Duplicate names.
    let mut h = Functional::builder("dup");
    let a = h.input(Input::new([2]));
    let y = h.apply(Dense::new(1).named("d"), a).unwrap();
    let y = h.apply(Dense::new(1).named("d"), y).unwrap();
    let err = h.build(&[a], &[y]).unwrap_err().to_string();
    assert!(err.contains("two layers are named `d`"), "{err}");
}

#[test]
fn weights_exist_before_compile_and_compile_keeps_them() {
    let mut model = common::relu_classifier(5, 3);
    let initial = model.layer_weights().unwrap();
    let mut changed = initial.clone();
    changed.get_mut("dense/bias").unwrap().data = vec![0.5; 5];
    model.set_weights(&changed).unwrap();
    assert_eq!(model.weight("dense/bias").unwrap().data, vec![0.5; 5]);
    let x = features(4, FEATURES, 7);
    let before = model.predict(&x, 4).unwrap();
    model
        .compile(
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )
        .unwrap();
    assert_eq!(bits(&model.layer_weights().unwrap()), bits(&changed));
    assert_eq!(model.predict(&x, 4).unwrap().data, before.data);
    // The same initial values as a model that is compiled straight away.
    let mut fresh = common::relu_classifier(5, 3);
    fresh
        .compile(
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )
        .unwrap();
    assert_eq!(bits(&fresh.layer_weights().unwrap()), bits(&initial));
}

#[test]
fn a_frozen_layer_keeps_its_weights_while_the_others_train() {
    let mut model = common::relu_classifier(8, 2);
    let err = model.set_trainable("nope", false).unwrap_err().to_string();
    assert!(
        err.contains("no layer named `nope`") && err.contains("dense_1"),
        "{err}"
    );
    model.set_trainable("dense", false).unwrap();
    assert!(!model.is_trainable("dense").unwrap() && model.is_trainable("dense_1").unwrap());
    let hidden = FEATURES * 8 + 8;
    assert_eq!(
        model.count_trainable_params().unwrap(),
        8 * CLASSES + CLASSES
    );
    assert_eq!(model.count_non_trainable_params().unwrap(), hidden);
    let summary = model.summary().unwrap();
    assert!(
        summary.contains(&format!("Non-trainable params: {hidden} (")),
        "{summary}"
    );
    model
        .compile(
            SGD::default().learning_rate(0.1),
            SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )
        .unwrap();
    let before = model.layer_weights().unwrap();
    model
        .fit_with(&synthetic(32, 4), FitOptions::new(2, 8).verbose(0))
        .unwrap();
    let after = model.layer_weights().unwrap();
    for name in ["dense/kernel", "dense/bias"] {
        assert_eq!(bits(&after)[name], bits(&before)[name], "{name} is frozen");
    }
    for name in ["dense_1/kernel", "dense_1/bias"] {
        assert_ne!(bits(&after)[name], bits(&before)[name], "{name} trains");
    }
    // Unfreezing takes effect at the next compile.
    model.set_trainable("dense", true).unwrap();
    model
        .fit_with(&synthetic(32, 4), FitOptions::new(1, 8).verbose(0))
        .unwrap();
    assert_eq!(
        bits(&model.layer_weights().unwrap())["dense/kernel"],
        bits(&before)["dense/kernel"]
    );
    model
        .compile(
            SGD::default().learning_rate(0.1),
            SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )
        .unwrap();
    model
        .fit_with(&synthetic(32, 4), FitOptions::new(1, 8).verbose(0))
        .unwrap();
    assert_ne!(
        bits(&model.layer_weights().unwrap())["dense/kernel"],
        bits(&before)["dense/kernel"]
    );
}

#[test]
fn a_frozen_batch_normalization_runs_in_inference_mode() {
    let build = || {
        Sequential::of([
            Input::new([FEATURES]).into(),
            Dense::new(6).into(),
            BatchNormalization::new().named("bn").into(),
            Dense::new(CLASSES).into(),
        ])
    };
    let mut model = build();
    model.set_trainable("bn", false).unwrap();
    model
        .compile(
            SGD::default().learning_rate(0.1),
            SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )
        .unwrap();
    let before = model.layer_weights().unwrap();
    model
        .fit_with(&synthetic(16, 5), FitOptions::new(1, 8).verbose(0))
        .unwrap();
    let after = model.layer_weights().unwrap();
    for name in before.keys().filter(|n| n.starts_with("bn/")) {
        assert_eq!(
            bits(&after)[name],
            bits(&before)[name],
            "{name}: frozen, moving statistics too"
        );
    }
    assert_ne!(bits(&after)["dense/kernel"], bits(&before)["dense/kernel"]);
    // Trainable, the moving statistics follow the batches.
    let mut free = build();
    free.compile(
        SGD::default().learning_rate(0.1),
        SoftmaxCrossEntropyWithLogits,
        [kiln::metrics::Accuracy],
    )
    .unwrap();
    let start = free.layer_weights().unwrap();
    free.fit_with(&synthetic(16, 5), FitOptions::new(1, 8).verbose(0))
        .unwrap();
    assert_ne!(
        bits(&free.layer_weights().unwrap())["bn/moving_mean"],
        bits(&start)["bn/moving_mean"]
    );
}

#[test]
fn truncating_and_extending_carry_the_weights() {
    let mut model = common::relu_classifier(6, 9);
    model
        .compile(
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )
        .unwrap();
    model
        .fit_with(&synthetic(16, 2), FitOptions::new(1, 8).verbose(0))
        .unwrap();
    let trained = model.layer_weights().unwrap();
    let base = model.truncated("dense").unwrap();
    assert_eq!(base.layers().len(), 2);
    assert_eq!(base.output_shape().unwrap(), Shape::from([6]));
    let base_weights = base.layer_weights().unwrap();
    assert_eq!(base_weights.len(), 2);
    for (name, w) in &base_weights {
        assert_eq!(
            bits(&BTreeMap::from([(name.clone(), w.clone())]))[name],
            bits(&trained)[name]
        );
    }
    let x = features(3, FEATURES, 8);
    assert_close(
        &base.predict(&x, 3).unwrap().data,
        &dense_ref(&x.data, &trained, "dense", true),
        "base",
    );
    let err = model.truncated("nope").unwrap_err().to_string();
    assert!(err.contains("no layer named `nope`"), "{err}");

    // A new head on the sequential base: the new layer is initialised, the base kept.
    let mut grown = model.truncated("dense").unwrap();
    grown.add(Dense::new(2)).unwrap();
    let w = grown.layer_weights().unwrap();
    assert_eq!(bits(&w)["dense/kernel"], bits(&trained)["dense/kernel"]);
    assert_eq!(w["dense_1/kernel"].shape.dims(), [6, 2]);
    assert_ne!(
        w["dense_1/kernel"].data[..2],
        trained["dense_1/kernel"].data[..2]
    );
    let err = grown.add(Conv2D::new(1, 3)).unwrap_err().to_string();
    assert!(err.contains("Conv2D"), "{err}");
    assert_eq!(
        grown.layers().len(),
        3,
        "a failed add leaves the model unchanged"
    );

    // A head on a functional model, through the builder.
    let two = two_heads();
    let err = two_heads().add(Dense::new(1)).unwrap_err().to_string();
    assert!(err.contains("is functional"), "{err}");
    let kept = two.layer_weights().unwrap();
    let body = two.truncated("dense").unwrap();
    assert_eq!(body.kind(), ModelKind::Functional);
    let extended = body
        .extend([Box::new(Dense::new(1).named("score")) as Box<dyn Layer>])
        .unwrap();
    assert_eq!(extended.output_names(), ["score"]);
    let w = extended.layer_weights().unwrap();
    assert_eq!(bits(&w)["dense/kernel"], bits(&kept)["dense/kernel"]);
    let h = dense_ref(&x.data, &kept, "dense", true);
    assert_close(
        &extended.predict(&x, 3).unwrap().data,
        &dense_ref(&h, &w, "score", false),
        "extended",
    );
}

#[test]
fn functional_configs_round_trip_with_frozen_layers() {
    let mut model = two_heads();
    model.set_trainable("head_b", false).unwrap();
    let config = model.to_config();
    assert_eq!(config["class_name"], "Functional");
    let layers = config["config"]["layers"].as_array().unwrap();
    assert_eq!(layers[0]["inbound_nodes"], serde_json::json!([]));
    assert_eq!(
        layers[2]["inbound_nodes"],
        serde_json::json!([[["dense", 0, 0, {}]]])
    );
    assert_eq!(layers[3]["config"]["trainable"], false);
    assert_eq!(
        config["config"]["output_layers"],
        serde_json::json!([["dense_1", 0, 0], ["head_b", 0, 0]])
    );
    let again = Model::from_config(&config).unwrap();
    assert_eq!(again.to_config(), config);
    assert!(!again.is_trainable("head_b").unwrap());
    assert_eq!(
        bits(&again.layer_weights().unwrap()),
        bits(&model.layer_weights().unwrap())
    );
    // Keras 3's call form and a layer listed before its input are read too.
    let keras3 = serde_json::json!({"class_name": "Functional", "config": {"name": "k3",
        "layers": [
            {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 2},
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "keras_history": ["in", 0, 0]}}], "kwargs": {}}]},
            {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [null, 3]}, "inbound_nodes": []}
        ],
        "input_layers": ["in", 0, 0], "output_layers": ["d", 0, 0]}});
    let k3 = Model::from_config(&keras3).unwrap();
    assert_eq!(k3.input_names(), ["in"]);
    assert!(k3.is_trainable("d").unwrap());
    let mut all_frozen = keras3.clone();
    all_frozen["config"]["trainable"] = serde_json::json!(false);
    let all_frozen = Model::from_config(&all_frozen).unwrap();
    assert!(!all_frozen.is_trainable("d").unwrap());
    assert_eq!(all_frozen.count_trainable_params().unwrap(), 0);
    assert_eq!(k3.output_shape().unwrap(), Shape::from([2]));
    // A layer called twice (two inbound nodes) is one shared layer with one set of weights.
    let shared = serde_json::json!({"class_name": "Functional", "config": {"name": "s",
        "layers": [
            {"class_name": "InputLayer", "name": "a", "config": {"name": "a", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
            {"class_name": "InputLayer", "name": "b", "config": {"name": "b", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
            {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 2},
                    "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]}],
        "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["d", 0, 0], ["d", 1, 0]]}});
    let shared = Model::from_config(&shared).unwrap();
    assert_eq!(shared.count_params().unwrap(), 3 * 2 + 2);
    assert_eq!(
        shared.output_shapes().unwrap(),
        [Shape::from([2]), Shape::from([2])]
    );
    let nodes = &shared.to_config()["config"]["layers"][2]["inbound_nodes"];
    assert_eq!(
        nodes,
        &serde_json::json!([[["a", 0, 0, {}]], [["b", 0, 0, {}]]])
    );
}

#[test]
fn functional_models_save_and_load() {
    let dir = std::env::temp_dir().join(format!("kiln-functional-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = Functional::builder("saved");
    let x = f.input(Input::new([FEATURES]));
    let h = f
        .apply(Dense::new(5).activation(Activation::Relu), x)
        .unwrap();
    let y = f.apply(Dense::new(CLASSES), h).unwrap();
    let mut model = f.build(&[x], &[y]).unwrap();
    model.set_trainable("dense", false).unwrap();
    model
        .compile(
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )
        .unwrap();
    model
        .fit_with(&synthetic(16, 6), FitOptions::new(1, 8).verbose(0))
        .unwrap();
    let path = dir.join("f.kiln");
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded.kind(), ModelKind::Functional);
    assert!(!loaded.is_trainable("dense").unwrap());
    let t = features(4, FEATURES, 11);
    assert_eq!(
        loaded.predict(&t, 4).unwrap().data,
        model.predict(&t, 4).unwrap().data
    );
    // Weights alone into an uncompiled model.
    model.save_weights(dir.join("w.kiln")).unwrap();
    let mut blank = Model::from_config(&model.to_config())
        .unwrap()
        .with_seed(99);
    blank.load_weights(dir.join("w.kiln")).unwrap();
    assert_eq!(
        bits(&blank.layer_weights().unwrap()),
        bits(&model.layer_weights().unwrap())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn edge_cases_of_cutting_and_growing() {
    // A model cut at its input passes the features through.
    let model = common::relu_classifier(4, 1);
    let input_only = model.truncated("input").unwrap();
    let x = features(3, FEATURES, 12);
    assert_eq!(input_only.predict(&x, 2).unwrap().data, x.data);
    // An empty stack grows layer by layer, like Keras' add.
    let mut grown = Sequential::of([]);
    grown.add(Input::new([FEATURES])).unwrap();
    grown
        .add(Dense::new(4).activation(Activation::Relu))
        .unwrap();
    grown.add(Dense::new(CLASSES)).unwrap();
    let same = common::relu_classifier(4, DEFAULT_SEED);
    assert_eq!(
        bits(&grown.layer_weights().unwrap()),
        bits(&same.layer_weights().unwrap())
    );
}
