//! Writing Keras 3's object-path weights file (`model.weights.h5`): for each layer of
//! `model.layers` a `layers/<key>` group with the `vars` groups Keras writes (each with its
//! `name` attribute, empty when the layer or sub-layer has no variables) and the variables
//! as float32 datasets `vars/0`, `vars/1`, ... ([`super::paths`]), plus the model's empty
//! `/vars` group named after the model. No `/optimizer` group: optimizer state is not
//! saved. Does not write the zip or the config.

use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder, LibVer};

use super::paths::{layer_keys, var_groups, var_paths};
use super::weights_read::LayerEntry;

/// A node of the file being written.
enum Node<'a> {
    /// A group: its `name` attribute, if any, and children in insertion order.
    Group(Option<String>, Vec<(String, Node<'a>)>),
    /// A float32 dataset.
    Dataset(&'a ir::Tensor),
}

impl<'a> Node<'a> {
    /// The child group at `path` (`a/b/c`), made where missing.
    fn group_at(&mut self, path: &str) -> Result<&mut Node<'a>, String> {
        let mut node = self;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let Node::Group(_, children) = node else {
                return Err(format!("`{part}` of `{path}` is under a dataset"));
            };
            let index = match children.iter().position(|(n, _)| n == part) {
                Some(i) => i,
                None => {
                    children.push((part.to_string(), Node::Group(None, Vec::new())));
                    children.len() - 1
                }
            };
            node = &mut children[index].1;
        }
        Ok(node)
    }

    /// Puts `tensor` at `path` (`group/name`).
    fn dataset_at(&mut self, path: &str, tensor: &'a ir::Tensor) -> Result<(), String> {
        let (group, name) = path.rsplit_once('/').unwrap_or(("", path));
        match self.group_at(group)? {
            Node::Group(_, children) if children.iter().all(|(n, _)| n != name) => {
                children.push((name.to_string(), Node::Dataset(tensor)));
                Ok(())
            }
            _ => Err(format!("`{path}` is written twice")),
        }
    }
}

/// The object-path weights file of a model called `model_name` whose `model.layers` are
/// `layers`, each with its parameter values in parameter order.
pub fn object_path_bytes(
    model_name: &str,
    layers: &[(LayerEntry<'_>, Vec<ir::Tensor>)],
) -> Result<Vec<u8>, String> {
    let mut root = Node::Group(None, Vec::new());
    root.group_at("layers")?;
    let classes: Vec<(&str, &str)> = layers.iter().map(|(l, _)| (l.class, l.name)).collect();
    for ((layer, values), (_, key)) in layers.iter().zip(layer_keys(&classes)) {
        for (path, name) in var_groups(layer.class, &layer.config, layer.name) {
            if let Node::Group(attr, _) = root.group_at(&format!("layers/{key}/{path}"))? {
                *attr = Some(name);
            }
        }
        let paths = var_paths(layer.class, &layer.config, &layer.params);
        for (path, value) in paths.iter().zip(values) {
            root.dataset_at(&format!("layers/{key}/{path}"), value)?;
        }
    }
    if let Node::Group(attr, _) = root.group_at("vars")? {
        *attr = Some(model_name.to_string());
    }
    let mut builder = FileBuilder::new();
    builder.with_libver_bounds(LibVer::Earliest, LibVer::V18);
    let Node::Group(_, children) = root else {
        return Err("the root of the weights file is not a group".into());
    };
    for (name, node) in children {
        if let Some(group) = emit(builder.create_group(&name), node) {
            builder.add_group(group.finish());
        }
    }
    builder
        .finish()
        .map_err(|e| format!("the HDF5 writer failed: {e}"))
}

/// Fills `group` from `node` (a group node); `None` for a dataset node, which has no group.
fn emit(mut group: GroupBuilder, node: Node<'_>) -> Option<GroupBuilder> {
    let Node::Group(attr, children) = node else {
        return None;
    };
    if let Some(name) = attr {
        group.set_attr("name", AttrValue::VarLenString(name));
    }
    for (name, child) in children {
        match child {
            Node::Dataset(tensor) => {
                let shape: Vec<u64> = tensor.shape.dims().iter().map(|&d| d as u64).collect();
                group
                    .create_dataset(&name)
                    .with_f32_data(&tensor.data)
                    .with_shape(&shape);
            }
            group_node => {
                let child = group.create_group(&name);
                if let Some(child) = emit(child, group_node) {
                    group.add_group(child.finish());
                }
            }
        }
    }
    Some(group)
}
