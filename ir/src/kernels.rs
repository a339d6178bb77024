//! What each kernel of a graph writes, and when it may write over memory it reads: the facts
//! the memory planner and its validator ([`crate::memory_plan`]) share with the backends.
//!
//! A computed node runs one kernel, which writes the node's value; a multi-result kernel
//! (`fused.multi`) writes the values of its `extract` nodes instead, which run nothing. A
//! kernel reads all its operands before or while it writes, so it may write over an operand's
//! memory only where it provably reads each element before writing it at the same place:
//! see [`writes_where_it_reads`].
//!
//! `gather` reads table rows wherever its ids point and `scatter_add` adds into result rows in
//! id order: neither is elementwise, so neither ever writes over an operand.
//!
//! Deliberately not here: liveness and storage (the planner's), and anything about leaves,
//! views or dead nodes, which the callers filter first.

use crate::fused::FusedOp;
use crate::graph::{Graph, NodeId};
use crate::multi::LoopResult;
use crate::op::Op;

/// Whether `op` is an elementwise kernel: output element `i` is computed from the operands'
/// elements at (broadcast) index `i` only, and a kernel reads element `i` of every operand
/// before it writes element `i` of its result (`Unary`, `Binary`, `Select`, fused
/// `Elementwise`). Only such a kernel (or an elementwise loop of a multi-result kernel, see
/// [`writes_where_it_reads`]) may write its result over an operand it is still reading, and
/// only when that operand has exactly the result's shape (no broadcast), so the read and the
/// write of each element happen at the same flat index.
pub fn is_elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Unary(_) | Op::Binary(_) | Op::Select | Op::Fused(FusedOp::Elementwise(_))
    )
}

/// The kernel that computes `id`: its multi-result kernel for an `extract`, else `id`.
pub fn kernel_of(graph: &Graph, id: NodeId) -> NodeId {
    match graph.op(id) {
        Op::Extract { .. } => graph.operands(id)[0],
        _ => id,
    }
}

/// The nodes whose values the kernel at `kernel` writes: its `extract`s, in result order,
/// for a multi-result kernel; else `kernel` itself.
pub fn kernel_writes(graph: &Graph, kernel: NodeId) -> Vec<NodeId> {
    match graph.op(kernel) {
        Op::Fused(FusedOp::Multi(_)) => {
            let mut extracts: Vec<(usize, NodeId)> = graph
                .users(kernel)
                .into_iter()
                .filter_map(|u| match graph.op(u) {
                    Op::Extract { index, .. } => Some((*index, u)),
                    _ => None,
                })
                .collect();
            extracts.sort_unstable();
            extracts.into_iter().map(|(_, u)| u).collect()
        }
        _ => vec![kernel],
    }
}

/// Whether the kernel computing `written` (the node itself, or the multi-result kernel of an
/// `extract`) reads its operand number `operand` only at the flat index where it writes
/// `written`, each element before writing it, so `written` may take over that operand's
/// memory. True for an [`is_elementwise`] kernel whose operand has exactly its shape; for a
/// multi-result kernel when `written` is an elementwise result of a loop (reducing or not:
/// a loop visits each element of its domain once, reading it before writing its elementwise
/// results there), no other loop reads the operand, and the operand has the loop's domain
/// as its shape.
pub fn writes_where_it_reads(graph: &Graph, written: NodeId, operand: usize) -> bool {
    let kernel = kernel_of(graph, written);
    let Some(&operand_node) = graph.operands(kernel).get(operand) else {
        return false;
    };
    let same_shape = graph.shape(operand_node) == graph.shape(written);
    match (graph.op(kernel), graph.op(written)) {
        (Op::Fused(FusedOp::Multi(k)), Op::Extract { index, .. }) => {
            let Some((l, result)) = k.result(*index) else {
                return false;
            };
            let others_read = k
                .loops
                .iter()
                .enumerate()
                .any(|(m, other)| m != l && other.operands_read().contains(&operand));
            same_shape && matches!(result, LoopResult::Element(_)) && !others_read
        }
        (op, _) => same_shape && is_elementwise(op),
    }
}
