//! [`Fusion`]: the answer of a fusion rule — the nodes one fused kernel computes and the
//! fused op replacing them. Every rule file builds it and the driver in `mod.rs` applies it,
//! so it lives apart from both.

use ir::{FusedOp, NodeId};

/// One fused kernel a rule proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fusion {
    /// The node whose value the fused node replaces (the last node it computes).
    pub root: NodeId,
    /// Every node the fused node computes, the root included; only the root may be used
    /// outside.
    pub members: Vec<NodeId>,
    /// The fused op.
    pub op: FusedOp,
    /// The fused node's operands (ids in the input graph), in the order `op` documents.
    pub operands: Vec<NodeId>,
}
