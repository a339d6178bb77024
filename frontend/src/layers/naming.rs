//! Layer naming in one place. Every layer keeps its user-given or model-assigned name in an
//! `Option<String>` field (`name`, or a nested one such as `options.name`);
//! [`name_methods!`] writes the [`crate::layers::Layer::name`] / [`crate::layers::Layer::set_name`]
//! pair over it and [`named_builder!`] the consuming `named` builder. A model names the
//! layers left unnamed with [`name_unnamed`] / [`name_new_layer`], Keras' rule: the class name
//! in snake case ([`crate::layers::Layer::name_prefix`]: `dense`, `max_pooling2d`), followed by
//! `_1`, `_2`, ... when that is taken in the model.

use std::collections::HashSet;

use crate::layers::Layer;

/// Generates `Layer::name` and `Layer::set_name` over the layer's `Option<String>` name
/// field; invoke inside `impl Layer for ...`. The field defaults to `name`:
///
/// ```text
/// name_methods!();              // self.name
/// name_methods!(options.name);  // self.options.name
/// ```
macro_rules! name_methods {
    () => {
        $crate::layers::naming::name_methods!(name);
    };
    ($($field:ident).+) => {
        fn name(&self) -> Option<&str> {
            self.$($field).+.as_deref()
        }

        fn set_name(&mut self, name: String) {
            self.$($field).+ = Some(name);
        }
    };
}

/// Generates the builder `pub fn named(self, name) -> Self` over the layer's
/// `Option<String>` name field (default `name`, as for [`name_methods!`]); invoke inside the
/// layer's inherent `impl`.
macro_rules! named_builder {
    () => {
        $crate::layers::naming::named_builder!(name);
    };
    ($($field:ident).+) => {
        /// The same layer with an explicit name.
        pub fn named(mut self, name: impl Into<String>) -> Self {
            self.$($field).+ = Some(name.into());
            self
        }
    };
}

pub(crate) use {name_methods, named_builder};

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
