//! Cutting and growing models for transfer learning: [`Model::truncated`] (a model ending
//! at one of the layers), [`Model::add`] (one more layer on a sequential stack) and, in
//! [`crate::model::functional`], `into_builder` / `extend` for any model. Kept layers keep
//! their current weights bit for bit; new layers get initial weights.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::Model;
use super::graph::ModelKind;
use crate::error::Result;
use crate::layers::{Layer, layer_from_json, layer_to_json};

/// A copy of `layer`, made through its config (every layer rebuilds from its config).
fn copy_layer(layer: &dyn Layer) -> Result<Box<dyn Layer>> {
    layer_from_json(&layer_to_json(layer))
}

impl Model {
    /// A new, uncompiled model whose output is the output of the layer called `layer`:
    /// the layers it depends on (for a sequential model, the stack up to and including it),
    /// with their current weights and trainability, the same name and seed.
    pub fn truncated(&self, layer: &str) -> Result<Model> {
        let end = self.graph.require_layer(layer)?;
        let graph = self.graph.cut_at(end, copy_layer)?;
        let mut model = Model::from_graph(graph).with_seed(self.seed);
        model.set_frozen_layers(self.frozen.clone());
        let weights: BTreeMap<_, _> = self.layer_weights()?;
        let kept: BTreeMap<_, _> = model
            .param_specs()?
            .into_iter()
            .map(|(name, _)| {
                let value = weights[&name].clone();
                (name, value)
            })
            .collect();
        model.weights = OnceLock::from(kept);
        Ok(model)
    }

    /// Append `layer` to a sequential model (Keras' `add`), named Keras-style if unnamed.
    /// It must fit the current output (else an error naming it, and the model is
    /// unchanged); it gets initial weights, the other layers keep theirs. A compiled model
    /// becomes uncompiled (compile again to train). Functional models are extended with
    /// [`Model::extend`] or [`Model::into_builder`].
    pub fn add(&mut self, layer: impl Into<Box<dyn Layer>>) -> Result<()> {
        if self.kind() != ModelKind::Sequential {
            return Err(self.model_error(
                "is functional; add layers with extend or into_builder instead of add",
            ));
        }
        let current = if self.graph.layers().is_empty() {
            BTreeMap::new()
        } else {
            self.layer_weights()?
        };
        self.graph.push_on_top(layer.into())?;
        self.training = None;
        self.weights = OnceLock::from(current);
        self.refit_weights()?;
        self.clear_predictors();
        Ok(())
    }
}
