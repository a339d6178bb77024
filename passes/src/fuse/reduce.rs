//! The reduction rule: an elementwise group feeding a reduction becomes one
//! [`FusedOp::Reduce`] whose prologue computes the group per input element, so the
//! pre-reduction tensor (e.g. `square(x - mean)` of a variance, or a loss's per-element
//! terms) never reaches memory.
//!
//! Guarantees: fires only when the reduction's operand is the root of an elementwise group
//! and the reduction is that root's only use (not an output, no other user), so nothing is
//! computed twice. The prologue runs over the operand's shape (`input_shape`) with the
//! group's leaves as operands, each broadcast to that shape, exactly as the primitive ops
//! would read them.
//!
//! Deliberately not done: an epilogue after the reduction (e.g. the `/ n` of a hand-written
//! mean) and merging two reductions of the same prologue.

use ir::{FusedOp, NodeId, Op};

use super::elementwise::{Groups, Inline};
use super::fusion::Fusion;

/// Elementwise prologue + `reduce`.
pub fn prologue(groups: &Groups, id: NodeId) -> Option<Fusion> {
    let graph = groups.graph();
    let Op::Reduce {
        op,
        axes,
        keep_dims,
    } = graph.op(id)
    else {
        return None;
    };
    let input = graph.operands(id)[0];
    if !groups.is_root(input) || !groups.used_only_by(input, id) {
        return None;
    }
    let (prologue, leaves) = groups.program(input, &[], Inline::Splat);
    let mut members = groups.members(input).to_vec();
    members.push(id);
    let fused = FusedOp::Reduce {
        op: *op,
        axes: axes.clone(),
        keep_dims: *keep_dims,
        input_shape: graph.shape(input).clone(),
        prologue,
    };
    Some(Fusion {
        root: id,
        members,
        op: fused,
        operands: leaves,
    })
}
