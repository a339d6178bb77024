//! [`Model::save`] / [`Model::load`] (the whole model: architecture, compile
//! configuration, weights, optimizer state) and [`Model::save_weights`] /
//! [`Model::load_weights`] (layer weights only), in the format of
//! [`crate::saving::container`].

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use ir::{Shape, Tensor};
use serde_json::Value;

use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};
use crate::keras_config::output_training::{compile_from_training_config, model_training_config};
use crate::model::{Model, Sequential};
use crate::saving::container::{ModelFile, decode, encode};

/// `error` as a problem of the file at `path`.
fn in_file(path: &Path, error: Error) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        msg: error.to_string(),
    }
}

/// Reads and decodes the file at `path`.
fn read_model_file(path: &Path) -> Result<ModelFile> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode(path, &bytes)
}

impl Model {
    /// Writes the whole model to `path` in one file: its config, its compile configuration
    /// (for several outputs, each one's loss, loss weight and metrics),
    /// every weight and optimizer-state tensor (including `optimizer/iterations` and
    /// `optimizer/learning_rate`) and a checksum. The file is replaced atomically: on any
    /// failure `path` keeps its old contents (or stays absent). The model must be compiled.
    pub fn save(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.training_state()?;
        let tensors = self.weights()?.into_iter().collect();
        let training_config = model_training_config(self)?
            .ok_or_else(|| self.model_error("is not compiled; call compile first"))?;
        let file = ModelFile {
            model_config: self.to_config(),
            training_config,
            tensors,
        };
        write_atomically(path, &encode(&file))
    }

    /// Reads a model written by [`Model::save`]: rebuilds its layers, compiles it as it
    /// was compiled, and restores every weight and optimizer-state tensor, so predictions are
    /// bit-identical and training continues exactly as it would have. A damaged or foreign
    /// file, or one whose tensors do not fit its architecture, is an error naming the file.
    ///
    /// The file is checked against its architecture before anything is built: every layer
    /// parameter's shape is computed from the config with checked arithmetic and must be in
    /// the file with exactly that shape (the decoder has bounded every tensor by the file's
    /// length), so a config asking for a layer larger than the file is an error naming the
    /// file and the layer, and no weight is drawn from an initializer.
    pub fn load(path: impl AsRef<Path>) -> Result<Sequential> {
        let path = path.as_ref();
        let file = read_model_file(path)?;
        if file.training_config.is_null() {
            return Err(Error::ModelFile {
                path: path.to_path_buf(),
                msg: "holds weights only (written by save_weights): build and compile the model, then call load_weights".into(),
            });
        }
        let mut model =
            Sequential::from_config(&file.model_config).map_err(|e| in_file(path, e))?;
        let layer_shapes = model.parameter_shapes().map_err(|e| in_file(path, e))?;
        let (layer_tensors, rest): (Vec<_>, Vec<_>) = file
            .tensors
            .into_iter()
            .partition(|(name, _)| layer_shapes.contains_key(name));
        let weights = checked_tensors(path, layer_tensors, &layer_shapes, |_| false)?;
        model
            .set_weights(&weights.into_iter().collect())
            .map_err(|e| in_file(path, e))?;
        compile_from_training_config(&mut model, &file.training_config)
            .map_err(|e| in_file(path, e))?;
        let mut state_shapes = model.parameter_shapes().map_err(|e| in_file(path, e))?;
        state_shapes.retain(|name, _| !layer_shapes.contains_key(name));
        let state = checked_tensors(path, rest, &state_shapes, |_| false)?;
        model
            .restore_parameters(state)
            .map_err(|e| in_file(path, e))?;
        Ok(model)
    }

    /// Writes the layer weights (no optimizer state, no compile configuration) to `path`,
    /// atomically, with the model config for reference. Works compiled or not.
    pub fn save_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut weights = self.layer_weights()?;
        let tensors = self
            .param_specs()?
            .into_iter()
            .map(|(name, _)| {
                let value = weights.remove(&name).expect("every parameter has a weight");
                (name, value)
            })
            .collect();
        let file = ModelFile {
            model_config: self.to_config(),
            training_config: Value::Null,
            tensors,
        };
        write_atomically(path, &encode(&file))
    }

    /// Replaces the layer weights with those in `path` (written by `save_weights` or `save`),
    /// keeping the optimizer state. Every layer weight must be in the file with its shape;
    /// the optimizer state of a full save is skipped. Works compiled or not.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = read_model_file(path)?;
        let expected: BTreeMap<String, Shape> = self
            .param_specs()
            .map_err(|e| in_file(path, e))?
            .into_iter()
            .map(|(name, spec)| (name, spec.shape))
            .collect();
        let is_optimizer_state = |name: &str| {
            name.starts_with("optimizer/")
                || expected.keys().any(|w| name.starts_with(&format!("{w}/")))
        };
        let tensors = checked_tensors(path, file.tensors, &expected, is_optimizer_state)?;
        self.restore_parameters(tensors)
            .map_err(|e| in_file(path, e))
    }
}

/// The tensors of a file that the model expects, checked: no duplicates, every expected name
/// present with its shape, and no other name unless `skip` accepts it (then it is dropped).
fn checked_tensors(
    path: &Path,
    tensors: Vec<(String, Tensor)>,
    expected: &BTreeMap<String, Shape>,
    skip: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Tensor)>> {
    let error = |msg: String| Error::ModelFile {
        path: path.to_path_buf(),
        msg,
    };
    let mut seen = HashSet::new();
    let mut kept = Vec::with_capacity(expected.len());
    for (name, tensor) in tensors {
        if !seen.insert(name.clone()) {
            return Err(error(format!("tensor `{name}` appears twice")));
        }
        match expected.get(&name) {
            Some(shape) if *shape == tensor.shape => kept.push((name, tensor)),
            Some(shape) => {
                return Err(error(format!(
                    "tensor `{name}` has shape {}, the model's architecture needs {shape}",
                    tensor.shape
                )));
            }
            None if skip(&name) => {}
            None => {
                return Err(error(format!(
                    "tensor `{name}` is not a parameter of the model"
                )));
            }
        }
    }
    if let Some(missing) = expected.keys().find(|name| !seen.contains(*name)) {
        return Err(error(format!(
            "the model's parameter `{missing}` is missing from the file"
        )));
    }
    Ok(kept)
}
