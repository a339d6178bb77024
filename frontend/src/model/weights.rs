//! A model's parameters, compiled or not: the layers' weights (what Keras' `get_weights` /
//! `set_weights` move) and, once compiled, the optimizer's state and learning rate (the
//! `optimizer/learning_rate` param every optimizer reads).
//!
//! Before `compile` the weights live in the model, initialised on first use from the
//! layers' initializers and the model's seed; `compile` moves them into the compiled
//! state, where training updates them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use ir::{Shape, Tensor};

use super::Model;
use crate::device::Backend;
use crate::error::{Error, Result};
use crate::model::runner::Runner;
use crate::optimizers::{ITERATIONS, LEARNING_RATE, LearningRateSchedule};

impl Model {
    /// The weights of an uncompiled model, initialised on first use.
    pub(crate) fn stored_weights(&self) -> Result<&BTreeMap<String, Tensor>> {
        if let Some(weights) = self.weights.get() {
            return Ok(weights);
        }
        let initial = self.initial_weights_keeping(&BTreeMap::new())?;
        Ok(self.weights.get_or_init(|| initial))
    }

    /// After the layers changed: keep the stored weights that still fit, initialise the
    /// others (a new layer's parameter `k` gets the value a fresh model would give it).
    pub(crate) fn refit_weights(&mut self) -> Result<()> {
        let old = self.weights.take().unwrap_or_default();
        let fitted = self.initial_weights_keeping(&old);
        match fitted {
            Ok(weights) => {
                self.weights = OnceLock::from(weights);
                Ok(())
            }
            Err(e) => {
                self.weights = OnceLock::from(old);
                Err(e)
            }
        }
    }

    /// The current value of parameter `name` as a slice: from the compiled state, or the
    /// model's own weights (which must already be initialised) when not compiled.
    /// On a GPU-compiled model a parameter the last step updated is read back from the device.
    pub(crate) fn param_value(&self, name: &str) -> Result<Option<Cow<'_, [f32]>>> {
        match &self.training {
            Some(state) => state.current(name),
            None => Ok(self
                .weights
                .get()
                .and_then(|w| w.get(name))
                .map(|t| Cow::Borrowed(t.data.as_slice()))),
        }
    }

    /// The current value of parameter `name`: a layer weight such as `dense/kernel`, or,
    /// once compiled, optimizer state such as `optimizer/learning_rate`.
    pub fn weight(&self, name: &str) -> Result<Tensor> {
        let missing = || self.model_error(format!("has no parameter `{name}`"));
        let Some(state) = &self.training else {
            return self
                .stored_weights()?
                .get(name)
                .cloned()
                .ok_or_else(missing);
        };
        let shape = state
            .param_shapes()
            .find(|(n, _)| *n == name)
            .map(|(_, shape)| shape.clone())
            .ok_or_else(missing)?;
        let data = state
            .current(name)?
            .expect("every parameter has a value")
            .into_owned();
        Ok(Tensor { shape, data })
    }

    /// The current value of every parameter by name: the layer weights, plus the optimizer
    /// state once compiled.
    pub fn weights(&mut self) -> Result<BTreeMap<String, Tensor>> {
        match self.training.as_mut() {
            Some(state) => Ok(state.synced_store()?.clone()),
            None => Ok(self.stored_weights()?.clone()),
        }
    }

    /// The layers' weights by name (`dense/kernel`, `dense/bias`, ...), without optimizer
    /// state: what Keras' `get_weights` returns. Works compiled or not.
    pub fn layer_weights(&self) -> Result<BTreeMap<String, Tensor>> {
        self.param_specs()?
            .into_iter()
            .map(|(name, _)| Ok((name.clone(), self.weight(&name)?)))
            .collect()
    }

    /// The shape of every parameter by name (the layer weights, plus the optimizer state once
    /// compiled), without initialising or copying any value: the layers' shapes when not
    /// compiled, so a parameter that is about to be set is never first drawn from its
    /// initializer.
    pub(crate) fn parameter_shapes(&self) -> Result<BTreeMap<String, Shape>> {
        Ok(match &self.training {
            Some(state) => state
                .param_shapes()
                .map(|(n, s)| (n.to_string(), s.clone()))
                .collect(),
            None => self
                .param_specs()?
                .into_iter()
                .map(|(n, spec)| (n, spec.shape))
                .collect(),
        })
    }

    /// Overwrite the given parameters (any subset of [`Model::weights`], by name); the next
    /// step or prediction uses them. Each name must be a parameter of the model and each
    /// tensor must have its shape; nothing is written unless all fit. Works compiled or not.
    pub fn set_weights(&mut self, weights: &BTreeMap<String, Tensor>) -> Result<()> {
        let shapes = self.parameter_shapes()?;
        for (name, value) in weights {
            let shape = shapes
                .get(name)
                .ok_or_else(|| self.model_error(format!("has no parameter `{name}`")))?;
            if value.shape != *shape || value.data.len() != shape.numel() {
                return Err(self.model_error(format!(
                    "parameter `{name}` has shape {shape}, got a tensor of shape {} with {} values",
                    value.shape,
                    value.data.len()
                )));
            }
        }
        match self.training.as_mut() {
            Some(state) => {
                for (name, value) in weights {
                    state.set_param(name, value)?;
                }
            }
            None => match self.weights.get_mut() {
                Some(stored) => {
                    for (name, value) in weights {
                        stored.insert(name.clone(), value.clone());
                    }
                }
                // Not yet initialised: only the parameters `weights` leaves out are drawn.
                None => self.weights = OnceLock::from(self.initial_weights_keeping(weights)?),
            },
        }
        Ok(())
    }

    /// Replace parameter values by name, already checked against the model's parameters:
    /// in the training state (weights and optimizer state; every executable reloads them on
    /// its next run) once compiled, else the layer weights.
    pub(crate) fn restore_parameters(&mut self, values: Vec<(String, Tensor)>) -> Result<()> {
        match self.training.as_mut() {
            Some(state) => state.restore(values),
            None => self.set_weights(&values.into_iter().collect()),
        }
    }

    /// The optimizer's current learning rate (the model must be compiled): the
    /// `optimizer/learning_rate` param, or with a learning-rate schedule its value at the
    /// steps taken so far (the rate of the next step).
    pub fn learning_rate(&self) -> Result<f32> {
        let optimizer = self.training_state()?.optimizer();
        match optimizer.learning_rate_schedule() {
            None => Ok(self.weight(LEARNING_RATE)?.data[0]),
            Some(schedule) => {
                let steps = self.weight(ITERATIONS)?.data[0];
                schedule_value(schedule, steps)
            }
        }
    }

    /// Set the optimizer's learning rate for the following steps (finite and `>= 0`). An
    /// optimizer whose rate is a schedule refuses, as Keras does (its rate is not settable;
    /// callbacks such as `ReduceLROnPlateau` then fail with this error).
    pub fn set_learning_rate(&mut self, learning_rate: f32) -> Result<()> {
        if !learning_rate.is_finite() || learning_rate < 0.0 {
            return Err(Error::InvalidArgument {
                name: "learning_rate",
                msg: format!("must be finite and >= 0, got {learning_rate}"),
            });
        }
        let optimizer = self.training_state()?.optimizer();
        if let Some(schedule) = optimizer.learning_rate_schedule() {
            return Err(Error::InvalidArgument {
                name: "learning_rate",
                msg: format!(
                    "the {} optimizer's learning rate is a {} schedule, so it cannot be set \
                     (as in Keras); compile with a constant learning rate to change it from a callback",
                    optimizer.name(),
                    schedule.name()
                ),
            });
        }
        self.training_state_mut()?
            .set_param(LEARNING_RATE, &Tensor::scalar(learning_rate))
    }
}

/// The rate `schedule` gives after `steps` steps: its ops compiled for the CPU and run once
/// (the same ops the training step runs).
fn schedule_value(schedule: &LearningRateSchedule, steps: f32) -> Result<f32> {
    let mut g = ir::Graph::new();
    let counter = g.input("steps", Shape::scalar());
    let rate = schedule.build(&mut g, counter)?;
    g.add_output("rate", rate)?;
    let outputs = Runner::compile(&g, &Backend::Cpu)?.run(&[("steps", &[steps])])?;
    Ok(outputs[0].1.data[0])
}
