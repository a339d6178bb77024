//! The passes' error type.

use thiserror::Error;

/// Errors raised by a pass.
#[derive(Debug, Error)]
pub enum PassError {
    /// The IR rejected a graph a pass built (a pass bug or bad input graph).
    #[error(transparent)]
    Ir(#[from] ir::IrError),
    /// Autodiff was asked for something it cannot do.
    #[error("autodiff: {0}")]
    Autodiff(String),
    /// A pass left a node that the graph's outputs, updates or a kept node need unmapped
    /// (a pass bug).
    #[error("pass left node {0} without a replacement")]
    Unmapped(String),
    /// The graph a pass produced failed verification.
    #[error("after pass `{pass}`: {source}")]
    AfterPass {
        /// The pass that ran last.
        pass: &'static str,
        /// What the verifier found.
        source: ir::IrError,
    },
    /// A fusion rule produced a kernel that does not replace its node exactly.
    #[error("fusion rule `{rule}` at {node}: {msg}")]
    Fusion {
        /// The rule.
        rule: &'static str,
        /// The node the fused op was to replace.
        node: String,
        /// What is wrong.
        msg: String,
    },
    /// Memory planning failed.
    #[error("memory plan: {0}")]
    MemoryPlan(String),
}
