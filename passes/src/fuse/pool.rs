//! The pooling rule: `pool2d` followed by elementwise ops becomes one [`FusedOp::Pool2d`]
//! with an epilogue (e.g. the activation after a pooling layer, or the scaling of a sum).
//!
//! Guarantees and limits are those of the epilogue rules ([`super::epilogue`]): every use of
//! the pooled value is inside one elementwise group with the pooled shape, the pooling is
//! computed once, the epilogue's input 0 is the pooled value and inputs 1.. are the
//! operands after the pooling input.
//!
//! Deliberately not done: an elementwise *prologue* into the pooling (it would be evaluated
//! once per window tap, i.e. recomputed) and fusing `pool2d_grad`.

use ir::{FusedOp, NodeId, Op};

use super::elementwise::Groups;
use super::epilogue::with_epilogue;
use super::fusion::Fusion;

/// `pool2d` + elementwise epilogue.
pub fn pool2d(groups: &Groups, id: NodeId) -> Option<Fusion> {
    let Op::Pool2d(attrs) = *groups.graph().op(id) else {
        return None;
    };
    with_epilogue(groups, id, |epilogue| FusedOp::Pool2d { attrs, epilogue })
}
