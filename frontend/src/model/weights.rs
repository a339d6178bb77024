//! Reading and writing a compiled model's parameters between steps, without recompiling:
//! the layers' weights (what Keras' `get_weights`/`set_weights` move) and the optimizer's
//! learning rate (the `optimizer/learning_rate` param every optimizer reads).

use std::collections::BTreeMap;

use ir::{Shape, Tensor};

use crate::error::{Error, Result};
use crate::model::Sequential;
use crate::model::compile::Compiled;
use crate::optimizers::LEARNING_RATE;

impl Sequential {
    fn compiled_ref(&self) -> Result<&Compiled> {
        self.compiled
            .as_ref()
            .ok_or_else(|| self.model_error("is not compiled; call compile first"))
    }

    /// The current value of parameter `name` (a layer weight such as `dense/kernel`, or
    /// optimizer state such as `optimizer/learning_rate`).
    pub fn weight(&self, name: &str) -> Result<Tensor> {
        let compiled = self.compiled_ref()?;
        let shape = compiled
            .param_shapes()
            .find(|(n, _)| *n == name)
            .map(|(_, shape)| shape.clone())
            .ok_or_else(|| self.model_error(format!("has no parameter `{name}`")))?;
        let data = compiled
            .current(name)
            .expect("every parameter has a value")
            .to_vec();
        Ok(Tensor { shape, data })
    }

    /// The layers' weights by name (`dense/kernel`, `dense/bias`, ...), without optimizer
    /// state: what Keras' `get_weights` returns.
    pub fn layer_weights(&self) -> Result<BTreeMap<String, Tensor>> {
        self.compiled_ref()?;
        self.param_specs()?
            .into_iter()
            .map(|(name, _)| Ok((name.clone(), self.weight(&name)?)))
            .collect()
    }

    /// Overwrite the given parameters (any subset of [`Sequential::weights`], by name); the
    /// next step uses them. Each name must be a parameter of the compiled model and each
    /// tensor must have its shape; nothing is written unless all fit.
    pub fn set_weights(&mut self, weights: &BTreeMap<String, Tensor>) -> Result<()> {
        let compiled = self.compiled_ref()?;
        let shapes: BTreeMap<&str, &Shape> = compiled.param_shapes().collect();
        for (name, value) in weights {
            let shape = shapes
                .get(name.as_str())
                .ok_or_else(|| self.model_error(format!("has no parameter `{name}`")))?;
            if value.shape != **shape || value.data.len() != shape.numel() {
                return Err(self.model_error(format!(
                    "parameter `{name}` has shape {shape}, got a tensor of shape {} with {} values",
                    value.shape,
                    value.data.len()
                )));
            }
        }
        let compiled = self.compiled_mut()?;
        for (name, value) in weights {
            compiled.set_param(name, value)?;
        }
        Ok(())
    }

    /// The optimizer's current learning rate.
    pub fn learning_rate(&self) -> Result<f32> {
        Ok(self.weight(LEARNING_RATE)?.data[0])
    }

    /// Set the optimizer's learning rate for the following steps (finite and `>= 0`).
    pub fn set_learning_rate(&mut self, learning_rate: f32) -> Result<()> {
        if !learning_rate.is_finite() || learning_rate < 0.0 {
            return Err(Error::InvalidArgument {
                name: "learning_rate",
                msg: format!("must be finite and >= 0, got {learning_rate}"),
            });
        }
        self.compiled_mut()?
            .set_param(LEARNING_RATE, &Tensor::scalar(learning_rate))
    }
}
