//! Whole models to and from Keras `.h5` files: [`Model::load_keras`] /
//! [`load_model`] (the config normalised and built, the weights put on the layers, the
//! model compiled from its `training_config` where Kiln supports every part of it),
//! [`Model::load_keras_weights`] (weights only) and [`Model::save_keras`] (the Keras 2
//! layout `tf.keras` `load_model` reads).
//!
//! Weights are matched layer by layer by name. Within a layer, a stored weight whose last
//! name component (without `:0`) is a parameter name of the layer goes to that parameter
//! (Keras 2 `dense/kernel:0`, Keras 3 `sequential/dense/kernel`); otherwise the weights
//! go to the parameters in `weight_names` order. Keras and Kiln lay weights out alike: a
//! Dense kernel is `(in, out)`, a Conv2D kernel `(kh, kw, in, out)`; every shape is
//! checked. Optimizer state stored in a file (`optimizer_weights`) is not restored: a
//! model compiled on load starts its optimizer afresh.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ir::Tensor;

use super::archive::model_io::load_archive;
use super::archive::weights_read::is_object_path_layout;
use super::archive::zip_io::is_zip;
use super::{KerasFile, LayerWeights, normalize_model_config};
use crate::error::{Error, Result};
use crate::keras_config::output_training::{compile_from_training_config, model_training_config};
use crate::layers::ParamSpec;
use crate::model::{Model, ModelKind};
use crate::read_limit::read_at_most;

/// The `keras_version` [`Model::save_keras`] writes: a Keras 2 version, so Keras reads the
/// weights without its Keras-1 conversions.
pub const SAVED_KERAS_VERSION: &str = "2.21.0";

/// The `backend` [`Model::save_keras`] writes (the layouts Kiln uses are TensorFlow's).
pub const SAVED_BACKEND: &str = "tensorflow";

/// What happened to a file's `training_config` when its model was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileStatus {
    /// The file has no `training_config` (saved uncompiled, as Keras' `compile=False`).
    NotSaved,
    /// The model was compiled with the file's optimizer, loss and metrics.
    Compiled,
    /// The file's `training_config` names something Kiln cannot compile (the message says
    /// what); the model is loaded uncompiled, ready to `compile` by hand.
    Unsupported(String),
}

/// A model loaded from a Keras file, with what the file said about it.
#[derive(Debug)]
pub struct LoadedKeras {
    /// The model, with the file's weights; compiled when [`LoadedKeras::compile`] says so.
    pub model: Model,
    /// Whether the model was compiled from the file's `training_config`, and why not.
    pub compile: CompileStatus,
    /// The file's `keras_version` attribute, when present.
    pub keras_version: Option<String>,
}

/// Reads the Keras `.h5` file (see [`LoadedKeras::from_file`]) or Keras 3 `.keras` archive
/// (see [`super::archive`], told apart by the zip signature) at `path` as a whole model.
/// Errors name the file (and the layer, weight and shapes at fault).
pub fn load_model(path: impl AsRef<Path>) -> Result<LoadedKeras> {
    let path = path.as_ref();
    let bytes = read_at_most(
        path,
        crate::read_limit::MAX_MODEL_FILE_BYTES,
        "a Keras model file",
    )?;
    if is_zip(&bytes) {
        return load_archive(path);
    }
    if is_object_path_layout(&bytes, path) {
        return Err(file_error(
            path,
            "a Keras 3 weights file (save_weights(\"x.weights.h5\")) holds no model: build \
             the model from its JSON config (Model::load_keras_json, or `kiln ... config.json \
             --weights x.weights.h5`)",
        ));
    }
    let file = KerasFile::read_bytes(bytes, path)?;
    if file.model_config.is_none() {
        return Err(file_error(
            path,
            "no `model_config` attribute: the file holds weights only (save_weights), \
             not a whole model",
        ));
    }
    LoadedKeras::from_file(&file, path)
}

impl LoadedKeras {
    /// The model `file` holds: its `model_config` normalised to Keras 2's form and built
    /// through the layer registry, its weights put on the layers (every layer with
    /// parameters must find all of them in the file with their shapes), then compiled from
    /// the `training_config` if the file has one and Kiln supports every part of it —
    /// otherwise [`CompileStatus::Unsupported`] says why, and the model loads uncompiled.
    /// A `training_config` without the form Keras writes (an object with an
    /// `optimizer_config` and a `loss`) is damage: an error, as in Keras.
    /// `source` (the file's path) names the file in errors.
    pub fn from_file(file: &KerasFile, source: impl AsRef<Path>) -> Result<LoadedKeras> {
        let source = source.as_ref();
        let config = file.model_config.as_ref().ok_or_else(|| {
            file_error(
                source,
                "holds weights only (no model_config): build the model, then call load_keras_weights",
            )
        })?;
        let mut model = normalize_model_config(config)
            .and_then(|config| Model::from_config(&config))
            .map_err(|e| file_error(source, e.to_string()))?;
        model.put_keras_weights(&file.layers, source)?;
        let compile = match &file.training_config {
            None => CompileStatus::NotSaved,
            Some(training) => {
                check_training_config(training, source)?;
                match compile_from(&mut model, training) {
                    Ok(()) => CompileStatus::Compiled,
                    Err(reason) => CompileStatus::Unsupported(reason.to_string()),
                }
            }
        };
        Ok(LoadedKeras {
            model,
            compile,
            keras_version: file.keras_version.clone(),
        })
    }
}

/// Ok when `training` has the form every Keras `training_config` has: a JSON object with an
/// `optimizer_config` (a name, or a `{"class_name", "config"}` object) and a `loss` entry.
/// Anything else is damage, an error naming the file and the attribute (Keras raises too),
/// never [`CompileStatus::Unsupported`], which is for options Kiln does not implement.
fn check_training_config(training: &serde_json::Value, source: &Path) -> Result<()> {
    use serde_json::Value;
    let damaged = |what: &str| {
        file_error(
            source,
            format!("attribute `training_config` is damaged: {what}"),
        )
    };
    let Some(config) = training.as_object() else {
        return Err(damaged("it is not a JSON object"));
    };
    let optimizer_ok = match config.get("optimizer_config") {
        None => return Err(damaged("it has no `optimizer_config`")),
        Some(Value::String(_)) => true,
        Some(Value::Object(optimizer)) => {
            optimizer.get("class_name").is_some_and(Value::is_string)
                && optimizer.get("config").is_some_and(Value::is_object)
        }
        Some(_) => false,
    };
    if !optimizer_ok {
        return Err(damaged(
            "`optimizer_config` is neither a name nor a {\"class_name\", \"config\"} object",
        ));
    }
    if !config.contains_key("loss") {
        return Err(damaged("it has no `loss` entry"));
    }
    Ok(())
}

/// Compiles `model` as `training` (a Keras `training_config`, a loss per output included)
/// says.
pub(super) fn compile_from(model: &mut Model, training: &serde_json::Value) -> Result<()> {
    compile_from_training_config(model, training)
}

/// Layer classes Kiln defines for imported graphs that Keras has no counterpart for.
const KILN_ONLY_CLASSES: [&str; 2] = ["ConstantOperand", "PinnedBatch"];

/// An [`Error::ModelFile`] about `path`.
pub(super) fn file_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// The model parameter each stored weight goes to, in `stored` order: by parameter name
/// when every stored name ends in one of `params`' names (`dense/kernel:0` → `kernel`),
/// otherwise by position. The caller has checked that the counts agree.
pub(crate) fn params_for<'p>(
    params: &'p [ParamSpec],
    stored: &[(String, Tensor)],
) -> Vec<&'p ParamSpec> {
    let by_name: Option<Vec<&ParamSpec>> = stored
        .iter()
        .map(|(n, _)| params.iter().find(|p| p.name == base_name(n)))
        .collect();
    by_name.unwrap_or_else(|| params.iter().collect())
}

/// The parameter name a stored weight name ends in: `dense/kernel:0` and
/// `sequential/dense/kernel` both give `kernel`.
fn base_name(stored: &str) -> &str {
    let last = stored.rsplit('/').next().unwrap_or(stored);
    match last.rsplit_once(':') {
        Some((base, index)) if index.chars().all(|c| c.is_ascii_digit()) => base,
        _ => last,
    }
}

impl Model {
    /// Loads the Keras 2 or Keras 3 `.h5` model file at `path` (what `model.save("m.h5")`
    /// writes) or a Keras 3 `.keras` archive (recognised by content): architecture, weights
    /// and, when Kiln supports it, the compile configuration.
    /// [`load_model`] also says whether and why not the model was compiled.
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keras/mlp.h5");
    /// let model = kiln::Model::load_keras(path)?;
    /// assert_eq!(model.count_params()?, 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);
    /// assert!(model.is_compiled()); // SGD with momentum, from the file's training_config
    /// # Ok(())
    /// # }
    /// ```
    pub fn load_keras(path: impl AsRef<Path>) -> Result<Model> {
        Ok(load_model(path)?.model)
    }

    /// The model in an already-read Keras file; `source` names it in errors. See
    /// [`LoadedKeras::from_file`].
    pub fn from_keras_file(file: &KerasFile, source: impl AsRef<Path>) -> Result<Model> {
        Ok(LoadedKeras::from_file(file, source)?.model)
    }

    /// Replaces the layer weights with those in the Keras `.h5` file at `path` (a
    /// `save_weights` file or a whole-model file), matched by layer name — or, for a Keras 3
    /// `save_weights("x.weights.h5")` file (recognised by its object-path layout), by
    /// Keras 3's layer keys (see [`super::archive::paths`]). Every layer with
    /// parameters must be in the file with all its weights and their shapes, and every
    /// layer with weights in the file must be in the model; nothing changes unless all fit.
    /// Works compiled or not (optimizer state is kept).
    pub fn load_keras_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = read_at_most(
            path,
            crate::read_limit::MAX_MODEL_FILE_BYTES,
            "a Keras model file",
        )?;
        if self.try_object_path_weights(&bytes, path)? {
            return Ok(());
        }
        let file = KerasFile::read_bytes(bytes, path)?;
        self.put_keras_weights(&file.layers, path)
    }

    /// Writes the model to `path` as a Keras 2 `.h5` file (atomically): its config, its
    /// `training_config` when compiled (a loss, loss weight and metrics per output for
    /// several outputs, as tf-keras 2 writes them), and every layer's weights named as Keras 2 names
    /// them (`dense/kernel:0`). `layer_names` leaves out the `InputLayer` of a sequential
    /// model and keeps it for a functional one, as Keras does.
    ///
    /// Layers Keras cannot read (the ONNX importer's `ConstantOperand` and `PinnedBatch`,
    /// pooling with explicit pads) are refused by name before anything is written.
    pub fn save_keras(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.ensure_keras_representable(path)?;
        let training_config = model_training_config(self)?;
        let file = KerasFile {
            keras_version: Some(SAVED_KERAS_VERSION.into()),
            backend: Some(SAVED_BACKEND.into()),
            model_config: Some(self.to_config()),
            training_config,
            layers: self.keras_layer_weights()?,
        };
        file.write(path)
    }

    /// An error naming the first layer Keras cannot read back (a Kiln-only class or option),
    /// for writing the model to the Keras file `path`.
    pub(crate) fn ensure_keras_representable(&self, path: &Path) -> Result<()> {
        for layer in self.layers() {
            let class = layer.class_name();
            let why = if KILN_ONLY_CLASSES.contains(&class) {
                Some("a Kiln-only layer class (from an ONNX import)")
            } else if layer.config().get("explicit_padding").is_some() {
                Some("explicit pooling pads, which Keras pooling layers do not have")
            } else {
                None
            };
            if let Some(why) = why {
                let name = layer.name().unwrap_or_default();
                return Err(file_error(
                    path,
                    format!(
                        "layer {name} ({class}) cannot be saved for Keras: {why}; save it as a Kiln file or as ONNX instead"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every layer's weights in the Keras 2 naming, in model order.
    fn keras_layer_weights(&self) -> Result<Vec<LayerWeights>> {
        let shapes = self.layer_shapes()?;
        let mut layers = Vec::with_capacity(self.layers().len());
        for (i, (layer, shapes)) in self.layers().iter().zip(shapes).enumerate() {
            let name = layer.name().unwrap_or_default();
            let input_of_stack =
                self.kind() == ModelKind::Sequential && layer.class_name() == "InputLayer";
            if input_of_stack || self.is_shared_call(i) {
                continue;
            }
            let weights = shapes
                .params
                .iter()
                .map(|p| {
                    let value = self.weight(&format!("{name}/{}", p.name))?;
                    Ok((format!("{name}/{}:0", p.name), value))
                })
                .collect::<Result<Vec<_>>>()?;
            layers.push(LayerWeights {
                layer: name.to_string(),
                weights,
            });
        }
        Ok(layers)
    }

    /// Puts the weights of a Keras file's layers (`source` names the file in errors) on
    /// this model's layers, checking names, counts and shapes first.
    pub(super) fn put_keras_weights(
        &mut self,
        stored: &[LayerWeights],
        source: &Path,
    ) -> Result<()> {
        let shapes = self
            .layer_shapes()
            .map_err(|e| file_error(source, e.to_string()))?;
        let names: BTreeSet<&str> = self.layers().iter().filter_map(|l| l.name()).collect();
        let stored = &super::nested::split_nested_groups(stored, &names);
        let mut values: BTreeMap<String, Tensor> = BTreeMap::new();
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for (layer, shapes) in self.layers().iter().zip(&shapes) {
            if shapes.params.is_empty() {
                continue;
            }
            let name = layer.name().unwrap_or_default();
            used.insert(name);
            let found = LayerFound {
                name,
                class: layer.class_name(),
                source,
            };
            found.take_weights(&shapes.params, stored, &mut values)?;
        }
        if let Some(extra) = stored
            .iter()
            .find(|l| !l.weights.is_empty() && !used.contains(l.layer.as_str()))
        {
            return Err(file_error(
                source,
                format!(
                    "the file has {} weights for layer `{}`, which the model does not have or which has no weights in the model",
                    extra.weights.len(),
                    extra.layer
                ),
            ));
        }
        self.set_weights(&values)
            .map_err(|e| file_error(source, e.to_string()))
    }
}

/// A model layer with parameters, looked up in a Keras file (`source` names the file in
/// errors).
struct LayerFound<'a> {
    name: &'a str,
    class: &'static str,
    source: &'a Path,
}

impl LayerFound<'_> {
    /// Put the file's weights of this layer into `values` as `layer/param`, checking their
    /// count, names and shapes against `params`.
    fn take_weights(
        &self,
        params: &[ParamSpec],
        stored: &[LayerWeights],
        values: &mut BTreeMap<String, Tensor>,
    ) -> Result<()> {
        let (name, class) = (self.name, self.class);
        let weights = &stored
            .iter()
            .find(|l| l.layer == name)
            .ok_or_else(|| {
                self.error(format!(
                    "layer `{name}` ({class}) has {} weights, but the file has no layer `{name}`",
                    params.len()
                ))
            })?
            .weights;
        if weights.len() != params.len() {
            let stored_names: Vec<&str> = weights.iter().map(|(n, _)| n.as_str()).collect();
            let wanted: Vec<&str> = params.iter().map(|p| p.name).collect();
            return Err(self.error(format!(
                "layer `{name}` ({class}) has {} weights ({}), the file has {} ({})",
                params.len(),
                wanted.join(", "),
                weights.len(),
                stored_names.join(", ")
            )));
        }
        for ((stored_name, value), param) in weights.iter().zip(params_for(params, weights)) {
            self.put(param, stored_name, value, values)?;
        }
        Ok(())
    }

    /// Put the stored weight `stored_name` into `values` as this layer's `param`.
    fn put(
        &self,
        param: &ParamSpec,
        stored_name: &str,
        value: &Tensor,
        values: &mut BTreeMap<String, Tensor>,
    ) -> Result<()> {
        let (name, class) = (self.name, self.class);
        if value.shape != param.shape {
            return Err(self.error(format!(
                "layer `{name}` ({class}): weight `{stored_name}` has shape {} in the file, the model's `{}` needs {}",
                value.shape, param.name, param.shape
            )));
        }
        let key = format!("{name}/{}", param.name);
        if values.insert(key, value.clone()).is_some() {
            return Err(self.error(format!(
                "layer `{name}` ({class}): weight `{}` is stored twice",
                param.name
            )));
        }
        Ok(())
    }

    fn error(&self, msg: String) -> Error {
        file_error(self.source, msg)
    }
}
