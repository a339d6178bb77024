//! Kiln: a Keras-style deep-learning framework that compiles whole training steps to native code.
//!
//! The user-facing crate. Modules:
//! - [`datasets`]: in-memory [`datasets::Dataset`]s, the IDX reader, MNIST / Fashion-MNIST loaders.
//! - [`error`]: the crate's [`Error`] type; every public function returns [`Result`].
//! - [`optimizers`], [`losses`], [`metrics`]: IR builders that emit a training step's update,
//!   objective and reported metrics into its graph.

pub mod datasets;
pub mod error;
pub mod losses;
pub mod metrics;
pub mod optimizers;

pub use datasets::Dataset;
pub use error::{Error, Result};
