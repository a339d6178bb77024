//! The rule for movement ops (reshape, transpose, broadcast, slice, concat, pad): the inverse
//! movement of `dy`.

use ir::infer::op_name;
use ir::{Graph, Op};

use super::site::Site;
use crate::autodiff::emit::{Emit, Res};

/// The gradient for operand `i` of a movement op: the inverse movement of `dy`.
pub(super) fn movement_grad(g: &mut Graph, site: &Site, i: usize) -> Res {
    let (dy, ops) = (site.dy, &site.operands);
    let x_shape = g.shape(ops[i]).clone();
    let dx = match &site.op {
        // y = reshape(x): dx = reshape(dy, shape(x)).
        Op::Reshape(_) => g.reshape_to(dy, &x_shape)?,
        // y axis k = x axis perm[k]: dx = transpose(dy, perm^-1).
        Op::Transpose(perm) => {
            let mut inverse = vec![0; perm.len()];
            for (k, &p) in perm.iter().enumerate() {
                inverse[p] = k;
            }
            g.add(Op::Transpose(inverse), &[dy])?
        }
        // y = broadcast(x): dx = sum of dy over the broadcast axes.
        Op::Broadcast(_) => g.reduce_to(dy, &x_shape)?,
        // y = x[starts..ends]: dx = pad(dy, starts, dims - ends, 0).
        Op::Slice { starts, ends } => {
            let after = x_shape.0.iter().zip(ends).map(|(d, e)| d - e).collect();
            let pad = Op::Pad {
                before: starts.clone(),
                after,
                value: 0.0,
            };
            g.add(pad, &[dy])?
        }
        // y = concat(x_0, .., x_n): dx_i = dy[offset_i .. offset_i + len_i] along the axis.
        Op::Concat { axis } => {
            let offset: usize = ops[..i].iter().map(|&o| g.shape(o).0[*axis]).sum();
            let mut starts = vec![0; x_shape.rank()];
            starts[*axis] = offset;
            let mut ends = x_shape.0.clone();
            ends[*axis] += offset;
            g.add(Op::Slice { starts, ends }, &[dy])?
        }
        // y = pad(x, before, after): dx = dy[before .. before + dims].
        Op::Pad { before, .. } => {
            let ends = before.iter().zip(&x_shape.0).map(|(b, d)| b + d).collect();
            let slice = Op::Slice {
                starts: before.clone(),
                ends,
            };
            g.add(slice, &[dy])?
        }
        other => unreachable!("{} is not a movement op", op_name(other)),
    };
    Ok(dx)
}
