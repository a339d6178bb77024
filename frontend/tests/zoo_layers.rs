//! The layers the Keras zoo needed (Rescaling, Normalization, TFOpLambda, CustomScaleLayer,
//! LayerScale, grouped Conv2D, Dropout's noise_shape, a nested Sequential): one tf-keras
//! 2.21 model holding all of them (`fixtures/keras/zoo_layers/`, made by
//! `tests/zoo/make_layer_fixture.py`) against Keras' output and parameter counts, its `.h5`
//! round trip, each layer's config round trip and parameter count, finite-difference
//! gradients, and the errors for what is not supported.

mod gradcheck;
mod layer_reference;

use std::path::{Path, PathBuf};

use gradcheck::{Init, case, check_all};
use kiln::layers::{
    Conv2D, CustomScaleLayer, Dropout, Layer, LayerScale, Normalization, Padding, Rescaling,
    TFOpLambda, layer_from_json,
};
use kiln::prelude::*;
use layer_reference::{assert_config_round_trips, error_of, tensor};
use serde_json::{Map, Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/zoo_layers")
        .join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

/// A TFOpLambda of `function` with the call kwargs `kwargs` (a JSON object).
fn tf_op(function: &str, kwargs: Value) -> TFOpLambda {
    let kwargs: Map<String, Value> = kwargs.as_object().unwrap().clone();
    TFOpLambda::new(function)
        .unwrap()
        .with_call_kwargs(&kwargs)
        .unwrap()
        .named("op")
}

#[test]
fn the_keras_model_of_every_zoo_layer_predicts_what_keras_predicted() {
    let want = expected();
    let model = Model::load_keras(fixture("zoo_layers.h5")).unwrap();
    assert_eq!(
        model.count_params().unwrap(),
        want["params"].as_u64().unwrap() as usize
    );
    let x = tensor(&want["input"]);
    let got = model.predict(&x, 2).unwrap();
    let reference = tensor(&want["output"]);
    assert_eq!(got.shape, reference.shape);
    for (g, w) in got.data.iter().zip(&reference.data) {
        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs Keras {w}");
    }
    // The nested Sequential is inlined: its layers are the model's, with their weights.
    let names: Vec<&str> = model.layers().iter().filter_map(|l| l.name()).collect();
    assert!(names.contains(&"nested_conv") && names.contains(&"nested_ln"));
    assert!(!names.contains(&"nested"));
    // Kiln's .h5 of it reads back to the same config and bit-identical predictions.
    let dir = std::env::temp_dir().join(format!("kiln-zoo-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("again.h5");
    model.save_keras(&path).unwrap();
    let again = Model::load_keras(&path).unwrap();
    assert_eq!(again.to_config(), model.to_config());
    assert_eq!(again.predict(&x, 2).unwrap().data, got.data);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_tf_function_of_the_fixture_is_supported() {
    let supported = kiln::layers::supported_tf_functions();
    for f in expected()["tf_functions"].as_array().unwrap() {
        assert!(supported.contains(&f.as_str().unwrap()), "{f}");
    }
}

#[test]
fn configs_round_trip_and_params_count_like_keras() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Rescaling::new(1.0 / 255.0).offset(-1.0).named("r").into(),
        Normalization::new().named("n").into(),
        Normalization::new()
            .axes(None)
            .statistics(vec![1.0], vec![4.0])
            .invert(true)
            .named("n2")
            .into(),
        CustomScaleLayer::new(0.17).named("c").into(),
        LayerScale::new(1e-6, 8).named("s").into(),
        Conv2D::new(6, 3).groups(2).named("g").into(),
        Dropout::new(0.2)
            .noise_shape(vec![None, Some(1), Some(1), Some(1)])
            .named("d")
            .into(),
        tf_op("__operators__.add", json!({"y": 3.0, "name": null})).into(),
        tf_op(
            "math.reduce_mean",
            json!({"axis": [1, 2], "keepdims": true}),
        )
        .into(),
        tf_op("reshape", json!({"shape": [-1, 4, 2]})).into(),
        tf_op("concat", json!({"axis": -1})).into(),
    ];
    for layer in &layers {
        assert_config_round_trips(layer.as_ref());
    }
    let shape = [4, 4, 8].into();
    let count = |l: &dyn Layer| {
        l.params(&shape)
            .iter()
            .map(|p| p.shape.numel())
            .sum::<usize>()
    };
    // Keras: Normalization mean + variance + count; LayerScale gamma; grouped kernel + bias.
    assert_eq!(count(layers[1].as_ref()), 8 + 8 + 1);
    assert_eq!(count(layers[4].as_ref()), 8);
    assert_eq!(count(layers[5].as_ref()), 3 * 3 * 4 * 6 + 6);
    let summary = Sequential::of([
        Input::new([4, 4, 8]).into(),
        Conv2D::new(8, 3).groups(8).into(),
    ])
    .summary()
    .unwrap();
    assert!(summary.contains("Total params: 80"), "{summary}");
}

#[test]
fn gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    check_all(vec![
        case("rescaling", &[2, 3, 2], Rescaling::new(0.5).offset(-1.0), u),
        case("normalization", &[2, 3, 2], Normalization::new(), u),
        case("layer scale", &[2, 3, 4], LayerScale::new(0.5, 4), u),
        case("custom scale", &[2, 3, 4], CustomScaleLayer::new(0.17), u).and_input(&[2, 3, 4], u),
        case(
            "grouped conv",
            &[1, 4, 4, 4],
            Conv2D::new(6, 3).groups(2).padding(Padding::Same),
            u,
        ),
        case(
            "depthwise-grouped conv",
            &[1, 4, 4, 3],
            Conv2D::new(6, 3).groups(3),
            u,
        ),
        case(
            "tf multiply",
            &[2, 3, 4],
            tf_op("math.multiply", json!({})),
            u,
        )
        .and_input(&[2, 3, 4], u),
        case(
            "tf relu6",
            &[2, 3, 4],
            tf_op("nn.relu6", json!({})),
            Init::AwayFromZero,
        ),
        case("tf swish", &[2, 3, 4], tf_op("nn.silu", json!({})), u),
        case(
            "tf reduce_sum",
            &[2, 3, 4],
            tf_op("math.reduce_sum", json!({"axis": [1]})),
            u,
        ),
        case(
            "tf transpose",
            &[2, 3, 4],
            tf_op("transpose", json!({"perm": [0, 2, 1]})),
            u,
        ),
        case(
            "tf concat",
            &[2, 3, 4],
            tf_op("concat", json!({"axis": 1})),
            u,
        )
        .and_input(&[2, 2, 4], u),
    ]);
}

#[test]
fn unsupported_functions_and_options_are_errors_naming_them() {
    let e = error_of(TFOpLambda::new("math.erf"));
    assert!(e.contains("math.erf") && e.contains("math.multiply"), "{e}");
    let entry =
        json!({"class_name": "TFOpLambda", "config": {"name": "t", "function": "image.resize"}});
    let e = layer_from_json(&entry).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("image.resize"), "{e}");
    let bad_kwarg = TFOpLambda::new("math.reduce_mean")
        .unwrap()
        .with_call_kwargs(json!({"axis": 1, "wat": 2}).as_object().unwrap());
    assert!(error_of(bad_kwarg).contains("wat"));
    let batch = tf_op("math.reduce_sum", json!({"axis": 0}));
    assert!(error_of(batch.output_shape(&[3, 4].into())).contains("batch axis"));
    let groups = Conv2D::new(6, 3).groups(4);
    assert!(error_of(groups.output_shape(&[5, 5, 6].into())).contains("groups 4"));
    let rescale = json!({"class_name": "Rescaling", "config": {"name": "r", "scale": [1.0, 2.0]}});
    assert!(
        layer_from_json(&rescale)
            .map(|_| ())
            .unwrap_err()
            .to_string()
            .contains("scale")
    );
}
