//! Rules for the indexing ops `gather` and `scatter_add`, each the other's adjoint in the
//! values they move. The ids are piecewise constant (integers picking rows): no gradient
//! flows to them. Not here: how a backend computes either op.

use ir::infer::op_name;
use ir::{Graph, NodeId, Op};

use super::site::Site;
use crate::autodiff::emit::Res;

/// The gradient for operand `i` of a `gather` or `scatter_add`.
pub(super) fn indexing_grad(g: &mut Graph, site: &Site, i: usize) -> Res<Option<NodeId>> {
    let (dy, ops) = (site.dy, &site.operands);
    let grad = match (&site.op, i) {
        // y = gather(table, ids): y[k] = table[ids[k]], so d table[r] = sum over the k with
        // ids[k] = r of dy[k]: scatter_add(ids, dy) with the table's rows.
        (Op::Gather, 0) => {
            let rows = g.shape(ops[0]).0[0];
            g.add(Op::ScatterAdd { rows }, &[ops[1], dy])?
        }
        // z = scatter_add(ids, u): z[r] = sum over ids[k] = r of u[k], so du[k] = dz[ids[k]]:
        // gather(dz, ids).
        (Op::ScatterAdd { .. }, 1) => g.add(Op::Gather, &[dy, ops[0]])?,
        // The ids: piecewise constant.
        (Op::Gather | Op::ScatterAdd { .. }, _) => return Ok(None),
        (other, _) => unreachable!("{} is not an indexing op", op_name(other)),
    };
    Ok(Some(grad))
}
