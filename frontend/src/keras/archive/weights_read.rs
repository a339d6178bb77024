//! Reading Keras 3's object-path weights file (`model.weights.h5` inside a `.keras`
//! archive, or a standalone `save_weights("x.weights.h5")` file) for a given model: each
//! model layer's variables by the paths [`super::paths`] names, as [`LayerWeights`] in the
//! layer's parameter order (ready for the `.h5` loader's name-and-shape checks).
//!
//! A layer's group is the `layers/*` group whose `vars` carries the layer's name in its
//! `name` attribute (as Keras writes it), or failing that Keras' class-counter key
//! (`layers/conv2d_1`). Every dataset under `/layers`
//! must be used: a weight the model has no place for is an error, as is a missing one.
//! `/optimizer` (optimizer state) and the model's own empty `/vars` are skipped. Does not
//! build models or read configs.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use hdf5_pure::Group;
use serde_json::Value;

use super::super::LayerWeights;
use super::super::guard::without_panics;
use super::super::read::{FileReader, open_hdf5};
use super::paths::{layer_keys, var_paths};
use super::zip_io::archive_error;
use crate::error::Result;
use crate::layers::ParamSpec;

/// Deepest group nesting walked under `/layers` (Keras nests three or four levels).
const MAX_DEPTH: usize = 12;

/// Most groups and datasets walked under `/layers` (a cyclic or huge file stops here).
const MAX_OBJECTS: usize = 100_000;

/// One model layer, as the reader needs it.
pub struct LayerEntry<'a> {
    /// Its Keras class.
    pub class: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its Keras config (the wrapped layer's class of a wrapper is read from it).
    pub config: Value,
    /// Its parameters, in order.
    pub params: Vec<ParamSpec>,
}

/// Whether HDF5 `bytes` look like Keras 3's object-path layout: a `layers` group at the
/// root and no `layer_names` attribute (Keras 2's layout). Never fails; `false` for
/// anything unreadable.
pub fn is_object_path_layout(bytes: &[u8], path: &Path) -> bool {
    without_panics(path, || {
        let file = open_hdf5(bytes.to_vec(), path)?;
        let root = file.root();
        let attrs = root.attrs().unwrap_or_default();
        Ok(!attrs.contains_key("layer_names") && root.group("layers").is_ok())
    })
    .unwrap_or(false)
}

/// The weights of `layers` (in Keras' `model.layers` order: Sequential models without
/// their `InputLayer`) from the object-path HDF5 file `bytes`; `path` names it in errors.
pub fn read_object_path_weights(
    bytes: Vec<u8>,
    path: &Path,
    layers: &[LayerEntry<'_>],
) -> Result<Vec<LayerWeights>> {
    let file_len = bytes.len() as u64;
    without_panics(path, || {
        let file = open_hdf5(bytes, path)?;
        let reader = FileReader { path, file_len };
        let root = file.group("layers").map_err(|e| {
            archive_error(
                path,
                format!("no `/layers` group: not Keras 3 weights ({e})"),
            )
        })?;
        let by_name = names_of_groups(&root);
        let keys = layer_keys(&layers.iter().map(|l| (l.class, l.name)).collect::<Vec<_>>());
        let mut used = BTreeSet::new();
        let mut out = Vec::new();
        for (layer, (_, key)) in layers.iter().zip(&keys) {
            if layer.params.is_empty() {
                continue;
            }
            // The `name` attribute Keras writes on each layer's `vars` group is the layer's
            // own name: it wins over the class-counter key, whose order a rebuilt model
            // may not keep.
            let key = match (by_name.get(layer.name), root.group(key)) {
                (Some(named), _) => named.clone(),
                (None, Ok(_)) => key.clone(),
                (None, Err(_)) => {
                    return Err(archive_error(
                        path,
                        format!(
                            "layer `{}` ({}) has {} weights, but the file has neither \
                             `/layers/{key}` nor a `/layers/*/vars` group named `{}`",
                            layer.name,
                            layer.class,
                            layer.params.len(),
                            layer.name
                        ),
                    ));
                }
            };
            out.push(read_layer(&reader, &root, &key, layer, &mut used)?);
        }
        check_all_used(&root, path, &used)?;
        Ok(out)
    })
}

/// `name` attribute of each `/layers/<key>/vars` group → `<key>`; a name on several
/// groups is left out (ambiguous).
fn names_of_groups(root: &Group) -> HashMap<String, String> {
    let mut by_name: HashMap<String, Option<String>> = HashMap::new();
    for key in root.groups().unwrap_or_default() {
        let name = root
            .group(&format!("{key}/vars"))
            .ok()
            .and_then(|vars| vars.attrs().ok())
            .and_then(|attrs| {
                attrs
                    .get("name")
                    .and_then(|n| n.as_str().map(str::to_string))
            });
        if let Some(name) = name {
            by_name
                .entry(name)
                .and_modify(|k| *k = None)
                .or_insert(Some(key));
        }
    }
    by_name
        .into_iter()
        .filter_map(|(name, key)| Some((name, key?)))
        .collect()
}

/// One layer's weights from `/layers/<key>`, recording each dataset's path in `used`.
fn read_layer(
    reader: &FileReader<'_>,
    root: &Group,
    key: &str,
    layer: &LayerEntry<'_>,
    used: &mut BTreeSet<String>,
) -> Result<LayerWeights> {
    let paths = var_paths(layer.class, &layer.config, &layer.params);
    let mut weights = Vec::with_capacity(paths.len());
    for (param, relative) in layer.params.iter().zip(paths) {
        let full = format!("{key}/{relative}");
        let (group_path, dataset) = full.rsplit_once('/').unwrap_or(("", &full));
        let what = format!("{} ({}) `/layers/{group_path}`", layer.name, layer.class);
        let group = root.group(group_path).map_err(|e| {
            archive_error(
                reader.path,
                format!(
                    "layer `{}` ({}): no group `/layers/{group_path}` for its `{}` ({e})",
                    layer.name, layer.class, param.name
                ),
            )
        })?;
        let present = group.datasets().unwrap_or_default();
        if !present.iter().any(|d| d == dataset) {
            return Err(archive_error(
                reader.path,
                format!(
                    "layer `{}` ({}): no dataset `/layers/{full}` for its `{}` (the group holds {})",
                    layer.name,
                    layer.class,
                    param.name,
                    list_or_nothing(&present)
                ),
            ));
        }
        let tensor = reader.weight(&group, &what, dataset)?;
        used.insert(full.clone());
        weights.push((format!("layers/{full}"), tensor));
    }
    Ok(LayerWeights {
        layer: layer.name.to_string(),
        weights,
    })
}

/// `a, b, c`, or `nothing`.
fn list_or_nothing(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".into()
    } else {
        items.join(", ")
    }
}

/// Errors if a dataset under `/layers` was not read for any model layer.
fn check_all_used(root: &Group, path: &Path, used: &BTreeSet<String>) -> Result<()> {
    let mut stack: Vec<(String, usize)> = vec![(String::new(), 0)];
    let mut seen = 0usize;
    let mut unused = Vec::new();
    while let Some((prefix, depth)) = stack.pop() {
        let group = if prefix.is_empty() {
            root.clone()
        } else {
            root.group(&prefix)
                .map_err(|e| archive_error(path, format!("cannot open `/layers/{prefix}` ({e})")))?
        };
        let datasets = group.datasets().unwrap_or_default();
        let groups = group.groups().unwrap_or_default();
        seen += datasets.len() + groups.len();
        if depth > MAX_DEPTH || seen > MAX_OBJECTS {
            return Err(archive_error(
                path,
                format!(
                    "`/layers` nests deeper than {MAX_DEPTH} groups or holds over {MAX_OBJECTS} objects"
                ),
            ));
        }
        let child = |name: &str| {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            }
        };
        unused.extend(
            datasets
                .iter()
                .map(|d| child(d))
                .filter(|p| !used.contains(p)),
        );
        stack.extend(groups.iter().map(|g| (child(g), depth + 1)));
    }
    if unused.is_empty() {
        return Ok(());
    }
    unused.sort();
    Err(archive_error(
        path,
        format!(
            "the file has weights the model has no place for: {} (a layer of another \
             configuration, or a layer the model does not have)",
            unused
                .iter()
                .map(|p| format!("/layers/{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}
