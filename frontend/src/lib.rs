//! Kiln: a Keras-style deep-learning framework that compiles whole training steps to native code.
//!
//! The user-facing crate. Modules:
//! - [`datasets`]: in-memory [`datasets::Dataset`]s, the IDX reader, MNIST / Fashion-MNIST loaders.
//! - [`error`]: the crate's [`Error`] type; every public function returns [`Result`].

pub mod datasets;
pub mod error;

pub use datasets::Dataset;
pub use error::{Error, Result};
