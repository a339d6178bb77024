//! [`Site`]: one forward node as a gradient rule sees it, the input every rule family shares.

use ir::{NodeId, Op};

/// One forward node as a rule sees it.
pub(crate) struct Site {
    /// The forward node `y`.
    pub node: NodeId,
    /// Its op.
    pub op: Op,
    /// Its operands, in order.
    pub operands: Vec<NodeId>,
    /// The gradient of the loss with respect to `y` (shape of `y`).
    pub dy: NodeId,
}
