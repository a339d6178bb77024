//! Kiln: the user-facing crate.

// TEMPORARY until the crate error lands on main.
/// Temporary crate error.
pub mod error {
    /// Temporary crate error.
    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        /// IR failure.
        #[error(transparent)]
        Ir(#[from] ir::IrError),
        /// A bad training configuration.
        #[error("{0}")]
        Invalid(String),
    }
}
pub use error::Error;

pub mod losses;
pub mod metrics;
pub mod optimizers;
