//! The errors of starting and running the service ([`ServeError`]). It does NOT cover the
//! answers to bad requests: those are `api::ApiError`, sent to the client.

use std::io;

/// Why the service could not start or a load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The model cannot be served (several inputs or outputs, an invalid graph, …).
    #[error("model: {0}")]
    Model(#[from] kiln::Error),
    /// An option of [`crate::ServeConfig`] or of a load test is out of range.
    #[error("configuration: {0}")]
    Config(String),
    /// A socket could not be bound, connected, read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The service answered a load-test request with an error.
    #[error("the service answered {status}: {body}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The body of the answer.
        body: String,
    },
}

impl ServeError {
    /// An I/O error while doing `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> ServeError {
        let what = what.into();
        move |source| ServeError::Io { what, source }
    }
}
