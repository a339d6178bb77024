//! The training heads of a compiled model — one per model output that has a loss — and how
//! their objective and reported values enter a step graph (Keras' `compile(loss=...,
//! loss_weights=..., metrics=...)` for models with several outputs).
//!
//! The objective is `Σ_k weight_k · loss_k(output_k, labels_k)` (each loss the batch mean
//! Keras reports), to which the caller adds the regularizer penalties. Reported values
//! follow tf-keras 2: `loss` is the total; with several heads each also reports
//! `<output>_loss` (its unweighted loss) and its metrics as `<output>_<metric>`; a model
//! with one output reports its metrics under their own names.
//!
//! This file does not decide which loss goes to which output (see
//! `crate::model::OutputLosses`), nor feed labels (the callers name the graph inputs with
//! [`labels_input`]). Sample weights (Keras' `sample_weight`, one per example) weigh every
//! head's loss, as Keras applies them to each output's loss (see `super::weighted`);
//! metrics stay unweighted.

use std::sync::Arc;

use ir::{BinaryOp, Graph, NodeId, Shape};

use super::weighted::weighted_loss;
use crate::error::{Error, Result, training_graph_error};
use crate::losses::Loss;
use crate::metrics::{Aggregation, Metric};

/// Name of the graph input that takes a batch of labels (of a one-output model; the labels
/// of head `k` of a model with several are `labels_k`).
pub const LABELS_INPUT: &str = "labels";

/// The graph input of the labels of head `k` of `count`.
pub(crate) fn labels_input(k: usize, count: usize) -> String {
    if count == 1 {
        LABELS_INPUT.to_string()
    } else {
        format!("{LABELS_INPUT}_{k}")
    }
}

/// One model output's loss, its weight in the total, and its metrics.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// Which model output (its position in the model's outputs).
    pub output: usize,
    /// The output's name (its layer's), the prefix of its reported values.
    pub name: String,
    /// The loss of this output (one loss object may serve several heads).
    pub loss: Arc<dyn Loss>,
    /// Its factor in the total loss (Keras' `loss_weights`, 1 by default).
    pub weight: f32,
    /// The metrics reported for this output.
    pub metrics: Vec<Arc<dyn Metric>>,
}

/// What a step reports, in order: the total loss, then (several heads only) each head's
/// loss, then each head's metrics — tf-keras 2's `metrics_names` order — each with how it
/// combines over a pass.
pub(crate) fn reported_names(heads: &[Head]) -> Vec<(String, Aggregation)> {
    let several = heads.len() > 1;
    let mut names = vec![(super::LOSS_OUTPUT.to_string(), Aggregation::Mean)];
    if several {
        let losses = heads
            .iter()
            .map(|h| (format!("{}_loss", h.name), Aggregation::Mean));
        names.extend(losses);
    }
    for head in heads {
        for metric in &head.metrics {
            let name = if several {
                format!("{}_{}", head.name, metric.name())
            } else {
                metric.name().to_string()
            };
            names.push((name, metric.aggregation()));
        }
    }
    names
}

/// The nodes a step graph gets from the heads: the weighted total loss (without penalties)
/// and every reported value after it, by name, in [`reported_names`]' order.
pub(crate) struct HeadNodes {
    pub total: NodeId,
    pub reported: Vec<(String, NodeId)>,
}

/// Add each head's loss and metrics of model output `outputs[head.output]` against its
/// labels node `labels[k]` to `g`, each loss weighted per example by `weights` (a `[batch]`
/// node) when given; `error` names the model in shape errors.
pub(crate) fn build_heads(
    g: &mut Graph,
    heads: &[Head],
    outputs: &[NodeId],
    labels: &[NodeId],
    weights: Option<NodeId>,
    error: &dyn Fn(String) -> Error,
) -> Result<HeadNodes> {
    let mut reported = Vec::new();
    let mut total = None;
    for (head, &label) in heads.iter().zip(labels) {
        let mut loss = head.loss.build(g, outputs[head.output], label)?;
        if let Some(weights) = weights {
            loss = weighted_loss(g, head.loss.name(), loss, weights)?;
        }
        if !g.shape(loss).dims().is_empty() {
            return Err(error(format!(
                "the loss of output `{}` must be a scalar, got shape {}",
                head.name,
                g.shape(loss)
            )));
        }
        if heads.len() > 1 {
            reported.push(loss);
        }
        let weighted = scaled(g, loss, head.weight)?;
        total = Some(match total {
            None => weighted,
            Some(sum) => g.binary(BinaryOp::Add, sum, weighted)?,
        });
    }
    for (head, &label) in heads.iter().zip(labels) {
        for metric in &head.metrics {
            let output = outputs[head.output];
            reported.push(metric_node(g, metric.as_ref(), output, label, error)?);
        }
    }
    let total = total.ok_or_else(|| error("has no output with a loss".into()))?;
    let names = reported_names(heads).into_iter().skip(1).map(|(n, _)| n);
    Ok(HeadNodes {
        total,
        reported: names.zip(reported).collect(),
    })
}

/// `loss · weight`, or `loss` itself for a weight of 1 (so one-output graphs are unchanged).
fn scaled(g: &mut Graph, loss: NodeId, weight: f32) -> Result<NodeId> {
    if weight == 1.0 {
        return Ok(loss);
    }
    let factor = g.scalar(weight);
    Ok(g.binary(BinaryOp::Mul, loss, factor)?)
}

/// `metric` of `output` against `labels`: a scalar for a mean, counts for a summed metric.
fn metric_node(
    g: &mut Graph,
    metric: &dyn Metric,
    output: NodeId,
    labels: NodeId,
    error: &dyn Fn(String) -> Error,
) -> Result<NodeId> {
    let node = metric.build(g, output, labels)?;
    let per_batch_mean = matches!(metric.aggregation(), Aggregation::Mean);
    if per_batch_mean && g.shape(node).rank() != 0 {
        return Err(error(format!(
            "metric `{}` must be a scalar, got shape {}",
            metric.name(),
            g.shape(node)
        )));
    }
    Ok(node)
}

/// Whether `head`'s loss and metrics accept labels of per-example shape `label` for an
/// output of per-example shape `output` (checked on a one-example graph of their own).
pub(crate) fn check_label_shape(head: &Head, output: &Shape, label: &Shape) -> Result<()> {
    let batched = |shape: &Shape| {
        let mut dims = vec![1];
        dims.extend_from_slice(shape.dims());
        Shape::new(dims)
    };
    let mut g = Graph::new();
    let predictions = g.input("predictions", batched(output));
    let labels = g.input(LABELS_INPUT, batched(label));
    let fail = |msg: String| training_graph_error(&head.name, msg);
    let alone = Head {
        output: 0,
        ..head.clone()
    };
    build_heads(&mut g, &[alone], &[predictions], &[labels], None, &fail).map(|_| ())
}
