//! The `BatchNormalization` layer: normalise each feature (channel) by batch statistics while
//! training, by moving statistics otherwise.
//!
//! Training: `y = γ·(x - μ_B)/√(σ²_B + ε) + β` with the batch mean and (biased) variance over
//! every axis but the feature axis, and graph updates
//! `moving = moving·momentum + batch·(1 - momentum)` of the non-trainable `moving_mean` and
//! `moving_variance`. The batch variance fed to the moving average is the biased one, as in
//! Keras' non-fused path and Keras 3 (Keras 2's fused kernel for 4-D inputs corrects it by
//! `n/(n-1)` first).
//! Inference: the same formula with the moving statistics.

use ir::{BinaryOp, Graph, NodeId, ReduceOp, Shape, UnaryOp};
use serde_json::{Value, json};

use crate::builder::builder_setters;
use crate::config_json::f32_json;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::initializers::initializer_json;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};
use crate::regularizers::Regularizer;
use crate::regularizers::regularizer_json;

/// Keras' `BatchNormalization` with its defaults: axis -1, momentum 0.99, epsilon 1e-3,
/// `center` (β, zeros) and `scale` (γ, ones) on, moving mean zeros and moving variance ones.
/// Parameters, in Keras' order: `gamma`, `beta` (trainable), `moving_mean`,
/// `moving_variance` (not trainable).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormalization {
    axis: i64,
    momentum: f32,
    epsilon: f32,
    center: bool,
    scale: bool,
    beta_initializer: Initializer,
    gamma_initializer: Initializer,
    moving_mean_initializer: Initializer,
    moving_variance_initializer: Initializer,
    beta_regularizer: Option<Regularizer>,
    gamma_regularizer: Option<Regularizer>,
    name: Option<String>,
}

impl Default for BatchNormalization {
    fn default() -> Self {
        BatchNormalization {
            axis: -1,
            momentum: 0.99,
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            moving_mean_initializer: Initializer::Zeros,
            moving_variance_initializer: Initializer::Ones,
            beta_regularizer: None,
            gamma_regularizer: None,
            name: None,
        }
    }
}

impl BatchNormalization {
    /// Batch normalization with Keras' defaults.
    pub fn new() -> Self {
        Self::default()
    }

    builder_setters! {
        /// The feature axis, counting the batch axis as 0 like Keras (default -1, the last).
        axis(axis: i64);
        /// Decay of the moving statistics (default 0.99).
        momentum(momentum: f32);
        /// Added to the variance before the square root (default 1e-3).
        epsilon(epsilon: f32);
        /// Whether to add the learned offset β (default true).
        center(center: bool);
        /// Whether to multiply by the learned scale γ (default true).
        scale(scale: bool);
        /// Set β's initializer (default zeros).
        beta_initializer(beta_initializer: Initializer);
        /// Set γ's initializer (default ones).
        gamma_initializer(gamma_initializer: Initializer);
        /// Set the moving mean's initializer (default zeros).
        moving_mean_initializer(moving_mean_initializer: Initializer);
        /// Set the moving variance's initializer (default ones).
        moving_variance_initializer(moving_variance_initializer: Initializer);
        /// Penalise β (default none).
        beta_regularizer(beta_regularizer: Regularizer) => Some;
        /// Penalise γ (default none).
        gamma_regularizer(gamma_regularizer: Regularizer) => Some;
    }

    /// The layer a Keras `BatchNormalization` config describes (`axis` an integer or a
    /// one-element list, as Keras writes it once built).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&["beta_constraint", "gamma_constraint"])?;
        let axis = match c.get("axis") {
            None => Some(-1),
            Some(Value::Array(items)) if items.len() == 1 => items[0].as_i64(),
            Some(v) => v.as_i64(),
        }
        .ok_or_else(|| c.error("axis", "must be one integer"))?;
        let d = BatchNormalization::default();
        Ok(BatchNormalization {
            axis,
            momentum: c.f32_or("momentum", d.momentum)?,
            epsilon: c.f32_or("epsilon", d.epsilon)?,
            center: c.bool_or("center", true)?,
            scale: c.bool_or("scale", true)?,
            beta_initializer: c.initializer_or("beta_initializer", d.beta_initializer)?,
            gamma_initializer: c.initializer_or("gamma_initializer", d.gamma_initializer)?,
            moving_mean_initializer: c
                .initializer_or("moving_mean_initializer", d.moving_mean_initializer)?,
            moving_variance_initializer: c
                .initializer_or("moving_variance_initializer", d.moving_variance_initializer)?,
            beta_regularizer: c.regularizer("beta_regularizer")?,
            gamma_regularizer: c.regularizer("gamma_regularizer")?,
            name: Some(c.name().to_string()),
        })
    }

    named_builder!();

    /// The feature axis as an index into the per-example shape (batch axis excluded).
    fn feature_axis(&self, input: &Shape) -> Result<usize> {
        let rank = input.rank() as i64;
        let batched = if self.axis < 0 {
            self.axis + rank + 1
        } else {
            self.axis
        };
        if rank == 0 || batched < 1 || batched > rank {
            return Err(layer_error(
                self,
                format!(
                    "axis {} is not a feature axis of the input {}",
                    self.axis,
                    keras_shape(input)
                ),
            ));
        }
        Ok(batched as usize - 1)
    }

    /// The per-feature parameter shape broadcast against a batched input of `rank` axes:
    /// `features` at the feature axis, 1 elsewhere.
    fn broadcast_shape(rank: usize, axis: usize, features: usize) -> Shape {
        Shape::new(
            (0..rank)
                .map(|a| if a == axis + 1 { features } else { 1 })
                .collect::<Vec<_>>(),
        )
    }
}

impl Layer for BatchNormalization {
    fn class_name(&self) -> &'static str {
        "BatchNormalization"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        self.feature_axis(input)?;
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(layer_error(
                self,
                format!("momentum must lie in [0, 1], got {}", self.momentum),
            ));
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(layer_error(
                self,
                format!("epsilon must be positive, got {}", self.epsilon),
            ));
        }
        Ok(input.clone())
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let features = self
            .feature_axis(input)
            .map(|axis| input.dims()[axis])
            .unwrap_or(0);
        let spec = |name, initializer, trainable, regularizer| ParamSpec {
            name,
            shape: Shape::from([features]),
            initializer,
            trainable,
            regularizer,
        };
        let mut params = Vec::with_capacity(4);
        if self.scale {
            params.push(spec(
                "gamma",
                self.gamma_initializer,
                true,
                self.gamma_regularizer,
            ));
        }
        if self.center {
            params.push(spec(
                "beta",
                self.beta_initializer,
                true,
                self.beta_regularizer,
            ));
        }
        params.push(spec(
            "moving_mean",
            self.moving_mean_initializer,
            false,
            None,
        ));
        params.push(spec(
            "moving_variance",
            self.moving_variance_initializer,
            false,
            None,
        ));
        params
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({
                "axis": self.axis,
                "momentum": f32_json(self.momentum),
                "epsilon": f32_json(self.epsilon),
                "center": self.center,
                "scale": self.scale,
                "beta_initializer": initializer_json(self.beta_initializer),
                "gamma_initializer": initializer_json(self.gamma_initializer),
                "moving_mean_initializer": initializer_json(self.moving_mean_initializer),
                "moving_variance_initializer": initializer_json(self.moving_variance_initializer),
                "beta_regularizer": regularizer_json(self.beta_regularizer),
                "gamma_regularizer": regularizer_json(self.gamma_regularizer),
                "beta_constraint": null,
                "gamma_constraint": null,
            }),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let expected = 2 + usize::from(self.scale) + usize::from(self.center);
        if ctx.params.len() != expected {
            return Err(layer_error(
                self,
                format!(
                    "given {} parameter nodes, needs {expected}",
                    ctx.params.len()
                ),
            ));
        }
        let gamma = self.scale.then(|| ctx.params[0]);
        let beta = self.center.then(|| ctx.params[usize::from(self.scale)]);
        let (moving_mean, moving_variance) = (ctx.params[expected - 2], ctx.params[expected - 1]);
        let dims = g.shape(x).dims().to_vec();
        let per_example = Shape::new(dims[1..].to_vec());
        let axis = self.feature_axis(&per_example)?;
        let features = per_example.dims()[axis];
        let stat_shape = Self::broadcast_shape(dims.len(), axis, features);
        let as_stat = |g: &mut Graph, p: NodeId| g.reshape(p, stat_shape.clone());

        let (mean, variance) = if ctx.training {
            let reduce_axes: Vec<usize> = (0..dims.len()).filter(|&a| a != axis + 1).collect();
            let mean = g.reduce(ReduceOp::Mean, x, &reduce_axes, true)?;
            let centered = g.binary(BinaryOp::Sub, x, mean)?;
            let squared = g.unary(UnaryOp::Square, centered)?;
            let variance = g.reduce(ReduceOp::Mean, squared, &reduce_axes, true)?;
            let momentum = g.scalar(self.momentum);
            let keep = g.scalar(1.0 - self.momentum);
            for (moving, batch) in [(moving_mean, mean), (moving_variance, variance)] {
                let batch = g.reshape(batch, [features])?;
                let decayed = g.binary(BinaryOp::Mul, moving, momentum)?;
                let added = g.binary(BinaryOp::Mul, batch, keep)?;
                let updated = g.binary(BinaryOp::Add, decayed, added)?;
                g.add_update(moving, updated)?;
            }
            (mean, variance)
        } else {
            (as_stat(g, moving_mean)?, as_stat(g, moving_variance)?)
        };
        let epsilon = g.scalar(self.epsilon);
        let shifted = g.binary(BinaryOp::Add, variance, epsilon)?;
        let mut inv_std = g.unary(UnaryOp::Rsqrt, shifted)?;
        if let Some(gamma) = gamma {
            let gamma = as_stat(g, gamma)?;
            inv_std = g.binary(BinaryOp::Mul, inv_std, gamma)?;
        }
        let centered = g.binary(BinaryOp::Sub, x, mean)?;
        let mut y = g.binary(BinaryOp::Mul, centered, inv_std)?;
        if let Some(beta) = beta {
            let beta = as_stat(g, beta)?;
            y = g.binary(BinaryOp::Add, y, beta)?;
        }
        Ok(y)
    }
}
