//! Cutting and growing models for transfer learning: [`Model::truncated`] (a model ending
//! at one of the layers), [`Model::add`] (one more layer on a sequential stack) and, in
//! [`crate::model::functional`], `into_builder` / `extend` for any model. Kept layers keep
//! their current weights bit for bit; new layers get initial weights.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::error::Result;
use crate::layers::{Layer, layer_from_json, layer_to_json};
use crate::model::Model;
use crate::model::topology::ModelKind;

/// A copy of `layer`, made through its config (every layer rebuilds from its config).
fn copy_layer(layer: &dyn Layer) -> Result<Box<dyn Layer>> {
    layer_from_json(&layer_to_json(layer))
}

impl Model {
    /// A new, uncompiled model whose output is the output of the layer called `layer`:
    /// the layers it depends on (for a sequential model, the stack up to and including it),
    /// with their current weights and trainability, the same name and seed.
    pub fn truncated(&self, layer: &str) -> Result<Model> {
        let end = self.require_layer(layer)?;
        let mut keep = vec![false; self.layers.len()];
        let mut stack = vec![end];
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut keep[i], true) {
                stack.extend(&self.inbound[i]);
            }
        }
        let mut new_index = vec![usize::MAX; self.layers.len()];
        let mut layers = Vec::new();
        let mut inbound = Vec::new();
        for (i, old) in self.layers.iter().enumerate().filter(|(i, _)| keep[*i]) {
            new_index[i] = layers.len();
            layers.push(copy_layer(old.as_ref())?);
            inbound.push(self.inbound[i].iter().map(|&j| new_index[j]).collect());
        }
        let inputs = self
            .inputs
            .iter()
            .filter(|&&i| keep[i])
            .map(|&i| new_index[i])
            .collect();
        let mut model = Model::from_parts(
            self.name.clone(),
            self.kind,
            layers,
            inbound,
            inputs,
            vec![new_index[end]],
        )
        .with_seed(self.seed);
        model.frozen = self
            .frozen
            .iter()
            .filter(|name| model.layer_index(name).is_some())
            .cloned()
            .collect();
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
        if self.kind != ModelKind::Sequential {
            return Err(self.model_error(
                "is functional; add layers with extend or into_builder instead of add",
            ));
        }
        let mut layer = layer.into();
        if layer.name().is_none() {
            let taken = self
                .layers
                .iter()
                .filter_map(|l| l.name().map(str::to_string))
                .collect();
            layer.set_name(crate::model::topology::unique_name(
                &layer.name_prefix(),
                &taken,
            ));
        }
        let current = if self.layers.is_empty() {
            BTreeMap::new()
        } else {
            self.layer_weights()?
        };
        let last = self.layers.len().checked_sub(1);
        self.layers.push(layer);
        self.inbound.push(last.into_iter().collect());
        self.outputs = vec![self.layers.len() - 1];
        if let Err(e) = self.layer_shapes() {
            self.layers.pop();
            self.inbound.pop();
            self.outputs = last.into_iter().collect();
            return Err(e);
        }
        self.compiled = None;
        self.weights = OnceLock::from(current);
        self.refit_weights()?;
        self.clear_predictors();
        Ok(())
    }
}
