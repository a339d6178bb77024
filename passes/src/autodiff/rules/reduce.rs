//! The rule for reductions (`sum`, `mean`, `max`, `min`, `argmax`): `dy` broadcast back over
//! the reduced axes.

use ir::{BinaryOp, Graph, NodeId, ReduceOp, Shape};

use crate::autodiff::emit::{Emit, Res};

/// `dx` for a reduction `y = reduce(x, axes)`.
pub(super) fn reduce_grad(
    g: &mut Graph,
    op: ReduceOp,
    axes: &[usize],
    keep_dims: bool,
    x: NodeId,
    y: NodeId,
    dy: NodeId,
) -> Res<Option<NodeId>> {
    let x_shape = g.shape(x).clone();
    let kept = Shape(
        x_shape
            .0
            .iter()
            .enumerate()
            .map(|(k, &d)| if axes.contains(&k) { 1 } else { d })
            .collect(),
    );
    // Reinsert the reduced axes as size 1 so `dy` (and `y`) broadcast against `x`.
    let dy_kept = if keep_dims {
        dy
    } else {
        g.reshape_to(dy, &kept)?
    };
    let dx = match op {
        // y = sum_axes x: dx = broadcast(dy)
        ReduceOp::Sum => g.broadcast_to(dy_kept, &x_shape)?,
        // y = mean_axes x = sum / n: dx = broadcast(dy) / n
        ReduceOp::Mean => {
            let n: usize = axes.iter().map(|&a| x_shape.0[a]).product();
            let scaled = g.scale(dy_kept, 1.0 / n as f32)?;
            g.broadcast_to(scaled, &x_shape)?
        }
        // y = max_axes x (or min): dx = (x == y) * dy / count(x == y), the gradient split
        // evenly among the elements that attain the extremum.
        ReduceOp::Max | ReduceOp::Min => {
            let y_kept = if keep_dims {
                y
            } else {
                g.reshape_to(y, &kept)?
            };
            let hit = g.bin(BinaryOp::Eq, x, y_kept)?;
            let count = g.sum(hit, axes, true)?;
            let share = g.div2(dy_kept, count)?;
            g.mul2(hit, share)?
        }
        // y = argmax x: piecewise constant, no gradient.
        ReduceOp::ArgMax => return Ok(None),
    };
    Ok(Some(dx))
}
