//! The `.h5` weight group of a model nested as a layer (one group holding every inner
//! layer's weights, named `inner/kernel:0`) split into one group per inner layer, matching
//! the inlined model `crate::keras_config::nested` builds from the config.

use std::collections::BTreeSet;

use super::LayerWeights;

/// The stored layer groups with each group of a nested model (a name that is not a model
/// layer, whose weights each belong to one: `inner/kernel:0`) split into one group per
/// inner layer, in order.
pub fn split_nested_groups(
    stored: &[LayerWeights],
    model_layers: &BTreeSet<&str>,
) -> Vec<LayerWeights> {
    let mut out: Vec<LayerWeights> = Vec::with_capacity(stored.len());
    for group in stored {
        let owners: Option<Vec<&str>> = group.weights.iter().map(|(n, _)| owner(n)).collect();
        let nested = !model_layers.contains(group.layer.as_str())
            && !group.weights.is_empty()
            && owners
                .as_ref()
                .is_some_and(|o| o.iter().all(|n| model_layers.contains(n)));
        if !nested {
            out.push(group.clone());
            continue;
        }
        for ((weight, value), layer) in group.weights.iter().zip(owners.unwrap_or_default()) {
            match out.iter_mut().find(|g| g.layer == layer) {
                Some(g) => g.weights.push((weight.clone(), value.clone())),
                None => out.push(LayerWeights {
                    layer: layer.to_string(),
                    weights: vec![(weight.clone(), value.clone())],
                }),
            }
        }
    }
    out
}

/// The layer a stored weight name belongs to: the component before the last
/// (`stem_conv/kernel:0` → `stem_conv`).
fn owner(weight: &str) -> Option<&str> {
    let mut parts = weight.rsplit('/');
    parts.next();
    parts.next()
}
