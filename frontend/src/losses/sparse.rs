//! Sparse categorical cross-entropy: labels are class indices (as f32), turned into a one-hot
//! tensor in the graph by comparing them with a constant iota `[0, 1, .., classes-1]`.

use ir::{BinaryOp, Graph, NodeId, Shape, Tensor, UnaryOp};

use super::{Loss, check_node, clip_probabilities, softmax_cross_entropy};
use crate::error::Error;
use crate::error::training_graph_error;

/// Keras `SparseCategoricalCrossentropy`: predictions `[batch, classes]`, labels `[batch]` or
/// `[batch, 1]` holding class indices. On probabilities Keras clips to `[ε, 1-ε]` and takes
/// the softmax cross-entropy of their logarithms (which renormalises the rows); with
/// `from_logits` it is the softmax cross-entropy of the logits. A label outside
/// `0..classes` matches no class and contributes 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SparseCategoricalCrossentropy {
    /// Predictions are logits rather than probabilities.
    pub from_logits: bool,
}

impl SparseCategoricalCrossentropy {
    /// On probabilities (Keras' default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether predictions are logits.
    pub fn from_logits(mut self, from_logits: bool) -> Self {
        self.from_logits = from_logits;
        self
    }
}

impl Loss for SparseCategoricalCrossentropy {
    fn name(&self) -> &str {
        "sparse_categorical_crossentropy"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "from_logits": self.from_logits })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        let one_hot = one_hot(g, self.name(), predictions, labels)?;
        let logits = if self.from_logits {
            predictions
        } else {
            let clipped = clip_probabilities(g, predictions)?;
            g.unary(UnaryOp::Log, clipped)?
        };
        softmax_cross_entropy(g, logits, one_hot)
    }
}

/// The one-hot form of class-index `labels` matching `predictions` `[.., classes]`: labels
/// must be shaped like `predictions` without its last axis, or with it as 1.
pub(crate) fn one_hot(
    g: &mut Graph,
    owner: &str,
    predictions: NodeId,
    labels: NodeId,
) -> Result<NodeId, Error> {
    let column = index_column(g, owner, predictions, labels)?;
    let classes = *g
        .shape(predictions)
        .dims()
        .last()
        .expect("index_column checked the rank");
    let iota = Tensor {
        shape: Shape::from([classes]),
        data: (0..classes).map(|c| c as f32).collect(),
    };
    let iota = g.constant(iota);
    Ok(g.binary(BinaryOp::Eq, column, iota)?)
}

/// Class-index `labels` reshaped to `[.., 1]` to line up with `predictions` `[.., classes]`.
pub(crate) fn index_column(
    g: &mut Graph,
    owner: &str,
    predictions: NodeId,
    labels: NodeId,
) -> Result<NodeId, Error> {
    check_node(g, owner, predictions)?;
    check_node(g, owner, labels)?;
    let (p, l) = (g.shape(predictions).clone(), g.shape(labels).clone());
    let mut column = p.dims().to_vec();
    if let Some(last) = column.last_mut() {
        *last = 1;
    }
    let fits =
        p.rank() >= 1 && (l.dims() == &p.dims()[..p.rank() - 1] || l.dims() == column.as_slice());
    if !fits {
        return Err(training_graph_error(
            owner,
            format!(
                "labels {labels} of shape {l} must hold class indices for predictions {predictions} of shape {p} (shape {} or {})",
                Shape::new(&p.dims()[..p.rank().saturating_sub(1)]),
                Shape::new(column)
            ),
        ));
    }
    if l.dims() == column.as_slice() {
        return Ok(labels);
    }
    Ok(g.reshape(labels, Shape::new(column))?)
}
