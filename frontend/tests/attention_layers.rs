//! `LayerNormalization`, `MultiHeadAttention` and `Dot`: finite-difference gradient checks
//! (harness in `gradcheck/`), Keras' own outputs of small models saved by tf-keras 2.21
//! (`fixtures/keras/attention/`, made by the script there) loaded through
//! `Model::load_keras`, config and `.h5` round trips (MultiHeadAttention's keyword inputs and
//! `use_causal_mask` in the inbound node), CPU≡GPU (`devices/`), and errors that name the
//! layer and the option.

mod devices;
mod gradcheck;
mod layer_reference;

use std::path::{Path, PathBuf};

use gradcheck::{Init, case, check_all};
use kiln::Tensor;
use kiln::prelude::*;
use serde_json::{Value, json};

const U: Init = Init::Uniform(-1.0, 1.0);

#[test]
fn layer_normalization_gradients_match_finite_differences() {
    check_all(vec![
        case("ln last axis", &[2, 3, 4], LayerNormalization::new(), U),
        case("ln rank 2", &[3, 5], LayerNormalization::new(), U),
        case(
            "ln axis 1",
            &[2, 3, 4],
            LayerNormalization::new().axis(1),
            U,
        ),
        case(
            "ln axes 1 2",
            &[2, 3, 4],
            LayerNormalization::new().axes(&[1, 2]).epsilon(0.01),
            U,
        ),
        case(
            "ln axes 2 1 (gamma reshaped, not transposed)",
            &[2, 3, 2],
            LayerNormalization::new().axes(&[-1, 1]),
            U,
        ),
        case(
            "ln no center",
            &[2, 4],
            LayerNormalization::new().center(false),
            U,
        ),
        case(
            "ln no scale",
            &[2, 4],
            LayerNormalization::new().scale(false),
            U,
        ),
    ]);
}

#[test]
fn multi_head_attention_gradients_match_finite_differences() {
    let mha = || MultiHeadAttention::new(2, 2);
    check_all(vec![
        case("mha self", &[2, 3, 4], mha(), U),
        case(
            "mha self causal",
            &[2, 4, 3],
            mha().use_causal_mask(true),
            U,
        ),
        case("mha cross", &[2, 3, 4], mha(), U).and_input(&[2, 4, 3], U),
        case(
            "mha cross causal",
            &[2, 4, 3],
            mha().use_causal_mask(true),
            U,
        )
        .and_input(&[2, 3, 2], U),
        case("mha cross key", &[2, 3, 4], mha(), U)
            .and_input(&[2, 4, 3], U)
            .and_input(&[2, 4, 2], U),
        case(
            "mha value_dim 3 output 5",
            &[2, 3, 4],
            mha().value_dim(3).output_features(5),
            U,
        ),
        case("mha no bias", &[2, 3, 2], mha().use_bias(false), U),
        case("mha dropout (inference)", &[2, 3, 2], mha().dropout(0.5), U).inference(),
    ]);
}

#[test]
fn dot_gradients_match_finite_differences() {
    check_all(vec![
        case("dot vectors", &[3, 4], Dot::with_axis(1), U).and_input(&[3, 4], U),
        case("dot sequences axes 2", &[2, 3, 4], Dot::with_axis(2), U).and_input(&[2, 5, 4], U),
        case("dot sequences axes 1", &[2, 3, 4], Dot::with_axis(1), U).and_input(&[2, 3, 2], U),
        case("dot axes (1, 2)", &[2, 3, 4], Dot::with_axes(1, 2), U).and_input(&[2, 5, 3], U),
        case("dot vector and sequence", &[2, 4], Dot::with_axis(-1), U).and_input(&[2, 3, 4], U),
        case(
            "dot normalized",
            &[2, 3, 4],
            Dot::with_axis(2).normalize(true),
            Init::AwayFromZero,
        )
        .and_input(&[2, 5, 4], Init::AwayFromZero),
    ]);
}

/// A fixture file under `fixtures/keras/attention/`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/attention")
        .join(name)
}

/// A fixture's inputs, Keras' output and tolerance.
fn reference(name: &str) -> (Vec<Tensor>, Tensor, f32) {
    let text = std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let tensor = |v: &Value| {
        let shape: Vec<usize> = serde_json::from_value(v["shape"].clone()).unwrap();
        let data: Vec<f32> = serde_json::from_value(v["data"].clone()).unwrap();
        Tensor::new(shape.as_slice(), data).unwrap()
    };
    let inputs = json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(tensor)
        .collect();
    (
        inputs,
        tensor(&json["output"]),
        json["tolerance"].as_f64().unwrap() as f32,
    )
}

/// `model`'s predictions on `inputs` (its only output).
fn predict(model: &Model, inputs: &[Tensor]) -> Tensor {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let batch = inputs[0].shape.dims()[0];
    model.predict_many(&refs, batch).unwrap().remove(0)
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

#[test]
fn keras_models_predict_as_keras_and_round_trip() {
    let dir = std::env::temp_dir().join(format!("kiln-attention-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["self_attention_ln", "cross_causal", "dot_merge"] {
        let model = Model::load_keras(fixture(&format!("{name}.h5")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (inputs, want, tol) = reference(name);
        let got = predict(&model, &inputs);
        assert_close(name, &got, &want, tol);
        let summary = std::fs::read_to_string(fixture(&format!("{name}_summary.txt"))).unwrap();
        layer_reference::assert_summary_and_round_trips(name, &model, &summary, &dir, &inputs);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn keyword_inputs_and_causal_mask_are_written_as_keras_2_does() {
    let model = Model::load_keras(fixture("cross_causal.h5")).unwrap();
    let config = model.to_config();
    let mha = config["config"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["class_name"] == "MultiHeadAttention")
        .unwrap();
    assert_eq!(
        mha["inbound_nodes"],
        json!([[["a", 0, 0, {"use_causal_mask": true, "value": ["b", 0, 0], "key": ["c", 0, 0]}]]])
    );
    assert_eq!(mha["config"]["output_shape"], json!(5));
    assert_eq!(mha["config"]["query_shape"], json!([null, 5, 8]));

    // Kiln's one-input self-attention is Keras' mha(x, value=x).
    let mut f = Functional::builder("self");
    let x = f.input(Input::new([3, 4]).named("x"));
    let y = f
        .apply(MultiHeadAttention::new(2, 2).named("mha"), x)
        .unwrap();
    let model = f.build(&[x], &[y]).unwrap();
    let config = model.to_config();
    assert_eq!(
        config["config"]["layers"][1]["inbound_nodes"],
        json!([[["x", 0, 0, {"value": ["x", 0, 0]}]]])
    );
    let rebuilt = Model::from_config(&config).unwrap();
    assert_eq!(rebuilt.inbound_layers(1), ["x", "x"]);
}

/// `Input[4, 6] → MHA(2, 3) → +x → LayerNormalization → Flatten → Dense(2)`.
fn self_attention_model() -> Model {
    let mut f = Functional::builder("attention_block").with_seed(5);
    let x = f.input(Input::new([4, 6]));
    let a = f
        .apply(
            MultiHeadAttention::new(2, 3).bias_initializer(Initializer::Ones),
            x,
        )
        .unwrap();
    let h = f.apply_many(kiln::layers::Add::new(), &[x, a]).unwrap();
    let h = f.apply(LayerNormalization::new(), h).unwrap();
    let h = f.apply(Flatten::new(), h).unwrap();
    let y = f.apply(Dense::new(2), h).unwrap();
    f.build(&[x], &[y]).unwrap()
}

/// Two sequences, A `[5, 8]` and B `[7, 8]`: MHA(query=A, value=B) → Flatten → Dense(3).
fn cross_attention_model() -> Model {
    let mut f = Functional::builder("cross_attention").with_seed(9);
    let a = f.input(Input::new([5, 8]).named("a"));
    let b = f.input(Input::new([7, 8]).named("b"));
    let h = f
        .apply_many(MultiHeadAttention::new(2, 4).named("mha"), &[a, b])
        .unwrap();
    let h = f.apply(Flatten::new(), h).unwrap();
    let y = f.apply(Dense::new(3), h).unwrap();
    f.build(&[a, b], &[y]).unwrap()
}

fn values(dims: &[usize], seed: u32) -> Tensor {
    let n = dims.iter().product();
    let data = (0..n)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect();
    Tensor::new(dims, data).unwrap()
}

#[test]
fn attention_models_agree_on_cpu_and_gpu() {
    let x = values(&[6, 4, 6], 1);
    let y = values(&[6, 2], 2);
    let data = Dataset::new(x.data, &[6, 4, 6], y.data, &[6, 2]).unwrap();
    devices::assert_training_matches("self attention block", &self_attention_model, &data);
    let (a, b) = (values(&[3, 5, 8], 3), values(&[3, 7, 8], 4));
    devices::assert_predictions_match("cross attention", &cross_attention_model, &[&a, &b]);
}

#[test]
fn a_self_attention_block_learns() {
    let mut model = self_attention_model();
    model
        .compile(
            kiln::optimizers::Adam::default().learning_rate(0.01),
            kiln::losses::MeanSquaredError,
            [] as [kiln::metrics::Accuracy; 0],
        )
        .unwrap();
    let x = values(&[16, 4, 6], 7);
    // A target the block can represent: the mean of each example's first feature, twice.
    let y: Vec<f32> = x
        .data
        .chunks(24)
        .flat_map(|e| {
            let m = e.iter().step_by(6).sum::<f32>() / 4.0;
            [m, -m]
        })
        .collect();
    let data = Dataset::new(x.data, &[16, 4, 6], y, &[16, 2]).unwrap();
    let history = model.fit(&data, 30, 8).unwrap();
    let losses = &history.history["loss"];
    assert!(
        losses[losses.len() - 1] < 0.5 * losses[0],
        "loss {} -> {}",
        losses[0],
        losses[losses.len() - 1]
    );
}

/// Fails unless `err` names every one of `parts`.
fn check(err: kiln::Error, parts: &[&str]) {
    let text = err.to_string();
    for part in parts {
        assert!(text.contains(part), "`{part}` not in: {text}");
    }
}

fn shape(dims: &[usize]) -> kiln::Shape {
    kiln::Shape::new(dims.to_vec())
}

#[test]
fn bad_attention_options_and_shapes_name_the_layer_and_option() {
    let mha = MultiHeadAttention::new(2, 2).named("mha");
    check(
        mha.output_shape(&shape(&[3])).unwrap_err(),
        &["mha (MultiHeadAttention)", "rank-3"],
    );
    check(
        mha.output_shape_many(&[shape(&[3, 4]), shape(&[5, 4]), shape(&[6, 4])])
            .unwrap_err(),
        &["mha", "same number of steps"],
    );
    let config = |extra: Value| {
        let mut c = json!({"name": "att", "num_heads": 2, "key_dim": 2});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let axes = kiln::layers::layer_from_config(
        "MultiHeadAttention",
        &config(json!({"attention_axes": [2]})),
    )
    .unwrap();
    check(
        axes.output_shape(&shape(&[3, 4, 5])).unwrap_err(),
        &["att", "rank-3"],
    );
    check(
        axes.output_shape(&shape(&[3, 4])).unwrap_err(),
        &["att", "attention_axes"],
    );
    check(
        kiln::layers::layer_from_config(
            "MultiHeadAttention",
            &config(json!({"kernel_constraint": {"class_name": "NonNeg", "config": {}}})),
        )
        .unwrap_err(),
        &["att", "kernel_constraint"],
    );
    check(
        MultiHeadAttention::new(2, 2)
            .dropout(1.0)
            .output_shape(&shape(&[3, 4]))
            .unwrap_err(),
        &["dropout"],
    );
}

#[test]
fn bad_normalization_and_dot_options_name_the_layer_and_option() {
    let ln = LayerNormalization::new().axis(0).named("ln");
    check(
        ln.output_shape(&shape(&[3, 4])).unwrap_err(),
        &["ln (LayerNormalization)", "batch axis"],
    );
    check(
        LayerNormalization::new()
            .axes(&[1, -2])
            .output_shape(&shape(&[3, 4]))
            .unwrap_err(),
        &["twice"],
    );
    let dot = Dot::with_axis(1).named("dot");
    check(
        dot.output_shape_many(&[shape(&[3, 4, 5]), shape(&[3, 4, 5])])
            .unwrap_err(),
        &["dot (Dot)", "rank 2 or 3"],
    );
    check(
        Dot::with_axis(2)
            .output_shape_many(&[shape(&[3, 4]), shape(&[3, 5])])
            .unwrap_err(),
        &["differ in size"],
    );
    check(
        Dot::with_axis(0)
            .output_shape_many(&[shape(&[4]), shape(&[4])])
            .unwrap_err(),
        &["batch axis"],
    );
}

/// A Keras 2 functional config of one MHA layer called with `kwargs`.
fn mha_config(kwargs: Value) -> Value {
    json!({"class_name": "Functional", "config": {
        "name": "m",
        "layers": [
            {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
             "config": {"name": "x", "batch_input_shape": [null, 3, 4]}},
            {"class_name": "MultiHeadAttention", "name": "mha",
             "config": {"name": "mha", "num_heads": 2, "key_dim": 2},
             "inbound_nodes": [[["x", 0, 0, kwargs]]]}
        ],
        "input_layers": [["x", 0, 0]],
        "output_layers": [["mha", 0, 0]]
    }})
}

#[test]
fn unsupported_call_arguments_are_refused_by_name() {
    let err = |kwargs: Value| {
        Model::from_config(&mha_config(kwargs))
            .unwrap_err()
            .to_string()
    };
    let text = err(json!({"value": ["x", 0, 0], "return_attention_scores": true}));
    assert!(
        text.contains("return_attention_scores") && text.contains("mha"),
        "{text}"
    );
    let text = err(json!({"value": ["x", 0, 0], "attention_mask": ["x", 0, 0]}));
    assert!(
        text.contains("attention_mask") && text.contains("mha"),
        "{text}"
    );
    let text = err(json!({"key": ["x", 0, 0]}));
    assert!(text.contains("`key` without `value`"), "{text}");
    let model = Model::from_config(&mha_config(
        json!({"value": ["x", 0, 0], "training": false}),
    ))
    .unwrap();
    assert_eq!(model.inbound_layers(1), ["x", "x"]);
}

/// `[4, 6]` → causal self-attention → Dense(3, tanh) on each step (rank 3), Dot over the steps
/// with Dense(3) of the input (`[4, 3]` · `[4, 3]` → `[3, 3]`) → Flatten → Dense(2).
fn causal_dot_model() -> Model {
    let mut f = Functional::builder("causal_dot").with_seed(13);
    let x = f.input(Input::new([4, 6]));
    let a = f
        .apply(MultiHeadAttention::new(2, 3).use_causal_mask(true), x)
        .unwrap();
    let p = f
        .apply(Dense::new(3).activation(Activation::Tanh), a)
        .unwrap();
    let q = f.apply(Dense::new(3), x).unwrap();
    let d = f.apply_many(Dot::with_axis(1), &[p, q]).unwrap();
    let h = f.apply(Flatten::new(), d).unwrap();
    let y = f.apply(Dense::new(2), h).unwrap();
    f.build(&[x], &[y]).unwrap()
}

#[test]
fn causal_attention_rank_3_dense_and_dot_agree_on_cpu_and_gpu() {
    let x = values(&[6, 4, 6], 5);
    let y = values(&[6, 2], 6);
    let data = Dataset::new(x.data, &[6, 4, 6], y.data, &[6, 2]).unwrap();
    devices::assert_training_matches("causal attention, dense, dot", &causal_dot_model, &data);
}
