//! Reading a Keras `.h5` file into a [`KerasFile`].
//!
//! Where things are (h5py view): the root attributes `keras_version`, `backend`,
//! `model_config`, `training_config` (JSON strings); the weights group — `/model_weights`
//! for a whole-model file, the root itself for a `save_weights` file — with `layer_names`;
//! per layer a group with `weight_names` (strings, or an empty float64 array for a layer
//! without weights) and the datasets at `<layer>/<weight_name>`. Strings are accepted in
//! every HDF5 encoding (variable or fixed length, ASCII or UTF-8), so files of older Keras
//! versions read too. Datasets may be contiguous, compact or chunked (gzip/shuffle
//! filtered).

use std::collections::HashMap;
use std::path::Path;

use hdf5_pure::{AttrValue, DType, Group};
use serde_json::Value;

use super::guard::without_panics;
use super::{KerasFile, LayerWeights};
use crate::error::{Error, Result};
use crate::read_limit::read_at_most;

/// Deflate cannot expand data by more than about 1032:1; a chunked dataset claiming more
/// elements than this many times the file size is corrupt, and is refused before its
/// buffer is allocated.
const MAX_COMPRESSION_RATIO: u64 = 1100;

/// The attributes Kiln reads from a Keras file's groups: present but undecodable is damage.
const READ_ATTRIBUTES: [&str; 6] = [
    "model_config",
    "training_config",
    "keras_version",
    "backend",
    "layer_names",
    "weight_names",
];

impl KerasFile {
    /// Reads a Keras 2 or Keras 3 `.h5` file: a whole model (`model.save`) or weights only
    /// (`save_weights`, then [`model_config`](KerasFile::model_config) is `None`).
    ///
    /// Errors (all naming `path`, and the layer and dataset where one is at fault): the file
    /// cannot be read, is not HDF5, is truncated or corrupt, has no weights group, a config
    /// attribute is not valid JSON, a layer or weight listed in `layer_names` /
    /// `weight_names` is missing, or a weight is neither floating point nor a 32/64-bit
    /// integer. float64 weights (a Keras `float64` dtype policy) are rounded to float32;
    /// integer weights (Normalization's int64 `count`) are held as float32.
    pub fn read(path: impl AsRef<Path>) -> Result<KerasFile> {
        let path = path.as_ref();
        let bytes = read_at_most(
            path,
            crate::read_limit::MAX_MODEL_FILE_BYTES,
            "a Keras .h5 file",
        )?;
        KerasFile::read_bytes(bytes, path)
    }

    /// Like [`read`](KerasFile::read), for a file already in memory; `name` (its path or
    /// where it came from) names it in errors.
    pub fn read_bytes(bytes: Vec<u8>, name: impl AsRef<Path>) -> Result<KerasFile> {
        let path = name.as_ref();
        let file_len = bytes.len() as u64;
        without_panics(path, || {
            let file = open_hdf5(bytes, path)?;
            FileReader { path, file_len }.read(&file)
        })
    }

    /// Like [`read`](KerasFile::read), but a file without a `model_config` (a
    /// `save_weights` file) is an error: for loading a whole model.
    pub fn read_model(path: impl AsRef<Path>) -> Result<KerasFile> {
        let path = path.as_ref();
        let file = KerasFile::read(path)?;
        if file.model_config.is_none() {
            return Err(file_error(
                path,
                "no `model_config` attribute: the file holds weights only (save_weights), \
                 not a whole model",
            ));
        }
        Ok(file)
    }
}

/// An [`Error::ModelFile`] about `path`.
fn file_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Opens HDF5 `bytes` (the file `path`), refusing a file shorter than its superblock's end
/// address (truncated). Call it inside [`without_panics`].
pub(super) fn open_hdf5(bytes: Vec<u8>, path: &Path) -> Result<hdf5_pure::File> {
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(file_error(
            path,
            "not an HDF5 file (no HDF5 signature at offset 0, 512, 1024, ...)",
        ));
    }
    let file_len = bytes.len() as u64;
    let file = hdf5_pure::File::from_bytes(bytes)
        .map_err(|e| file_error(path, format!("cannot open as HDF5: {e}")))?;
    let superblock = file.superblock();
    let end = superblock
        .base_address
        .get()
        .saturating_add(superblock.eof_address);
    if end > file_len {
        return Err(file_error(
            path,
            format!("truncated: the file has {file_len} bytes, its HDF5 superblock says {end}"),
        ));
    }
    Ok(file)
}

/// The state of one read: the file's name (for errors) and size (to bound allocations).
pub(super) struct FileReader<'a> {
    /// The file, for errors.
    pub(super) path: &'a Path,
    /// Its size in bytes: no dataset may claim more.
    pub(super) file_len: u64,
}

impl FileReader<'_> {
    /// The whole file.
    fn read(&self, file: &hdf5_pure::File) -> Result<KerasFile> {
        let root = file.root();
        let root_attrs = self.attrs(&root, "/")?;
        let weights_group = if root_attrs.contains_key("layer_names") {
            root
        } else {
            file.group("model_weights").map_err(|e| {
                self.error(format!(
                    "not a Keras file: no `model_weights` group and no `layer_names` \
                     attribute on the root group ({e})"
                ))
            })?
        };
        let weights_attrs = self.attrs(&weights_group, "/model_weights")?;
        let string_attr = |name: &str| -> Result<Option<String>> {
            let value = root_attrs.get(name).or_else(|| weights_attrs.get(name));
            value.map(|v| self.string(v, name)).transpose()
        };
        let keras_version = string_attr("keras_version")?;
        let backend = string_attr("backend")?;
        let model_config = self.json_attr(&root_attrs, "model_config")?;
        let training_config = self.json_attr(&root_attrs, "training_config")?;

        let layer_names = match weights_attrs.get("layer_names") {
            Some(value) => self.names(value, "layer_names")?,
            None => return Err(self.error("the weights group has no `layer_names` attribute")),
        };
        let layers = layer_names
            .into_iter()
            .map(|layer| self.layer(&weights_group, layer))
            .collect::<Result<_>>()?;
        Ok(KerasFile {
            keras_version,
            backend,
            model_config,
            training_config,
            layers,
        })
    }

    /// One layer's group: its `weight_names`, then each weight's dataset.
    fn layer(&self, weights_group: &Group, layer: String) -> Result<LayerWeights> {
        let group = weights_group.group(&layer).map_err(|e| {
            self.error(format!(
                "layer `{layer}` is listed in `layer_names` but its group cannot be opened ({e})"
            ))
        })?;
        let attrs = self.attrs(&group, &layer)?;
        let weight_names = match attrs.get("weight_names") {
            Some(value) => self.names(value, &format!("weight_names of layer `{layer}`"))?,
            None => {
                return Err(self.error(format!(
                    "layer `{layer}`: the group has no `weight_names` attribute"
                )));
            }
        };
        let weights = weight_names
            .into_iter()
            .map(|name| {
                let tensor = self.weight(&group, &layer, &name)?;
                Ok((name, tensor))
            })
            .collect::<Result<_>>()?;
        Ok(LayerWeights { layer, weights })
    }

    /// The dataset `<layer>/<name>` as a float32 tensor.
    pub(super) fn weight(&self, group: &Group, layer: &str, name: &str) -> Result<ir::Tensor> {
        let at_fault = |msg: String| self.error(format!("layer `{layer}`, weight `{name}`: {msg}"));
        let dataset = group
            .dataset(name)
            .map_err(|e| at_fault(format!("listed in `weight_names` but no dataset ({e})")))?;
        let dtype = dataset
            .dtype()
            .map_err(|e| at_fault(format!("cannot read the datatype ({e})")))?;
        let element_bytes: u64 = match dtype {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
            other => {
                return Err(at_fault(format!(
                    "datatype {other} is not a float32 (or float64, int32, int64) weight"
                )));
            }
        };
        let dims = dataset
            .shape()
            .map_err(|e| at_fault(format!("cannot read the shape ({e})")))?;
        let numel = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
        let stored_bound = if dataset.filters().is_empty() {
            self.file_len
        } else {
            self.file_len.saturating_mul(MAX_COMPRESSION_RATIO)
        };
        let numel = match numel {
            Some(n) if n.saturating_mul(element_bytes) <= stored_bound => n,
            _ => {
                return Err(at_fault(format!(
                    "shape {dims:?} holds more data than the {}-byte file can store",
                    self.file_len
                )));
            }
        };
        let data = match dtype {
            DType::F64 => dataset
                .read_f64()
                .map(|values| values.into_iter().map(|v| v as f32).collect()),
            // Integer weights (Normalization's int64 `count`) are held as floats.
            DType::I64 => dataset
                .read_i64()
                .map(|values| values.into_iter().map(|v| v as f32).collect()),
            DType::I32 => dataset
                .read_i32()
                .map(|values| values.into_iter().map(|v| v as f32).collect()),
            _ => dataset.read_f32(),
        }
        .map_err(|e| at_fault(format!("cannot read the data ({e})")))?;
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        if data.len() as u64 != numel {
            return Err(at_fault(format!(
                "shape {shape:?} needs {numel} values, the dataset gave {}",
                data.len()
            )));
        }
        ir::Tensor::new(ir::Shape::new(shape.clone()), data)
            .ok_or_else(|| at_fault(format!("data does not fit shape {shape:?}")))
    }

    /// A group's attributes; `what` names the group in errors. The HDF5 reader leaves out
    /// an attribute whose value it cannot decode (a damaged datatype or string heap); one of
    /// [`READ_ATTRIBUTES`] left out so is an error naming it, never an absent attribute (a
    /// damaged `model_config` is not "weights only", a damaged `training_config` is not
    /// "saved uncompiled").
    pub(super) fn attrs(&self, group: &Group, what: &str) -> Result<HashMap<String, AttrValue>> {
        let attrs = group
            .attrs()
            .map_err(|e| self.error(format!("cannot read the attributes of `{what}` ({e})")))?;
        if READ_ATTRIBUTES.iter().all(|name| attrs.contains_key(*name)) {
            return Ok(attrs);
        }
        let present = group
            .attr_datatypes()
            .map_err(|e| self.error(format!("cannot read the attributes of `{what}` ({e})")))?;
        let damaged = READ_ATTRIBUTES
            .iter()
            .find(|name| present.contains_key(**name) && !attrs.contains_key(**name));
        match damaged {
            Some(name) => Err(self.error(format!(
                "attribute `{name}` of `{what}` is damaged: its value cannot be decoded \
                 (datatype {:?})",
                present[*name]
            ))),
            None => Ok(attrs),
        }
    }

    /// A single-string attribute.
    fn string(&self, value: &AttrValue, name: &str) -> Result<String> {
        value.as_str().map(str::to_string).ok_or_else(|| {
            self.error(format!(
                "attribute `{name}` is not a string but {}",
                value.type_name()
            ))
        })
    }

    /// A JSON-string attribute of the root group, `None` when absent.
    fn json_attr(&self, attrs: &HashMap<String, AttrValue>, name: &str) -> Result<Option<Value>> {
        let Some(value) = attrs.get(name) else {
            return Ok(None);
        };
        let text = self.string(value, name)?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| self.error(format!("attribute `{name}` is not valid JSON: {e}")))
    }

    /// A list-of-names attribute (`layer_names`, `weight_names`): strings, or the empty
    /// numeric array h5py stores for an empty list.
    fn names(&self, value: &AttrValue, what: &str) -> Result<Vec<String>> {
        if let Some(names) = value.as_strings() {
            return Ok(names.to_vec());
        }
        let empty_numbers = value.to_f64s().is_some_and(|v| v.is_empty())
            || value.to_i64s().is_some_and(|v| v.is_empty());
        if empty_numbers {
            return Ok(Vec::new());
        }
        Err(self.error(format!(
            "`{what}` is neither a list of strings nor empty (found {})",
            value.type_name()
        )))
    }

    /// An error about this file.
    fn error(&self, msg: impl Into<String>) -> Error {
        file_error(self.path, msg)
    }
}
