//! Kiln models from and to Keras 3 files: [`Model::load_keras_archive`] (a `.keras`
//! archive, compiled from its `compile_config` where Kiln supports every part of it),
//! [`Model::save_keras_archive`], [`Model::load_keras_json`] (a `model.to_json()` config
//! with optional weights: a Keras 3 `.weights.h5` or a Keras 2 `.h5`) and the Keras 3
//! branch of [`Model::load_keras_weights`]. The archive's members and weight paths are
//! handled by the sibling files; this one joins them to the model.

use std::path::Path;

use serde_json::{Value, json};

use super::super::model_io::{CompileStatus, LoadedKeras, compile_from, file_error};
use super::super::normalize_model_config;
use super::config3::{
    OutputShapes, compile_config_from_training, keras3_model_config, training_from_compile_config,
};
use super::weights_read::{LayerEntry, is_object_path_layout, read_object_path_weights};
use super::weights_write::object_path_bytes;
use super::{ARCHIVE_KERAS_VERSION, KerasArchive};
use crate::atomic_file::write_atomically;
use crate::error::Result;
use crate::keras_config::output_training::model_training_config;
use crate::model::Model;
use crate::read_limit::read_at_most;

/// Reads the `.keras` archive at `path` as a whole model, saying whether it was compiled.
pub fn load_archive(path: impl AsRef<Path>) -> Result<LoadedKeras> {
    let path = path.as_ref();
    let archive = KerasArchive::read(path)?;
    let mut model = model_from_json(&archive.config, path)?;
    model.put_object_path_weights(archive.weights, &archive.config, path)?;
    let compile = match archive
        .config
        .get("compile_config")
        .and_then(training_from_compile_config)
    {
        None => CompileStatus::NotSaved,
        Some(training) => match compile_from(&mut model, &training) {
            Ok(()) => CompileStatus::Compiled,
            Err(reason) => CompileStatus::Unsupported(reason.to_string()),
        },
    };
    let keras_version = archive
        .metadata
        .get("keras_version")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(LoadedKeras {
        model,
        compile,
        keras_version,
    })
}

/// A model from a Keras 2 or Keras 3 model config; errors name `path`.
fn model_from_json(config: &Value, path: &Path) -> Result<Model> {
    normalize_model_config(config)
        .and_then(|config| Model::from_config(&config))
        .map_err(|e| file_error(path, e.to_string()))
}

/// `(class, name)` of each layer of a model config, in `model.layers` order: the config's
/// `layers` list, a Sequential model's `InputLayer` left out.
fn keras_layer_order(config: &Value) -> Vec<(String, String)> {
    let sequential = config.get("class_name").and_then(Value::as_str) == Some("Sequential");
    let layers = config
        .get("config")
        .and_then(|c| c.get("layers"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    layers
        .iter()
        .filter_map(|entry| {
            let class = entry.get("class_name")?.as_str()?;
            let name = entry
                .get("name")
                .or_else(|| entry.get("config")?.get("name"))?
                .as_str()?;
            (!(sequential && class == "InputLayer")).then(|| (class.to_string(), name.to_string()))
        })
        .collect()
}

impl Model {
    /// Loads a Keras 3 `.keras` archive (`model.save("m.keras")`): architecture, weights
    /// and, when Kiln supports them, the optimizer, loss and metrics of its
    /// `compile_config`. [`load_archive`] also says whether and why not it was compiled.
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keras/archives/mlp.keras");
    /// let model = kiln::Model::load_keras_archive(path)?;
    /// assert_eq!(model.count_params()?, 784 * 64 + 64 + 64 * 10 + 10);
    /// # Ok(())
    /// # }
    /// ```
    pub fn load_keras_archive(path: impl AsRef<Path>) -> Result<Model> {
        Ok(load_archive(path)?.model)
    }

    /// Builds the model of a Keras JSON config file (`model.to_json()`, Keras 2 or 3) and,
    /// given `weights`, loads them: a Keras 3 `save_weights("x.weights.h5")` file or a
    /// Keras 2 `.h5` weights or model file (told apart by content). Without weights the
    /// layers keep their initial values.
    pub fn load_keras_json(config: impl AsRef<Path>, weights: Option<&Path>) -> Result<Model> {
        let path = config.as_ref();
        let text = read_at_most(
            path,
            crate::read_limit::MAX_MODEL_FILE_BYTES,
            "a Keras JSON config",
        )?;
        let json: Value = serde_json::from_slice(&text)
            .map_err(|e| file_error(path, format!("not a JSON model config: {e}")))?;
        let mut model = model_from_json(&json, path)?;
        if let Some(weights) = weights {
            model.load_keras_weights(weights)?;
        }
        Ok(model)
    }

    /// Writes the model as a Keras 3 `.keras` archive (atomically); see
    /// [the archive docs](super) for the layout. Keras 3's `load_model` opens it. Layers
    /// Keras cannot read back are refused by name, as by [`Model::save_keras`].
    pub fn save_keras_archive(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.ensure_keras_representable(path)?;
        let compile_config = match model_training_config(self)? {
            Some(training) => compile_config_from_training(&training),
            None => json!({}),
        };
        let shapes = self
            .layer_shapes()
            .map_err(|e| file_error(path, e.to_string()))?;
        let outputs: OutputShapes = self
            .layers()
            .iter()
            .zip(&shapes)
            .map(|(layer, s)| {
                let dims = s.outputs.iter().map(|o| o.dims().to_vec()).collect();
                (layer.name().unwrap_or_default().to_string(), dims)
            })
            .collect();
        let config = keras3_model_config(&self.to_config(), compile_config, &outputs);
        let entries = self.layer_entries(&config, path)?;
        let mut layers = Vec::with_capacity(entries.len());
        for entry in entries {
            let values = entry
                .params
                .iter()
                .map(|p| self.weight(&format!("{}/{}", entry.name, p.name)))
                .collect::<Result<Vec<_>>>()?;
            layers.push((entry, values));
        }
        let weights = object_path_bytes(self.name(), &layers).map_err(|m| file_error(path, m))?;
        let archive = KerasArchive {
            config,
            metadata: json!({"keras_version": ARCHIVE_KERAS_VERSION, "date_saved": "kiln"}),
            weights,
        };
        write_atomically(path, &archive.to_bytes(path)?)
    }

    /// Puts the weights of a Keras 3 object-path weights file (`bytes`, the file `path`) on
    /// the model, whose `model.layers` order `config` gives.
    pub(crate) fn put_object_path_weights(
        &mut self,
        bytes: Vec<u8>,
        config: &Value,
        path: &Path,
    ) -> Result<()> {
        let entries = self.layer_entries(config, path)?;
        let stored = read_object_path_weights(bytes, path, &entries)?;
        self.put_keras_weights(&stored, path)
    }

    /// The model's layers in the `model.layers` order of `config`, with their parameters.
    fn layer_entries(&self, config: &Value, path: &Path) -> Result<Vec<LayerEntry<'_>>> {
        let shapes = self
            .layer_shapes()
            .map_err(|e| file_error(path, e.to_string()))?;
        keras_layer_order(config)
            .into_iter()
            .map(|(class, name)| {
                let index = self
                    .layers()
                    .iter()
                    .position(|l| l.name() == Some(name.as_str()))
                    .ok_or_else(|| {
                        file_error(
                            path,
                            format!("the config's layer `{name}` ({class}) is not in the model"),
                        )
                    })?;
                let layer = &self.layers()[index];
                Ok(LayerEntry {
                    class: layer.class_name(),
                    name: layer.name().unwrap_or_default(),
                    config: layer.config(),
                    params: shapes[index].params.clone(),
                })
            })
            .collect()
    }

    /// Loads a Keras 3 object-path weights file if `bytes` is one; `Ok(false)` otherwise.
    pub(crate) fn try_object_path_weights(&mut self, bytes: &[u8], path: &Path) -> Result<bool> {
        if !is_object_path_layout(bytes, path) {
            return Ok(false);
        }
        // `to_config` lists the layers in `model.layers` order (a Sequential model's
        // InputLayer first, left out as Keras 3 does).
        let config = self.to_config();
        self.put_object_path_weights(bytes.to_vec(), &config, path)?;
        Ok(true)
    }
}
