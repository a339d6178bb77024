//! Confusion-count metrics, accumulated over an epoch as Keras' stateful metrics are:
//! `Precision`, `Recall` (one threshold, binary) and `AUC` (ROC, Riemann sum with Keras'
//! default "interpolation"). The step outputs the batch's counts of positives and negatives
//! whose prediction exceeds each threshold; `fit`/`evaluate` sum them over the epoch and the
//! metric's [`Aggregation::Sum`] function turns the sums into the value. Every element of
//! the predictions counts as one binary prediction (Keras flattens them; `top_k`,
//! `class_id` and multi-label AUC are not offered).

use ir::{BinaryOp, Graph, NodeId, Op, Shape, Tensor};

use super::{Aggregation, Metric};
use crate::error::{Error, training_graph_error};
use crate::losses::check_same_shape;

/// Keras' `backend.epsilon()`, the margin of AUC's outer thresholds.
const EPSILON: f32 = 1e-7;

/// Which weight a label gives to the positive and the negative row of the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabelWeights {
    /// Positive when non-zero (Keras casts labels to bool for one threshold).
    Boolean,
    /// `y` positive and `1 - y` negative (Keras' evenly-spaced-thresholds path, AUC).
    Soft,
}

/// The `[2, thresholds]` counts of one batch: row 0 sums the positive weight of the elements
/// whose prediction exceeds each threshold, row 1 the negative weight.
fn confusion_counts(
    g: &mut Graph,
    owner: &str,
    predictions: NodeId,
    labels: NodeId,
    thresholds: &[f32],
    weights: LabelWeights,
) -> Result<NodeId, Error> {
    check_same_shape(g, owner, predictions, labels)?;
    let elements = g.shape(predictions).numel();
    let column = Shape::from([elements, 1]);
    let predictions = g.reshape(predictions, column.clone())?;
    let labels = g.reshape(labels, column)?;
    let thresholds = g.constant(Tensor {
        shape: Shape::from([thresholds.len()]),
        data: thresholds.to_vec(),
    });
    let above = g.binary(BinaryOp::Gt, predictions, thresholds)?;
    let (zero, one) = (g.scalar(0.0), g.scalar(1.0));
    let (positive, negative) = match weights {
        LabelWeights::Boolean => (
            g.binary(BinaryOp::Ne, labels, zero)?,
            g.binary(BinaryOp::Eq, labels, zero)?,
        ),
        LabelWeights::Soft => (labels, g.binary(BinaryOp::Sub, one, labels)?),
    };
    let rows = g.add(Op::Concat { axis: 1 }, &[positive, negative])?;
    Ok(g.matmul(rows, above, true, false)?)
}

/// `numerator / denominator`, 0 when the denominator is 0 (TensorFlow's `divide_no_nan`).
fn divide_no_nan(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

/// Fails unless `threshold` lies in `[0, 1]`, as Keras requires.
fn check_threshold(owner: &str, threshold: f32) -> Result<(), Error> {
    if (0.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(training_graph_error(
            owner,
            format!("thresholds must lie in [0, 1], got {threshold}"),
        ))
    }
}

/// Defines a one-threshold metric struct with Keras' default threshold 0.5.
macro_rules! thresholded {
    ($(#[$meta:meta])* $ty:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $ty {
            /// A prediction above this counts as positive (in `[0, 1]`).
            pub threshold: f32,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self { threshold: 0.5 }
            }
        }

        impl $ty {
            /// Threshold 0.5, Keras' default.
            pub fn new() -> Self {
                Self::default()
            }

            /// Sets the threshold (Keras `thresholds`, one value).
            pub fn threshold(mut self, threshold: f32) -> Self {
                self.threshold = threshold;
                self
            }
        }
    };
}

thresholded! {
    /// Keras `Precision`: true positives / predicted positives over the epoch (0 when
    /// nothing was predicted positive).
    Precision
}

thresholded! {
    /// Keras `Recall`: true positives / actual positives over the epoch (0 when there were
    /// no positives).
    Recall
}

/// Counts `[positives, true positives, negatives, false positives]` at `threshold`: the
/// first threshold lies below every prediction, so its column holds the totals.
fn one_threshold_counts(
    g: &mut Graph,
    owner: &str,
    threshold: f32,
    predictions: NodeId,
    labels: NodeId,
) -> Result<NodeId, Error> {
    check_threshold(owner, threshold)?;
    confusion_counts(
        g,
        owner,
        predictions,
        labels,
        &[f32::MIN, threshold],
        LabelWeights::Boolean,
    )
}

impl Metric for Precision {
    fn name(&self) -> &str {
        "precision"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "thresholds": crate::config_json::f32_json(self.threshold) })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        one_threshold_counts(g, self.name(), self.threshold, predictions, labels)
    }

    fn aggregation(&self) -> Aggregation {
        Aggregation::Sum(|c| divide_no_nan(c[1], c[1] + c[3]))
    }
}

impl Metric for Recall {
    fn name(&self) -> &str {
        "recall"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "thresholds": crate::config_json::f32_json(self.threshold) })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        one_threshold_counts(g, self.name(), self.threshold, predictions, labels)
    }

    fn aggregation(&self) -> Aggregation {
        Aggregation::Sum(|c| divide_no_nan(c[1], c[0]))
    }
}

/// Keras `AUC` with its defaults: the area under the ROC curve from `num_thresholds`
/// evenly spaced thresholds (`-ε`, `1/(n-1)`, .., `(n-2)/(n-1)`, `1+ε`), summed with
/// Keras' "interpolation" (trapezoids). Predictions are probabilities, clipped to `[0, 1]`
/// (Keras asserts that range); labels weigh `y` as positive and `1 - y` as negative.
#[allow(clippy::upper_case_acronyms)] // the Keras class name
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AUC {
    /// Number of thresholds (> 1).
    pub num_thresholds: usize,
}

impl Default for AUC {
    fn default() -> Self {
        AUC {
            num_thresholds: 200,
        }
    }
}

impl AUC {
    /// 200 thresholds, Keras' default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `num_thresholds`.
    pub fn num_thresholds(mut self, num_thresholds: usize) -> Self {
        self.num_thresholds = num_thresholds;
        self
    }

    /// Keras' thresholds: `-ε`, `(i+1)/(n-1)` for `i < n-2`, `1+ε`.
    fn thresholds(&self) -> Vec<f32> {
        let n = self.num_thresholds;
        let inner = (0..n - 2).map(|i| ((i + 1) as f64 / (n - 1) as f64) as f32);
        std::iter::once(-EPSILON)
            .chain(inner)
            .chain(std::iter::once(1.0 + EPSILON))
            .collect()
    }
}

/// The ROC AUC of summed counts `[tp per threshold.., fp per threshold..]` whose first
/// threshold lies below every prediction (so `tp[0]` and `fp[0]` are the totals).
fn roc_auc(counts: &[f64]) -> f64 {
    let (tp, fp) = counts.split_at(counts.len() / 2);
    let recall: Vec<f64> = tp.iter().map(|&t| divide_no_nan(t, tp[0])).collect();
    let fp_rate: Vec<f64> = fp.iter().map(|&f| divide_no_nan(f, fp[0])).collect();
    (0..recall.len() - 1)
        .map(|i| (fp_rate[i] - fp_rate[i + 1]) * (recall[i] + recall[i + 1]) / 2.0)
        .sum()
}

impl Metric for AUC {
    fn name(&self) -> &str {
        "auc"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "num_thresholds": self.num_thresholds,
            "curve": "ROC",
            "summation_method": "interpolation",
            "multi_label": false,
            "from_logits": false,
        })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        if self.num_thresholds < 2 {
            return Err(training_graph_error(
                self.name(),
                format!("num_thresholds must be > 1, got {}", self.num_thresholds),
            ));
        }
        let (low, high) = (g.scalar(0.0), g.scalar(1.0));
        let floor = g.binary(BinaryOp::Max, predictions, low)?;
        let clipped = g.binary(BinaryOp::Min, floor, high)?;
        confusion_counts(
            g,
            self.name(),
            clipped,
            labels,
            &self.thresholds(),
            LabelWeights::Soft,
        )
    }

    fn aggregation(&self) -> Aggregation {
        Aggregation::Sum(roc_auc)
    }
}
