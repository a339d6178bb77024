//! The IR's error type: every failure names the node, op and shapes at fault.

use thiserror::Error;

/// Errors raised while building, parsing, verifying or interpreting a graph.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum IrError {
    /// Shape inference rejected an op applied to operands of the given shapes.
    #[error("shape error in `{op}` with operand shapes {operands}: {msg}")]
    Shape {
        /// The op's text name (e.g. `matmul`).
        op: String,
        /// The operand shapes, printed like `[2, 3], [4, 5]`.
        operands: String,
        /// What is wrong.
        msg: String,
    },
    /// A node id that does not belong to this graph.
    #[error("unknown node {0}")]
    UnknownNode(String),
    /// The text form could not be parsed.
    #[error("parse error at line {line}: {msg}")]
    Parse {
        /// 1-based line number in the input text.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// The verifier found a broken invariant.
    #[error("verifier: node {node}: {msg}")]
    Verify {
        /// The offending node, printed as `%n`.
        node: String,
        /// Which invariant is broken.
        msg: String,
    },
    /// The interpreter was given inputs that do not match the graph.
    #[error("interpreter: {0}")]
    Interp(String),
}

/// Result alias for this crate.
pub type Result<T, E = IrError> = std::result::Result<T, E>;
