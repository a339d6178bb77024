//! Kiln: the user-facing crate.

pub mod activations;
pub mod error;
pub mod initializers;
pub mod layers;
pub mod model;
pub mod prelude;
pub mod regularizers;

pub use error::{Error, Result};
