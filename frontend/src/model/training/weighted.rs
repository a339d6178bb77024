//! Sample weights in the loss (Keras' `sample_weight`, and `class_weight` turned into
//! sample weights by `fit`): the weighted form of a loss that ends in a mean over the batch.
//!
//! Every loss of [`crate::losses`] ends in `mean(per_example)` over all axes of a tensor
//! whose first axis is the batch (Keras' `SUM_OVER_BATCH_SIZE`). With a weight per example
//! `w` (shape `[batch]`), Keras 2 computes `sum(w_i · loss_i) / size(per_example)`; this
//! module rewrites that final mean into exactly that, leaving the unweighted mean unused.
//! It does not weigh metrics (Keras' `metrics` are unweighted; `weighted_metrics` are not
//! supported) nor regularizer penalties (added after, unweighted, as in Keras).

use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Shape};

use crate::error::{Error, training_graph_error};

/// Name of the graph input of a weighted train or eval step: one weight per example.
pub const SAMPLE_WEIGHT_INPUT: &str = "sample_weight";

/// `sum(weights · per_example) / size(per_example)` for the scalar `loss` of the loss called
/// `name`, which must be a mean over all axes of a `[batch, ...]` tensor; `weights` is the
/// `[batch]` input. Any other form of loss is an error naming it.
pub(crate) fn weighted_loss(
    g: &mut Graph,
    name: &str,
    loss: NodeId,
    weights: NodeId,
) -> Result<NodeId, Error> {
    let per_example = batch_mean_operand(g, loss).ok_or_else(|| {
        training_graph_error(
            name,
            "sample weights need a loss that ends in a mean over the batch",
        )
    })?;
    let dims = g.shape(per_example).dims().to_vec();
    let batch = g.shape(weights).dims().to_vec();
    if dims.first() != batch.first() || batch.len() != 1 {
        return Err(training_graph_error(
            name,
            format!(
                "sample weights of shape {batch:?} do not match per-example losses of shape {dims:?}"
            ),
        ));
    }
    let mut column = vec![1; dims.len()];
    column[0] = dims[0];
    let column = g.reshape(weights, Shape::new(column))?;
    let weighted = g.binary(BinaryOp::Mul, per_example, column)?;
    let all: Vec<usize> = (0..dims.len()).collect();
    let total = g.reduce(ReduceOp::Sum, weighted, &all, false)?;
    let count = g.scalar(dims.iter().product::<usize>() as f32);
    Ok(g.binary(BinaryOp::Div, total, count)?)
}

/// The operand of `loss` when it is a mean over all axes (rank ≥ 1) without kept dims.
fn batch_mean_operand(g: &Graph, loss: NodeId) -> Option<NodeId> {
    let Op::Reduce {
        op: ReduceOp::Mean,
        axes,
        keep_dims: false,
    } = g.op(loss)
    else {
        return None;
    };
    let operand = *g.operands(loss).first()?;
    let rank = g.shape(operand).rank();
    (rank >= 1 && axes.iter().copied().eq(0..rank)).then_some(operand)
}

#[cfg(test)]
mod tests {
    use ir::Tensor;
    use ir::interp::{Bindings, run};

    use super::*;
    use crate::losses::{Loss, MeanSquaredError, SparseCategoricalCrossentropy};

    /// The weighted loss of `loss` on `predictions` and `labels` with `weights`.
    fn weighted(loss: &dyn Loss, predictions: Tensor, labels: Tensor, weights: &[f32]) -> f32 {
        let mut g = Graph::new();
        let p = g.input("p", predictions.shape.clone());
        let l = g.input("l", labels.shape.clone());
        let w = g.input("w", Shape::from([weights.len()]));
        let node = loss.build(&mut g, p, l).unwrap();
        let out = weighted_loss(&mut g, loss.name(), node, w).unwrap();
        g.add_output("loss", out).unwrap();
        let mut bindings = Bindings::default();
        bindings.insert("p".into(), predictions);
        bindings.insert("l".into(), labels);
        bindings.insert(
            "w".into(),
            Tensor::new([weights.len()], weights.to_vec()).unwrap(),
        );
        run(&g, &bindings).unwrap().outputs[0].1.data[0]
    }

    #[test]
    fn weights_multiply_each_example_and_divide_by_the_batch() {
        // Per-example MSE: 1 and 4; weighted (2·1 + 0.5·4) / 2 = 2.
        let p = Tensor::new([2, 2], vec![1.0, 1.0, 2.0, 2.0]).unwrap();
        let y = Tensor::new([2, 2], vec![0.0, 0.0, 0.0, 0.0]).unwrap();
        assert_eq!(weighted(&MeanSquaredError, p, y, &[2.0, 0.5]), 2.0);
        // Sparse cross-entropy on exact probabilities: -ln(0.5) weighted by 3 over 2.
        let p = Tensor::new([2, 2], vec![0.5, 0.5, 1.0, 0.0]).unwrap();
        let y = Tensor::new([2], vec![0.0, 0.0]).unwrap();
        let got = weighted(&SparseCategoricalCrossentropy::new(), p, y, &[3.0, 0.0]);
        assert!((got - 3.0 * 0.5f32.ln().abs() / 2.0).abs() < 1e-6, "{got}");
    }

    #[test]
    fn a_loss_without_a_final_batch_mean_is_an_error() {
        let mut g = Graph::new();
        let x = g.input("x", Shape::from([2]));
        let w = g.input("w", Shape::from([2]));
        let sum = g.reduce(ReduceOp::Sum, x, &[0], false).unwrap();
        let err = weighted_loss(&mut g, "custom", sum, w).unwrap_err();
        assert!(err.to_string().contains("custom"), "{err}");
    }
}
