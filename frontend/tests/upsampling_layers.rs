//! `Conv2DTranspose`, `UpSampling2D` (nearest and bilinear), `Cropping2D` and `PReLU`:
//! finite-difference gradients, values against tf-keras 2.21 (`fixtures/keras/conv1d/`),
//! hand-checked transposed-convolution sizes and values, config round trips, errors, and
//! CPU≡GPU training.

mod devices;
mod gradcheck;
mod layer_reference;

use std::collections::BTreeMap;

use gradcheck::{Init, case, check_all};
use kiln::layers::{Layer, layer_from_config};
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use layer_reference::{
    DeviceCase, assert_config_round_trips, assert_keras_fields_kept, check_keras_case, data,
    error_of,
};

const U: Init = Init::Uniform(-1.0, 1.0);

#[test]
fn conv2d_transpose_gradients_match_finite_differences() {
    check_all(vec![
        case(
            "valid stride 2",
            &[2, 3, 2, 2],
            Conv2DTranspose::new(2, 3).strides(2),
            U,
        ),
        case(
            "same stride (2, 3) relu",
            &[1, 3, 3, 2],
            Conv2DTranspose::new(3, [3, 2])
                .strides([2, 3])
                .padding(Padding::Same)
                .activation(Activation::Tanh),
            U,
        ),
        case(
            "same output_padding no bias",
            &[2, 3, 3, 1],
            Conv2DTranspose::new(2, 3)
                .strides(2)
                .padding(Padding::Same)
                .output_padding([0, 1])
                .use_bias(false),
            U,
        ),
        case(
            "dilated",
            &[1, 3, 3, 2],
            Conv2DTranspose::new(2, 2).dilation_rate(2),
            U,
        ),
    ]);
}

#[test]
fn upsampling_cropping_and_prelu_gradients_match_finite_differences() {
    check_all(vec![
        case("nearest", &[2, 2, 3, 2], UpSampling2D::new([2, 3]), U),
        case(
            "bilinear",
            &[2, 3, 2, 2],
            UpSampling2D::new([2, 3]).interpolation(Interpolation::Bilinear),
            U,
        ),
        case(
            "cropping2d",
            &[2, 4, 5, 2],
            Cropping2D::explicit([[1, 0], [0, 2]]),
            U,
        ),
        case(
            "prelu",
            &[2, 3, 2],
            PReLU::new().alpha_initializer(Initializer::Constant(0.3)),
            Init::AwayFromZero,
        ),
        case(
            "prelu shared_axes",
            &[2, 2, 3, 2],
            PReLU::new()
                .shared_axes([1, 2])
                .alpha_initializer(Initializer::Constant(-0.2)),
            Init::AwayFromZero,
        ),
    ]);
}

#[test]
fn two_d_layers_match_keras() {
    for name in [
        "conv2d_transpose valid stride 2",
        "conv2d_transpose same stride 2 odd kernel",
        "conv2d_transpose output_padding",
        "conv2d_transpose dilated",
        "up_sampling2d nearest",
        "up_sampling2d bilinear",
        "up_sampling2d bilinear 4",
        "cropping2d",
        "prelu",
        "prelu shared_axes",
    ] {
        check_keras_case(name);
    }
}

/// Keras' `deconv_output_length` on the shapes the decoder fixture and the cases use.
#[test]
fn conv2d_transpose_output_sizes() {
    let out = |layer: Conv2DTranspose, h: usize, w: usize| {
        layer.output_shape(&Shape::from([h, w, 3])).unwrap().dims()[..2].to_vec()
    };
    assert_eq!(
        out(
            Conv2DTranspose::new(8, 3).strides(2).padding(Padding::Same),
            8,
            8
        ),
        [16, 16]
    );
    assert_eq!(out(Conv2DTranspose::new(8, 3).strides(2), 3, 4), [7, 9]);
    assert_eq!(out(Conv2DTranspose::new(8, 1).strides(3), 2, 2), [6, 6]);
    assert_eq!(
        out(
            Conv2DTranspose::new(8, 3).strides(2).output_padding(1),
            3,
            3
        ),
        [8, 8]
    );
    assert_eq!(
        out(
            Conv2DTranspose::new(8, 3)
                .strides(2)
                .padding(Padding::Same)
                .output_padding([0, 1]),
            3,
            3
        ),
        [5, 6]
    );
    assert_eq!(
        out(Conv2DTranspose::new(8, 2).dilation_rate(2), 3, 3),
        [5, 5]
    );
}

/// A 1×1 input through a stride-2 transposed convolution places the kernel (scaled) in the
/// output; two inputs overlap where their windows do.
#[test]
fn conv2d_transpose_values_by_hand() {
    let layer = Conv2DTranspose::new(1, [1, 3])
        .strides([1, 2])
        .use_bias(false)
        .named("t");
    let mut model = sequential![Input::new([1, 2, 1]), layer];
    let kernel = Tensor::new([1, 3, 1, 1], vec![1.0, 2.0, 3.0]).unwrap();
    model
        .set_weights(&BTreeMap::from([("t/kernel".to_string(), kernel)]))
        .unwrap();
    let x = Tensor::new([1, 1, 2, 1], vec![1.0, 10.0]).unwrap();
    // out[2i + j] += x[i] · k[j]: [1, 2, 3 + 10, 20, 30]
    let y = model.predict(&x, 1).unwrap();
    assert_eq!(y.shape, Shape::from([1, 1, 5, 1]));
    assert_eq!(y.data, vec![1.0, 2.0, 13.0, 20.0, 30.0]);
}

#[test]
fn two_d_configs_round_trip() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(
            Conv2DTranspose::new(4, [3, 2])
                .strides(2)
                .padding(Padding::Same)
                .output_padding([1, 0])
                .activation(Activation::Relu)
                .named("t"),
        ),
        Box::new(Conv2DTranspose::new(4, 3).named("t2")),
        Box::new(UpSampling2D::new([2, 3]).named("u")),
        Box::new(
            UpSampling2D::default()
                .interpolation(Interpolation::Bilinear)
                .named("b"),
        ),
        Box::new(Cropping2D::explicit([[1, 2], [3, 4]]).named("c")),
        Box::new(PReLU::new().named("p")),
        Box::new(
            PReLU::new()
                .shared_axes([1, 2])
                .alpha_initializer(Initializer::Constant(0.25))
                .named("q"),
        ),
    ];
    for layer in &layers {
        assert_config_round_trips(layer.as_ref());
    }
    assert_eq!(
        layers[1].config()["output_padding"],
        serde_json::Value::Null
    );
    assert_eq!(layers[5].config()["shared_axes"], serde_json::Value::Null);
}

#[test]
fn keras_two_d_configs_are_written_back_as_keras_wrote_them() {
    let fields = [
        "kernel_size",
        "strides",
        "padding",
        "dilation_rate",
        "output_padding",
    ];
    for case in [
        "conv2d_transpose valid stride 2",
        "conv2d_transpose output_padding",
        "conv2d_transpose dilated",
    ] {
        assert_keras_fields_kept(case, &fields);
    }
    assert_keras_fields_kept("up_sampling2d bilinear", &["size", "interpolation"]);
    assert_keras_fields_kept("cropping2d", &["cropping"]);
    assert_keras_fields_kept("prelu shared_axes", &["shared_axes", "alpha_constraint"]);
}

#[test]
fn bad_two_d_options_are_errors_naming_layer_and_option() {
    let e = error_of(layer_from_config(
        "UpSampling2D",
        &serde_json::json!({"name": "u", "interpolation": "bicubic"}),
    ));
    assert!(
        e.contains("UpSampling2D") && e.contains("interpolation"),
        "{e}"
    );
    let e = error_of(layer_from_config(
        "Conv2DTranspose",
        &serde_json::json!({"name": "t", "filters": 2, "kernel_size": 3, "groups": 2}),
    ));
    assert!(e.contains("Conv2DTranspose") && e.contains("groups"), "{e}");
    let e = error_of(layer_from_config(
        "PReLU",
        &serde_json::json!({"name": "p", "alpha_constraint": {"class_name": "NonNeg", "config": {}}}),
    ));
    assert!(e.contains("PReLU") && e.contains("alpha_constraint"), "{e}");
    let e = error_of(
        Conv2DTranspose::new(2, 3)
            .strides(2)
            .output_padding(2)
            .named("t")
            .output_shape(&Shape::from([3, 3, 1])),
    );
    assert!(
        e.contains("t (Conv2DTranspose)") && e.contains("output_padding"),
        "{e}"
    );
    let e = error_of(
        Conv2DTranspose::new(2, 2)
            .strides(2)
            .padding(Padding::Same)
            .output_padding(0)
            .output_shape(&Shape::from([3, 3, 1])),
    );
    assert!(
        e.contains("Conv2DTranspose") && e.contains("does not give"),
        "{e}"
    );
    let e = error_of(Cropping2D::new(2).output_shape(&Shape::from([4, 5, 1])));
    assert!(e.contains("Cropping2D") && e.contains("cropping"), "{e}");
    let e = error_of(
        PReLU::new()
            .shared_axes([3])
            .output_shape(&Shape::from([4, 5])),
    );
    assert!(e.contains("PReLU") && e.contains("shared_axes"), "{e}");
    let e = error_of(UpSampling2D::new(2).output_shape(&Shape::from([4, 5])));
    assert!(e.contains("UpSampling2D"), "{e}");
}

#[test]
fn two_d_layers_train_the_same_on_cpu_and_gpu() {
    let builds: Vec<DeviceCase> = vec![
        ("decoder", &[3, 3, 2], || {
            sequential![
                Input::new([3, 3, 2]),
                Conv2DTranspose::new(3, 3)
                    .strides(2)
                    .padding(Padding::Same)
                    .activation(Activation::Relu),
                UpSampling2D::new(2),
                Cropping2D::explicit([[1, 1], [2, 2]]),
                Conv2D::new(2, 3),
                PReLU::new().alpha_initializer(Initializer::Constant(0.2)),
                Flatten::new(),
                Dense::new(2),
            ]
        }),
        (
            "transpose valid output_padding + bilinear",
            &[3, 2, 2],
            || {
                sequential![
                    Input::new([3, 2, 2]),
                    Conv2DTranspose::new(2, 3).strides(2).output_padding([1, 0]),
                    UpSampling2D::new([2, 3]).interpolation(Interpolation::Bilinear),
                    PReLU::new().shared_axes([1, 2]),
                    Flatten::new(),
                    Dense::new(2),
                ]
            },
        ),
        ("dilated transpose", &[3, 3, 1], || {
            sequential![
                Input::new([3, 3, 1]),
                Conv2DTranspose::new(2, 2).dilation_rate(2),
                Flatten::new(),
                Dense::new(2),
            ]
        }),
    ];
    for (name, shape, build) in builds {
        devices::assert_training_matches(name, &build, &data(shape, 2));
    }
}
