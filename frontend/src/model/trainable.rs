//! Frozen layers: [`Model::set_trainable`] and what it changes. A frozen layer's
//! parameters become non-trainable (no gradient, no optimizer update); a frozen
//! BatchNormalization also runs in inference mode during training, as in Keras 2. Like
//! Keras, a change takes effect at the next [`Model::compile`]; the summary and the
//! parameter counts show it at once.

use std::collections::BTreeSet;

use super::Model;
use crate::error::Result;

impl Model {
    /// Freeze (`false`) or unfreeze (`true`) the layer called `layer`. Takes effect for
    /// training at the next `compile`. An unknown name is an error listing the layers.
    pub fn set_trainable(&mut self, layer: &str, trainable: bool) -> Result<()> {
        self.graph.require_layer(layer)?;
        if trainable {
            self.frozen.remove(layer);
        } else {
            self.frozen.insert(layer.to_string());
        }
        Ok(())
    }

    /// Freeze (`false`) or unfreeze (`true`) every layer, as Keras' `model.trainable =
    /// False` does (for example an inner model before
    /// [`Functional::apply_model`](crate::model::Functional::apply_model)). Takes effect
    /// for training at the next `compile`.
    pub fn set_layers_trainable(&mut self, trainable: bool) {
        self.frozen = if trainable {
            BTreeSet::new()
        } else {
            (0..self.graph.layers().len())
                .map(|i| self.graph.layer_name(i).to_string())
                .collect()
        };
    }

    /// Whether the layer called `layer` is trainable (not frozen).
    pub fn is_trainable(&self, layer: &str) -> Result<bool> {
        self.graph.require_layer(layer)?;
        Ok(!self.frozen.contains(layer))
    }

    /// The names of the frozen layers.
    pub(crate) fn frozen_layers(&self) -> &BTreeSet<String> {
        &self.frozen
    }

    /// Freeze exactly the layers named in `frozen` (names that are not layers are dropped).
    pub(crate) fn set_frozen_layers(&mut self, frozen: BTreeSet<String>) {
        self.frozen = frozen
            .into_iter()
            .filter(|name| self.graph.layer_index(name).is_some())
            .collect();
    }

    /// Number of parameter elements training updates (Keras' "Trainable params").
    pub fn count_trainable_params(&self) -> Result<usize> {
        Ok(self
            .param_specs()?
            .iter()
            .filter(|(_, spec)| spec.trainable)
            .map(|(_, spec)| spec.shape.numel())
            .fold(0, usize::saturating_add))
    }

    /// Number of parameter elements training leaves to the layers themselves or leaves
    /// alone (moving statistics, frozen layers): Keras' "Non-trainable params".
    pub fn count_non_trainable_params(&self) -> Result<usize> {
        Ok(self.count_params()? - self.count_trainable_params()?)
    }
}
