//! Keras-style layer names, in one place: an unnamed layer gets its class name in snake case
//! (`Layer::name_prefix`: `dense`, `max_pooling2d`), followed by `_1`, `_2`, ... when that is
//! taken in its model.

use std::collections::HashSet;

use crate::layers::Layer;

/// The first of `prefix`, `prefix_1`, `prefix_2`, ... not in `taken` (Keras' naming).
fn unique_name(prefix: &str, taken: &HashSet<String>) -> String {
    (0..)
        .map(|k| {
            if k == 0 {
                prefix.to_string()
            } else {
                format!("{prefix}_{k}")
            }
        })
        .find(|candidate| !taken.contains(candidate))
        .expect("an unused name exists")
}

/// The names the layers already carry.
fn taken_names(layers: &[Box<dyn Layer>]) -> HashSet<String> {
    layers
        .iter()
        .filter_map(|l| l.name().map(str::to_string))
        .collect()
}

/// Name every unnamed layer of `layers`, in order, avoiding every name given so far
/// (including the user-given names of later layers).
pub(crate) fn name_unnamed(layers: &mut [Box<dyn Layer>]) {
    let mut taken = taken_names(layers);
    for layer in layers.iter_mut().filter(|l| l.name().is_none()) {
        let name = unique_name(&layer.name_prefix(), &taken);
        taken.insert(name.clone());
        layer.set_name(name);
    }
}

/// Name `layer`, about to join `existing`, unless it has a name.
pub(crate) fn name_new_layer(layer: &mut dyn Layer, existing: &[Box<dyn Layer>]) {
    if layer.name().is_none() {
        layer.set_name(unique_name(&layer.name_prefix(), &taken_names(existing)));
    }
}
