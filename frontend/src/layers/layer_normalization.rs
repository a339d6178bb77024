//! The `LayerNormalization` layer: normalise each example over some of its axes,
//! `y = γ·(x - μ)/√(σ² + ε) + β`, with the mean and (biased) variance taken over the
//! normalised axes of each example separately (Keras 2's `tf.nn.moments(x, axis,
//! keepdims=True)` then `tf.nn.batch_normalization`).
//!
//! `axis` counts the batch axis as 0, like Keras (an integer or a list; default `-1`); the
//! batch axis itself is refused. γ and β have the shape of the normalised axes in the order
//! given (Keras' `param_shape`), and are reshaped — not transposed — to broadcast, as Keras
//! does. It does NOT keep running statistics: training and inference compute the same thing.

use ir::{BinaryOp, Graph, NodeId, ReduceOp, Shape, UnaryOp};
use serde_json::{Value, json};

use crate::builder::builder_setters;
use crate::config_json::f32_json;
use crate::error::Result;
use crate::initializers::{Initializer, initializer_json};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};
use crate::regularizers::{Regularizer, regularizer_json};

/// Keras' `LayerNormalization` with its defaults: axis -1, epsilon 1e-3, `center` (β,
/// zeros) and `scale` (γ, ones) on. Parameters, in Keras' order: `gamma`, `beta`.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::prelude::*;
/// use kiln::layers::LayerNormalization;
/// let model = Sequential::of([Input::new([5, 8]).into(), LayerNormalization::new().into()]);
/// assert_eq!(model.count_params()?, 16); // gamma and beta of shape (8,)
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormalization {
    axis: Vec<i64>,
    /// Whether the config writes `axis` as a list (as Keras does once the layer is built).
    axis_is_list: bool,
    epsilon: f32,
    center: bool,
    scale: bool,
    beta_initializer: Initializer,
    gamma_initializer: Initializer,
    beta_regularizer: Option<Regularizer>,
    gamma_regularizer: Option<Regularizer>,
    name: Option<String>,
}

impl Default for LayerNormalization {
    fn default() -> Self {
        LayerNormalization {
            axis: vec![-1],
            axis_is_list: false,
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            beta_regularizer: None,
            gamma_regularizer: None,
            name: None,
        }
    }
}

impl LayerNormalization {
    /// Layer normalization over the last axis with Keras' defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Normalise over one axis, counting the batch axis as 0 like Keras (default -1).
    pub fn axis(mut self, axis: i64) -> Self {
        self.axis = vec![axis];
        self.axis_is_list = false;
        self
    }

    /// Normalise over several axes together (Keras' `axis=[1, 2]`).
    pub fn axes(mut self, axes: &[i64]) -> Self {
        self.axis = axes.to_vec();
        self.axis_is_list = true;
        self
    }

    builder_setters! {
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
        /// Penalise β (default none).
        beta_regularizer(beta_regularizer: Regularizer) => Some;
        /// Penalise γ (default none).
        gamma_regularizer(gamma_regularizer: Regularizer) => Some;
    }

    named_builder!();

    /// The layer a Keras `LayerNormalization` config describes (`axis` an integer or a list).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&["beta_constraint", "gamma_constraint"])?;
        let (axis, axis_is_list) = match c.get("axis") {
            None => (vec![-1], false),
            Some(Value::Array(items)) => (
                items
                    .iter()
                    .map(|v| {
                        v.as_i64()
                            .ok_or_else(|| c.error("axis", format!("expected integers, got {v}")))
                    })
                    .collect::<Result<Vec<_>>>()?,
                true,
            ),
            Some(v) => (
                vec![v.as_i64().ok_or_else(|| {
                    c.error("axis", format!("expected an integer or a list, got {v}"))
                })?],
                false,
            ),
        };
        let d = LayerNormalization::default();
        Ok(LayerNormalization {
            axis,
            axis_is_list,
            epsilon: c.f32_or("epsilon", d.epsilon)?,
            center: c.bool_or("center", true)?,
            scale: c.bool_or("scale", true)?,
            beta_initializer: c.initializer_or("beta_initializer", d.beta_initializer)?,
            gamma_initializer: c.initializer_or("gamma_initializer", d.gamma_initializer)?,
            beta_regularizer: c.regularizer("beta_regularizer")?,
            gamma_regularizer: c.regularizer("gamma_regularizer")?,
            name: Some(c.name().to_string()),
        })
    }

    /// The normalised axes as batched-tensor axes (1-based: the batch axis is 0), in the
    /// order given, for a per-example `input`; an error for an axis out of range, the batch
    /// axis, a repeated axis or an empty list.
    fn batched_axes(&self, input: &Shape) -> Result<Vec<usize>> {
        let rank = input.rank() as i64 + 1;
        let bad = |msg: String| layer_error(self, msg);
        if self.axis.is_empty() {
            return Err(bad("axis must name at least one axis".into()));
        }
        let mut axes = Vec::with_capacity(self.axis.len());
        for &a in &self.axis {
            let resolved = if a < 0 { a + rank } else { a };
            if resolved == 0 {
                return Err(bad(format!(
                    "axis {a} is the batch axis; LayerNormalization normalises per-example axes"
                )));
            }
            if !(1..rank).contains(&resolved) {
                return Err(bad(format!(
                    "axis {a} is out of range for the input {}",
                    keras_shape(input)
                )));
            }
            if axes.contains(&(resolved as usize)) {
                return Err(bad(format!("axis {a} is given twice")));
            }
            axes.push(resolved as usize);
        }
        Ok(axes)
    }

    /// γ's and β's shape: the sizes of the normalised axes, in the order given.
    fn param_shape(&self, input: &Shape) -> Result<Shape> {
        let axes = self.batched_axes(input)?;
        Ok(Shape::new(
            axes.iter()
                .map(|&a| input.dims()[a - 1])
                .collect::<Vec<_>>(),
        ))
    }
}

impl Layer for LayerNormalization {
    fn class_name(&self) -> &'static str {
        "LayerNormalization"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        self.batched_axes(input)?;
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(layer_error(
                self,
                format!("epsilon must be positive, got {}", self.epsilon),
            ));
        }
        Ok(input.clone())
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let shape = self.param_shape(input).unwrap_or_else(|_| Shape::from([0]));
        let spec = |name, initializer, regularizer| ParamSpec {
            name,
            shape: shape.clone(),
            initializer,
            trainable: true,
            regularizer,
        };
        let mut params = Vec::with_capacity(2);
        if self.scale {
            params.push(spec(
                "gamma",
                self.gamma_initializer,
                self.gamma_regularizer,
            ));
        }
        if self.center {
            params.push(spec("beta", self.beta_initializer, self.beta_regularizer));
        }
        params
    }

    fn config(&self) -> Value {
        let axis = if self.axis_is_list || self.axis.len() != 1 {
            json!(self.axis)
        } else {
            json!(self.axis[0])
        };
        layer_config(
            self,
            json!({
                "axis": axis,
                "epsilon": f32_json(self.epsilon),
                "center": self.center,
                "scale": self.scale,
                "beta_initializer": initializer_json(self.beta_initializer),
                "gamma_initializer": initializer_json(self.gamma_initializer),
                "beta_regularizer": regularizer_json(self.beta_regularizer),
                "gamma_regularizer": regularizer_json(self.gamma_regularizer),
                "beta_constraint": null,
                "gamma_constraint": null,
            }),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let expected = usize::from(self.scale) + usize::from(self.center);
        if ctx.params.len() != expected {
            return Err(layer_error(
                self,
                format!(
                    "given {} parameter nodes, needs {expected}",
                    ctx.params.len()
                ),
            ));
        }
        let dims = g.shape(x).dims().to_vec();
        let per_example = Shape::new(dims[1..].to_vec());
        let axes = self.batched_axes(&per_example)?;
        let mut sorted = axes.clone();
        sorted.sort_unstable();
        let mut broadcast = vec![1; dims.len()];
        for &a in &axes {
            broadcast[a] = dims[a];
        }
        let mean = g.reduce(ReduceOp::Mean, x, &sorted, true)?;
        let centered = g.binary(BinaryOp::Sub, x, mean)?;
        let squared = g.unary(UnaryOp::Square, centered)?;
        let variance = g.reduce(ReduceOp::Mean, squared, &sorted, true)?;
        let epsilon = g.scalar(self.epsilon);
        let shifted = g.binary(BinaryOp::Add, variance, epsilon)?;
        let mut inv_std = g.unary(UnaryOp::Rsqrt, shifted)?;
        if self.scale {
            let gamma = g.reshape(ctx.params[0], Shape::new(broadcast.clone()))?;
            inv_std = g.binary(BinaryOp::Mul, inv_std, gamma)?;
        }
        let mut y = g.binary(BinaryOp::Mul, centered, inv_std)?;
        if self.center {
            let beta = g.reshape(ctx.params[expected - 1], Shape::new(broadcast))?;
            y = g.binary(BinaryOp::Add, y, beta)?;
        }
        Ok(y)
    }
}
