//! The advanced-activation layers with hyper-parameters: [`ReLU`], [`LeakyReLU`], [`ELU`],
//! [`Softmax`]. Each states its Keras class, its checks and its lowering through
//! [`ElementwiseRule`]; one blanket impl makes every rule a shape-preserving [`Layer`].

use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Shape, UnaryOp};
use serde_json::{Value, json};

use crate::activations::Activation;
use crate::config_json::f32_json;
use crate::error::Result;
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// A parameter-free, shape-preserving activation layer: its class, checks and lowering.
pub trait ElementwiseRule: std::fmt::Debug + Send + Sync {
    /// Keras' class name.
    const CLASS: &'static str;

    /// The layer's name slot.
    fn name_slot(&mut self) -> &mut Option<String>;

    /// The layer's name, if set.
    fn current_name(&self) -> Option<&str>;

    /// Why the configuration cannot apply to a per-example `input`, if it cannot.
    fn check(&self, input: &Shape) -> std::result::Result<(), String>;

    /// The layer's own Keras config fields.
    fn fields(&self) -> Value;

    /// Append the activation of the batched `x`.
    fn lower(&self, g: &mut Graph, x: NodeId) -> ir::error::Result<NodeId>;
}

impl<R: ElementwiseRule> Layer for R {
    fn class_name(&self) -> &'static str {
        R::CLASS
    }

    fn name(&self) -> Option<&str> {
        self.current_name()
    }

    fn set_name(&mut self, name: String) {
        *self.name_slot() = Some(name);
    }

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        self.check(input).map_err(|msg| layer_error(self, msg))?;
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(self, self.fields())
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        Ok(self.lower(g, x)?)
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

/// Keras' `ReLU` layer: `max_value` for `x >= max_value`, `x` for `threshold <= x`,
/// `negative_slope · (x - threshold)` below; defaults: no cap, slope 0, threshold 0.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReLU {
    max_value: Option<f32>,
    negative_slope: f32,
    threshold: f32,
    name: Option<String>,
}

impl ReLU {
    /// A plain `max(x, 0)`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The layer a Keras `ReLU` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let max_value = match c.get("max_value") {
            None => None,
            Some(_) => Some(c.f32_or("max_value", 0.0)?),
        };
        Ok(ReLU {
            max_value,
            negative_slope: c.f32_or("negative_slope", 0.0)?,
            threshold: c.f32_or("threshold", 0.0)?,
            name: Some(c.name().to_string()),
        })
    }

    /// Cap the output at `max_value` (>= 0).
    pub fn max_value(mut self, max_value: f32) -> Self {
        self.max_value = Some(max_value);
        self
    }

    /// Slope below the threshold (>= 0, default 0).
    pub fn negative_slope(mut self, slope: f32) -> Self {
        self.negative_slope = slope;
        self
    }

    /// Where the identity part starts (>= 0, default 0).
    pub fn threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// The same layer with an explicit name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl ElementwiseRule for ReLU {
    const CLASS: &'static str = "ReLU";

    fn name_slot(&mut self) -> &mut Option<String> {
        &mut self.name
    }

    fn current_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn fields(&self) -> Value {
        json!({
            "max_value": self.max_value.map(f32_json),
            "negative_slope": f32_json(self.negative_slope),
            "threshold": f32_json(self.threshold),
        })
    }

    fn check(&self, _input: &Shape) -> std::result::Result<(), String> {
        if let Some(max_value) = self.max_value {
            non_negative("max_value", max_value)?;
        }
        non_negative("negative_slope", self.negative_slope)?;
        non_negative("threshold", self.threshold)
    }

    fn lower(&self, g: &mut Graph, x: NodeId) -> ir::error::Result<NodeId> {
        let mut y = if self.negative_slope == 0.0 && self.threshold == 0.0 {
            g.unary(UnaryOp::Relu, x)?
        } else {
            let above = with_scalar(g, BinaryOp::Ge, x, self.threshold)?;
            let shifted = with_scalar(g, BinaryOp::Sub, x, self.threshold)?;
            let below = with_scalar(g, BinaryOp::Mul, shifted, self.negative_slope)?;
            select(g, above, x, below)?
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
#[derive(Debug, Clone, PartialEq)]
pub struct LeakyReLU {
    alpha: f32,
    name: Option<String>,
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(Activation::LEAKY_RELU_LAYER_ALPHA)
    }
}

impl LeakyReLU {
    /// A leaky ReLU with negative slope `alpha`.
    pub fn new(alpha: f32) -> Self {
        LeakyReLU { alpha, name: None }
    }

    /// The layer a Keras 2 `LeakyReLU` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(LeakyReLU::new(c.f32_or("alpha", Activation::LEAKY_RELU_LAYER_ALPHA)?).named(c.name()))
    }

    /// The same layer with an explicit name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl ElementwiseRule for LeakyReLU {
    const CLASS: &'static str = "LeakyReLU";

    fn name_slot(&mut self) -> &mut Option<String> {
        &mut self.name
    }

    fn current_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn fields(&self) -> Value {
        json!({"alpha": f32_json(self.alpha)})
    }

    fn check(&self, _input: &Shape) -> std::result::Result<(), String> {
        if self.alpha.is_finite() {
            Ok(())
        } else {
            Err(format!("alpha must be finite, got {}", self.alpha))
        }
    }

    fn lower(&self, g: &mut Graph, x: NodeId) -> ir::error::Result<NodeId> {
        crate::activations::leaky_relu(g, x, self.alpha)
    }
}

/// Keras' `ELU` layer: `x` for `x > 0`, `alpha · (e^x - 1)` below (alpha default 1.0).
#[derive(Debug, Clone, PartialEq)]
pub struct ELU {
    alpha: f32,
    name: Option<String>,
}

impl Default for ELU {
    fn default() -> Self {
        ELU::new(1.0)
    }
}

impl ELU {
    /// An ELU with scale `alpha` for negative inputs.
    pub fn new(alpha: f32) -> Self {
        ELU { alpha, name: None }
    }

    /// The layer a Keras `ELU` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(ELU::new(c.f32_or("alpha", 1.0)?).named(c.name()))
    }

    /// The same layer with an explicit name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl ElementwiseRule for ELU {
    const CLASS: &'static str = "ELU";

    fn name_slot(&mut self) -> &mut Option<String> {
        &mut self.name
    }

    fn current_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn fields(&self) -> Value {
        json!({"alpha": f32_json(self.alpha)})
    }

    fn check(&self, _input: &Shape) -> std::result::Result<(), String> {
        non_negative("alpha", self.alpha)
    }

    fn lower(&self, g: &mut Graph, x: NodeId) -> ir::error::Result<NodeId> {
        crate::activations::elu(g, x, self.alpha)
    }
}

/// Keras' `Softmax` layer: `e^x / Σ e^x` along `axis` (counting the batch axis as 0 like
/// Keras; default -1, the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Softmax {
    axis: i64,
    name: Option<String>,
}

impl Default for Softmax {
    fn default() -> Self {
        Softmax::new(-1)
    }
}

impl Softmax {
    /// A softmax along `axis`.
    pub fn new(axis: i64) -> Self {
        Softmax { axis, name: None }
    }

    /// The layer a Keras `Softmax` config describes (one integer axis).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let axis = match c.get("axis") {
            None => Some(-1),
            Some(v) => v.as_i64(),
        }
        .ok_or_else(|| c.error("axis", "must be one integer"))?;
        Ok(Softmax::new(axis).named(c.name()))
    }

    /// The same layer with an explicit name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The axis in a batched tensor of `rank` axes, if valid.
    fn batched_axis(&self, rank: usize) -> Option<usize> {
        let rank = rank as i64;
        let axis = if self.axis < 0 {
            self.axis + rank
        } else {
            self.axis
        };
        (0..rank).contains(&axis).then_some(axis as usize)
    }
}

impl ElementwiseRule for Softmax {
    const CLASS: &'static str = "Softmax";

    fn name_slot(&mut self) -> &mut Option<String> {
        &mut self.name
    }

    fn current_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn fields(&self) -> Value {
        json!({"axis": self.axis})
    }

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

    fn lower(&self, g: &mut Graph, x: NodeId) -> ir::error::Result<NodeId> {
        let rank = g.shape(x).rank();
        let axis = self.batched_axis(rank).unwrap_or(rank.saturating_sub(1));
        let max = g.reduce(ReduceOp::Max, x, &[axis], true)?;
        let shifted = g.binary(BinaryOp::Sub, x, max)?;
        let e = g.unary(UnaryOp::Exp, shifted)?;
        let sum = g.reduce(ReduceOp::Sum, e, &[axis], true)?;
        g.binary(BinaryOp::Div, e, sum)
    }
}
