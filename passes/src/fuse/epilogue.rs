//! Epilogue rules: a matmul or convolution followed by elementwise ops (bias add,
//! activation, scaling) becomes one [`FusedOp::MatMul`] / [`FusedOp::Conv2d`] /
//! [`FusedOp::DepthwiseConv2d`] that applies the elementwise group to each result element
//! before storing it.
//!
//! Guarantees: fires only when every use of the anchor (the matmul/conv) is inside one
//! elementwise group ([`super::elementwise::Groups::consuming_group`]) and that group's root
//! has the anchor's shape, so the epilogue's extra operands broadcast to the result and the
//! anchor is computed exactly once (never duplicated). The epilogue is the group's program
//! with the anchor as input 0 and the other leaves as inputs 1.., appended after the
//! anchor's own operands — the numbering [`ir::FusedOp`] documents.
//!
//! Deliberately not done: an anchor whose result is also needed elsewhere (an output, a
//! second consumer such as a gradient) is left alone rather than recomputed; a group that
//! broadcasts the result up (`[m, 1] + [m, n]`) is not an epilogue; chains of two anchors
//! are never merged.

use ir::{FusedOp, NodeId, Op, Program};

use super::elementwise::{Groups, Inline};
use super::fusion::Fusion;

/// `matmul` + elementwise epilogue.
pub fn matmul(groups: &Groups, id: NodeId) -> Option<Fusion> {
    let Op::MatMul {
        transpose_a,
        transpose_b,
    } = *groups.graph().op(id)
    else {
        return None;
    };
    with_epilogue(groups, id, |epilogue| FusedOp::MatMul {
        transpose_a,
        transpose_b,
        epilogue,
    })
}

/// `conv2d` + elementwise epilogue.
pub fn conv2d(groups: &Groups, id: NodeId) -> Option<Fusion> {
    let Op::Conv2d(attrs) = *groups.graph().op(id) else {
        return None;
    };
    with_epilogue(groups, id, |epilogue| FusedOp::Conv2d { attrs, epilogue })
}

/// `depthwise_conv2d` + elementwise epilogue.
pub fn depthwise_conv2d(groups: &Groups, id: NodeId) -> Option<Fusion> {
    let Op::DepthwiseConv2d(attrs) = *groups.graph().op(id) else {
        return None;
    };
    with_epilogue(groups, id, |epilogue| FusedOp::DepthwiseConv2d {
        attrs,
        epilogue,
    })
}

/// The fusion of `anchor` with the elementwise group consuming it, if there is one that
/// keeps the anchor's shape. `build` makes the fused op from the epilogue program; the
/// operands are the anchor's, then the epilogue's extra inputs in input order.
pub fn with_epilogue(
    groups: &Groups,
    anchor: NodeId,
    build: impl FnOnce(Program) -> FusedOp,
) -> Option<Fusion> {
    let graph = groups.graph();
    let root = groups.consuming_group(anchor)?;
    if graph.shape(root) != graph.shape(anchor) {
        return None;
    }
    let (epilogue, leaves) = groups.program(root, &[anchor], Inline::Splat);
    let mut operands = graph.operands(anchor);
    operands.extend_from_slice(&leaves[1..]);
    let mut members = vec![anchor];
    members.extend_from_slice(groups.members(root));
    Some(Fusion {
        root,
        members,
        op: build(epilogue),
        operands,
    })
}
