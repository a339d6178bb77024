//! A [`Model`] used as a layer of another (Keras' `outer = Model(x, inner(x))`):
//! [`Functional::apply_model`] inlines the inner model — a copy of each of its layers is
//! applied in the outer builder to the tensors passed in, with the inner model's current
//! weights and frozen layers — so the outer model trains, freezes, saves and runs it as its
//! own layers (the same decision as loading a nested Keras model, `keras_config::nested`).
//!
//! Freezing the inner model as Keras' `inner.trainable = False` does is
//! [`Model::set_layers_trainable`] before it is applied (or [`Model::set_trainable`] on
//! its layers in the outer model). The outer model keeps no record of the nesting: its
//! summary and saved files list the inner layers flat. Applying the same inner model twice
//! (a shared nested model) is refused: its layer names would repeat.

use std::collections::{BTreeMap, BTreeSet};

use super::Model;
use super::functional::{Functional, TensorRef};
use super::graph::Port;
use crate::error::{Error, Result};
use crate::layers::{layer_from_json, layer_to_json};

impl Functional {
    /// Apply `model` as a layer to `xs` (one tensor per input of `model`, in order): its
    /// layers are copied into this builder with their current weights and trainability;
    /// returns one tensor per output of `model`. A layer name the builder already has is an
    /// error naming it (rename the inner layer).
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// use kiln::prelude::*;
    /// let mut encoder = Sequential::of([
    ///     Input::new([3]).into(),
    ///     Dense::new(4).named("enc").into(),
    /// ]);
    /// encoder.set_layers_trainable(false); // Keras' `encoder.trainable = False`
    /// let mut f = Functional::builder("outer");
    /// let x = f.input(Input::new([3]));
    /// let h = f.apply_model(&encoder, &[x])?[0];
    /// let y = f.apply(Dense::new(2).named("head"), h)?;
    /// let outer = f.build(&[x], &[y])?;
    /// assert!(!outer.is_trainable("enc")?);
    /// assert_eq!(outer.count_trainable_params()?, 4 * 2 + 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn apply_model(&mut self, model: &Model, xs: &[TensorRef]) -> Result<Vec<TensorRef>> {
        let graph = &model.graph;
        if xs.len() != graph.inputs().len() {
            return Err(model.model_error(format!(
                "takes {} inputs, got {} tensors",
                graph.inputs().len(),
                xs.len()
            )));
        }
        let weights = model.layer_weights()?;
        let mut tensors: BTreeMap<usize, Vec<TensorRef>> = BTreeMap::new();
        for (k, &input) in graph.inputs().iter().enumerate() {
            let (want, got) = (&model.input_shapes()?[k], self.shape(xs[k])?);
            if want != got {
                return Err(model.model_error(format!(
                    "input {k} is {want} per example, got a tensor of {got}"
                )));
            }
            tensors.insert(input, vec![xs[k]]);
        }
        let mut frozen = BTreeSet::new();
        for (i, layer) in graph.layers().iter().enumerate() {
            if graph.inbound(i).is_empty() {
                continue;
            }
            let name = graph.layer_name(i);
            if self.has_layer(name) {
                return Err(Error::Layer {
                    layer: layer.label(),
                    msg: format!(
                        "of the nested model `{}` has the name of a layer of `{}`; rename one",
                        model.name(),
                        self.name()
                    ),
                });
            }
            let inbound: Vec<TensorRef> = graph
                .inbound(i)
                .iter()
                .map(|p| tensor_at(&tensors, *p))
                .collect();
            let copy = layer_from_json(&layer_to_json(layer.as_ref()))?;
            tensors.insert(i, self.apply_outputs(copy, &inbound)?);
            if model.frozen_layers().contains(name) {
                frozen.insert(name.to_string());
            }
        }
        self.carry(weights, frozen);
        Ok(graph
            .outputs()
            .iter()
            .map(|p| tensor_at(&tensors, *p))
            .collect())
    }
}

/// The tensor of the inner layer output `port`, already applied (layers come in order).
fn tensor_at(tensors: &BTreeMap<usize, Vec<TensorRef>>, port: Port) -> TensorRef {
    tensors[&port.layer][port.output]
}
