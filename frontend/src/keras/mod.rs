//! Keras HDF5 (`.h5`) files as data: the model and training configs and every layer's
//! weights, read from and written to the layout Keras saves.
//!
//! [`KerasFile`] is the data layer; [`model_io`] builds models from it
//! ([`crate::Model::load_keras`]) and writes them ([`crate::Model::save_keras`]).
//! [`KerasFile::read`] accepts:
//! - whole-model files from Keras 2 (`model.save("m.h5")`) and Keras 3 (the same call, its
//!   legacy HDF5 format): weights under the `/model_weights` group;
//! - weights-only files from `model.save_weights("w.h5")` (Keras 2 layout): `layer_names`
//!   on the root group, no `model_config`.
//!
//! Layers come in `layer_names` order and weights in each layer's `weight_names` order,
//! never in the order the HDF5 groups happen to be stored; `optimizer_weights` and
//! `top_level_model_weights` are skipped. [`KerasFile::write`] writes the Keras 2 layout
//! ([`mod@write`] lists where its attribute types differ from h5py's).
//! [`normalize_model_config`] turns a Keras 3 `model_config` into the Keras 2 form the
//! rest of Kiln reads.
//!
//! Files are untrusted input: every malformation is an [`Error::ModelFile`](crate::Error::ModelFile)
//! naming the file (and the layer and dataset at fault), never a panic (the HDF5 parser runs behind a panic boundary).

mod guard;
mod json_ascii;
pub mod model_io;
pub mod nested;
pub mod normalize;
pub mod read;
pub mod write;

use serde_json::Value;

pub use model_io::{CompileStatus, LoadedKeras, load_model};
pub use normalize::normalize_model_config;

/// The contents of a Keras `.h5` file.
#[derive(Debug, Clone, PartialEq)]
pub struct KerasFile {
    /// The `keras_version` attribute (e.g. `"2.21.0"`, `"3.15.1"`), when present.
    pub keras_version: Option<String>,
    /// The `backend` attribute (e.g. `"tensorflow"`, `"jax"`), when present.
    pub backend: Option<String>,
    /// The `model_config` JSON as stored (Keras 2 or Keras 3 form; see
    /// [`normalize_model_config`]). `None` for weights-only files.
    pub model_config: Option<Value>,
    /// The `training_config` JSON (loss, metrics, optimizer); `None` when the model was
    /// saved uncompiled or the file holds weights only.
    pub training_config: Option<Value>,
    /// Every layer named in `layer_names`, in that order (layers without weights included).
    pub layers: Vec<LayerWeights>,
}

/// One layer's weights as stored in a Keras file.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    /// The layer's name (its group under `/model_weights`).
    pub layer: String,
    /// The weights in `weight_names` order: the name as stored (e.g. `"dense/kernel:0"`,
    /// Keras 3 `"sequential/dense/kernel"`) and the values (float32, row-major, the
    /// dataset's shape: a Dense kernel is `(in, out)`, a Conv2D kernel `(kh, kw, in, out)`).
    pub weights: Vec<(String, ir::Tensor)>,
}

impl KerasFile {
    /// The layer called `name`, if the file holds it.
    pub fn layer(&self, name: &str) -> Option<&LayerWeights> {
        self.layers.iter().find(|l| l.layer == name)
    }
}
