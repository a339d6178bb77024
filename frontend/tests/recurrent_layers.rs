//! The recurrent layers (`SimpleRNN`, `LSTM`, `GRU` in both `reset_after` forms,
//! `Bidirectional`, `TimeDistributed`) and the sequence helpers (`Dense` on rank 3,
//! `Permute`, `RepeatVector`): values against tf-keras 2.21 (`fixtures/keras/recurrent/`,
//! made by its `make_reference.py`; tolerance `1e-5 + 1e-5 * |want|`) and against one LSTM
//! step computed by hand (tolerance 1e-6), finite-difference gradient checks of every cell
//! and option, CPU≡GPU training, config round trips, and the errors of refused options.

mod devices;
mod gradcheck;

use std::collections::BTreeMap;
use std::path::Path;

use gradcheck::{Init, case, check_all};
use ir::interp::{Bindings, eval};
use ir::{Graph, Shape, Tensor};
use kiln::layers::{
    Bidirectional, GRU, LSTM, Layer, LayerContext, MergeMode, Permute, RepeatVector, SimpleRNN,
    TimeDistributed, layer_from_json, layer_to_json,
};
use kiln::prelude::*;
use serde_json::{Value, json};

/// Lowers `layer` on a batched input `x` with `params` (in `Layer::params` order) and runs
/// it on the reference interpreter.
fn run(layer: &dyn Layer, x: &Tensor, params: &[Tensor]) -> Tensor {
    let mut g = Graph::new();
    let input = g.input("x", x.shape.clone());
    let nodes: Vec<_> = (0..params.len())
        .map(|k| g.param(format!("p{k}"), params[k].shape.clone()))
        .collect();
    let ctx = LayerContext {
        params: &nodes,
        training: false,
        seed: 0,
    };
    let out = layer
        .build(&mut g, input, ctx)
        .unwrap_or_else(|e| panic!("{}: {e}", layer.label()));
    let mut bindings: Bindings = Bindings::new();
    bindings.insert("x".into(), x.clone());
    for (k, p) in params.iter().enumerate() {
        bindings.insert(format!("p{k}"), p.clone());
    }
    let values = eval(&g, &bindings).unwrap();
    values[out.index()].clone()
}

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap() as f32)
        .collect();
    Tensor::new(shape.as_slice(), data).unwrap()
}

#[test]
fn layers_compute_what_keras_computes() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras/recurrent/reference.json");
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for c in reference["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let layer = layer_from_json(&c["layer"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = tensor(&c["input"]);
        let weights: Vec<Tensor> = c["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(tensor)
            .collect();
        let specs = layer.params(&Shape::new(x.shape.dims()[1..].to_vec()));
        assert_eq!(specs.len(), weights.len(), "{name}: parameter count");
        for (s, w) in specs.iter().zip(&weights) {
            assert_eq!(s.shape, w.shape, "{name}: {}", s.name);
        }
        let want = tensor(&c["output"]);
        let got = run(layer.as_ref(), &x, &weights);
        assert_eq!(got.shape, want.shape, "{name}");
        for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 + 1e-5 * w.abs(),
                "{name}[{i}]: got {g}, Keras {w}"
            );
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Two LSTM steps of one unit on one feature, by the formulas.
#[test]
fn two_lstm_steps_match_the_formulas() {
    // Gate order i, f, c, o.
    let kernel = [0.5f32, -0.3, 0.8, 0.2];
    let recurrent = [0.1f32, 0.4, -0.6, 0.7];
    let bias = [0.05f32, 1.0, -0.1, 0.2];
    let xs = [0.9f32, -0.4];
    let (mut h, mut c) = (0.0f32, 0.0f32);
    let mut hs = Vec::new();
    for x in xs {
        let z: Vec<f32> = (0..4)
            .map(|k| x * kernel[k] + h * recurrent[k] + bias[k])
            .collect();
        let (i, f, g, o) = (sigmoid(z[0]), sigmoid(z[1]), z[2].tanh(), sigmoid(z[3]));
        c = f * c + i * g;
        h = o * c.tanh();
        hs.push(h);
    }
    let layer = LSTM::new(1).return_sequences(true);
    let got = run(
        &layer,
        &Tensor::new([1, 2, 1], xs.to_vec()).unwrap(),
        &[
            Tensor::new([1, 4], kernel.to_vec()).unwrap(),
            Tensor::new([1, 4], recurrent.to_vec()).unwrap(),
            Tensor::new([4], bias.to_vec()).unwrap(),
        ],
    );
    assert_eq!(got.shape, Shape::from([1, 2, 1]));
    for (g, w) in got.data.iter().zip(&hs) {
        assert!((g - w).abs() < 1e-6, "got {g}, formula {w}");
    }
}

#[test]
fn recurrent_gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    let x = &[2, 3, 2];
    check_all(vec![
        case("simple rnn last", x, SimpleRNN::new(3), u),
        case(
            "simple rnn seq backwards",
            x,
            SimpleRNN::new(3).return_sequences(true).go_backwards(true),
            u,
        ),
        case("lstm last", x, LSTM::new(3), u),
        case(
            "lstm seq",
            &[2, 4, 2],
            LSTM::new(3).return_sequences(true),
            u,
        ),
        case(
            "lstm backwards no bias",
            x,
            LSTM::new(3).go_backwards(true).use_bias(false),
            u,
        ),
        case(
            "gru reset after seq",
            x,
            GRU::new(3).return_sequences(true),
            u,
        ),
        case("gru reset after no bias", x, GRU::new(3).use_bias(false), u),
        case(
            "gru reset before",
            x,
            GRU::new(3).reset_after(false).return_sequences(true),
            u,
        ),
        case(
            "gru reset before backwards",
            x,
            GRU::new(3).reset_after(false).go_backwards(true),
            u,
        ),
    ]);
}

#[test]
fn wrapper_and_sequence_gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    let x = &[2, 3, 2];
    let bi = |layer: LSTM, mode: MergeMode| Bidirectional::new(layer).unwrap().merge_mode(mode);
    check_all(vec![
        case(
            "bi lstm concat seq",
            x,
            bi(LSTM::new(3).return_sequences(true), MergeMode::Concat),
            u,
        ),
        case("bi lstm sum last", x, bi(LSTM::new(3), MergeMode::Sum), u),
        case(
            "bi lstm mul seq",
            x,
            bi(LSTM::new(2).return_sequences(true), MergeMode::Mul),
            u,
        ),
        case(
            "bi gru ave",
            x,
            Bidirectional::new(GRU::new(3))
                .unwrap()
                .merge_mode(MergeMode::Ave),
            u,
        ),
        case(
            "time distributed dense",
            x,
            TimeDistributed::new(Dense::new(3).activation(Activation::Tanh)),
            u,
        ),
        case("dense rank 3", x, Dense::new(3), u),
        case("permute", &[2, 3, 2, 4], Permute::new([3, 1, 2]), u),
        case("repeat vector", &[2, 3], RepeatVector::new(2), u),
    ]);
}

/// `steps` sequences of 2 features and 2 regression targets.
fn sequences(n: usize, steps: usize) -> Dataset {
    let x: Vec<f32> = (0..n * steps * 2)
        .map(|i| 2.0 * ir::random::uniform(3, i as u32) - 1.0)
        .collect();
    let y: Vec<f32> = (0..n * 2)
        .map(|i| ir::random::uniform(4, i as u32) - 0.5)
        .collect();
    Dataset::new(x, &[n, steps, 2], y, &[n, 2]).unwrap()
}

#[test]
fn recurrent_training_matches_on_cpu_and_gpu() {
    let data = sequences(8, 4);
    let model = |layer: Box<dyn Layer>| {
        let layer = layer;
        move || {
            let copy = layer_from_json(&layer_to_json(layer.as_ref())).unwrap();
            Model::of([
                Box::new(Input::new([4, 2])) as Box<dyn Layer>,
                copy,
                Box::new(Dense::new(2)),
            ])
        }
    };
    let named = |layer: Box<dyn Layer>, name: &str| {
        let mut layer = layer;
        layer.set_name(name.to_string());
        layer
    };
    let cases: Vec<(&str, Box<dyn Layer>)> = vec![
        ("lstm", named(Box::new(LSTM::new(3)), "lstm")),
        ("gru reset_after", named(Box::new(GRU::new(3)), "gru")),
        (
            "gru reset_before",
            named(Box::new(GRU::new(3).reset_after(false)), "gru"),
        ),
        ("simple rnn", named(Box::new(SimpleRNN::new(3)), "rnn")),
        (
            "bidirectional",
            named(Box::new(Bidirectional::new(LSTM::new(3)).unwrap()), "bi"),
        ),
    ];
    for (name, layer) in cases {
        devices::assert_training_matches(name, &model(layer), &data);
    }
    devices::assert_training_matches(
        "time distributed",
        &|| {
            sequential![
                Input::new([4, 2]),
                TimeDistributed::new(Dense::new(3).activation(Activation::Tanh)),
                GRU::new(3),
                Dense::new(2),
            ]
        },
        &data,
    );
}

#[test]
fn configs_round_trip() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(SimpleRNN::new(4).return_sequences(true).named("r")),
        Box::new(
            LSTM::new(4)
                .unit_forget_bias(false)
                .go_backwards(true)
                .named("l"),
        ),
        Box::new(GRU::new(4).reset_after(false).unroll(true).named("g")),
        Box::new(
            Bidirectional::new(GRU::new(2))
                .unwrap()
                .merge_mode(MergeMode::Mul)
                .named("b"),
        ),
        Box::new(TimeDistributed::new(Dense::new(3)).named("t")),
        Box::new(Permute::new([2, 1]).named("p")),
        Box::new(RepeatVector::new(3).named("rv")),
    ];
    for layer in layers {
        let json = layer_to_json(layer.as_ref());
        let back = layer_from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(layer_to_json(back.as_ref()), json);
        let input = Shape::from([5, 2]);
        assert_eq!(
            back.output_shape(&input).ok(),
            layer.output_shape(&input).ok(),
            "{json}"
        );
    }
    // Keras' LSTM config keys.
    let config = layer_to_json(&LSTM::new(2).named("lstm"))["config"].clone();
    for key in [
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "unroll",
    ] {
        assert_eq!(config[key], json!(false), "{key}");
    }
    assert_eq!(config["unit_forget_bias"], json!(true));
    assert_eq!(config["recurrent_activation"], json!("sigmoid"));
    assert_eq!(
        config["recurrent_initializer"]["class_name"],
        json!("Orthogonal")
    );
}

/// The error of building `class` from a config with `extra` fields, as text.
fn config_error(class: &str, extra: Value) -> String {
    let mut config = json!({"name": "seq", "units": 3});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    match layer_from_json(&json!({"class_name": class, "config": config})) {
        Ok(_) => panic!("{class} {extra} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn refused_options_name_the_layer_and_the_option() {
    for (class, extra, option) in [
        ("GRU", json!({"stateful": true}), "stateful"),
        ("SimpleRNN", json!({"time_major": true}), "time_major"),
        ("LSTM", json!({"dropout": 0.2}), "dropout"),
        (
            "GRU",
            json!({"recurrent_dropout": 0.1}),
            "recurrent_dropout",
        ),
        (
            "LSTM",
            json!({"recurrent_constraint": {"class_name": "NonNeg", "config": {}}}),
            "recurrent_constraint",
        ),
    ] {
        let msg = config_error(class, extra);
        assert!(msg.contains("seq") && msg.contains(option), "{msg}");
    }
    let inner = json!({"class_name": "LSTM", "config": {"name": "l", "units": 2}});
    let bi = |extra: Value| {
        let mut config = json!({"name": "bi", "layer": inner});
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        layer_from_json(&json!({"class_name": "Bidirectional", "config": config}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(bi(json!({"merge_mode": "merge"})).contains("merge_mode"));
    assert!(
        bi(json!({"merge_mode": "concat", "backward_layer": inner})).contains("backward_layer")
    );
    let dense = Bidirectional::new(Dense::new(2)).unwrap_err().to_string();
    assert!(dense.contains("Dense"), "{dense}");
    let rank = LSTM::new(2)
        .named("l")
        .output_shape(&[5].into())
        .unwrap_err()
        .to_string();
    assert!(
        rank.contains("l (LSTM)") && rank.contains("(None, 5)"),
        "{rank}"
    );
    let perm = Permute::new([1, 1])
        .named("p")
        .output_shape(&[2, 2].into())
        .unwrap_err();
    assert!(perm.to_string().contains("p (Permute)"), "{perm}");
}

#[test]
fn lstm_starts_with_unit_forget_bias() {
    let mut model = Model::of([
        Box::new(Input::new([3, 2])) as Box<dyn Layer>,
        Box::new(LSTM::new(2).return_sequences(true)),
        Box::new(Bidirectional::new(LSTM::new(2)).unwrap()),
    ]);
    let weights: BTreeMap<String, Tensor> = model.weights().unwrap();
    for name in [
        "lstm/bias",
        "bidirectional/forward_bias",
        "bidirectional/backward_bias",
    ] {
        assert_eq!(
            weights[name].data,
            [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            "{name}"
        );
    }
    let mut plain = Model::of([
        Box::new(Input::new([3, 2])) as Box<dyn Layer>,
        Box::new(LSTM::new(2).unit_forget_bias(false)),
    ]);
    assert!(
        plain.weights().unwrap()["lstm/bias"]
            .data
            .iter()
            .all(|v| *v == 0.0)
    );
}

#[test]
fn a_sequence_model_compiles_and_predicts() {
    let model = sequential![
        Input::new([5, 3]),
        SimpleRNN::new(4).return_sequences(true),
        Bidirectional::new(LSTM::new(3).return_sequences(true)).unwrap(),
        Permute::new([2, 1]),
        Flatten::new(),
        RepeatVector::new(2),
        Dense::new(2),
        Flatten::new(),
        Dense::new(3),
    ];
    assert_eq!(model.output_shape().unwrap(), Shape::from([3]));
    let x = Tensor::new(
        [2, 5, 3],
        (0..30).map(|i| (i as f32 * 0.37).sin()).collect(),
    )
    .unwrap();
    let got = model.predict(&x, 2).unwrap();
    assert_eq!(got.shape, Shape::from([2, 3]));
    assert!(got.data.iter().all(|v| v.is_finite()));
    assert!(model.summary().unwrap().contains("(None, 5, 6)"));
}

#[test]
fn permute_repeat_vector_and_rank_3_dense_agree_on_cpu_and_gpu() {
    let n = 6;
    let x: Vec<f32> = (0..n * 8)
        .map(|i| 2.0 * ir::random::uniform(21, i as u32) - 1.0)
        .collect();
    let y: Vec<f32> = (0..n * 2)
        .map(|i| ir::random::uniform(22, i as u32))
        .collect();
    let data = Dataset::new(x, &[n, 4, 2], y, &[n, 2]).unwrap();
    devices::assert_training_matches(
        "permute, repeat vector, dense on rank 3",
        &|| {
            sequential![
                Input::new([4, 2]),
                Permute::new([2, 1]),
                Dense::new(3).activation(Activation::Tanh),
                Flatten::new(),
                RepeatVector::new(2),
                SimpleRNN::new(3),
                Dense::new(2),
            ]
            .with_seed(4)
        },
        &data,
    );
}
