//! Losses and metrics checked on the reference interpreter against plain-f32 reference values,
//! including clipped probabilities of exactly 0 and 1, both Huber branches, both shapes of
//! sparse labels, and shape errors.

use std::collections::HashMap;

use ir::interp::run;
use ir::{Graph, Tensor};
use kiln::Error;
use kiln::losses::{
    BinaryCrossentropy, CategoricalCrossentropy, EPSILON, Huber, Loss, MeanAbsoluteError,
    MeanSquaredError, SoftmaxCrossEntropyWithLogits, SparseCategoricalCrossentropy,
};
use kiln::metrics::{
    self, Accuracy, BinaryAccuracy, CategoricalAccuracy, Metric, SparseCategoricalAccuracy,
};

/// Relative tolerance of every comparison (plus the same absolute margin).
const TOL: f32 = 1e-5;

/// Anything that builds a scalar from predictions and labels.
type Builder<'a> = &'a dyn Fn(&mut Graph, ir::NodeId, ir::NodeId) -> Result<ir::NodeId, Error>;

/// Evaluates `build` on predictions `p` and labels `y` (data with shapes).
fn eval(build: Builder, p: (&[usize], &[f32]), y: (&[usize], &[f32])) -> Result<f32, Error> {
    let mut g = Graph::new();
    let pn = g.input("p", p.0);
    let yn = g.input("y", y.0);
    let out = build(&mut g, pn, yn)?;
    assert_eq!(g.shape(out).rank(), 0, "the result is a scalar");
    g.add_output("value", out)?;
    let bindings = HashMap::from([
        ("p".to_string(), Tensor::new(p.0, p.1.to_vec()).unwrap()),
        ("y".to_string(), Tensor::new(y.0, y.1.to_vec()).unwrap()),
    ]);
    Ok(run(&g, &bindings)?.outputs[0].1.data[0])
}

fn loss_value(loss: &dyn Loss, p: (&[usize], &[f32]), y: (&[usize], &[f32])) -> f32 {
    eval(&|g, a, b| loss.build(g, a, b), p, y).unwrap_or_else(|e| panic!("{}: {e}", loss.name()))
}

fn metric_value(metric: &dyn Metric, p: (&[usize], &[f32]), y: (&[usize], &[f32])) -> f32 {
    eval(&|g, a, b| metric.build(g, a, b), p, y)
        .unwrap_or_else(|e| panic!("{}: {e}", metric.name()))
}

fn close(got: f32, want: f32, what: &str) {
    assert!(
        (got - want).abs() <= TOL * (1.0 + want.abs()),
        "{what}: got {got}, want {want}"
    );
}

/// Rows of `data` of width `w`.
fn rows(data: &[f32], w: usize) -> impl Iterator<Item = &[f32]> {
    data.chunks(w)
}

fn mean(values: impl Iterator<Item = f32>) -> f32 {
    let v: Vec<f32> = values.collect();
    v.iter().sum::<f32>() / v.len() as f32
}

fn log_softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = z.iter().map(|x| (x - max).exp()).sum::<f32>().ln();
    z.iter().map(|x| x - max - log_sum).collect()
}

const SHAPE: &[usize] = &[2, 3];
const LOGITS: [f32; 6] = [2.0, -1.0, 0.5, 100.0, 0.0, -100.0];
const ONE_HOT: [f32; 6] = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0];

fn softmax_ce_reference(z: &[f32], y: &[f32]) -> f32 {
    mean(rows(z, 3).zip(rows(y, 3)).map(|(z, y)| {
        -log_softmax(z)
            .iter()
            .zip(y)
            .map(|(l, y)| l * y)
            .sum::<f32>()
    }))
}

#[test]
fn softmax_cross_entropy_is_stable_for_large_logits() {
    let want = softmax_ce_reference(&LOGITS, &ONE_HOT);
    assert!(want.is_finite());
    close(
        loss_value(
            &SoftmaxCrossEntropyWithLogits,
            (SHAPE, &LOGITS),
            (SHAPE, &ONE_HOT),
        ),
        want,
        "softmax ce",
    );
    close(
        loss_value(
            &CategoricalCrossentropy::new().from_logits(true),
            (SHAPE, &LOGITS),
            (SHAPE, &ONE_HOT),
        ),
        want,
        "cce from logits",
    );
    // Row 2 is confidently right: its term is ~0; row 1 has a known value.
    let row1 = -(0.5f32 - (2f32.exp() + (-1f32).exp() + 0.5f32.exp()).ln());
    close(want, row1 / 2.0, "hand value");
}

#[test]
fn categorical_crossentropy_normalises_and_clips_probabilities() {
    // Row 1 sums to 2 (normalised to 0.25, 0.25, 0.5); row 2 puts exactly 0 on the true class
    // and exactly 1 elsewhere (clipped to 1e-7 and 1 - 1e-7).
    let p = [0.5, 0.5, 1.0, 0.0, 1.0, 0.0];
    let row1 = -(0.5f32).ln();
    let row2 = -EPSILON.ln();
    close(
        loss_value(
            &CategoricalCrossentropy::new(),
            (SHAPE, &p),
            (SHAPE, &ONE_HOT),
        ),
        (row1 + row2) / 2.0,
        "cce",
    );
    // A perfect prediction of exactly 1 costs -log(1 - ε), not 0 or NaN.
    let perfect = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    close(
        loss_value(
            &CategoricalCrossentropy::new(),
            (SHAPE, &perfect),
            (SHAPE, &ONE_HOT),
        ),
        -(1.0f32 - EPSILON).ln(),
        "cce perfect",
    );
}

#[test]
fn sparse_categorical_crossentropy_accepts_both_label_shapes() {
    let labels = [2.0, 0.0];
    let want = softmax_ce_reference(&LOGITS, &ONE_HOT);
    let loss = SparseCategoricalCrossentropy::new().from_logits(true);
    close(
        loss_value(&loss, (SHAPE, &LOGITS), (&[2], &labels)),
        want,
        "sparse logits [batch]",
    );
    close(
        loss_value(&loss, (SHAPE, &LOGITS), (&[2, 1], &labels)),
        want,
        "sparse logits [batch, 1]",
    );
    // On probabilities: clip, log, then log-softmax (which renormalises the clipped rows).
    let p = [0.2, 0.3, 0.5, 1.0, 0.0, 0.0];
    let reference = |p: &[f32], label: usize| {
        let logs: Vec<f32> = p
            .iter()
            .map(|x| x.clamp(EPSILON, 1.0 - EPSILON).ln())
            .collect();
        -log_softmax(&logs)[label]
    };
    let want = (reference(&p[..3], 2) + reference(&p[3..], 0)) / 2.0;
    close(
        loss_value(
            &SparseCategoricalCrossentropy::new(),
            (SHAPE, &p),
            (&[2], &labels),
        ),
        want,
        "sparse probabilities",
    );
    close(
        loss_value(
            &SparseCategoricalCrossentropy::new(),
            (SHAPE, &p),
            (&[2, 1], &labels),
        ),
        want,
        "sparse probabilities [batch, 1]",
    );
}

#[test]
fn binary_crossentropy_on_probabilities_and_logits() {
    let y = [1.0, 0.0, 1.0, 0.0];
    // Exact 0 and 1 probabilities, both right and wrong.
    let p = [1.0, 0.0, 0.0, 0.3];
    let term = |p: f32, y: f32| {
        let p = p.clamp(EPSILON, 1.0 - EPSILON);
        -(y * (p + EPSILON).ln() + (1.0 - y) * (1.0 - p + EPSILON).ln())
    };
    let want = mean(p.iter().zip(&y).map(|(&p, &y)| term(p, y)));
    let got = loss_value(&BinaryCrossentropy::new(), (&[2, 2], &p), (&[2, 2], &y));
    close(got, want, "bce probabilities");
    assert!(
        got.is_finite() && got > 3.0,
        "a confident wrong answer costs about -log(2e-7)/4"
    );
    let z = [3.0, -2.0, -50.0, 0.7];
    let logit_term = |z: f32, y: f32| {
        let p = 1.0 / (1.0 + (-(z as f64)).exp());
        (-(y as f64 * p.ln() + (1.0 - y as f64) * (1.0 - p).ln())) as f32
    };
    let want = mean(z.iter().zip(&y).map(|(&z, &y)| logit_term(z, y)));
    close(
        loss_value(
            &BinaryCrossentropy::new().from_logits(true),
            (&[2, 2], &z),
            (&[2, 2], &y),
        ),
        want,
        "bce logits",
    );
}

#[test]
fn regression_losses() {
    let p = [1.0, 2.0, 3.0, -1.0, 0.5, 4.0];
    let y = [1.5, 2.0, 0.0, 1.0, 0.25, 4.0];
    let errors: Vec<f32> = p.iter().zip(&y).map(|(p, y)| p - y).collect();
    close(
        loss_value(&MeanSquaredError, (SHAPE, &p), (SHAPE, &y)),
        mean(errors.iter().map(|e| e * e)),
        "mse",
    );
    close(
        loss_value(&MeanAbsoluteError, (SHAPE, &p), (SHAPE, &y)),
        mean(errors.iter().map(|e| e.abs())),
        "mae",
    );
    // Errors 0.5, 0, 0.25 (quadratic), 3 and -2 (linear), and exactly delta = 1.
    let y_huber = [1.5, 2.0, 0.0, 1.0, 0.25, 3.0];
    let huber = |delta: f32| {
        mean(p.iter().zip(&y_huber).map(|(p, y)| {
            let e = (p - y).abs();
            if e <= delta {
                0.5 * e * e
            } else {
                delta * e - 0.5 * delta * delta
            }
        }))
    };
    close(
        loss_value(&Huber::new(), (SHAPE, &p), (SHAPE, &y_huber)),
        huber(1.0),
        "huber delta 1",
    );
    close(
        loss_value(&Huber::new().delta(2.5), (SHAPE, &p), (SHAPE, &y_huber)),
        huber(2.5),
        "huber delta 2.5",
    );
    close(
        huber(1.0),
        (0.125 + 0.0 + 2.5 + 1.5 + 0.03125 + 0.5) / 6.0,
        "huber hand value",
    );
}

#[test]
fn loss_names_follow_keras() {
    let all: [Box<dyn Loss>; 7] = [
        Box::new(SoftmaxCrossEntropyWithLogits),
        Box::new(CategoricalCrossentropy::new()),
        Box::new(SparseCategoricalCrossentropy::new()),
        Box::new(BinaryCrossentropy::new()),
        Box::new(MeanSquaredError),
        Box::new(MeanAbsoluteError),
        Box::new(Huber::new()),
    ];
    let names: Vec<&str> = all.iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        [
            "softmax_cross_entropy_with_logits",
            "categorical_crossentropy",
            "sparse_categorical_crossentropy",
            "binary_crossentropy",
            "mean_squared_error",
            "mean_absolute_error",
            "huber_loss"
        ]
    );
}

#[test]
fn shape_mismatches_are_errors_naming_the_shapes() {
    let p = [0.0; 6];
    let expect_err = |build: Builder, y: (&[usize], &[f32]), needle: &str| {
        let err = eval(build, (SHAPE, &p), y)
            .expect_err("must fail")
            .to_string();
        assert!(err.contains(needle), "`{err}` should mention `{needle}`");
    };
    expect_err(
        &|g, a, b| MeanSquaredError.build(g, a, b),
        (&[3, 2], &p),
        "[3, 2]",
    );
    expect_err(
        &|g, a, b| SoftmaxCrossEntropyWithLogits.build(g, a, b),
        (&[2], &[0.0; 2]),
        "[2, 3]",
    );
    expect_err(
        &|g, a, b| SparseCategoricalCrossentropy::new().build(g, a, b),
        (&[3], &[0.0; 3]),
        "shape [2] or [2, 1]",
    );
    expect_err(
        &|g, a, b| SparseCategoricalCrossentropy::new().build(g, a, b),
        (&[2, 3], &p),
        "class indices",
    );
    expect_err(
        &|g, a, b| Huber::new().delta(0.0).build(g, a, b),
        (SHAPE, &p),
        "delta",
    );
    expect_err(
        &|g, a, b| CategoricalAccuracy.build(g, a, b),
        (&[2, 2], &[0.0; 4]),
        "categorical_accuracy",
    );
}

#[test]
fn accuracy_variants() {
    // Row 1 right (argmax 2), row 2 wrong (argmax 0 vs label 1), row 3 right with a tie in the
    // labels' favour (first maximum wins).
    let p = [0.1, 0.2, 0.7, 0.5, 0.4, 0.1, 0.3, 0.3, 0.1];
    let one_hot = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
    let shape: &[usize] = &[3, 3];
    close(
        metric_value(&CategoricalAccuracy, (shape, &p), (shape, &one_hot)),
        2.0 / 3.0,
        "categorical",
    );
    close(
        metric_value(&Accuracy, (shape, &p), (shape, &one_hot)),
        2.0 / 3.0,
        "accuracy on one-hot picks categorical",
    );
    let labels = [2.0, 1.0, 0.0];
    close(
        metric_value(&SparseCategoricalAccuracy, (shape, &p), (&[3], &labels)),
        2.0 / 3.0,
        "sparse [batch]",
    );
    close(
        metric_value(&SparseCategoricalAccuracy, (shape, &p), (&[3, 1], &labels)),
        2.0 / 3.0,
        "sparse [batch, 1]",
    );
    close(
        metric_value(&Accuracy, (shape, &p), (&[3], &labels)),
        2.0 / 3.0,
        "accuracy on [batch] labels picks sparse",
    );
    close(
        metric_value(&Accuracy, (shape, &p), (&[3, 1], &labels)),
        2.0 / 3.0,
        "accuracy on [batch, 1] labels picks sparse",
    );
    // Binary: 0.5 is not above the threshold.
    let probs = [0.9, 0.5, 0.2, 0.51];
    let truth = [1.0, 1.0, 0.0, 0.0];
    close(
        metric_value(&BinaryAccuracy::new(), (&[4, 1], &probs), (&[4, 1], &truth)),
        0.5,
        "binary",
    );
    close(
        metric_value(&Accuracy, (&[4, 1], &probs), (&[4, 1], &truth)),
        0.5,
        "accuracy on one output picks binary",
    );
    close(
        metric_value(
            &BinaryAccuracy::new().threshold(0.45),
            (&[4, 1], &probs),
            (&[4, 1], &truth),
        ),
        0.75,
        "binary threshold 0.45",
    );
}

#[test]
fn regression_metrics_and_names() {
    let p = [1.0, 2.0, 3.0, -1.0];
    let y = [1.5, 2.0, 0.0, 1.0];
    close(
        metric_value(&metrics::MeanAbsoluteError, (&[2, 2], &p), (&[2, 2], &y)),
        (0.5 + 0.0 + 3.0 + 2.0) / 4.0,
        "mae",
    );
    close(
        metric_value(&metrics::MeanSquaredError, (&[2, 2], &p), (&[2, 2], &y)),
        (0.25 + 0.0 + 9.0 + 4.0) / 4.0,
        "mse",
    );
    let names: Vec<&str> = [
        &Accuracy as &dyn Metric,
        &metrics::MeanAbsoluteError,
        &metrics::MeanSquaredError,
    ]
    .iter()
    .map(|m| m.name())
    .collect();
    assert_eq!(names, ["accuracy", "mae", "mse"]);
}

/// Central finite differences of `loss` with respect to the predictions, against the graph's
/// gradient from autodiff (tolerance 2e-3, absolute plus relative: f32 differences with h = 1e-3).
fn check_gradient(loss: &dyn Loss, p: (&[usize], &[f32]), y: (&[usize], &[f32])) {
    let mut g = Graph::new();
    let pn = g.input("p", p.0);
    let yn = g.input("y", y.0);
    let out = loss.build(&mut g, pn, yn).unwrap();
    let (mut g, grads) =
        passes::autodiff::grad(&g, out, &[pn]).expect("the loss is differentiable");
    g.add_output("grad", grads[0]).unwrap();
    let bind = |values: &[f32]| {
        HashMap::from([
            ("p".to_string(), Tensor::new(p.0, values.to_vec()).unwrap()),
            ("y".to_string(), Tensor::new(y.0, y.1.to_vec()).unwrap()),
        ])
    };
    let analytic = run(&g, &bind(p.1)).unwrap().outputs[0].1.data.clone();
    let h = 1e-3;
    for i in 0..p.1.len() {
        let shifted = |d: f32| {
            let mut v = p.1.to_vec();
            v[i] += d;
            loss_value(loss, (p.0, &v), y)
        };
        let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
        assert!(
            (analytic[i] - numeric).abs() <= 2e-3 * (1.0 + numeric.abs()),
            "{} d/dp[{i}]: autodiff {} vs finite differences {numeric}",
            loss.name(),
            analytic[i]
        );
    }
}

#[test]
fn loss_gradients_match_finite_differences() {
    let probs = [0.2, 0.3, 0.5, 0.6, 0.3, 0.1];
    // No logit of exactly 0: there the stable sigmoid cross-entropy's relu and |z| kinks give a
    // zero subgradient (as in TF) instead of sigmoid(0) - y.
    let logits = [2.0, -1.0, 0.5, 1.0, 0.25, -3.0];
    check_gradient(
        &SoftmaxCrossEntropyWithLogits,
        (SHAPE, &logits),
        (SHAPE, &ONE_HOT),
    );
    check_gradient(
        &CategoricalCrossentropy::new(),
        (SHAPE, &probs),
        (SHAPE, &ONE_HOT),
    );
    check_gradient(
        &SparseCategoricalCrossentropy::new().from_logits(true),
        (SHAPE, &logits),
        (&[2], &[2.0, 0.0]),
    );
    check_gradient(
        &SparseCategoricalCrossentropy::new(),
        (SHAPE, &probs),
        (&[2, 1], &[2.0, 0.0]),
    );
    check_gradient(
        &BinaryCrossentropy::new(),
        (SHAPE, &probs),
        (SHAPE, &ONE_HOT),
    );
    check_gradient(
        &BinaryCrossentropy::new().from_logits(true),
        (SHAPE, &logits),
        (SHAPE, &ONE_HOT),
    );
    // Away from the kinks of |e| and of Huber's switch at |e| = delta.
    check_gradient(&MeanSquaredError, (SHAPE, &logits), (SHAPE, &probs));
    check_gradient(&MeanAbsoluteError, (SHAPE, &logits), (SHAPE, &probs));
    check_gradient(&Huber::new(), (SHAPE, &logits), (SHAPE, &probs));
}
