//! Kiln: a Keras-style deep-learning framework that compiles whole training steps to native code.
//!
//! The user-facing crate. Modules:
//! - [`aot`]: ahead-of-time compilation of a model into an object file with a C header.
//! - [`applications`]: the Keras application zoo (VGG, ResNet, MobileNet, ...) as model builders.
//! - [`datasets`]: in-memory [`datasets::Dataset`]s, the IDX reader, MNIST / Fashion-MNIST loaders.
//! - [`device`]: [`Device`] — compile a model for the CPU or the GPU (`Model::compile_on`).
//! - [`error`]: the crate's [`Error`] type; every public function returns [`Result`].
//! - [`layers`], [`activations`], [`initializers`], [`regularizers`]: Keras' building blocks.
//! - [`model`]: [`Model`] — built as a [`Sequential`] stack or with the functional API
//!   ([`Functional`]) — summary, compile, fit, evaluate, predict, frozen layers, transfer.
//! - [`callbacks`]: training hooks (EarlyStopping, ReduceLROnPlateau, ...); [`progress`]:
//!   what `fit` prints (Keras' `verbose` modes).
//! - [`keras`]: Keras `.h5` files (configs and weights) read and written as data.
//! - [`keras_config`]: Keras' `model_config` and `training_config` JSON, shared by the files.
//! - [`onnx`]: ONNX files imported as models and models exported as ONNX.
//! - [`saving`]: `save` / `load` of a whole model in one checksummed file.
//! - [`atomic_file`]: every file Kiln writes: only over regular files, through a temporary
//!   file renamed into place.
//! - [`read_limit`]: whole files read into memory only up to a stated maximum.
//! - [`config_json`]: the Keras-style JSON helpers every config reader and writer shares.
//! - [`tensor_file`]: tensors in JSON files (the Keras fixtures' format, `kiln predict`'s input/output).
//! - [`prelude`]: `use kiln::prelude::*;` for model scripts.
//! - [`optimizers`], [`losses`], [`metrics`]: IR builders that emit a training step's update,
//!   objective and reported metrics into its graph.

// The modules by level, bottom to top (ARCHITECTURE.md; `tests/module_levels.rs` checks that
// no module names one of a higher level, or another of its own level).
// Level 0: foundations.
pub mod atomic_file;
mod builder;
pub mod config_json;
pub mod error;
pub mod read_limit;
// Level 1: the vocabulary of Keras objects, devices and data.
pub mod activations;
pub mod datasets;
pub mod device;
pub mod distributed;
pub mod initializers;
pub mod regularizers;
pub mod tensor_file;
// Level 2: training-graph builders.
pub mod losses;
pub mod optimizers;
// Level 3: layers and metrics.
pub mod layers;
pub mod metrics;
// Level 4: what `fit` reports and prints.
#[cfg(feature = "plot")]
pub mod plot;
pub mod progress;
// Level 5: models.
pub mod model;
// Level 6: the stock callbacks.
pub mod callbacks;
// Level 7: Keras' JSON configs of a model and of its compile settings.
pub mod keras_config;
// Level 8: model files.
pub mod keras;
pub mod onnx;
pub mod saving;
// Level 9: ahead-of-time compilation; the application zoo (builders that load weight files).
pub mod aot;
pub mod applications;
// Level 10: the prelude.
pub mod prelude;

pub use datasets::Dataset;
pub use device::Device;
pub use error::{Error, Result};
/// The tensor and shape types `predict` takes and returns (from the IR core).
pub use ir::{Shape, Tensor};
pub use model::{Functional, Model, Sequential, TensorRef};
