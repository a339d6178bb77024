//! Optimizers, learning-rate schedules, losses and stateful metrics against tf-keras 2.21:
//! the expected values in `fixtures/keras/training/expected.json` were computed by
//! `make_expected.py` there (3 optimizer steps on a weight vector with fixed gradients,
//! schedule values for steps 0..8, losses on fixed inputs, and metric values after each
//! batch of an epoch of 3 batches).

use std::collections::HashMap;

use ir::interp::{Bindings, run};
use ir::{Graph, Tensor};
use kiln::callbacks::{Callback, Logs, Training};
use kiln::losses::{self, Loss};
use kiln::metrics::{self, Metric};
use kiln::optimizers::{
    Adam, AdamW, CosineDecay, ExponentialDecay, Ftrl, InverseTimeDecay, LearningRateSchedule,
    Optimizer, PiecewiseConstantDecay, SGD,
};
use kiln::prelude::*;
use serde_json::Value;

fn expected() -> Value {
    serde_json::from_str(include_str!("fixtures/keras/training/expected.json")).unwrap()
}

fn floats(value: &Value) -> Vec<f32> {
    match value {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        number => vec![number.as_f64().unwrap() as f32],
    }
}

/// `[rows, cols]` of a nested JSON matrix.
fn dims(value: &Value) -> [usize; 2] {
    let rows = value.as_array().unwrap();
    [rows.len(), rows[0].as_array().unwrap().len()]
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * 1f32.max(w.abs()),
            "{what}[{i}]: got {g}, Keras {w} (all: {got:?} vs {want:?})"
        );
    }
}

fn schedules() -> Vec<(&'static str, LearningRateSchedule)> {
    vec![
        ("exponential", ExponentialDecay::new(0.1, 2.0, 0.5).into()),
        (
            "exponential_staircase",
            ExponentialDecay::new(0.1, 2.0, 0.5).staircase(true).into(),
        ),
        (
            "piecewise",
            PiecewiseConstantDecay::new([1.0, 3.0], [0.1, 0.05, 0.01]).into(),
        ),
        ("cosine", CosineDecay::new(0.1, 4.0).alpha(0.1).into()),
        (
            "cosine_warmup",
            CosineDecay::new(0.05, 3.0)
                .alpha(0.2)
                .warmup(0.2, 2.0)
                .into(),
        ),
        ("inverse_time", InverseTimeDecay::new(0.1, 2.0, 0.5).into()),
        (
            "inverse_time_staircase",
            InverseTimeDecay::new(0.1, 2.0, 0.5).staircase(true).into(),
        ),
    ]
}

/// The schedule's rate after `steps` steps, its ops run on the interpreter.
fn rate_at(schedule: &LearningRateSchedule, steps: u32) -> f32 {
    let mut g = Graph::new();
    let counter = g.input("steps", ir::Shape::scalar());
    let rate = schedule.build(&mut g, counter).unwrap();
    g.add_output("rate", rate).unwrap();
    let bindings: Bindings = [("steps".to_string(), Tensor::scalar(steps as f32))].into();
    run(&g, &bindings).unwrap().outputs[0].1.data[0]
}

#[test]
fn schedules_match_keras_at_every_step() {
    let want = expected();
    for (name, schedule) in schedules() {
        let got: Vec<f32> = (0..8).map(|s| rate_at(&schedule, s)).collect();
        assert_close(name, &got, &floats(&want["schedule_values"][name]), 1e-6);
    }
}

fn optimizers() -> Vec<(&'static str, Box<dyn Optimizer>)> {
    let schedule = |name: &str| schedules().into_iter().find(|(n, _)| *n == name).unwrap().1;
    vec![
        ("adamw", Box::new(AdamW::new().learning_rate(0.1))),
        (
            "adamw_amsgrad",
            Box::new(
                AdamW::new()
                    .learning_rate(0.1)
                    .weight_decay(0.1)
                    .amsgrad(true),
            ),
        ),
        (
            "adamw_cosine",
            Box::new(
                AdamW::new()
                    .learning_rate(schedule("cosine"))
                    .weight_decay(0.05),
            ),
        ),
        ("ftrl", Box::new(Ftrl::new().learning_rate(0.1))),
        (
            "ftrl_full",
            Box::new(
                Ftrl::new()
                    .learning_rate(0.1)
                    .learning_rate_power(-0.7)
                    .initial_accumulator_value(0.2)
                    .l1_regularization_strength(0.01)
                    .l2_regularization_strength(0.02)
                    .l2_shrinkage_regularization_strength(0.03)
                    .beta(0.5),
            ),
        ),
        (
            "sgd_exponential",
            Box::new(SGD::new().learning_rate(schedule("exponential"))),
        ),
        (
            "sgd_exponential_staircase",
            Box::new(SGD::new().learning_rate(schedule("exponential_staircase"))),
        ),
        (
            "adam_piecewise",
            Box::new(Adam::new().learning_rate(schedule("piecewise"))),
        ),
        (
            "sgd_cosine_warmup",
            Box::new(SGD::new().learning_rate(schedule("cosine_warmup"))),
        ),
        (
            "sgd_inverse_time",
            Box::new(SGD::new().learning_rate(schedule("inverse_time"))),
        ),
        (
            "sgd_inverse_time_staircase",
            Box::new(SGD::new().learning_rate(schedule("inverse_time_staircase"))),
        ),
    ]
}

/// `w` after each of the fixture's gradient steps, the update run on the interpreter.
fn steps(opt: &dyn Optimizer, w0: &[f32], grads: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let n = w0.len();
    let mut g = Graph::new();
    let w = g.param("w", [n]);
    let grad = g.input("w/grad", [n]);
    let state = opt.build_update(&mut g, &[w], &[grad]).unwrap();
    let mut bindings: Bindings = HashMap::new();
    bindings.insert("w".into(), Tensor::new([n], w0.to_vec()).unwrap());
    bindings.extend(state);
    let mut after = Vec::new();
    for step in grads {
        bindings.insert("w/grad".into(), Tensor::new([n], step.clone()).unwrap());
        for (name, value) in run(&g, &bindings).unwrap().updates {
            bindings.insert(name, value);
        }
        after.push(bindings["w"].data.clone());
    }
    after
}

#[test]
fn optimizers_and_scheduled_rates_match_keras_for_three_steps() {
    let want = expected();
    let w0 = floats(&want["w0"]);
    let grads: Vec<Vec<f32>> = want["grads"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    for (name, opt) in optimizers() {
        let got = steps(opt.as_ref(), &w0, &grads);
        for (k, step) in got.iter().enumerate() {
            let keras = floats(&want["optimizer_steps"][name][k]);
            assert_close(&format!("{name} step {}", k + 1), step, &keras, 2e-6);
        }
    }
}

/// The loss of `predictions` against `labels` (both `[rows, cols]`) on the interpreter.
fn loss_value(loss: &dyn Loss, labels: &[f32], predictions: &[f32], shape: [usize; 2]) -> f32 {
    let mut g = Graph::new();
    let y = g.input("y", shape);
    let p = g.input("p", shape);
    let out = loss.build(&mut g, p, y).unwrap();
    g.add_output("loss", out).unwrap();
    let bindings: Bindings = [
        (
            "y".to_string(),
            Tensor::new(shape, labels.to_vec()).unwrap(),
        ),
        (
            "p".to_string(),
            Tensor::new(shape, predictions.to_vec()).unwrap(),
        ),
    ]
    .into();
    run(&g, &bindings).unwrap().outputs[0].1.data[0]
}

/// A loss case: fixture key, the loss, and the inputs (by name) of labels and predictions.
type LossCase = (&'static str, Box<dyn Loss>, &'static str, &'static str);

fn loss_cases() -> Vec<LossCase> {
    vec![
        (
            "msle",
            Box::new(losses::MeanSquaredLogarithmicError),
            "y_true",
            "y_pred",
        ),
        (
            "mape",
            Box::new(losses::MeanAbsolutePercentageError),
            "shifted",
            "y_pred",
        ),
        ("hinge_binary", Box::new(losses::Hinge), "binary", "logits"),
        ("hinge_signed", Box::new(losses::Hinge), "signed", "logits"),
        (
            "squared_hinge_binary",
            Box::new(losses::SquaredHinge),
            "binary",
            "logits",
        ),
        (
            "squared_hinge_signed",
            Box::new(losses::SquaredHinge),
            "signed",
            "logits",
        ),
        (
            "kl_divergence",
            Box::new(losses::KLDivergence),
            "y_true",
            "y_pred",
        ),
        ("poisson", Box::new(losses::Poisson), "y_true", "y_pred"),
        ("log_cosh", Box::new(losses::LogCosh), "y_true", "logits"),
        (
            "cosine_similarity",
            Box::new(losses::CosineSimilarity),
            "y_true",
            "logits",
        ),
        (
            "cce_smoothing",
            Box::new(losses::CategoricalCrossentropy::new().label_smoothing(0.1)),
            "y_true",
            "y_pred",
        ),
        (
            "cce_logits_smoothing",
            Box::new(
                losses::CategoricalCrossentropy::new()
                    .from_logits(true)
                    .label_smoothing(0.2),
            ),
            "y_true",
            "logits",
        ),
        (
            "bce_smoothing",
            Box::new(losses::BinaryCrossentropy::new().label_smoothing(0.1)),
            "binary",
            "y_pred",
        ),
        (
            "bce_logits_smoothing",
            Box::new(
                losses::BinaryCrossentropy::new()
                    .from_logits(true)
                    .label_smoothing(0.3),
            ),
            "binary",
            "logits",
        ),
    ]
}

#[test]
fn losses_match_keras_on_fixed_inputs() {
    let want = expected();
    let inputs = &want["loss_inputs"];
    let shape = dims(&inputs["y_true"]);
    let mut values: HashMap<&str, Vec<f32>> = ["y_true", "y_pred", "logits", "binary"]
        .into_iter()
        .map(|k| (k, floats(&inputs[k])))
        .collect();
    let signed = values["binary"].iter().map(|b| 2.0 * b - 1.0).collect();
    let shifted = values["y_true"].iter().map(|y| y + 0.5).collect();
    values.insert("signed", signed);
    values.insert("shifted", shifted);
    for (name, loss, labels, predictions) in loss_cases() {
        let got = loss_value(loss.as_ref(), &values[labels], &values[predictions], shape);
        assert_close(
            name,
            &[got],
            &[want["losses"][name].as_f64().unwrap() as f32],
            2e-6,
        );
    }
}

#[test]
fn label_smoothing_outside_zero_one_is_refused() {
    let shape = [2, 3];
    let mut g = Graph::new();
    let (y, p) = (g.input("y", shape), g.input("p", shape));
    let err = losses::CategoricalCrossentropy::new()
        .label_smoothing(1.5)
        .build(&mut g, p, y)
        .unwrap_err();
    assert!(err.to_string().contains("label_smoothing"), "{err}");
}

/// The metric values `fit` logs after each batch.
#[derive(Default)]
struct BatchLogs(Vec<Logs>);

impl Callback for BatchLogs {
    fn on_batch_end(&mut self, _: usize, logs: &Logs, _: &mut Training<'_>) -> Result<()> {
        self.0.push(logs.clone());
        Ok(())
    }
}

/// An identity model (a Dense with an identity kernel and zero bias) trained with a zero
/// learning rate, so its predictions are the features: the metric sees the fixture's
/// predictions batch by batch, and `fit` accumulates it over the epoch.
fn running_values(metric: Box<dyn Metric>, batches: &Value) -> (Vec<f32>, f32) {
    let batches = batches.as_array().unwrap();
    let width = dims(&batches[0]["preds"])[1];
    let (mut features, mut labels, mut rows) = (Vec::new(), Vec::new(), 0);
    for batch in batches {
        features.extend(floats(&batch["preds"]));
        labels.extend(floats(&batch["labels"]));
        rows += dims(&batch["preds"])[0];
    }
    let batch_size = dims(&batches[0]["preds"])[0];
    let data = Dataset::new(features, &[rows, width], labels, &[rows, width]).unwrap();
    let mut model = Sequential::of([Input::new([width]).into(), Dense::new(width).into()]);
    let name = metric.name().to_string();
    model
        .compile(
            SGD::new().learning_rate(0.0),
            losses::MeanSquaredError,
            [metric],
        )
        .unwrap();
    let mut weights = model.weights().unwrap();
    for (key, value) in weights.iter_mut() {
        let identity = key.ends_with("kernel");
        for (i, x) in value.data.iter_mut().enumerate() {
            *x = if identity && i % (width + 1) == 0 {
                1.0
            } else {
                0.0
            };
        }
    }
    model.set_weights(&weights).unwrap();
    let mut logs = BatchLogs::default();
    let options = FitOptions::new(1, batch_size)
        .shuffle(false)
        .verbose(0)
        .callback(&mut logs);
    model.fit_with(&data, options).unwrap();
    let running = logs.0.iter().map(|l| l.get(&name).unwrap()).collect();
    let evaluated = model.evaluate(&data, batch_size).unwrap();
    (running, evaluated.metrics[&name])
}

#[test]
fn stateful_metrics_accumulate_over_an_epoch_as_keras_does() {
    let want = expected();
    let cases: Vec<(&str, &str, Box<dyn Metric>)> = vec![
        ("precision", "binary", Box::new(metrics::Precision::new())),
        ("recall", "binary", Box::new(metrics::Recall::new())),
        (
            "precision_0.3",
            "binary",
            Box::new(metrics::Precision::new().threshold(0.3)),
        ),
        ("auc", "binary", Box::new(metrics::AUC::new())),
        (
            "auc_50",
            "binary",
            Box::new(metrics::AUC::new().num_thresholds(50)),
        ),
        (
            "top_k_5",
            "classes",
            Box::new(metrics::TopKCategoricalAccuracy::new()),
        ),
        (
            "top_k_2",
            "classes",
            Box::new(metrics::TopKCategoricalAccuracy::new().k(2)),
        ),
        (
            "msle",
            "positive",
            Box::new(metrics::MeanSquaredLogarithmicError),
        ),
        (
            "mape",
            "positive",
            Box::new(metrics::MeanAbsolutePercentageError),
        ),
    ];
    for (name, data, metric) in cases {
        let (running, evaluated) = running_values(metric, &want["metric_batches"][data]);
        let keras = floats(&want["metrics"][name]);
        assert_close(name, &running, &keras, 2e-6);
        assert_close(name, &[evaluated], &keras[keras.len() - 1..], 2e-6);
    }
}
