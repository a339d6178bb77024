//! Layers with several outputs: `return_state` of `SimpleRNN`, `LSTM`, `GRU` and
//! `Bidirectional`, and `Bidirectional(merge_mode=None)`. Keras' own outputs of small models
//! saved by tf-keras 2.21 (`fixtures/keras/recurrent_state/`, made by the script there)
//! loaded through `Model::load_keras` (every model output, summary text, config and `.h5`
//! round trips); the functional API (`Functional::apply_outputs`); finite-difference
//! gradients through every output; CPU≡GPU (`devices/`); and errors naming the layer and the
//! output index.

mod devices;
mod gradcheck;
mod layer_reference;

use std::path::{Path, PathBuf};

use gradcheck::{Init, case, check_all};
use ir::{Graph, NodeId, Op};
use kiln::layers::Concatenate;
use kiln::layers::{LayerContext, ParamSpec};
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use serde_json::{Value, json};

/// A fixture file under `fixtures/keras/recurrent_state/`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/recurrent_state")
        .join(name)
}

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = serde_json::from_value(v["shape"].clone()).unwrap();
    let data: Vec<f32> = serde_json::from_value(v["data"].clone()).unwrap();
    Tensor::new(shape.as_slice(), data).unwrap()
}

/// A fixture's inputs, Keras' outputs and tolerance.
fn reference(name: &str) -> (Vec<Tensor>, Vec<Tensor>, f32) {
    let text = std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let list = |key: &str| json[key].as_array().unwrap().iter().map(tensor).collect();
    (
        list("inputs"),
        list("outputs"),
        json["tolerance"].as_f64().unwrap() as f32,
    )
}

/// Every output of `model` on `inputs`.
fn predict(model: &Model, inputs: &[Tensor]) -> Vec<Tensor> {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    model
        .predict_many(&refs, inputs[0].shape.dims()[0])
        .unwrap()
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.shape, want.shape, "{what}: shape");
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        assert!(
            (g - w).abs() <= tol + tol * w.abs(),
            "{what}: element {i} is {g}, Keras {w}"
        );
    }
}

const FIXTURES: [&str; 4] = [
    "lstm_state",
    "gru_sequence_state",
    "bidirectional_state",
    "bidirectional_none",
];

#[test]
fn keras_models_with_states_predict_as_keras_and_round_trip() {
    let dir = std::env::temp_dir().join(format!("kiln-recurrent-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in FIXTURES {
        let model = Model::load_keras(fixture(&format!("{name}.h5")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (inputs, want, tol) = reference(name);
        let got = predict(&model, &inputs);
        assert_eq!(got.len(), want.len(), "{name}: output count");
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_close(&format!("{name} output {k}"), g, w, tol);
        }
        let summary = std::fs::read_to_string(fixture(&format!("{name}_summary.txt"))).unwrap();
        layer_reference::assert_summary_and_round_trips(name, &model, &summary, &dir, &inputs);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn configs_name_each_output_by_its_tensor_index() {
    let model = Model::load_keras(fixture("bidirectional_state.h5")).unwrap();
    let config = model.to_config();
    let layers = config["config"]["layers"].as_array().unwrap();
    let fb = layers.iter().find(|l| l["name"] == "fb").unwrap();
    assert_eq!(
        fb["inbound_nodes"],
        json!([[["bi", 0, 1, {}], ["bi", 0, 4, {}]]])
    );
    assert_eq!(
        config["config"]["output_layers"],
        json!([["dense", 0, 0], ["bi", 0, 0], ["bi", 0, 3]])
    );
    let bi = layers.iter().find(|l| l["name"] == "bi").unwrap();
    assert_eq!(bi["config"]["layer"]["config"]["return_state"], json!(true));
    assert_eq!(model.output_names(), ["dense", "bi", "bi"]);

    let none = Model::load_keras(fixture("bidirectional_none.h5")).unwrap();
    let bi = none.to_config()["config"]["layers"][1].clone();
    assert_eq!(bi["config"]["merge_mode"], Value::Null);
}

/// `out, h, c = LSTM(4, return_state=True)(x); Dense(2)(Concatenate()([h, c]))`, with the
/// given outputs besides the Dense's.
fn lstm_state_model(extra_outputs: bool) -> Model {
    let mut f = Functional::builder("lstm_state").with_seed(3);
    let x = f.input(Input::new([5, 3]).named("x"));
    let outs = f
        .apply_outputs(LSTM::new(4).return_state(true).named("lstm"), &[x])
        .unwrap();
    assert_eq!(outs.len(), 3);
    let hc = f
        .apply_many(Concatenate::new(), &[outs[1], outs[2]])
        .unwrap();
    let y = f.apply(Dense::new(2), hc).unwrap();
    let outputs = if extra_outputs {
        vec![y, outs[0], outs[2]]
    } else {
        vec![y]
    };
    f.build(&[x], &outputs).unwrap()
}

#[test]
fn the_functional_api_connects_each_output() {
    let model = lstm_state_model(true);
    assert_eq!(
        model.output_shapes().unwrap(),
        [Shape::from([2]), Shape::from([4]), Shape::from([4])]
    );
    // Keras' own weights of the same architecture give Keras' outputs.
    let mut keras = lstm_state_model(true);
    keras.load_keras_weights(fixture("lstm_state.h5")).unwrap();
    let (inputs, want, tol) = reference("lstm_state");
    for (k, (g, w)) in predict(&keras, &inputs).iter().zip(&want).enumerate() {
        assert_close(&format!("output {k}"), g, w, tol);
    }
    // The last output of an LSTM without return_sequences is its state h.
    let mut f = Functional::builder("h");
    let x = f.input(Input::new([5, 3]));
    let outs = f
        .apply_outputs(GRU::new(3).return_state(true), &[x])
        .unwrap();
    let model = f.build(&[x], &outs).unwrap();
    let got = predict(&model, &inputs);
    assert_eq!(got[0].data, got[1].data);
}

/// A layer's outputs flattened and joined into one `[batch, n]` tensor, so the shared
/// one-output gradient harness checks every output at once.
#[derive(Debug)]
struct AllOutputs<L>(L);

impl<L: Layer> Layer for AllOutputs<L> {
    fn class_name(&self) -> &'static str {
        self.0.class_name()
    }

    fn name(&self) -> Option<&str> {
        self.0.name()
    }

    fn set_name(&mut self, name: String) {
        self.0.set_name(name);
    }

    fn output_shape(&self, input: &Shape) -> kiln::Result<Shape> {
        let shapes = self.0.output_shapes_many(std::slice::from_ref(input))?;
        Ok(Shape::from([shapes
            .iter()
            .map(Shape::numel)
            .sum::<usize>()]))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        self.0.params(input)
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> kiln::Result<NodeId> {
        let outputs = self.0.build_outputs(g, &[x], ctx)?;
        assert_eq!(outputs.len(), self.0.output_count());
        let batch = g.shape(x).dims()[0];
        let flat = outputs
            .iter()
            .map(|&o| {
                let n = g.shape(o).numel() / batch;
                g.reshape(o, [batch, n])
            })
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        Ok(g.add(Op::Concat { axis: 1 }, &flat).unwrap())
    }

    fn config(&self) -> Value {
        self.0.config()
    }
}

#[test]
fn gradients_through_every_output_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    let x = &[2, 3, 2];
    let bi = |layer: LSTM| Bidirectional::new(layer).unwrap();
    check_all(vec![
        case(
            "lstm state",
            x,
            AllOutputs(LSTM::new(3).return_state(true)),
            u,
        ),
        case(
            "gru sequence state",
            x,
            AllOutputs(GRU::new(2).return_sequences(true).return_state(true)),
            u,
        ),
        case(
            "simple rnn backwards state",
            x,
            AllOutputs(SimpleRNN::new(2).go_backwards(true).return_state(true)),
            u,
        ),
        case(
            "bi lstm state",
            x,
            AllOutputs(bi(LSTM::new(2).return_state(true))),
            u,
        ),
        case(
            "bi lstm none seq",
            x,
            AllOutputs(bi(LSTM::new(2).return_sequences(true)).merge_mode(None)),
            u,
        ),
    ]);
}

fn values(dims: &[usize], seed: u32) -> Tensor {
    let n = dims.iter().product();
    let data = (0..n)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect();
    Tensor::new(dims, data).unwrap()
}

#[test]
fn a_state_consuming_model_agrees_on_cpu_and_gpu() {
    let x = values(&[3, 5, 3], 1);
    devices::assert_predictions_match("lstm states", &|| lstm_state_model(false), &[&x]);
}

#[test]
fn several_outputs_are_refused_where_keras_refuses_them() {
    // A Sequential model's layers have one output each.
    let stack = Sequential::of([
        Input::new([5, 3]).into(),
        LSTM::new(4).return_state(true).named("enc").into(),
    ]);
    let msg = stack.summary().unwrap_err().to_string();
    assert!(msg.contains("enc") && msg.contains("3 outputs"), "{msg}");
    let mut stack = Sequential::of([Input::new([5, 3]).into()]);
    let msg = stack
        .add(GRU::new(2).return_state(true).named("gru"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("gru") && msg.contains("2 outputs"), "{msg}");
    assert_eq!(stack.layers().len(), 1);

    // A config naming an output the layer does not have.
    let model = Model::load_keras(fixture("lstm_state.h5")).unwrap();
    let mut config = model.to_config();
    let layers = config["config"]["layers"].as_array_mut().unwrap();
    let hc = layers.iter_mut().find(|l| l["name"] == "hc").unwrap();
    hc["inbound_nodes"] = json!([[["lstm", 0, 1, {}], ["lstm", 0, 3, {}]]]);
    let msg = Model::from_config(&config)
        .and_then(|m| m.layer_shapes().map(|_| ()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("lstm") && msg.contains("output 3") && msg.contains("hc"),
        "{msg}"
    );
    // The functional API cannot name a missing output either: apply_outputs gives each.
    let mut f = Functional::builder("one");
    let x = f.input(Input::new([5, 3]));
    assert_eq!(f.apply_outputs(Dense::new(2), &[x]).unwrap().len(), 1);
}
