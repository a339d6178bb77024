//! The convolutional-network layers through the compiled CPU backend: each layer's `predict`
//! output against a plain-Rust reference on tiny inputs (tolerance 1e-4 unless stated),
//! Dropout's masks, BatchNormalization's batch and moving statistics, the Keras summary of
//! the fixture CNN, a small CNN that learns, and model-definition errors.

use std::collections::HashMap;

use ir::{Graph, Tensor};
use kiln::layers::{LayerContext, Size2D};
use kiln::losses::{MeanSquaredError, SoftmaxCrossEntropyWithLogits};
use kiln::metrics::Accuracy;
use kiln::optimizers::{Adam, ITERATIONS, SGD};
use kiln::prelude::*;

/// Keras' own `model.summary()` of the fixture CNN (copied from the shared Keras fixtures).
const KERAS_CNN_SUMMARY: &str = include_str!("data/keras/cnn_summary.txt");
const TOLERANCE: f32 = 1e-4;

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| 2.0 * ir::random::uniform(seed, i as u32) - 1.0)
        .collect()
}

fn tensor(dims: &[usize], seed: u32) -> Tensor {
    Tensor::new(dims, values(dims.iter().product(), seed)).unwrap()
}

/// `Input(input) → layer`, compiled (SGD with learning rate 0, MSE); returns the model.
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

fn assert_close(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance,
            "{what}[{i}]: got {g}, want {w} (tolerance {tolerance})"
        );
    }
}

/// NHWC indexing.
fn at(dims: &[usize], n: usize, y: usize, x: usize, c: usize) -> usize {
    ((n * dims[1] + y) * dims[2] + x) * dims[3] + c
}

/// TensorFlow's padding before a windowed axis and the output size.
fn tf_axis(input: usize, window: usize, stride: usize, same: bool) -> (usize, usize) {
    if same {
        let out = input.div_ceil(stride);
        let total = ((out - 1) * stride + window).saturating_sub(input);
        (total / 2, out)
    } else {
        (0, (input - window) / stride + 1)
    }
}

/// The in-bounds taps of one output position: `(tap_y, tap_x, in_y, in_x)`.
type Taps = Vec<(usize, usize, usize, usize)>;

/// One pooling case: the layer, its reference window, max (else average), output shape.
type PoolCase = (Box<dyn Layer>, Window, bool, [usize; 3]);

struct Window {
    size: [usize; 2],
    strides: [usize; 2],
    dilation: [usize; 2],
    same: bool,
}

impl Window {
    /// Output dims and, per output position, the in-bounds input positions of its taps.
    fn taps(&self, h: usize, w: usize) -> (usize, usize, impl Fn(usize, usize) -> Taps) {
        let extent = |a: usize| (self.size[a] - 1) * self.dilation[a] + 1;
        let (pad_h, oh) = tf_axis(h, extent(0), self.strides[0], self.same);
        let (pad_w, ow) = tf_axis(w, extent(1), self.strides[1], self.same);
        let (size, strides, dilation) = (self.size, self.strides, self.dilation);
        let taps = move |oy: usize, ox: usize| {
            let mut out = Vec::new();
            for ky in 0..size[0] {
                for kx in 0..size[1] {
                    let iy = (oy * strides[0] + ky * dilation[0]) as isize - pad_h as isize;
                    let ix = (ox * strides[1] + kx * dilation[1]) as isize - pad_w as isize;
                    if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                        out.push((ky, kx, iy as usize, ix as usize));
                    }
                }
            }
            out
        };
        (oh, ow, taps)
    }
}

/// Plain-Rust convolution (NHWC, HWIO kernel, TF padding) plus bias.
fn conv_reference(x: &Tensor, kernel: &Tensor, bias: &[f32], window: &Window) -> Vec<f32> {
    let d = x.shape.dims();
    let (cin, cout) = (kernel.shape.dims()[2], kernel.shape.dims()[3]);
    let (oh, ow, taps) = window.taps(d[1], d[2]);
    let mut out = Vec::new();
    for n in 0..d[0] {
        for oy in 0..oh {
            for ox in 0..ow {
                for (o, &b) in bias.iter().enumerate().take(cout) {
                    let mut sum = b;
                    for &(ky, kx, iy, ix) in &taps(oy, ox) {
                        for c in 0..cin {
                            let k = ((ky * window.size[1] + kx) * cin + c) * cout + o;
                            sum += x.data[at(d, n, iy, ix, c)] * kernel.data[k];
                        }
                    }
                    out.push(sum);
                }
            }
        }
    }
    out
}

/// Plain-Rust max / average pooling (average over the in-bounds taps, as TF).
fn pool_reference(x: &Tensor, window: &Window, max: bool) -> Vec<f32> {
    let d = x.shape.dims();
    let (oh, ow, taps) = window.taps(d[1], d[2]);
    let mut out = Vec::new();
    for n in 0..d[0] {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..d[3] {
                    let seen: Vec<f32> = taps(oy, ox)
                        .iter()
                        .map(|&(_, _, iy, ix)| x.data[at(d, n, iy, ix, c)])
                        .collect();
                    out.push(if max {
                        seen.iter().copied().fold(f32::NEG_INFINITY, f32::max)
                    } else {
                        seen.iter().sum::<f32>() / seen.len() as f32
                    });
                }
            }
        }
    }
    out
}

/// Runs a conv layer and compares with the reference using the model's own initial weights.
fn check_conv(input: [usize; 3], layer: Conv2D, window: Window, want_out: [usize; 3]) {
    let mut model = single_layer_model(&input, layer);
    assert_eq!(model.output_shape().unwrap().dims(), want_out);
    let weights = model.weights().unwrap();
    let kernel = &weights["conv2d/kernel"];
    let bias = &weights["conv2d/bias"];
    let x = tensor(&[2, input[0], input[1], input[2]], 3);
    let got = model.predict(&x, 2).unwrap();
    assert_eq!(got.shape.dims()[1..], want_out);
    let want = conv_reference(&x, kernel, &bias.data, &window);
    assert_close(&got.data, &want, TOLERANCE, "conv");
}

#[test]
fn conv_valid_matches_the_reference() {
    let layer = Conv2D::new(3, [2, 3]).bias_initializer(Initializer::RandomUniform {
        minval: -0.5,
        maxval: 0.5,
    });
    let window = Window {
        size: [2, 3],
        strides: [1, 1],
        dilation: [1, 1],
        same: false,
    };
    check_conv([5, 6, 2], layer, window, [4, 4, 3]);
}

#[test]
fn conv_same_at_stride_two_on_an_odd_size_pads_like_tensorflow() {
    let layer = Conv2D::new(4, 3)
        .strides(2)
        .padding(Padding::Same)
        .bias_initializer(Initializer::Constant(0.25));
    let window = Window {
        size: [3, 3],
        strides: [2, 2],
        dilation: [1, 1],
        same: true,
    };
    // 7 → ceil(7 / 2) = 4 with one padding row on each side.
    check_conv([7, 7, 2], layer, window, [4, 4, 4]);
    // 6 → 3: the single padding row goes at the bottom/right.
    let layer = Conv2D::new(2, 3).strides(2).padding(Padding::Same);
    let window = Window {
        size: [3, 3],
        strides: [2, 2],
        dilation: [1, 1],
        same: true,
    };
    check_conv([6, 6, 1], layer, window, [3, 3, 2]);
}

#[test]
fn dilated_conv_matches_the_reference() {
    let layer = Conv2D::new(2, 3).dilation_rate(2).padding(Padding::Same);
    let window = Window {
        size: [3, 3],
        strides: [1, 1],
        dilation: [2, 2],
        same: true,
    };
    check_conv([6, 5, 2], layer, window, [6, 5, 2]);
}

#[test]
fn conv_activation_and_no_bias() {
    let mut model = single_layer_model(
        &[4, 4, 1],
        Conv2D::new(2, 2)
            .use_bias(false)
            .activation(Activation::Relu),
    );
    let weights = model.weights().unwrap();
    assert!(!weights.contains_key("conv2d/bias"));
    let x = tensor(&[1, 4, 4, 1], 9);
    let got = model.predict(&x, 1).unwrap();
    let window = Window {
        size: [2, 2],
        strides: [1, 1],
        dilation: [1, 1],
        same: false,
    };
    let want: Vec<f32> = conv_reference(&x, &weights["conv2d/kernel"], &[0.0; 2], &window)
        .into_iter()
        .map(|v| v.max(0.0))
        .collect();
    assert_close(&got.data, &want, TOLERANCE, "relu conv");
}

#[test]
fn pooling_matches_the_reference() {
    let x = tensor(&[2, 5, 5, 3], 4);
    let cases: [PoolCase; 3] = [
        (
            Box::new(MaxPool2D::default()),
            Window {
                size: [2, 2],
                strides: [2, 2],
                dilation: [1, 1],
                same: false,
            },
            true,
            [2, 2, 3],
        ),
        (
            Box::new(AvgPool2D::new(3).strides(2).padding(Padding::Same)),
            Window {
                size: [3, 3],
                strides: [2, 2],
                dilation: [1, 1],
                same: true,
            },
            false,
            [3, 3, 3],
        ),
        (
            Box::new(MaxPooling2D::new([2, 3]).strides(1).padding(Padding::Same)),
            Window {
                size: [2, 3],
                strides: [1, 1],
                dilation: [1, 1],
                same: true,
            },
            true,
            [5, 5, 3],
        ),
    ];
    for (layer, window, max, want_out) in cases {
        let class = layer.class_name();
        let mut model = Sequential::of([Input::new([5, 5, 3]).into(), layer]);
        model
            .compile(SGD::default(), MeanSquaredError, [] as [Accuracy; 0])
            .unwrap();
        assert_eq!(model.output_shape().unwrap().dims(), want_out, "{class}");
        let got = model.predict(&x, 2).unwrap();
        assert_close(
            &got.data,
            &pool_reference(&x, &window, max),
            TOLERANCE,
            class,
        );
    }
}

#[test]
fn global_pooling_reduces_height_and_width() {
    let x = tensor(&[2, 3, 4, 5], 5);
    let d = x.shape.dims().to_vec();
    for max in [false, true] {
        let layer: Box<dyn Layer> = if max {
            Box::new(GlobalMaxPooling2D::new())
        } else {
            Box::new(GlobalAveragePooling2D::new())
        };
        let mut model = Sequential::of([Input::new([3, 4, 5]).into(), layer]);
        model
            .compile(SGD::default(), MeanSquaredError, [] as [Accuracy; 0])
            .unwrap();
        let got = model.predict(&x, 2).unwrap();
        assert_eq!(got.shape.dims(), [2, 5]);
        let mut want = Vec::new();
        for n in 0..2 {
            for c in 0..5 {
                let all: Vec<f32> = (0..3)
                    .flat_map(|y| (0..4).map(move |x| (y, x)))
                    .map(|(y, xx)| x.data[at(&d, n, y, xx, c)])
                    .collect();
                want.push(if max {
                    all.iter().copied().fold(f32::NEG_INFINITY, f32::max)
                } else {
                    all.iter().sum::<f32>() / 12.0
                });
            }
        }
        assert_close(&got.data, &want, TOLERANCE, "global pooling");
    }
    let kept = single_layer_model(&[3, 4, 5], GlobalAveragePooling2D::new().keepdims(true));
    assert_eq!(kept.output_shape().unwrap().dims(), [1, 1, 5]);
}

#[test]
fn zero_padding_and_reshape_move_values_exactly() {
    let x = tensor(&[2, 2, 3, 2], 6);
    let d = x.shape.dims().to_vec();
    let model = single_layer_model(&[2, 3, 2], ZeroPadding2D::explicit([[1, 0], [2, 1]]));
    let got = model.predict(&x, 2).unwrap();
    assert_eq!(got.shape.dims(), [2, 3, 6, 2]);
    let out = got.shape.dims().to_vec();
    for n in 0..2 {
        for y in 0..3 {
            for xx in 0..6 {
                for c in 0..2 {
                    let inside = y >= 1 && (2..5).contains(&xx);
                    let want = if inside {
                        x.data[at(&d, n, y - 1, xx - 2, c)]
                    } else {
                        0.0
                    };
                    assert_eq!(got.data[at(&out, n, y, xx, c)], want, "({n},{y},{xx},{c})");
                }
            }
        }
    }
    assert_eq!(
        single_layer_model(&[2, 3, 2], ZeroPadding2D::default())
            .output_shape()
            .unwrap()
            .dims(),
        [4, 5, 2]
    );
    let model = single_layer_model(&[2, 3, 2], Reshape::new([3, -1]));
    assert_eq!(model.output_shape().unwrap().dims(), [3, 4]);
    let got = model.predict(&x, 2).unwrap();
    assert_eq!(got.shape.dims(), [2, 3, 4]);
    assert_eq!(got.data, x.data);
}

#[test]
fn activation_layers_match_their_formulas() {
    let x = Tensor::new(
        [2, 6],
        vec![
            -3.0, -1.0, -0.2, 0.0, 0.5, 1.5, 2.0, 4.0, 7.0, -0.7, 0.9, 3.2,
        ],
    )
    .unwrap();
    type Reference = fn(f32) -> f32;
    let cases: [(Box<dyn Layer>, Reference); 5] = [
        (Box::new(ReLU::new()), |v| v.max(0.0)),
        (
            Box::new(
                ReLU::new()
                    .max_value(3.0)
                    .negative_slope(0.1)
                    .threshold(1.0),
            ),
            |v| {
                if v >= 3.0 {
                    3.0
                } else if v >= 1.0 {
                    v
                } else {
                    0.1 * (v - 1.0)
                }
            },
        ),
        (Box::new(LeakyReLU::default()), |v| {
            if v > 0.0 { v } else { 0.3 * v }
        }),
        (Box::new(ELU::default()), |v| {
            if v > 0.0 { v } else { v.exp() - 1.0 }
        }),
        (Box::new(ELU::new(0.5)), |v| {
            if v > 0.0 { v } else { 0.5 * (v.exp() - 1.0) }
        }),
    ];
    for (layer, reference) in cases {
        let class = layer.class_name();
        let mut model = Sequential::of([Input::new([6]).into(), layer]);
        model
            .compile(SGD::default(), MeanSquaredError, [] as [Accuracy; 0])
            .unwrap();
        let got = model.predict(&x, 2).unwrap();
        let want: Vec<f32> = x.data.iter().map(|&v| reference(v)).collect();
        assert_close(&got.data, &want, 1e-6, class);
    }
}

#[test]
fn softmax_layer_normalises_along_its_axis() {
    let x = tensor(&[2, 3, 4], 8);
    for (axis, along_rows) in [(-1, false), (1, true)] {
        let model = single_layer_model(&[3, 4], Softmax::new(axis));
        let got = model.predict(&x, 2).unwrap();
        let mut want = vec![0.0; x.data.len()];
        for n in 0..2 {
            let lines: Vec<Vec<usize>> = if along_rows {
                (0..4)
                    .map(|j| (0..3).map(|i| n * 12 + i * 4 + j).collect())
                    .collect()
            } else {
                (0..3)
                    .map(|i| (0..4).map(|j| n * 12 + i * 4 + j).collect())
                    .collect()
            };
            for line in lines {
                let sum: f32 = line.iter().map(|&k| x.data[k].exp()).sum();
                for &k in &line {
                    want[k] = x.data[k].exp() / sum;
                }
            }
        }
        assert_close(&got.data, &want, 1e-6, "softmax");
    }
}

/// Runs Dropout's training lowering alone through the interpreter for step `iterations`.
fn dropout_training(rate: f32, x: &Tensor, iterations: f32, seed: u64) -> Vec<f32> {
    let mut g = Graph::new();
    let input = g.input("x", x.shape.clone());
    let ctx = LayerContext {
        params: &[],
        training: true,
        seed,
    };
    let y = Dropout::new(rate).build(&mut g, input, ctx).unwrap();
    g.add_output("y", y).unwrap();
    let bindings = HashMap::from([
        ("x".to_string(), x.clone()),
        (ITERATIONS.to_string(), Tensor::scalar(iterations)),
    ]);
    ir::interp::run(&g, &bindings).unwrap().outputs[0]
        .1
        .data
        .clone()
}

#[test]
fn dropout_zeroes_about_rate_and_scales_the_rest_while_training() {
    let x = Tensor::new(
        [100, 100],
        values(10_000, 11).iter().map(|v| v + 2.0).collect(),
    )
    .unwrap();
    let rate = 0.3;
    let step0 = dropout_training(rate, &x, 0.0, 7);
    let dropped = step0.iter().filter(|&&v| v == 0.0).count() as f32 / 10_000.0;
    // Binomial standard deviation √(0.3·0.7/10⁴) ≈ 0.0046: 0.02 is over four of them.
    assert!((dropped - rate).abs() < 0.02, "dropped fraction {dropped}");
    for (got, &v) in step0.iter().zip(&x.data) {
        assert!(
            *got == 0.0 || (got - v / (1.0 - rate)).abs() <= 1e-5 * v.abs(),
            "kept {v} became {got}"
        );
    }
    assert_eq!(
        step0,
        dropout_training(rate, &x, 0.0, 7),
        "same step, same mask"
    );
    let step1 = dropout_training(rate, &x, 1.0, 7);
    let other_layer = dropout_training(rate, &x, 0.0, 8);
    for other in [&step1, &other_layer] {
        let differ = step0
            .iter()
            .zip(other)
            .filter(|(a, b)| (**a == 0.0) != (**b == 0.0))
            .count();
        // Independent masks disagree on 2·0.3·0.7 = 42% of the units.
        assert!(differ > 3000, "masks differ on only {differ} units");
    }
}

#[test]
fn dropout_is_the_identity_in_predict() {
    let x = tensor(&[4, 6], 12);
    let model = single_layer_model(&[6], Dropout::new(0.5));
    assert_eq!(model.predict(&x, 4).unwrap().data, x.data);
    let err = Sequential::of([Input::new([6]).into(), Dropout::new(1.0).into()])
        .summary()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dropout (Dropout)") && err.contains("[0, 1)"),
        "{err}"
    );
}

/// Per-feature mean and biased variance of `[n, f]` rows.
fn column_stats(x: &Tensor) -> (Vec<f32>, Vec<f32>) {
    let (n, f) = (x.shape.dims()[0], x.shape.dims()[1]);
    let mean: Vec<f32> = (0..f)
        .map(|j| (0..n).map(|i| x.data[i * f + j]).sum::<f32>() / n as f32)
        .collect();
    let var: Vec<f32> = (0..f)
        .map(|j| {
            (0..n)
                .map(|i| (x.data[i * f + j] - mean[j]).powi(2))
                .sum::<f32>()
                / n as f32
        })
        .collect();
    (mean, var)
}

#[test]
fn batch_normalization_uses_batch_stats_in_training_and_moving_stats_after() {
    let (n, f) = (16, 3);
    let x = Tensor::new(
        [n, f],
        values(n * f, 13)
            .iter()
            .enumerate()
            .map(|(i, v)| 3.0 * v + (i % f) as f32)
            .collect(),
    )
    .unwrap();
    let layer = BatchNormalization::new()
        .gamma_initializer(Initializer::Constant(1.5))
        .beta_initializer(Initializer::Constant(-0.5));
    let mut model = single_layer_model(&[f], layer);
    let (mean, var) = column_stats(&x);
    let eps = 1e-3;
    let normalise = |stats_mean: &[f32], stats_var: &[f32]| -> Vec<f32> {
        x.data
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let j = i % f;
                1.5 * (v - stats_mean[j]) / (stats_var[j] + eps).sqrt() - 0.5
            })
            .collect()
    };
    // One training step on the whole batch against zero labels: the reported loss is the
    // mean square of the batch-normalised output.
    let data = Dataset::new(x.data.clone(), &[n, f], vec![0.0; n * f], &[n, f]).unwrap();
    let history = model
        .fit_with(&data, FitOptions::new(1, n).shuffle(false).verbose(false))
        .unwrap();
    let trained = normalise(&mean, &var);
    let want_loss = trained.iter().map(|v| v * v).sum::<f32>() / (n * f) as f32;
    let loss = history.get("loss").unwrap()[0];
    assert!(
        (loss - want_loss).abs() < 1e-4,
        "loss {loss} want {want_loss}"
    );
    // The moving statistics moved by Keras' formula (momentum 0.99, from 0 and 1).
    let weights = model.weights().unwrap();
    let want_mean: Vec<f32> = mean.iter().map(|m| 0.01 * m).collect();
    let want_var: Vec<f32> = var.iter().map(|v| 0.99 + 0.01 * v).collect();
    let moved_mean = &weights["batch_normalization/moving_mean"].data;
    let moved_var = &weights["batch_normalization/moving_variance"].data;
    assert_close(moved_mean, &want_mean, 1e-5, "moving_mean");
    assert_close(moved_var, &want_var, 1e-5, "moving_variance");
    // Inference normalises by the moving statistics.
    let got = model.predict(&x, n).unwrap();
    assert_close(
        &got.data,
        &normalise(moved_mean, moved_var),
        TOLERANCE,
        "inference",
    );
}

#[test]
fn batch_normalization_counts_four_params_per_channel_two_frozen() {
    let model = Sequential::of([
        Input::new([6, 6, 5]).into(),
        BatchNormalization::new().into(),
    ]);
    assert_eq!(model.count_params().unwrap(), 20);
    let summary = model.summary().unwrap();
    assert!(
        summary.contains(" batch_normalization (Batch  (None, 6, 6, 5)           20        \n")
            && summary.contains("Trainable params: 10 (40.00 Byte)\n")
            && summary.contains("Non-trainable params: 10 (40.00 Byte)\n"),
        "{summary}"
    );
}

fn fixture_cnn() -> Sequential {
    sequential![
        Input::new([28, 28, 1]),
        Conv2D::new(8, 3)
            .padding(Padding::Same)
            .activation(Activation::Relu),
        MaxPool2D::default(),
        Conv2D::new(16, 3).activation(Activation::Relu),
        AvgPool2D::default(),
        Flatten::new().named("flatten_1"),
        Dropout::new(0.25),
        Dense::new(10)
            .activation(Activation::Softmax)
            .named("dense_3"),
    ]
    .named("cnn")
}

#[test]
fn summary_of_the_fixture_cnn_equals_keras() {
    assert_eq!(fixture_cnn().summary().unwrap(), KERAS_CNN_SUMMARY);
}

/// 8×8 images of a horizontal (class 0) or vertical (class 1) bar at a random place, plus
/// noise; labels one-hot.
fn bars(n: usize, seed: u32) -> Dataset {
    let mut x = Vec::with_capacity(n * 64);
    let mut y = Vec::with_capacity(n * 2);
    for i in 0..n {
        let u = |k: u32| ir::random::uniform(seed, (i as u32) * 100 + k);
        let vertical = u(0) < 0.5;
        let at = (u(1) * 8.0) as usize;
        for r in 0..8 {
            for c in 0..8 {
                let on = if vertical { c == at } else { r == at };
                x.push(if on { 1.0 } else { 0.0 } + 0.3 * (u(2 + (r * 8 + c) as u32) - 0.5));
            }
        }
        y.extend(if vertical { [0.0, 1.0] } else { [1.0, 0.0] });
    }
    Dataset::new(x, &[n, 8, 8, 1], y, &[n, 2]).unwrap()
}

#[test]
fn a_small_cnn_learns_bars() {
    let mut model = sequential![
        Input::new([8, 8, 1]),
        Conv2D::new(4, 3).padding(Padding::Same),
        BatchNormalization::new(),
        ReLU::new(),
        MaxPool2D::default(),
        Flatten::new(),
        Dropout::new(0.2),
        Dense::new(2),
    ]
    .with_seed(3);
    model
        .compile(
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    let history = model
        .fit_with(&bars(96, 1), FitOptions::new(8, 32).verbose(false))
        .unwrap();
    let loss = history.get("loss").unwrap();
    assert!(loss[7] < 0.5 * loss[0], "loss {loss:?}");
    let evaluation = model.evaluate(&bars(64, 2), 32).unwrap();
    assert!(
        evaluation.metrics["accuracy"] > 0.9,
        "held-out accuracy {:?}",
        evaluation.metrics
    );
    let weights = model.weights().unwrap();
    assert!(
        weights["batch_normalization/moving_mean"]
            .data
            .iter()
            .any(|&m| m != 0.0),
        "the moving mean never moved"
    );
}

#[test]
fn definition_errors_name_the_layer_and_the_shapes() {
    type ErrorCase = (Box<dyn Layer>, &'static [usize], &'static [&'static str]);
    let cases: [ErrorCase; 7] = [
        (
            Box::new(Conv2D::new(4, 3)),
            &[10, 10],
            &["conv2d (Conv2D)", "(None, 10, 10)", "3-D input"],
        ),
        (
            Box::new(Conv2D::new(4, 5)),
            &[3, 3, 1],
            &["conv2d (Conv2D)", "5x5 window", "(None, 3, 3, 1)"],
        ),
        (
            Box::new(Conv2D::new(4, 3).strides(2).dilation_rate(2)),
            &[9, 9, 1],
            &["conv2d (Conv2D)", "dilation_rate"],
        ),
        (
            Box::new(MaxPool2D::default()),
            &[16],
            &["max_pooling2d (MaxPooling2D)", "(None, 16)"],
        ),
        (
            Box::new(GlobalAveragePooling2D::new()),
            &[4, 4],
            &[
                "global_average_pooling2d (GlobalAveragePooling2D)",
                "(None, 4, 4)",
            ],
        ),
        (
            Box::new(Reshape::new([4, -1, -1])),
            &[16],
            &["reshape (Reshape)", "(None, 16)", "(None, 4, -1, -1)"],
        ),
        (
            Box::new(Reshape::new([5, 3])),
            &[16],
            &["reshape (Reshape)", "16 elements"],
        ),
    ];
    for (layer, input, needles) in cases {
        let err = Sequential::of([Input::new(input).into(), layer])
            .summary()
            .unwrap_err()
            .to_string();
        for needle in needles {
            assert!(err.contains(needle), "`{err}` lacks `{needle}`");
        }
    }
    assert_eq!(Size2D::from(3), Size2D([3, 3]));
    assert!("SAME".parse::<Padding>().is_ok() && "full".parse::<Padding>().is_err());
}

#[test]
fn every_conv_layer_config_round_trips_through_the_registry() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(
            Conv2D::new(4, [3, 2])
                .strides(2)
                .padding(Padding::Same)
                .activation(Activation::Relu)
                .named("c"),
        ),
        Box::new(MaxPool2D::new(3).strides(1).named("m")),
        Box::new(AvgPool2D::default().named("a")),
        Box::new(GlobalAveragePooling2D::new().keepdims(true).named("g")),
        Box::new(GlobalMaxPooling2D::new().named("gm")),
        Box::new(ZeroPadding2D::explicit([[1, 2], [0, 3]]).named("z")),
        Box::new(Reshape::new([2, -1]).named("r")),
        Box::new(Dropout::new(0.25).named("d")),
        Box::new(BatchNormalization::new().momentum(0.9).named("b")),
        Box::new(ReLU::new().max_value(6.0).named("relu")),
        Box::new(LeakyReLU::default().named("l")),
        Box::new(ELU::new(0.5).named("e")),
        Box::new(Softmax::new(1).named("s")),
    ];
    for layer in layers {
        let json = kiln::layers::layer_to_json(layer.as_ref());
        let rebuilt = kiln::layers::layer_from_json(&json).unwrap();
        assert_eq!(rebuilt.class_name(), layer.class_name());
        assert_eq!(
            kiln::layers::layer_to_json(rebuilt.as_ref()),
            json,
            "{json}"
        );
    }
}

#[test]
fn elu_layer_gradients_stay_finite_for_large_inputs() {
    // e^x overflows f32 above ~88; the unused negative branch must not turn the gradient
    // into 0 · inf = NaN.
    let mut model = sequential![
        Input::new([2]),
        Dense::new(2).kernel_initializer(Initializer::Ones),
        ELU::new(1.0),
        Dense::new(1).kernel_initializer(Initializer::Ones),
    ];
    model
        .compile(SGD::default(), MeanSquaredError, [] as [Accuracy; 0])
        .unwrap();
    let data = Dataset::new(vec![100.0, 100.0], &[1, 2], vec![0.0], &[1, 1]).unwrap();
    let history = model
        .fit_with(&data, FitOptions::new(1, 1).verbose(0))
        .unwrap();
    assert!(history.get("loss").unwrap()[0].is_finite());
    for (name, w) in model.layer_weights().unwrap() {
        assert!(
            w.data.iter().all(|v| v.is_finite()),
            "{name} became non-finite: {:?}",
            w.data
        );
    }
}
