//! Kiln's own model file.
//!
//! [`Model::save`](crate::model::Model::save) writes one file (format: [`container`]): the
//! model config and the compile configuration in Keras' JSON forms ([`crate::keras_config`]),
//! every weight and optimizer-state tensor, and a CRC-32. The file is replaced atomically.
//! [`Model::load`](crate::model::Model::load) rebuilds, recompiles and restores the model so
//! training resumes exactly where it stopped; `save_weights`/`load_weights` move the layer
//! weights alone ([`model_file`]).

pub mod container;
pub mod model_file;

/// The Keras `training_config` form, shared with the Keras `.h5` files.
pub use crate::keras_config::training::{
    TrainingConfig, training_config_from_json, training_config_json,
};
pub use container::{FORMAT_VERSION, MAGIC, ModelFile};
