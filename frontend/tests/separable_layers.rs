//! `DepthwiseConv2D` and `SeparableConv2D` through the compiled CPU backend: Keras parameter
//! counts, config round trips, `predict` against a plain-Rust reference (tolerance 1e-4),
//! and a tiny model with both layers that learns.

use ir::Tensor;
use kiln::layers::{layer_from_json, layer_to_json};
use kiln::losses::MeanSquaredError;
use kiln::metrics::Accuracy;
use kiln::optimizers::{Adam, SGD};
use kiln::prelude::*;

const TOLERANCE: f32 = 1e-4;

/// Deterministic values in [-1, 1).
fn tensor(dims: &[usize], seed: u32) -> Tensor {
    let n = dims.iter().product::<usize>();
    let data = (0..n)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect();
    Tensor::new(dims, data).unwrap()
}

/// `Input(input) → layer`, compiled with a zero learning rate.
fn single_layer_model(input: &[usize], layer: impl Layer + 'static) -> Sequential {
    let mut model = Sequential::of([Input::new(input).into(), layer.into()]);
    model
        .compile(
            SGD::default().learning_rate(0.0),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap();
    model
}

/// Plain depthwise convolution, stride `s`, `valid` padding, no dilation:
/// `y[n, oy, ox, c*m + mi] = Σ x[n, oy*s + ky, ox*s + kx, c] * w[ky, kx, c, mi]`.
fn depthwise_reference(x: &Tensor, w: &Tensor, s: usize) -> (Vec<f32>, [usize; 4]) {
    let [n, h, wd, c] = [
        x.shape.dims()[0],
        x.shape.dims()[1],
        x.shape.dims()[2],
        x.shape.dims()[3],
    ];
    let [kh, kw, _, m] = [
        w.shape.dims()[0],
        w.shape.dims()[1],
        w.shape.dims()[2],
        w.shape.dims()[3],
    ];
    let (oh, ow) = ((h - kh) / s + 1, (wd - kw) / s + 1);
    let mut y = vec![0.0; n * oh * ow * c * m];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ci in 0..c {
                    for mi in 0..m {
                        let mut acc = 0.0;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let xv =
                                    x.data[((b * h + oy * s + ky) * wd + ox * s + kx) * c + ci];
                                acc += xv * w.data[((ky * kw + kx) * c + ci) * m + mi];
                            }
                        }
                        y[((b * oh + oy) * ow + ox) * c * m + ci * m + mi] = acc;
                    }
                }
            }
        }
    }
    (y, [n, oh, ow, c * m])
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= TOLERANCE, "{what}[{i}]: got {g}, want {w}");
    }
}

#[test]
fn parameter_counts_follow_keras() {
    let mut model = sequential![
        Input::new([7, 7, 3]),
        DepthwiseConv2D::new(3).depth_multiplier(2),
        SeparableConv2D::new(4, [3, 2]),
        SeparableConv2D::new(5, 1)
            .depth_multiplier(3)
            .use_bias(false),
    ];
    model
        .compile(SGD::default(), MeanSquaredError, [] as [Accuracy; 0])
        .unwrap();
    // Depthwise: 3*3*3*2 + 6 = 60. Separable (6 in, mult 1): 3*2*6 + 6*4 + 4 = 64.
    // Separable (4 in, mult 3, no bias): 1*1*4*3 + 12*5 = 72.
    let summary = model.summary().unwrap();
    assert!(summary.contains("Total params: 196 "), "{summary}");
    assert_eq!(model.output_shape().unwrap().dims(), [3, 4, 5]);
    let weights = model.weights().unwrap();
    assert_eq!(
        weights["depthwise_conv2d/depthwise_kernel"].shape.dims(),
        [3, 3, 3, 2]
    );
    assert_eq!(weights["depthwise_conv2d/bias"].shape.dims(), [6]);
    assert_eq!(
        weights["separable_conv2d/depthwise_kernel"].shape.dims(),
        [3, 2, 6, 1]
    );
    assert_eq!(
        weights["separable_conv2d/pointwise_kernel"].shape.dims(),
        [1, 1, 6, 4]
    );
    assert_eq!(weights["separable_conv2d/bias"].shape.dims(), [4]);
}

#[test]
fn configs_round_trip() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(
            DepthwiseConv2D::new([3, 2])
                .strides(2)
                .padding(Padding::Same)
                .depth_multiplier(3)
                .activation(Activation::Relu)
                .depthwise_regularizer(Regularizer::L2(0.01))
                .named("dw"),
        ),
        Box::new(
            SeparableConv2D::new(8, 3)
                .dilation_rate(2)
                .use_bias(false)
                .pointwise_initializer(Initializer::Zeros)
                .named("sep"),
        ),
    ];
    for layer in layers {
        let json = layer_to_json(layer.as_ref());
        let rebuilt = layer_from_json(&json).unwrap();
        assert_eq!(layer_to_json(rebuilt.as_ref()), json);
    }
    let json = layer_to_json(&SeparableConv2D::new(8, 3).depth_multiplier(2).named("s"));
    let config = &json["config"];
    assert_eq!(
        (
            config["filters"].as_u64(),
            config["depth_multiplier"].as_u64()
        ),
        (Some(8), Some(2))
    );
    assert!(
        config["pointwise_initializer"].is_object() && config["depthwise_initializer"].is_object()
    );
    let mut bad = json.clone();
    bad["config"]["depthwise_constraint"] = serde_json::json!({"class_name": "NonNeg"});
    let err = layer_from_json(&bad)
        .expect_err("a constraint is unsupported")
        .to_string();
    assert!(err.contains("depthwise_constraint"), "{err}");
}

#[test]
fn depthwise_predict_matches_the_reference() {
    let bias = Initializer::RandomUniform {
        minval: -0.5,
        maxval: 0.5,
    };
    let layer = DepthwiseConv2D::new([3, 2])
        .strides(2)
        .depth_multiplier(2)
        .bias_initializer(bias);
    let mut model = single_layer_model(&[7, 6, 3], layer);
    let weights = model.weights().unwrap();
    let (kernel, b) = (
        &weights["depthwise_conv2d/depthwise_kernel"],
        &weights["depthwise_conv2d/bias"],
    );
    let x = tensor(&[2, 7, 6, 3], 5);
    let got = model.predict(&x, 2).unwrap();
    let (mut want, dims) = depthwise_reference(&x, kernel, 2);
    for (i, v) in want.iter_mut().enumerate() {
        *v += b.data[i % dims[3]];
    }
    assert_eq!(got.shape.dims(), dims);
    assert_close(&got.data, &want, "depthwise");
}

#[test]
fn separable_predict_matches_the_reference() {
    let bias = Initializer::RandomUniform {
        minval: -0.5,
        maxval: 0.5,
    };
    let layer = SeparableConv2D::new(4, 3)
        .depth_multiplier(2)
        .bias_initializer(bias)
        .activation(Activation::Relu);
    let mut model = single_layer_model(&[6, 5, 3], layer);
    let weights = model.weights().unwrap();
    let depthwise = &weights["separable_conv2d/depthwise_kernel"];
    let (pointwise, b) = (
        &weights["separable_conv2d/pointwise_kernel"],
        &weights["separable_conv2d/bias"],
    );
    let x = tensor(&[2, 6, 5, 3], 6);
    let got = model.predict(&x, 2).unwrap();
    let (mid, dims) = depthwise_reference(&x, depthwise, 1);
    let (cm, f) = (dims[3], 4);
    let want: Vec<f32> = (0..mid.len() / cm * f)
        .map(|i| {
            let (pixel, o) = (i / f, i % f);
            let sum: f32 = (0..cm)
                .map(|k| mid[pixel * cm + k] * pointwise.data[k * f + o])
                .sum();
            (sum + b.data[o]).max(0.0)
        })
        .collect();
    assert_eq!(got.shape.dims(), [2, 4, 3, 4]);
    assert_close(&got.data, &want, "separable");
}

#[test]
fn a_tiny_separable_model_learns() {
    // Targets: per-example mean of channel 0 minus mean of channel 1.
    let n = 32;
    let x = tensor(&[n, 6, 6, 2], 11);
    let y: Vec<f32> = (0..n)
        .map(|b| {
            let img = &x.data[b * 72..(b + 1) * 72];
            img.chunks(2).map(|p| p[0] - p[1]).sum::<f32>() / 36.0 * 4.0
        })
        .collect();
    let data = Dataset::new(x.data.clone(), &[n, 6, 6, 2], y, &[n, 1]).unwrap();
    let mut model = sequential![
        Input::new([6, 6, 2]),
        DepthwiseConv2D::new(3)
            .depth_multiplier(2)
            .padding(Padding::Same),
        SeparableConv2D::new(3, 3).activation(Activation::Relu),
        Flatten::new(),
        Dense::new(1),
    ]
    .with_seed(5);
    model
        .compile(
            Adam::default().learning_rate(0.01),
            MeanSquaredError,
            [] as [Accuracy; 0],
        )
        .unwrap();
    let history = model
        .fit_with(&data, FitOptions::new(30, 16).verbose(false))
        .unwrap();
    let loss = history.get("loss").unwrap();
    assert!(loss[29] < 0.3 * loss[0], "loss {loss:?}");
}
