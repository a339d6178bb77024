//! Keras' activation layers, each an [`ActivationKind`] (its hyper-parameters, check,
//! config fields and formula) and the [`ActivationLayerOf`] alias users name:
//! [`ActivationLayer`] (Keras' `Activation`, any [`Activation`]), [`ReLU`], [`LeakyReLU`],
//! [`ELU`] and [`Softmax`].

use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Shape, UnaryOp};
use serde_json::{Value, json};

use crate::activations::{Activation, activation_json, elu, leaky_relu};
use crate::builder::builder_setters;
use crate::config_json::f32_json;
use crate::error::Result;
use crate::layers::activation_layer::{ActivationKind, ActivationLayerOf};
use crate::layers::{ConfigReader, keras_shape};

/// Keras' `Activation` layer, e.g. `ActivationLayer::new(Activation::Softmax)`.
pub type ActivationLayer = ActivationLayerOf<Activation>;

impl ActivationLayer {
    /// A layer applying `activation`.
    pub fn new(activation: Activation) -> Self {
        ActivationLayer::of(activation)
    }

    /// The activation applied.
    pub fn activation(&self) -> Activation {
        self.kind
    }
}

impl ActivationKind for Activation {
    const CLASS: &'static str = "Activation";

    fn check(&self, input: &Shape) -> std::result::Result<(), String> {
        let over_last_axis = matches!(self, Activation::Softmax | Activation::LogSoftmax);
        if over_last_axis && input.rank() == 0 {
            return Err(format!("{self} needs an axis per example, got a scalar"));
        }
        Ok(())
    }

    fn fields(&self) -> Value {
        json!({"activation": activation_json(*self)})
    }

    /// `activation` is required.
    fn from_config(c: &ConfigReader) -> Result<Self> {
        if c.get("activation").is_none() {
            return Err(c.error("activation", "is required"));
        }
        c.activation_or("activation", Activation::Linear)
    }

    fn lower(&self, g: &mut Graph, x: NodeId) -> Result<NodeId> {
        self.build(g, x)
    }
}

/// Keras' `ReLU` layer: `max_value` for `x >= max_value`, `x` for `threshold <= x`,
/// `negative_slope · (x - threshold)` below; defaults: no cap, slope 0, threshold 0.
pub type ReLU = ActivationLayerOf<ReluKind>;

/// [`ReLU`]'s hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReluKind {
    max_value: Option<f32>,
    negative_slope: f32,
    threshold: f32,
}

impl ReLU {
    /// A plain `max(x, 0)`.
    pub fn new() -> Self {
        Self::default()
    }

    builder_setters! {
        /// Cap the output at `max_value` (>= 0).
        max_value(kind.max_value: f32) => Some;
        /// Slope below the threshold (>= 0, default 0).
        negative_slope(kind.negative_slope: f32);
        /// Where the identity part starts (>= 0, default 0).
        threshold(kind.threshold: f32);
    }
}

impl ActivationKind for ReluKind {
    const CLASS: &'static str = "ReLU";

    fn check(&self, _input: &Shape) -> std::result::Result<(), String> {
        if let Some(max_value) = self.max_value {
            non_negative("max_value", max_value)?;
        }
        non_negative("negative_slope", self.negative_slope)?;
        non_negative("threshold", self.threshold)
    }

    fn fields(&self) -> Value {
        json!({
            "max_value": self.max_value.map(f32_json),
            "negative_slope": f32_json(self.negative_slope),
            "threshold": f32_json(self.threshold),
        })
    }

    fn from_config(c: &ConfigReader) -> Result<Self> {
        let max_value = match c.get("max_value") {
            None => None,
            Some(_) => Some(c.f32_or("max_value", 0.0)?),
        };
        Ok(ReluKind {
            max_value,
            negative_slope: c.f32_or("negative_slope", 0.0)?,
            threshold: c.f32_or("threshold", 0.0)?,
        })
    }

    fn lower(&self, g: &mut Graph, x: NodeId) -> Result<NodeId> {
        let mut y = if self.negative_slope == 0.0 && self.threshold == 0.0 {
            g.unary(UnaryOp::Relu, x)?
        } else {
            // `x < threshold` is false for NaN, so a NaN takes the `x` branch (a GPU compiler
            // may fold `NaN · 0` to 0, so the NaN must not depend on the slope branch).
            let below_threshold = with_scalar(g, BinaryOp::Lt, x, self.threshold)?;
            let below = if self.negative_slope == 0.0 {
                g.scalar(0.0)
            } else {
                let shifted = with_scalar(g, BinaryOp::Sub, x, self.threshold)?;
                with_scalar(g, BinaryOp::Mul, shifted, self.negative_slope)?
            };
            select(g, below_threshold, below, x)?
        };
        if let Some(max_value) = self.max_value {
            let capped = with_scalar(g, BinaryOp::Ge, x, max_value)?;
            let cap = g.scalar(max_value);
            y = select(g, capped, cap, y)?;
        }
        Ok(y)
    }
}

/// Keras 2's `LeakyReLU` layer: `x` for `x > 0`, `alpha · x` below (alpha default 0.3).
pub type LeakyReLU = ActivationLayerOf<LeakyReluKind>;

/// [`LeakyReLU`]'s negative slope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyReluKind {
    alpha: f32,
}

impl Default for LeakyReluKind {
    fn default() -> Self {
        LeakyReluKind {
            alpha: Activation::LEAKY_RELU_LAYER_ALPHA,
        }
    }
}

impl LeakyReLU {
    /// A leaky ReLU with negative slope `alpha`.
    pub fn new(alpha: f32) -> Self {
        LeakyReLU::of(LeakyReluKind { alpha })
    }
}

impl ActivationKind for LeakyReluKind {
    const CLASS: &'static str = "LeakyReLU";

    fn check(&self, _input: &Shape) -> std::result::Result<(), String> {
        if self.alpha.is_finite() {
            Ok(())
        } else {
            Err(format!("alpha must be finite, got {}", self.alpha))
        }
    }

    fn fields(&self) -> Value {
        json!({"alpha": f32_json(self.alpha)})
    }

    fn from_config(c: &ConfigReader) -> Result<Self> {
        let alpha = c.f32_or("alpha", LeakyReluKind::default().alpha)?;
        Ok(LeakyReluKind { alpha })
    }

    fn lower(&self, g: &mut Graph, x: NodeId) -> Result<NodeId> {
        Ok(leaky_relu(g, x, self.alpha)?)
    }
}

/// Keras' `ELU` layer: `x` for `x > 0`, `alpha · (e^x - 1)` below (alpha default 1.0).
pub type ELU = ActivationLayerOf<EluKind>;

/// [`ELU`]'s scale for negative inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EluKind {
    alpha: f32,
}

impl Default for EluKind {
    fn default() -> Self {
        EluKind { alpha: 1.0 }
    }
}

impl ELU {
    /// An ELU with scale `alpha` for negative inputs.
    pub fn new(alpha: f32) -> Self {
        ELU::of(EluKind { alpha })
    }
}

impl ActivationKind for EluKind {
    const CLASS: &'static str = "ELU";

    fn check(&self, _input: &Shape) -> std::result::Result<(), String> {
        non_negative("alpha", self.alpha)
    }

    fn fields(&self) -> Value {
        json!({"alpha": f32_json(self.alpha)})
    }

    fn from_config(c: &ConfigReader) -> Result<Self> {
        let alpha = c.f32_or("alpha", EluKind::default().alpha)?;
        Ok(EluKind { alpha })
    }

    fn lower(&self, g: &mut Graph, x: NodeId) -> Result<NodeId> {
        Ok(elu(g, x, self.alpha)?)
    }
}

/// Keras' `Softmax` layer: `e^x / Σ e^x` along `axis` (counting the batch axis as 0 like
/// Keras; default -1, the last).
pub type Softmax = ActivationLayerOf<SoftmaxKind>;

/// [`Softmax`]'s axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftmaxKind {
    axis: i64,
}

impl Default for SoftmaxKind {
    fn default() -> Self {
        SoftmaxKind { axis: -1 }
    }
}

impl Softmax {
    /// A softmax along `axis`.
    pub fn new(axis: i64) -> Self {
        Softmax::of(SoftmaxKind { axis })
    }
}

impl SoftmaxKind {
    /// The axis in a batched tensor of `rank` axes, if valid.
    fn batched_axis(self, rank: usize) -> Option<usize> {
        let rank = rank as i64;
        let axis = if self.axis < 0 {
            self.axis + rank
        } else {
            self.axis
        };
        (0..rank).contains(&axis).then_some(axis as usize)
    }
}

impl ActivationKind for SoftmaxKind {
    const CLASS: &'static str = "Softmax";

    fn check(&self, input: &Shape) -> std::result::Result<(), String> {
        match self.batched_axis(input.rank() + 1) {
            Some(axis) if axis > 0 => Ok(()),
            _ => Err(format!(
                "axis {} is not a per-example axis of {}",
                self.axis,
                keras_shape(input)
            )),
        }
    }

    fn fields(&self) -> Value {
        json!({"axis": self.axis})
    }

    /// One integer axis.
    fn from_config(c: &ConfigReader) -> Result<Self> {
        let axis = match c.get("axis") {
            None => Some(SoftmaxKind::default().axis),
            Some(v) => v.as_i64(),
        }
        .ok_or_else(|| c.error("axis", "must be one integer"))?;
        Ok(SoftmaxKind { axis })
    }

    fn lower(&self, g: &mut Graph, x: NodeId) -> Result<NodeId> {
        let rank = g.shape(x).rank();
        let axis = self.batched_axis(rank).unwrap_or(rank.saturating_sub(1));
        // The softmax does not depend on the shift: no gradient through it.
        let max = g.reduce(ReduceOp::Max, x, &[axis], true)?;
        let max = g.stop_gradient(max)?;
        let shifted = g.binary(BinaryOp::Sub, x, max)?;
        let e = g.unary(UnaryOp::Exp, shifted)?;
        let sum = g.reduce(ReduceOp::Sum, e, &[axis], true)?;
        Ok(g.binary(BinaryOp::Div, e, sum)?)
    }
}

/// `op(x, value)` with a scalar constant.
fn with_scalar(g: &mut Graph, op: BinaryOp, x: NodeId, value: f32) -> ir::error::Result<NodeId> {
    let c = g.scalar(value);
    g.binary(op, x, c)
}

/// `cond(x) ? a : b` elementwise.
fn select(g: &mut Graph, cond: NodeId, a: NodeId, b: NodeId) -> ir::error::Result<NodeId> {
    g.add(Op::Select, &[cond, a, b])
}

/// Checks that a hyper-parameter is finite and non-negative.
fn non_negative(what: &str, value: f32) -> std::result::Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!("{what} must be finite and >= 0, got {value}"))
    }
}
