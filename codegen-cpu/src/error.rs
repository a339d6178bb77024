//! The CPU backend's error type: every failure names the node, input or symbol at fault.

use thiserror::Error;

/// Errors raised while compiling a graph or running a compiled step.
#[derive(Debug, Error)]
pub enum CodegenError {
    /// The memory plan does not fit the graph (wrong length, a slot outside the arena, ...).
    #[error("memory plan: node {node}: {msg}")]
    Plan {
        /// The node, printed as `%n`.
        node: String,
        /// What is wrong.
        msg: String,
    },
    /// The graph holds something this backend cannot lower.
    #[error("unsupported: node {node} ({op}): {msg}")]
    Unsupported {
        /// The node, printed as `%n`.
        node: String,
        /// The op's text name.
        op: String,
        /// Why.
        msg: String,
    },
    /// Cranelift rejected the generated code or could not link it.
    #[error("cranelift: {0}")]
    Cranelift(String),
    /// The host machine is not supported by Cranelift.
    #[error("host not supported: {0}")]
    Host(String),
    /// The target triple is malformed or not supported by this build.
    #[error("target `{triple}`: {msg}")]
    Target {
        /// The triple as given.
        triple: String,
        /// What is wrong.
        msg: String,
    },
    /// An ahead-of-time model specification is inconsistent (a name that is no C
    /// identifier, a parameter missing from the weights, a weight of the wrong shape, ...).
    #[error("ahead-of-time model: {what}: {msg}")]
    Aot {
        /// The model, entry point or parameter at fault.
        what: String,
        /// What is wrong.
        msg: String,
    },
    /// Writing or finding a compiled model's files failed.
    #[error("{path}: {msg}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        msg: String,
    },
    /// An input was missing, unknown, or of the wrong length.
    #[error("input `{name}`: {msg}")]
    Input {
        /// The input's name.
        name: String,
        /// What is wrong (names the expected shape and the given length).
        msg: String,
    },
    /// A parameter name is unknown or the value has the wrong length.
    #[error("param `{name}`: {msg}")]
    Param {
        /// The parameter's name.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// A buffer given for an output is missing or of the wrong length.
    #[error("output `{name}`: {msg}")]
    Output {
        /// The output's name.
        name: String,
        /// What is wrong.
        msg: String,
    },
}

impl From<cranelift_module::ModuleError> for CodegenError {
    fn from(e: cranelift_module::ModuleError) -> Self {
        CodegenError::Cranelift(format!("{e:?}"))
    }
}

/// Result alias for this crate.
pub type Result<T, E = CodegenError> = std::result::Result<T, E>;
