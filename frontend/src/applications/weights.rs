//! [`load_weights`]: an application's weights from a Keras `.h5` file the user supplies
//! (Keras' published `..._weights_tf_dim_ordering_tf_kernels.h5` for a model with its top,
//! `..._notop.h5` without), matched as Keras' own `model.load_weights(path)` matches an
//! HDF5 file: the file's layers that hold weights, in its `layer_names` order, go to the
//! model's layers with parameters, in model order — so files whose layer names come from
//! another Keras version (`conv2d_1` where tf-keras 2.21 says `conv2d`) load too. It reads
//! the file through `keras::KerasFile`; it does not download anything nor build models.

use std::collections::BTreeMap;
use std::path::Path;

use ir::Tensor;

use crate::error::{Error, Result};
use crate::keras::model_io::params_for;
use crate::keras::{KerasFile, LayerWeights};
use crate::layers::ParamSpec;
use crate::model::Model;

/// Loads the weights of the Keras `.h5` file at `path` (a `save_weights` file or a whole
/// model file) into `model`, layer by layer in order as Keras' `load_weights` does (see the
/// module doc). The file must hold exactly as many layers with weights as the model has
/// layers with parameters, each with the same number of weights and shapes (a weight is
/// matched by its name, `kernel`, `gamma`, …, or else by position); nothing changes unless
/// all fit. Errors name the file and both layers.
///
/// ```no_run
/// # fn main() -> kiln::Result<()> {
/// use kiln::applications::{load_weights, resnet50, Options};
/// let mut model = resnet50(&Options::new().include_top(false))?;
/// load_weights(&mut model, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")?;
/// # Ok(())
/// # }
/// ```
pub fn load_weights(model: &mut Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let file = KerasFile::read(path)?;
    let values = matched_weights(model, &file.layers, path)?;
    model
        .set_weights(&values)
        .map_err(|e| file_error(path, e.to_string()))
}

/// An [`Error::ModelFile`] about `path`.
fn file_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// The file's weights as the model's `layer/param` values, paired in order.
fn matched_weights(
    model: &Model,
    stored: &[LayerWeights],
    path: &Path,
) -> Result<BTreeMap<String, Tensor>> {
    let shapes = model.layer_shapes()?;
    let targets: Vec<(&str, &[ParamSpec])> = model
        .layers()
        .iter()
        .zip(&shapes)
        .filter(|(_, s)| !s.params.is_empty())
        .map(|(l, s)| (l.name().unwrap_or_default(), s.params.as_slice()))
        .collect();
    let sources: Vec<&LayerWeights> = stored.iter().filter(|l| !l.weights.is_empty()).collect();
    if targets.len() != sources.len() {
        return Err(file_error(
            path,
            format!(
                "the file has {} layers with weights, model `{}` has {} layers with parameters \
                 (a file saved with the classifier top loads into a model built with \
                 include_top, a `_notop` file into one without)",
                sources.len(),
                model.name(),
                targets.len()
            ),
        ));
    }
    let mut values = BTreeMap::new();
    for ((name, params), source) in targets.into_iter().zip(sources) {
        put_layer(name, params, source, path, &mut values)?;
    }
    Ok(values)
}

/// Put `source`'s weights on the model layer `name` with `params`.
fn put_layer(
    name: &str,
    params: &[ParamSpec],
    source: &LayerWeights,
    path: &Path,
    values: &mut BTreeMap<String, Tensor>,
) -> Result<()> {
    let stored = &source.weights;
    let mismatch = |msg: String| {
        file_error(
            path,
            format!(
                "layer `{}` of the file, loaded into layer `{name}`: {msg}",
                source.layer
            ),
        )
    };
    if stored.len() != params.len() {
        let wanted: Vec<&str> = params.iter().map(|p| p.name).collect();
        return Err(mismatch(format!(
            "it has {} weights, the model's layer {} ({})",
            stored.len(),
            params.len(),
            wanted.join(", ")
        )));
    }
    for ((stored_name, value), param) in stored.iter().zip(params_for(params, stored)) {
        if value.shape != param.shape {
            return Err(mismatch(format!(
                "weight `{stored_name}` has shape {}, the model's `{}` needs {}",
                value.shape, param.name, param.shape
            )));
        }
        let key = format!("{name}/{}", param.name);
        if values.insert(key, value.clone()).is_some() {
            return Err(mismatch(format!("weight `{}` is stored twice", param.name)));
        }
    }
    Ok(())
}
