//! The step graphs of a compiled model:
//! - train step: forward + loss (+ regularizer penalties) + metrics + gradients + optimizer
//!   updates; outputs `loss` and one output per metric (the batch mean, or the batch's
//!   counts for a metric summed over the epoch);
//! - eval: forward + loss (+ penalties) + metrics.
//!
//! A weighted step (Keras' `sample_weight`) also takes one weight per example and weighs the
//! loss with it (see `weighted`); metrics stay unweighted.
//!
//! Graphs are static-shaped, so each is built for a concrete batch size. Labels are fed as
//! given by the dataset, in the per-example shape the state settled on at compile time.

use ir::{BinaryOp, Graph, NodeId, Shape, Tensor};

use super::weighted::{SAMPLE_WEIGHT_INPUT, weighted_loss};
use super::{Role, TrainingState};
use crate::error::Result;
use crate::metrics::Aggregation;
use crate::model::graph::LayerGraph;
use crate::model::graph::forward::{Forward, ModelParam};

/// Name of the loss output of the train and eval graphs.
pub const LOSS_OUTPUT: &str = "loss";
/// Name of the graph input that takes a batch of labels.
pub const LABELS_INPUT: &str = "labels";

impl TrainingState {
    /// The train or eval graph for `batch` examples of the model whose layers are `graph`
    /// (seeded with `seed`), and the optimizer's initial state values (train graph only).
    /// A `weighted` step also takes one weight per example ([`SAMPLE_WEIGHT_INPUT`]).
    pub fn step_graph(
        &self,
        graph: &LayerGraph,
        seed: u64,
        role: Role,
        batch: usize,
        weighted: bool,
    ) -> Result<(Graph, Vec<(String, Tensor)>)> {
        let Forward {
            graph: mut g,
            outputs,
            params,
        } = graph.build_forward(self.forward_options(seed, role, batch))?;
        let output = outputs[0];
        let mut label_dims = vec![batch];
        label_dims.extend_from_slice(self.label_shape.dims());
        let labels = g.input(LABELS_INPUT, Shape::new(label_dims));
        let weights = weighted.then(|| g.input(SAMPLE_WEIGHT_INPUT, Shape::from([batch])));
        let loss = self.objective(graph, &mut g, output, &params, (labels, weights))?;
        let metric_nodes = self.metric_nodes(graph, &mut g, output, labels)?;
        let mut initial_state = Vec::new();
        if role == Role::Train {
            initial_state = self.add_update(&mut g, &params, loss)?;
        }
        g.add_output(LOSS_OUTPUT, loss)?;
        for (name, node) in metric_nodes {
            g.add_output(name, node)?;
        }
        Ok((g, initial_state))
    }

    /// The scalar the optimizer minimises: the loss of the model's `output` against
    /// `labels` (weighted per example when sample weights are given), plus every parameter's
    /// regularizer penalty.
    fn objective(
        &self,
        graph: &LayerGraph,
        g: &mut Graph,
        output: NodeId,
        params: &[ModelParam],
        (labels, weights): (NodeId, Option<NodeId>),
    ) -> Result<NodeId> {
        let loss_fn = &self.components.loss;
        let mut loss = loss_fn.build(g, output, labels)?;
        if let Some(weights) = weights {
            loss = weighted_loss(g, loss_fn.name(), loss, weights)?;
        }
        if !g.shape(loss).dims().is_empty() {
            return Err(graph.error(format!(
                "the loss must be a scalar, got shape {}",
                g.shape(loss)
            )));
        }
        for p in params {
            if let Some(regularizer) = p.spec.regularizer {
                let penalty = regularizer.build_penalty(g, p.node)?;
                loss = g.binary(BinaryOp::Add, loss, penalty)?;
            }
        }
        Ok(loss)
    }

    /// One node per metric, by name: a scalar for a mean, counts for a summed metric.
    fn metric_nodes(
        &self,
        graph: &LayerGraph,
        g: &mut Graph,
        output: NodeId,
        labels: NodeId,
    ) -> Result<Vec<(String, NodeId)>> {
        self.components
            .metrics
            .iter()
            .map(|m| {
                let node = m.build(g, output, labels)?;
                let per_batch_mean = matches!(m.aggregation(), Aggregation::Mean);
                if per_batch_mean && g.shape(node).rank() != 0 {
                    return Err(graph.error(format!(
                        "metric `{}` must be a scalar, got shape {}",
                        m.name(),
                        g.shape(node)
                    )));
                }
                Ok((m.name().to_string(), node))
            })
            .collect()
    }

    /// Append the gradients of `loss` with respect to the trainable parameters and the
    /// optimizer's updates; returns the optimizer's initial state values.
    fn add_update(
        &self,
        g: &mut Graph,
        params: &[ModelParam],
        loss: NodeId,
    ) -> Result<Vec<(String, Tensor)>> {
        let trainable: Vec<NodeId> = params
            .iter()
            .filter(|p| p.spec.trainable)
            .map(|p| p.node)
            .collect();
        let (with_grads, grads) = passes::autodiff::grad(g, loss, &trainable)?;
        *g = with_grads;
        self.components
            .optimizer
            .build_update(g, &trainable, &grads)
    }
}
