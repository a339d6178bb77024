//! Layer-level gradient checks of the image and dense layers (the harness is in
//! `gradcheck/`), and a hand-computed Conv2D `same`-padding case through the compiled model.

mod gradcheck;

use gradcheck::{Init, case, check_all};
use ir::Tensor;
use kiln::losses::MeanSquaredError;
use kiln::metrics::Accuracy;
use kiln::optimizers::SGD;
use kiln::prelude::*;

#[test]
fn conv2d_gradients_match_finite_differences() {
    use Init::Uniform;
    let u = Uniform(-1.0, 1.0);
    check_all(vec![
        case(
            "conv same stride 2 odd size",
            &[2, 5, 5, 2],
            Conv2D::new(3, 3).strides(2).padding(Padding::Same),
            u,
        ),
        case(
            "conv same stride 2 even size",
            &[1, 6, 6, 2],
            Conv2D::new(2, 3).strides(2).padding(Padding::Same),
            u,
        ),
        case(
            "conv dilation 2",
            &[2, 7, 7, 2],
            Conv2D::new(2, 3).dilation_rate(2),
            u,
        ),
        case(
            "conv valid no bias",
            &[2, 5, 6, 2],
            Conv2D::new(3, [2, 3]).use_bias(false),
            u,
        ),
        case(
            "conv same tanh",
            &[2, 4, 4, 2],
            Conv2D::new(2, 3)
                .padding(Padding::Same)
                .activation(Activation::Tanh),
            u,
        ),
        case(
            "conv valid relu",
            &[2, 5, 5, 1],
            Conv2D::new(2, 2).activation(Activation::Relu),
            u,
        ),
    ]);
}

#[test]
fn depthwise_and_separable_gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    check_all(vec![
        case(
            "depthwise multiplier 2",
            &[2, 5, 5, 2],
            DepthwiseConv2D::new(3).depth_multiplier(2),
            u,
        ),
        case(
            "depthwise same stride 2 no bias",
            &[1, 5, 5, 3],
            DepthwiseConv2D::new(3)
                .strides(2)
                .padding(Padding::Same)
                .use_bias(false),
            u,
        ),
        case("separable", &[2, 5, 5, 2], SeparableConv2D::new(3, 3), u),
        case(
            "separable same multiplier 2 tanh",
            &[1, 6, 6, 2],
            SeparableConv2D::new(2, 3)
                .padding(Padding::Same)
                .depth_multiplier(2)
                .activation(Activation::Tanh),
            u,
        ),
    ]);
}

#[test]
fn pooling_gradients_match_finite_differences() {
    use Init::{Spaced, Uniform};
    let u = Uniform(-1.0, 1.0);
    check_all(vec![
        case("max 2x2", &[2, 4, 6, 2], MaxPool2D::new(2), Spaced),
        case(
            "max 3 stride 2 same",
            &[1, 7, 7, 2],
            MaxPool2D::new(3).strides(2).padding(Padding::Same),
            Spaced,
        ),
        case(
            "max 2 stride 1 valid",
            &[1, 5, 5, 2],
            MaxPool2D::new(2).strides(1),
            Spaced,
        ),
        case("average 2x2", &[2, 4, 4, 2], AvgPool2D::new(2), u),
        case(
            "average 3 stride 2 same",
            &[1, 6, 5, 2],
            AvgPool2D::new(3).strides(2).padding(Padding::Same),
            u,
        ),
        case(
            "average 3x2 stride 1 valid",
            &[1, 5, 5, 1],
            AvgPool2D::new([3, 2]).strides(1),
            u,
        ),
        case(
            "global average",
            &[2, 3, 4, 3],
            GlobalAveragePooling2D::new(),
            u,
        ),
        case(
            "global max keepdims",
            &[2, 3, 4, 3],
            GlobalMaxPooling2D::new().keepdims(true),
            Spaced,
        ),
    ]);
}

#[test]
fn batch_normalization_and_dropout_gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    check_all(vec![
        case(
            "batchnorm training",
            &[4, 3, 3, 2],
            BatchNormalization::new(),
            u,
        ),
        case(
            "batchnorm training axis 1 no scale",
            &[3, 4, 2],
            BatchNormalization::new().axis(1).scale(false),
            u,
        ),
        case(
            "batchnorm inference",
            &[2, 3, 3, 2],
            BatchNormalization::new(),
            u,
        )
        .inference(),
        case("dropout training", &[2, 4, 4, 2], Dropout::new(0.4), u),
        case("dropout inference", &[2, 6], Dropout::new(0.4), u).inference(),
    ]);
}

#[test]
fn activation_layer_gradients_match_finite_differences() {
    use Init::{AwayFromZero, Fractional, Uniform};
    let u = Uniform(-2.0, 2.0);
    check_all(vec![
        case("relu", &[2, 3, 4], ReLU::new(), AwayFromZero),
        case(
            "relu capped with slope and threshold",
            &[2, 3, 4],
            ReLU::new()
                .max_value(2.0)
                .negative_slope(0.1)
                .threshold(1.0),
            Fractional,
        ),
        case("leaky relu", &[2, 3, 4], LeakyReLU::new(0.3), AwayFromZero),
        case("elu alpha 1", &[2, 3, 4], ELU::new(1.0), u),
        case("elu alpha 0.5", &[2, 3, 4], ELU::new(0.5), AwayFromZero),
        case("softmax last axis", &[2, 3, 4], Softmax::new(-1), u),
        case("softmax axis 1", &[2, 3, 4], Softmax::new(1), u),
        case(
            "activation tanh",
            &[2, 5],
            ActivationLayer::new(Activation::Tanh),
            u,
        ),
        case(
            "activation softmax",
            &[2, 5],
            ActivationLayer::new(Activation::Softmax),
            u,
        ),
        case(
            "activation swish",
            &[2, 5],
            ActivationLayer::new(Activation::Swish),
            u,
        ),
        case(
            "activation relu6",
            &[2, 5],
            ActivationLayer::new(Activation::Relu6),
            Fractional,
        ),
    ]);
}

#[test]
fn dense_and_shape_layer_gradients_match_finite_differences() {
    let u = Init::Uniform(-1.0, 1.0);
    check_all(vec![
        case("dense", &[3, 4], Dense::new(3), u),
        case(
            "dense tanh no bias",
            &[2, 5],
            Dense::new(2).activation(Activation::Tanh).use_bias(false),
            u,
        ),
        case("flatten", &[2, 3, 2, 2], Flatten::new(), u),
        case("reshape", &[2, 3, 4], Reshape::new([2, -1]), u),
        case(
            "zero padding asymmetric",
            &[2, 3, 2, 2],
            ZeroPadding2D::explicit([[1, 2], [0, 3]]),
            u,
        ),
        case(
            "zero padding symmetric",
            &[1, 2, 3, 1],
            ZeroPadding2D::new(1),
            u,
        ),
    ]);
}

/// Conv2D with a 3x3 kernel of ones, no bias, stride 2 and `same` padding, compiled and run
/// by `predict` on a `size`x`size` ramp `1, 2, ...`; returns the output rows.
fn ones_conv_same_stride_2(size: usize) -> Vec<f32> {
    let mut model = Sequential::of([
        Input::new([size, size, 1]).into(),
        Conv2D::new(1, 3)
            .strides(2)
            .padding(Padding::Same)
            .kernel_initializer(Initializer::Ones)
            .use_bias(false)
            .into(),
    ]);
    model
        .compile(
            SGD::default().learning_rate(0.0),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap();
    let ramp: Vec<f32> = (1..=size * size).map(|v| v as f32).collect();
    let x = Tensor::new([1, size, size, 1], ramp).unwrap();
    let y = model.predict(&x, 1).unwrap();
    assert_eq!(y.shape.dims(), [1, 3, 3, 1]);
    y.data
}

#[test]
fn conv_same_padding_at_stride_two_matches_hand_computed_sums() {
    // 5x5: out = ceil(5 / 2) = 3, pad_total = max((3 - 1) * 2 + 3 - 5, 0) = 2, so one row
    // and column on each side: output (0, 0) sums rows/columns 0..=1, 1 + 2 + 6 + 7 = 16
    // (with no top/left padding it would be the 3x3 block 1..=13, 63).
    #[rustfmt::skip]
    let five = [
        16.0, 33.0, 28.0,
        69.0, 117.0, 87.0,
        76.0, 123.0, 88.0,
    ];
    assert_eq!(ones_conv_same_stride_2(5), five);
    // 6x6: pad_total = max(4 + 3 - 6, 0) = 1, all at the bottom/right: output (0, 0) is the
    // 3x3 block 1+2+3 + 7+8+9 + 13+14+15 = 72, output (2, 2) is 29 + 30 + 35 + 36 = 130.
    #[rustfmt::skip]
    let six = [
        72.0, 90.0, 69.0,
        180.0, 198.0, 141.0,
        174.0, 186.0, 130.0,
    ];
    assert_eq!(ones_conv_same_stride_2(6), six);
}
