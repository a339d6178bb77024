//! NaN propagation through whole models on every backend (the CPU, and the GPU where GPU
//! tests run): a batch whose first sample is all NaN and whose third holds one NaN gives
//! NaN predictions for exactly those two samples and finite ones for the clean sample
//! between them — through ReLU epilogues of Dense and Conv2D, max pooling (2-D, 1-D,
//! global), ReLU6, capped and thresholded ReLU, leaky ReLU, ELU and hard sigmoid. Before,
//! ReLU and max pooling dropped the NaN and an all-NaN input gave confident predictions.
//! Also: accuracy (an argmax) evaluates NaN predictions without failing, and
//! `TerminateOnNaN` stops a fit at the first batch whose input holds a NaN, saying so.

mod common;

use codegen_gpu::gpu_tests_enabled;
use common::synthetic;
use kiln::Tensor;
use kiln::callbacks::{Logs, TerminateOnNaN, Training};
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::SGD;
use kiln::prelude::*;

/// The backends to try: the CPU, and the GPU where GPU tests run.
fn devices() -> Vec<Device> {
    let mut d = vec![Device::Cpu];
    if gpu_tests_enabled() {
        d.push(Device::Gpu);
    }
    d
}

/// Three samples of `dims`: all NaN, finite, finite but one NaN.
fn poisoned(dims: &[usize]) -> Tensor {
    let per: usize = dims.iter().product();
    let mut data: Vec<f32> = (0..3 * per)
        .map(|i| 2.0 * ir::random::uniform(5, i as u32) - 1.0)
        .collect();
    data[..per].fill(f32::NAN);
    data[2 * per + per / 2] = f32::NAN;
    let mut shape = vec![3];
    shape.extend_from_slice(dims);
    Tensor::new(shape.as_slice(), data).unwrap()
}

/// `model`'s predictions of [`poisoned`] on every backend: rows 0 and 2 all NaN, row 1 finite.
fn assert_nan_rows(name: &str, build: &dyn Fn() -> Sequential, dims: &[usize]) {
    let x = poisoned(dims);
    for device in devices() {
        let mut model = build();
        model
            .compile_on(
                device,
                SGD::default(),
                SoftmaxCrossEntropyWithLogits,
                [Accuracy],
            )
            .unwrap();
        let y = model.predict(&x, 3).unwrap();
        let width = y.data.len() / 3;
        for (row, values) in y.data.chunks(width).enumerate() {
            if row == 1 {
                assert!(
                    values.iter().all(|v| v.is_finite()),
                    "{name} on {device:?}: clean row {values:?}"
                );
            } else {
                assert!(
                    values.iter().all(|v| v.is_nan()),
                    "{name} on {device:?}: row {row} read a NaN: {values:?}"
                );
            }
        }
    }
}

/// `Input [6] → Dense(6) → layer → Dense(3)`: the Dense layers spread a NaN over the sample.
fn around(layer: impl Into<Box<dyn Layer>>) -> Sequential {
    Sequential::of([
        Input::new([6]).into(),
        Dense::new(6).into(),
        layer.into(),
        Dense::new(3).into(),
    ])
    .with_seed(3)
}

#[test]
fn an_mlp_predicts_nan_for_exactly_the_samples_holding_a_nan() {
    let mlp = || {
        sequential![
            Input::new([6]),
            Dense::new(8).activation(Activation::Relu),
            Dense::new(8).activation(Activation::Relu6),
            Dense::new(8).activation(Activation::HardSigmoid),
            Dense::new(3),
        ]
        .with_seed(1)
    };
    assert_nan_rows("mlp", &mlp, &[6]);
}

#[test]
fn a_cnn_with_max_pooling_predicts_nan_for_exactly_the_samples_holding_a_nan() {
    let cnn = || {
        sequential![
            Input::new([8, 8, 2]),
            Conv2D::new(4, 3)
                .padding(Padding::Same)
                .activation(Activation::Relu),
            MaxPool2D::default(),
            Conv2D::new(4, 3).activation(Activation::Relu),
            GlobalMaxPooling2D::new(),
            Dense::new(3),
        ]
        .with_seed(2)
    };
    assert_nan_rows("cnn", &cnn, &[8, 8, 2]);
    let one_d = || {
        sequential![
            Input::new([8, 3]),
            Conv1D::new(4, 3).activation(Activation::Relu),
            MaxPooling1D::new(2),
            GlobalMaxPooling1D::new(),
            Dense::new(3),
        ]
        .with_seed(4)
    };
    assert_nan_rows("1-D cnn", &one_d, &[8, 3]);
}

/// A named way to build one layer.
type LayerCase = (&'static str, fn() -> Box<dyn Layer>);

#[test]
fn every_clipping_or_selecting_activation_layer_keeps_a_nan() {
    let layers: Vec<LayerCase> = vec![
        ("ReLU", || ReLU::new().into()),
        ("ReLU(max_value=6)", || ReLU::new().max_value(6.0).into()),
        ("ReLU(threshold, slope, cap)", || {
            ReLU::new()
                .threshold(0.5)
                .negative_slope(0.1)
                .max_value(1.0)
                .into()
        }),
        ("ReLU(threshold)", || ReLU::new().threshold(0.5).into()),
        ("LeakyReLU", || LeakyReLU::new(0.3).into()),
        ("ELU", || ELU::new(1.0).into()),
        ("relu6", || ActivationLayer::new(Activation::Relu6).into()),
        ("hard_sigmoid", || {
            ActivationLayer::new(Activation::HardSigmoid).into()
        }),
        ("softmax", || {
            ActivationLayer::new(Activation::Softmax).into()
        }),
    ];
    for (name, layer) in layers {
        assert_nan_rows(name, &|| around(layer()), &[6]);
    }
}

/// Records every batch's running loss.
#[derive(Default)]
struct Losses(Vec<f32>);

impl Callback for Losses {
    fn on_batch_end(&mut self, _: usize, logs: &Logs, _: &mut Training<'_>) -> Result<()> {
        self.0.push(logs.get("loss").unwrap());
        Ok(())
    }
}

/// 16 samples in batches of 4; one NaN feature in sample 9 (batch 2).
fn data_with_a_nan() -> Dataset {
    let data = synthetic(16, 8);
    let mut x = data.features().to_vec();
    x[9 * 4 + 1] = f32::NAN;
    Dataset::new(x, &[16, 4], data.labels().to_vec(), &[16, 3]).unwrap()
}

/// Fit the ReLU classifier on [`data_with_a_nan`] with `TerminateOnNaN`; the running loss
/// of every batch that ran.
fn fit_until_nan(model: &mut Sequential, data: &Dataset) -> (Vec<f32>, usize) {
    model
        .compile(SGD::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
        .unwrap();
    let mut losses = Losses::default();
    let history = model
        .fit_with(
            data,
            FitOptions::new(3, 4)
                .shuffle(false)
                .verbose(0)
                .callback(TerminateOnNaN)
                .callback(&mut losses),
        )
        .unwrap();
    (losses.0, history.epochs())
}

#[test]
fn terminate_on_nan_stops_at_the_first_batch_whose_input_holds_a_nan() {
    // ReLU used to drop the NaN and the loss stayed finite.
    let data = data_with_a_nan();
    let mut model = common::relu_classifier(8, 5);
    let (losses, epochs) = fit_until_nan(&mut model, &data);
    assert_eq!(losses.len(), 3, "stopped after batch 2: {losses:?}");
    assert!(losses[..2].iter().all(|l| l.is_finite()) && losses[2].is_nan());
    assert_eq!(epochs, 1);
    // Accuracy (an argmax of NaN predictions) evaluates without failing.
    let evaluation = model.evaluate(&data, 4).unwrap();
    assert!(evaluation.loss.is_nan());
}

/// The fit of [`terminate_on_nan_says_which_batch_had_an_invalid_loss`], run in a child
/// process whose output that test reads (ignored in ordinary runs).
#[test]
#[ignore = "run by terminate_on_nan_says_which_batch_had_an_invalid_loss in a child process"]
fn child_fit_until_nan() {
    fit_until_nan(&mut common::relu_classifier(8, 5), &data_with_a_nan());
}

#[test]
fn terminate_on_nan_says_which_batch_had_an_invalid_loss() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_fit_until_nan", "--ignored", "--nocapture"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("Batch 2: Invalid loss, terminating training"),
        "{stdout}"
    );
}
