//! The importer's errors: what went wrong, naming the file, the node and its op. They reach
//! callers as [`crate::Error::ModelFile`] with the `.onnx` path. This file does not decide
//! when an error happens; the decoder, the folder and the op mappers do.

use std::path::Path;

use thiserror::Error;

use crate::error::Error;

/// One failure of an ONNX import.
#[derive(Debug, Error)]
pub(crate) enum ImportError {
    /// The file as a whole (not a protobuf ModelProto, no graph, a size over a limit).
    #[error("{0}")]
    File(String),
    /// A tensor (initializer, Constant value, external data) is malformed.
    #[error("tensor `{tensor}`: {msg}")]
    Tensor {
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        msg: String,
    },
    /// A node cannot be imported as it is.
    #[error("node `{node}` ({op}): {msg}")]
    Node {
        /// The node's name (or its first output when unnamed).
        node: String,
        /// Its op type.
        op: String,
        /// What is wrong.
        msg: String,
    },
    /// Ops Kiln does not map; every one of the file is listed.
    #[error(
        "node `{node}` has op type `{op}` (opset {opset}), which Kiln's ONNX importer does not \
         support{others}"
    )]
    Unsupported {
        /// The first unsupported node.
        node: String,
        /// Its op type (with its domain when not the default one).
        op: String,
        /// The model's default-domain opset.
        opset: i64,
        /// `; other unsupported ops in this file: ...`, or empty.
        others: String,
    },
}

impl ImportError {
    /// The crate error for a failure reading `path`.
    pub(crate) fn into_error(self, path: &Path) -> Error {
        Error::ModelFile {
            path: path.to_path_buf(),
            msg: format!("ONNX import: {self}"),
        }
    }
}

/// The importer's result type.
pub(crate) type ImportResult<T> = std::result::Result<T, ImportError>;

/// A file-level error.
pub(crate) fn file_error(msg: impl Into<String>) -> ImportError {
    ImportError::File(msg.into())
}

/// A tensor-level error.
pub(crate) fn tensor_error(tensor: &str, msg: impl Into<String>) -> ImportError {
    ImportError::Tensor {
        tensor: tensor.to_string(),
        msg: msg.into(),
    }
}
