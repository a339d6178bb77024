//! Kiln: a Keras-style deep-learning framework that compiles whole training steps to native code.
//!
//! The user-facing crate. Modules:
//! - [`aot`]: ahead-of-time compilation of a model into an object file with a C header.
//! - [`datasets`]: in-memory [`datasets::Dataset`]s, the IDX reader, MNIST / Fashion-MNIST loaders.
//! - [`device`]: [`Device`] — compile a model for the CPU or the GPU (`Model::compile_on`).
//! - [`error`]: the crate's [`Error`] type; every public function returns [`Result`].
//! - [`layers`], [`activations`], [`initializers`], [`regularizers`]: Keras' building blocks.
//! - [`model`]: [`Model`] — built as a [`Sequential`] stack or with the functional API
//!   ([`Functional`]) — summary, compile, fit, evaluate, predict, frozen layers, transfer.
//! - [`callbacks`]: training hooks (EarlyStopping, ReduceLROnPlateau, ...); [`progress`]:
//!   what `fit` prints (Keras' `verbose` modes).
//! - [`keras`]: Keras `.h5` files (configs and weights) read and written as data.
//! - [`saving`]: `save` / `load` of a whole model in one checksummed file, Keras-style configs.
//! - [`tensor_file`]: tensors in JSON files (the Keras fixtures' format, `kiln predict`'s input/output).
//! - [`prelude`]: `use kiln::prelude::*;` for model scripts.
//! - [`optimizers`], [`losses`], [`metrics`]: IR builders that emit a training step's update,
//!   objective and reported metrics into its graph.

pub mod activations;
pub mod aot;
mod builder;
pub mod callbacks;
pub mod datasets;
pub mod device;
pub mod error;
pub mod initializers;
pub mod keras;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod optimizers;
pub mod prelude;
pub mod progress;
pub mod regularizers;
pub mod saving;
pub mod tensor_file;

pub use datasets::Dataset;
pub use device::Device;
pub use error::{Error, Result};
/// The tensor and shape types `predict` takes and returns (from the IR core).
pub use ir::{Shape, Tensor};
pub use model::{Functional, Model, Sequential, TensorRef};
