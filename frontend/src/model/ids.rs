//! The id check of model inputs: a model input that feeds a layer reading ids
//! ([`crate::layers::Layer::ids_below`], e.g. `Embedding`) directly must hold integers in that
//! layer's range. `predict*`, `fit` and `evaluate` check before any kernel runs, and an error
//! names the layer, the value and its position in the tensor given. The backends check every
//! graph input that holds ids as well (`ir::leaf::bind_leaves`), but they cannot name a layer;
//! ids computed inside the model are left to the kernels (an invalid id reads zeros).

use super::Model;
use crate::error::{Error, Result};

impl Model {
    /// Check `values` (examples of model input `k`, one after another) against every layer
    /// that reads them as ids.
    pub(crate) fn check_ids(&self, k: usize, values: &[f32]) -> Result<()> {
        let Some(&input) = self.graph.inputs().get(k) else {
            return Ok(());
        };
        for (position, layer) in self.graph.layers().iter().enumerate() {
            if !self
                .graph
                .inbound(position)
                .iter()
                .any(|p| p.layer == input)
            {
                continue;
            }
            let Some(rows) = layer.ids_below() else {
                continue;
            };
            if let Some(bad) = ir::ids::find_bad_id(values, rows) {
                return Err(Error::Layer {
                    layer: layer.label(),
                    msg: bad.to_string(),
                });
            }
        }
        Ok(())
    }
}
