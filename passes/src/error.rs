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
    /// Memory planning failed.
    #[error("memory plan: {0}")]
    MemoryPlan(String),
}
