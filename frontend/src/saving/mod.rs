//! Saving and loading models.
//!
//! [`Sequential::save`](crate::Sequential::save) writes one file (format: [`container`]):
//! the model config in Keras' JSON form ([`model_config`], layers through
//! [`crate::layers::registry`]), the compile configuration in Keras' `training_config` form
//! ([`training_config`]), every weight and optimizer-state tensor, and a CRC-32. The file is
//! replaced atomically ([`atomic`]). [`Sequential::load`](crate::Sequential::load) rebuilds,
//! recompiles and restores the model so training resumes exactly where it stopped;
//! `save_weights`/`load_weights` move the layer weights alone ([`model_file`]).

pub mod atomic;
pub mod container;
pub mod keras_objects;
pub mod model_config;
pub mod model_file;
pub mod training_config;

pub use container::{FORMAT_VERSION, MAGIC, ModelFile};
pub use training_config::{TrainingConfig, training_config_from_json, training_config_json};
