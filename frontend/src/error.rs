//! The crate's error type (interim copy on this branch; the datasets work owns the full enum).

use thiserror::Error;

/// Everything that can go wrong in the `kiln` crate.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is out of its valid range.
    #[error("invalid argument `{name}`: {msg}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What is wrong with it.
        msg: String,
    },
    /// An error from the IR core (graph building, shape inference, verification).
    #[error(transparent)]
    Ir(#[from] ir::IrError),
    /// A name (activation, initializer, ...) that Kiln does not know.
    #[error("unknown {kind} `{name}` (known: {known})")]
    UnknownName {
        /// What kind of thing was named.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names Kiln knows, comma-separated.
        known: String,
    },
    /// A layer cannot be applied to its input (wrong rank, bad configuration).
    #[error("layer {layer}: {msg}")]
    Layer {
        /// The layer, printed as `name (Class)`.
        layer: String,
        /// What is wrong, with the shapes involved.
        msg: String,
    },
    /// The model as a whole is malformed or used out of order (e.g. fit before compile).
    #[error("model `{model}`: {msg}")]
    Model {
        /// The model's name.
        model: String,
        /// What is wrong.
        msg: String,
    },
    /// A compiler pass failed on a graph the model built.
    #[error(transparent)]
    Pass(#[from] passes::PassError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
