//! Writing a [`KerasFile`] in the Keras 2 layouts: the whole-model layout `tf.keras`
//! `model.save("m.h5")` writes (Keras 2 and Keras 3 `load_model` read it) and, for a file
//! without configs, the `save_weights("w.h5")` layout (`load_weights` reads it).
//!
//! Layout and attribute types (those of tf-keras 2.21 files, as h5py reports them):
//! - root of a whole-model file: `keras_version`, `backend` — variable-length UTF-8
//!   strings; `model_config`, `training_config` (when present) — variable-length ASCII
//!   strings holding JSON with every non-ASCII character `\u`-escaped, as Python's
//!   `json.dumps` writes it;
//! - the weights group (`/model_weights`, or the root of a weights-only file):
//!   `layer_names` (1-D array of variable-length ASCII strings), `keras_version`, `backend`
//!   (variable-length ASCII strings), and the empty `top_level_model_weights` group Keras
//!   writes;
//! - per layer a group with `weight_names` (1-D array of variable-length ASCII strings, or
//!   an empty float64 array, shape `(0,)`, for a layer without weights — exactly what h5py
//!   stores for Keras' empty list); the weights are contiguous float32 datasets at
//!   `<layer>/<weight_name>`, a `/` in the name making intermediate groups.
//!
//! Checked with h5py against the six fixtures (`tests/fixtures/keras_h5/compare_with_h5py.py`):
//! every attribute has the type class, string kind, character set and shape of Keras' own.
//! Differences, none visible to h5py or Keras: the file uses the HDF5 1.8 format (version 2
//! superblock, new-style groups) where h5py writes the version 0 superblock with
//! symbol-table groups — the crate writes nothing older; the JSON text is compact with
//! keys sorted (`json.dumps` keeps insertion order and writes `", "`/`": "`), which parses
//! to the same config; an empty `layer_names` is an empty float64 array, as h5py would
//! store it. `optimizer_weights` is not written.

use std::path::Path;

use hdf5_pure::{AttrValue, FileBuilder, FinishedGroup, GroupBuilder, LibVer};

use super::json_ascii::to_ascii_json;
use super::{KerasFile, LayerWeights};
use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};

impl KerasFile {
    /// Writes the file to `path` in the Keras 2 layout (see [the module docs](self)): the
    /// whole-model layout, or the `save_weights` layout when the file has neither
    /// `model_config` nor `training_config`. Atomically: a temporary file renamed over `path`, so `path` never
    /// holds a half-written file.
    ///
    /// Errors: a layer name that is empty, contains `/` or repeats; a weight name with an
    /// empty path component, or one that is also the group of another weight's path; the
    /// HDF5 writer's own failures; and the file-system errors of writing `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_hdf5_bytes(path)?;
        write_atomically(path, &bytes)
    }

    /// The file's bytes; `path` only names the file in errors.
    fn to_hdf5_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        let error = |msg: String| Error::ModelFile {
            path: path.to_path_buf(),
            msg,
        };
        let mut builder = FileBuilder::new();
        builder.with_libver_bounds(LibVer::Earliest, LibVer::V18);
        if self.model_config.is_none() && self.training_config.is_none() {
            // `save_weights` layout: the root is the weights group.
            self.write_weights(&mut builder).map_err(error)?;
        } else {
            if let Some(version) = &self.keras_version {
                builder.set_attr("keras_version", AttrValue::VarLenString(version.clone()));
            }
            if let Some(backend) = &self.backend {
                builder.set_attr("backend", AttrValue::VarLenString(backend.clone()));
            }
            for (name, config) in [
                ("model_config", &self.model_config),
                ("training_config", &self.training_config),
            ] {
                if let Some(config) = config {
                    builder.set_attr(name, AttrValue::VarLenAsciiString(to_ascii_json(config)));
                }
            }
            let mut model_weights = builder.create_group("model_weights");
            self.write_weights(&mut model_weights).map_err(error)?;
            builder.add_group(model_weights.finish());
        }
        builder
            .finish()
            .map_err(|e| error(format!("the HDF5 writer failed: {e}")))
    }

    /// The weights group's attributes and layer groups, written into `weights`.
    fn write_weights(&self, weights: &mut impl GroupParent) -> Result<(), String> {
        let layer_names: Vec<String> = self.layers.iter().map(|l| l.layer.clone()).collect();
        weights.attr("layer_names", name_list(layer_names));
        if let Some(version) = &self.keras_version {
            weights.attr(
                "keras_version",
                AttrValue::VarLenAsciiString(version.clone()),
            );
        }
        if let Some(backend) = &self.backend {
            weights.attr("backend", AttrValue::VarLenAsciiString(backend.clone()));
        }
        let mut seen = std::collections::HashSet::new();
        for layer in &self.layers {
            if layer.layer.is_empty() || layer.layer == "." || layer.layer.contains('/') {
                return Err(format!(
                    "layer name {:?} cannot name an HDF5 group (empty, `.` or contains `/`)",
                    layer.layer
                ));
            }
            if !seen.insert(layer.layer.as_str()) {
                return Err(format!("layer `{}` appears twice", layer.layer));
            }
            let group = layer_group(weights.new_group(&layer.layer), layer)?;
            weights.attach(group.finish());
        }
        if !seen.contains("top_level_model_weights") {
            let mut top = weights.new_group("top_level_model_weights");
            top.set_attr("weight_names", name_list(Vec::new()));
            weights.attach(top.finish());
        }
        Ok(())
    }
}

/// What holds the layer groups: the root (`save_weights` layout) or `/model_weights`.
trait GroupParent {
    /// A new child group called `name`, to [`attach`](GroupParent::attach) when built.
    fn new_group(&mut self, name: &str) -> GroupBuilder;
    /// Adds a built child group.
    fn attach(&mut self, group: FinishedGroup);
    /// Sets an attribute.
    fn attr(&mut self, name: &str, value: AttrValue);
}

impl GroupParent for FileBuilder {
    fn new_group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn attach(&mut self, group: FinishedGroup) {
        self.add_group(group);
    }
    fn attr(&mut self, name: &str, value: AttrValue) {
        self.set_attr(name, value);
    }
}

impl GroupParent for GroupBuilder {
    fn new_group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn attach(&mut self, group: FinishedGroup) {
        self.add_group(group);
    }
    fn attr(&mut self, name: &str, value: AttrValue) {
        self.set_attr(name, value);
    }
}

/// A list of names as Keras stores it: variable-length ASCII strings, or an empty float64
/// array for an empty list (what h5py makes of `np.array([])`).
fn name_list(names: Vec<String>) -> AttrValue {
    if names.is_empty() {
        AttrValue::F64Array(Vec::new())
    } else {
        AttrValue::VarLenAsciiStringArray(names)
    }
}

/// A weight's place in its layer's group: a dataset, or a group of further entries
/// (`dense/kernel:0` is the dataset `kernel:0` in the group `dense`).
enum Entry<'a> {
    /// A weight.
    Dataset(&'a ir::Tensor),
    /// An intermediate group, its entries in first-use order.
    Group(Vec<(&'a str, Entry<'a>)>),
}

/// The group of one layer (`group`, still empty): `weight_names` and the datasets along
/// each weight's path.
fn layer_group(mut group: GroupBuilder, layer: &LayerWeights) -> Result<GroupBuilder, String> {
    let mut tree: Vec<(&str, Entry)> = Vec::new();
    for (name, tensor) in &layer.weights {
        insert(&mut tree, name, tensor)
            .map_err(|msg| format!("layer `{}`, weight `{name}`: {msg}", layer.layer))?;
    }
    let weight_names = layer.weights.iter().map(|(n, _)| n.clone()).collect();
    group.set_attr("weight_names", name_list(weight_names));
    emit(&mut group, tree);
    Ok(group)
}

/// Adds the weight `name` (a `/`-separated path) to `tree`.
fn insert<'a>(
    tree: &mut Vec<(&'a str, Entry<'a>)>,
    name: &'a str,
    tensor: &'a ir::Tensor,
) -> Result<(), String> {
    let (head, rest) = match name.split_once('/') {
        Some((head, rest)) => (head, Some(rest)),
        None => (name, None),
    };
    if head.is_empty() || head == "." {
        return Err("an empty or `.` path component cannot name an HDF5 object".into());
    }
    let existing = tree.iter_mut().position(|(n, _)| *n == head);
    match (rest, existing) {
        (None, None) => {
            tree.push((head, Entry::Dataset(tensor)));
            Ok(())
        }
        (Some(rest), None) => {
            let mut children = Vec::new();
            insert(&mut children, rest, tensor)?;
            tree.push((head, Entry::Group(children)));
            Ok(())
        }
        (Some(rest), Some(i)) => match &mut tree[i].1 {
            Entry::Group(children) => insert(children, rest, tensor),
            Entry::Dataset(_) => Err(format!("`{head}` is already a weight, not a group")),
        },
        (None, Some(_)) => Err(format!(
            "`{head}` is already used (a repeated weight name?)"
        )),
    }
}

/// Writes `tree` into `group`.
fn emit(group: &mut GroupBuilder, tree: Vec<(&str, Entry)>) {
    for (name, entry) in tree {
        match entry {
            Entry::Dataset(tensor) => {
                let shape: Vec<u64> = tensor.shape.dims().iter().map(|&d| d as u64).collect();
                group
                    .create_dataset(name)
                    .with_f32_data(&tensor.data)
                    .with_shape(&shape);
            }
            Entry::Group(children) => {
                let mut child = group.create_group(name);
                emit(&mut child, children);
                group.add_group(child.finish());
            }
        }
    }
}
