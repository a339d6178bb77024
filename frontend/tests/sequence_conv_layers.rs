//! The 1-D layers (`Conv1D`, `Conv1DTranspose`, `MaxPooling1D`, `AveragePooling1D`,
//! `GlobalAveragePooling1D`, `GlobalMaxPooling1D`, `ZeroPadding1D`, `Cropping1D`,
//! `UpSampling1D`): finite-difference gradients, values against tf-keras 2.21
//! (`fixtures/keras/conv1d/`), hand-checked causal padding, config round trips, errors, and
//! CPU≡GPU training.

mod devices;
mod gradcheck;
mod layer_reference;

use gradcheck::{Init, case, check_all};
use kiln::layers::{Layer, layer_from_config};
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use layer_reference::{
    DeviceCase, assert_config_round_trips, assert_keras_fields_kept, assert_matches,
    check_keras_case, data, error_of, reference, set_weights_in_order, tensor,
};
use std::collections::BTreeMap;

const U: Init = Init::Uniform(-1.0, 1.0);

#[test]
fn conv1d_gradients_match_finite_differences() {
    check_all(vec![
        case("conv1d valid", &[2, 6, 2], Conv1D::new(3, 3), U),
        case(
            "conv1d causal dilated",
            &[2, 6, 2],
            Conv1D::new(2, 2)
                .padding(Padding1D::Causal)
                .dilation_rate(2),
            U,
        ),
        case(
            "conv1d same stride 2 no bias",
            &[1, 7, 2],
            Conv1D::new(2, 3)
                .strides(2)
                .padding(Padding1D::Same)
                .use_bias(false),
            U,
        ),
        case(
            "conv1d tanh",
            &[2, 5, 1],
            Conv1D::new(2, 2).activation(Activation::Tanh),
            U,
        ),
        case(
            "conv1d_transpose same stride 2",
            &[2, 3, 2],
            Conv1DTranspose::new(2, 3).strides(2).padding(Padding::Same),
            U,
        ),
        case(
            "conv1d_transpose valid output_padding",
            &[1, 3, 2],
            Conv1DTranspose::new(2, 3).strides(2).output_padding(1),
            U,
        ),
    ]);
}

#[test]
fn pooling_padding_and_resampling_1d_gradients_match_finite_differences() {
    check_all(vec![
        case(
            "max_pooling1d",
            &[2, 6, 2],
            MaxPooling1D::new(2),
            Init::Spaced,
        ),
        case(
            "max_pooling1d same stride 1",
            &[1, 5, 2],
            MaxPooling1D::new(3).strides(1).padding(Padding::Same),
            Init::Spaced,
        ),
        case(
            "average_pooling1d same",
            &[2, 5, 2],
            AveragePooling1D::new(2).padding(Padding::Same),
            U,
        ),
        case(
            "global_average_pooling1d",
            &[2, 4, 3],
            GlobalAveragePooling1D::new(),
            U,
        ),
        case(
            "global_max_pooling1d keepdims",
            &[2, 4, 3],
            GlobalMaxPooling1D::new().keepdims(true),
            Init::Spaced,
        ),
        case(
            "zero_padding1d",
            &[2, 3, 2],
            ZeroPadding1D::explicit([1, 2]),
            U,
        ),
        case("cropping1d", &[2, 6, 2], Cropping1D::explicit([2, 1]), U),
        case("up_sampling1d", &[2, 3, 2], UpSampling1D::new(3), U),
    ]);
}

#[test]
fn one_d_layers_match_keras() {
    for name in [
        "conv1d valid",
        "conv1d causal dilated",
        "conv1d same stride 2 relu",
        "max_pooling1d",
        "max_pooling1d same stride 1",
        "average_pooling1d same",
        "global_average_pooling1d",
        "global_max_pooling1d keepdims",
        "zero_padding1d",
        "cropping1d",
        "up_sampling1d",
        "conv1d_transpose same stride 2",
        "conv1d_transpose valid output_padding",
    ] {
        check_keras_case(name);
    }
}

/// The seq_gru_conv1d fixture's front end (Conv1D → MaxPooling1D → GlobalAveragePooling1D)
/// from Keras' own model config.
#[test]
fn conv_pool_gap_model_matches_keras() {
    let case = &reference()["conv_pool_gap_model"];
    let mut model = Model::from_config(&case["model_config"]).unwrap();
    let conv = case["model_config"]["config"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["class_name"] == "Conv1D")
        .unwrap();
    let conv_name = conv["config"]["name"].as_str().unwrap();
    set_weights_in_order(&mut model, conv_name, &case["weights"]);
    let x = tensor(&case["input"]);
    let got = model.predict(&x, 2).unwrap();
    assert_matches("conv_pool_gap", &got, &tensor(&case["output"]));
}

/// `causal`: output `t` sees inputs `t - d·(k-1) ..= t`, zeros before the start.
#[test]
fn causal_padding_by_hand() {
    let conv = Conv1D::new(1, 2)
        .padding(Padding1D::Causal)
        .dilation_rate(2)
        .use_bias(false)
        .named("c");
    assert_eq!(
        conv.output_shape(&Shape::from([4, 1])).unwrap(),
        Shape::from([4, 1])
    );
    let mut model = sequential![Input::new([4, 1]), conv];
    let kernel = Tensor::new([2, 1, 1], vec![1.0, 10.0]).unwrap();
    model
        .set_weights(&BTreeMap::from([("c/kernel".to_string(), kernel)]))
        .unwrap();
    let x = Tensor::new([1, 4, 1], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    // y_t = 1·x_{t-2} + 10·x_t
    let y = model.predict(&x, 1).unwrap();
    assert_eq!(y.data, vec![10.0, 20.0, 31.0, 42.0]);
}

#[test]
fn kernels_keep_keras_one_d_layout() {
    let conv = Conv1D::new(16, 3);
    let params = conv.params(&Shape::from([12, 4]));
    assert_eq!(params[0].shape, Shape::from([3, 4, 16]));
    assert_eq!(params[1].shape, Shape::from([16]));
    let up = Conv1DTranspose::new(5, 3);
    assert_eq!(
        up.params(&Shape::from([4, 2]))[0].shape,
        Shape::from([3, 5, 2])
    );
}

#[test]
fn one_d_configs_round_trip() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(
            Conv1D::new(4, 3)
                .padding(Padding1D::Causal)
                .dilation_rate(2)
                .activation(Activation::Relu)
                .named("c"),
        ),
        Box::new(
            Conv1D::new(4, 2)
                .strides(2)
                .padding(Padding1D::Same)
                .named("s"),
        ),
        Box::new(
            Conv1DTranspose::new(2, 3)
                .strides(2)
                .output_padding(1)
                .named("t"),
        ),
        Box::new(MaxPooling1D::new(3).strides(1).named("m")),
        Box::new(
            AveragePooling1D::default()
                .padding(Padding::Same)
                .named("a"),
        ),
        Box::new(GlobalAveragePooling1D::new().keepdims(true).named("g")),
        Box::new(GlobalMaxPooling1D::new().named("h")),
        Box::new(ZeroPadding1D::explicit([1, 2]).named("z")),
        Box::new(Cropping1D::default().named("k")),
        Box::new(UpSampling1D::new(3).named("u")),
    ];
    for layer in &layers {
        assert_config_round_trips(layer.as_ref());
    }
    let c = layers[0].config();
    assert_eq!(c["padding"], "causal");
    assert_eq!(c["kernel_size"], serde_json::json!([3]));
    assert_eq!(c["dilation_rate"], serde_json::json!([2]));
    assert_eq!(layers[2].config()["output_padding"], serde_json::json!([1]));
    assert_eq!(layers[7].config()["padding"], serde_json::json!([1, 2]));
    assert_eq!(layers[8].config()["cropping"], serde_json::json!([1, 1]));
    assert_eq!(layers[9].config()["size"], serde_json::json!(3));
    assert!(layers[9].config().get("interpolation").is_none());
}

#[test]
fn keras_one_d_configs_are_written_back_as_keras_wrote_them() {
    let window = [
        "kernel_size",
        "strides",
        "padding",
        "dilation_rate",
        "groups",
    ];
    assert_keras_fields_kept("conv1d causal dilated", &window);
    assert_keras_fields_kept("conv1d same stride 2 relu", &window);
    assert_keras_fields_kept("conv1d_transpose valid output_padding", &["output_padding"]);
    assert_keras_fields_kept("conv1d_transpose same stride 2", &["output_padding"]);
    assert_keras_fields_kept("max_pooling1d", &["pool_size", "strides", "padding"]);
    assert_keras_fields_kept("global_max_pooling1d keepdims", &["keepdims"]);
    assert_keras_fields_kept("zero_padding1d", &["padding"]);
    assert_keras_fields_kept("cropping1d", &["cropping"]);
    assert_keras_fields_kept("up_sampling1d", &["size"]);
}

#[test]
fn bad_one_d_options_are_errors_naming_layer_and_option() {
    let conv = |extra: serde_json::Value| {
        let mut config = serde_json::json!({"name": "c1", "filters": 2, "kernel_size": 3});
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        layer_from_config("Conv1D", &config)
    };
    let e = error_of(conv(serde_json::json!({"groups": 2})));
    assert!(
        e.contains("c1") && e.contains("Conv1D") && e.contains("groups"),
        "{e}"
    );
    let e = error_of(conv(serde_json::json!({"kernel_size": [3, 3]})));
    assert!(e.contains("Conv1D") && e.contains("kernel_size"), "{e}");
    let e = error_of(conv(serde_json::json!({"padding": "full"})));
    assert!(e.contains("Conv1D") && e.contains("padding"), "{e}");
    let e = error_of(layer_from_config(
        "MaxPooling1D",
        &serde_json::json!({"name": "p", "padding": "causal"}),
    ));
    assert!(e.contains("MaxPooling1D") && e.contains("padding"), "{e}");
    let e = error_of(
        Conv1D::new(2, 3)
            .named("c")
            .output_shape(&Shape::from([4, 4, 2])),
    );
    assert!(
        e.contains("c (Conv1D)") && e.contains("(None, 4, 4, 2)"),
        "{e}"
    );
    let e = error_of(
        Conv1D::new(2, 5)
            .named("c")
            .output_shape(&Shape::from([3, 2])),
    );
    assert!(
        e.contains("c (Conv1D)") && e.contains("does not fit"),
        "{e}"
    );
    let e = error_of(
        Conv1D::new(2, 3)
            .strides(2)
            .dilation_rate(2)
            .output_shape(&Shape::from([9, 2])),
    );
    assert!(e.contains("Conv1D") && e.contains("dilation_rate"), "{e}");
    let e = error_of(
        Conv1DTranspose::new(2, 3)
            .strides(2)
            .output_padding(2)
            .output_shape(&Shape::from([4, 2])),
    );
    assert!(
        e.contains("Conv1DTranspose") && e.contains("output_padding"),
        "{e}"
    );
    let e = error_of(Cropping1D::new(3).output_shape(&Shape::from([6, 2])));
    assert!(e.contains("Cropping1D") && e.contains("cropping"), "{e}");
    let e = error_of(GlobalAveragePooling1D::new().output_shape(&Shape::from([6])));
    assert!(
        e.contains("GlobalAveragePooling1D") && e.contains("steps"),
        "{e}"
    );
}

#[test]
fn one_d_layers_train_the_same_on_cpu_and_gpu() {
    let builds: Vec<DeviceCase> = vec![
        ("conv1d causal", &[6, 2], || {
            sequential![
                Input::new([6, 2]),
                Conv1D::new(3, 2)
                    .padding(Padding1D::Causal)
                    .dilation_rate(2),
                Flatten::new(),
                Dense::new(2),
            ]
        }),
        ("conv1d same stride 2 + max pool", &[8, 2], || {
            sequential![
                Input::new([8, 2]),
                Conv1D::new(3, 3).strides(2).padding(Padding1D::Same),
                MaxPooling1D::new(2),
                Flatten::new(),
                Dense::new(2),
            ]
        }),
        ("avg pool + global max", &[7, 3], || {
            sequential![
                Input::new([7, 3]),
                AveragePooling1D::new(2).padding(Padding::Same),
                Conv1D::new(3, 2),
                GlobalMaxPooling1D::new(),
                Dense::new(2),
            ]
        }),
        (
            "padding, cropping, up-sampling, global average",
            &[5, 2],
            || {
                sequential![
                    Input::new([5, 2]),
                    ZeroPadding1D::explicit([1, 2]),
                    Cropping1D::explicit([2, 0]),
                    UpSampling1D::new(2),
                    Conv1D::new(3, 3),
                    GlobalAveragePooling1D::new(),
                    Dense::new(2),
                ]
            },
        ),
        ("conv1d transpose", &[4, 2], || {
            sequential![
                Input::new([4, 2]),
                Conv1DTranspose::new(3, 3).strides(2).output_padding(1),
                Flatten::new(),
                Dense::new(2),
            ]
        }),
    ];
    for (name, shape, build) in builds {
        devices::assert_training_matches(name, &build, &data(shape, 2));
    }
}
