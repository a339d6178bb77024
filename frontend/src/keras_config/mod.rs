//! Keras' two JSON documents about a model, shared by every model-file format (Kiln's own
//! file in [`crate::saving`], Keras `.h5` in [`crate::keras`]):
//! - [`model`]: `model_config`, the architecture ([`Model::to_config`](crate::model::Model::to_config)
//!   / [`Model::from_config`](crate::model::Model::from_config)), layers through the layer
//!   registry;
//! - [`nested`]: models nested as layers, inlined before a config is built;
//! - [`training`]: `training_config`, the optimizer, loss and metrics a model was compiled with;
//! - [`output_training`]: a compiled model's whole `training_config`, a loss, loss weight and
//!   metrics per output included, written and compiled back.

pub mod model;
pub mod nested;
pub mod output_training;
pub mod training;

pub use output_training::{compile_from_training_config, model_training_config};
pub use training::{TrainingConfig, training_config_from_json, training_config_json};
