//! The step graphs of a compiled model:
//! - train step: forward + loss (+ regularizer penalties) + metrics + gradients + optimizer
//!   updates; outputs `loss` and one output per reported value (see [`super::heads`]: the
//!   batch mean, or the batch's counts for a metric summed over the epoch);
//! - eval: forward + loss (+ penalties) + metrics;
//! - gradients (distributed training, see `split`): the train step without the optimizer,
//!   each trainable parameter's gradient an output.
//!
//! A weighted step (Keras' `sample_weight`) also takes one weight per example and weighs the
//! loss with it (see `weighted`); metrics stay unweighted.
//!
//! Graphs are static-shaped, so each is built for a concrete batch size. Labels are fed as
//! given by the dataset, one graph input per head (`labels`, or `labels_k` for several), in
//! the per-example shape the state settled on at compile time.

use ir::{BinaryOp, Graph, NodeId, Shape, Tensor};

use super::SAMPLE_WEIGHT_INPUT;
use super::heads::{HeadNodes, build_heads, labels_input};
use super::{Role, TrainingState};
use crate::error::Result;
use crate::model::graph::LayerGraph;
use crate::model::graph::forward::{Forward, ModelParam};

/// Name of the loss output of the train and eval graphs.
pub const LOSS_OUTPUT: &str = "loss";

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
        let count = self.label_shapes.len();
        let labels: Vec<NodeId> = self
            .label_shapes
            .iter()
            .enumerate()
            .map(|(k, shape)| {
                let mut dims = vec![batch];
                dims.extend_from_slice(shape.dims());
                g.input(labels_input(k, count), Shape::new(dims))
            })
            .collect();
        let weights = weighted.then(|| g.input(SAMPLE_WEIGHT_INPUT, Shape::from([batch])));
        let error = |msg: String| graph.error(msg);
        let heads = &self.components.heads;
        let HeadNodes { total, reported } =
            build_heads(&mut g, heads, &outputs, &labels, weights, &error)?;
        let loss = add_penalties(&mut g, total, &params)?;
        let mut initial_state = Vec::new();
        match role {
            Role::Train => initial_state = self.add_update(&mut g, &params, loss)?,
            Role::Gradients => {
                Self::add_gradient_outputs(&mut g, &trainable_nodes(&params), loss)?;
            }
            Role::Eval => {}
        }
        g.add_output(LOSS_OUTPUT, loss)?;
        for (name, node) in reported {
            g.add_output(name, node)?;
        }
        Ok((g, initial_state))
    }

    /// Append the gradients of `loss` with respect to the trainable parameters and the
    /// optimizer's updates; returns the optimizer's initial state values.
    fn add_update(
        &self,
        g: &mut Graph,
        params: &[ModelParam],
        loss: NodeId,
    ) -> Result<Vec<(String, Tensor)>> {
        let trainable = trainable_nodes(params);
        let (with_grads, grads) = passes::autodiff::grad(g, loss, &trainable)?;
        *g = with_grads;
        self.components
            .optimizer
            .build_update(g, &trainable, &grads)
    }
}

/// The nodes of the parameters the optimizer updates.
fn trainable_nodes(params: &[ModelParam]) -> Vec<NodeId> {
    params
        .iter()
        .filter(|p| p.spec.trainable)
        .map(|p| p.node)
        .collect()
}

/// The scalar the optimizer minimises: the heads' weighted loss `loss` plus every
/// parameter's regularizer penalty.
fn add_penalties(g: &mut Graph, mut loss: NodeId, params: &[ModelParam]) -> Result<NodeId> {
    for p in params {
        if let Some(regularizer) = p.spec.regularizer {
            let penalty = regularizer.build_penalty(g, p.node)?;
            loss = g.binary(BinaryOp::Add, loss, penalty)?;
        }
    }
    Ok(loss)
}
