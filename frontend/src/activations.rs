//! Activation functions (Keras names and formulas), lowered to IR ops from one table.
//!
//! Each [`Activation`] has one row in `TABLE`: its Keras name and a builder that appends its
//! formula to a graph. Parsing (`"relu".parse()`), naming and lowering all read that table.
//!
//! Keras-version notes, checked against the Keras 2 sources:
//! - `hard_sigmoid` is Keras 2's `clip(0.2 x + 0.5, 0, 1)` (Keras 3 changed it to `relu6(x + 3) / 6`).
//! - `gelu` is the exact form `0.5 x (1 + erf(x / √2))` (Keras' default `approximate=False`).
//! - `leaky_relu` parsed from its name uses slope [`Activation::LEAKY_RELU_DEFAULT_ALPHA`] = 0.2
//!   (`tf.nn.leaky_relu`, which Keras 2 resolves the name to); Keras' `LeakyReLU` *layer* defaults to
//!   [`Activation::LEAKY_RELU_LAYER_ALPHA`] = 0.3.
//! - `elu` uses alpha 1, `selu` the fixed constants of Klambauer et al.
//! - `softmax` and `log_softmax` act on the last axis; every other activation is elementwise.

use std::fmt;
use std::str::FromStr;

use ir::{BinaryOp, Graph, NodeId, ReduceOp, UnaryOp};
use serde_json::{Value, json};

use crate::config_json::{class_and_config, f32_field, f32_json};
use crate::error::{Error, Result};

/// An activation function. Keras' default for layers is [`Activation::Linear`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// `x`
    #[default]
    Linear,
    /// `max(x, 0)`
    Relu,
    /// `min(max(x, 0), 6)`
    Relu6,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh(x)`
    Tanh,
    /// `e^x / Σ e^x` over the last axis
    Softmax,
    /// `x - log Σ e^x` over the last axis
    LogSoftmax,
    /// `x` if `x > 0`, else `e^x - 1`
    Elu,
    /// `scale · elu_alpha(x)` with Klambauer et al.'s constants
    Selu,
    /// `log(1 + e^x)`
    Softplus,
    /// `x / (1 + |x|)`
    Softsign,
    /// `clip(0.2 x + 0.5, 0, 1)` (Keras 2)
    HardSigmoid,
    /// `x · sigmoid(x)`
    Swish,
    /// `0.5 x (1 + erf(x / √2))`
    Gelu,
    /// `x` if `x > 0`, else `alpha · x`
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f32,
    },
}

/// SELU's alpha (Klambauer et al. 2017, as in Keras).
pub const SELU_ALPHA: f32 = 1.673_263_2;
/// SELU's scale (Klambauer et al. 2017, as in Keras).
pub const SELU_SCALE: f32 = 1.050_701;

type Builder = fn(&mut Graph, NodeId, &Activation) -> ir::error::Result<NodeId>;

/// One row per activation: its Keras name, a representative value, and its lowering.
const TABLE: &[(&str, Activation, Builder)] = &[
    ("linear", Activation::Linear, |_, x, _| Ok(x)),
    ("relu", Activation::Relu, |g, x, _| {
        g.unary(UnaryOp::Relu, x)
    }),
    ("relu6", Activation::Relu6, |g, x, _| {
        let r = g.unary(UnaryOp::Relu, x)?;
        with_const(g, BinaryOp::Min, r, 6.0)
    }),
    ("sigmoid", Activation::Sigmoid, |g, x, _| {
        g.unary(UnaryOp::Sigmoid, x)
    }),
    ("tanh", Activation::Tanh, |g, x, _| {
        g.unary(UnaryOp::Tanh, x)
    }),
    ("softmax", Activation::Softmax, |g, x, _| {
        let (shifted, sum) = shifted_exp_sum(g, x)?;
        let e = g.unary(UnaryOp::Exp, shifted)?;
        g.binary(BinaryOp::Div, e, sum)
    }),
    ("log_softmax", Activation::LogSoftmax, |g, x, _| {
        let (shifted, sum) = shifted_exp_sum(g, x)?;
        let log_sum = g.unary(UnaryOp::Log, sum)?;
        g.binary(BinaryOp::Sub, shifted, log_sum)
    }),
    ("elu", Activation::Elu, |g, x, _| elu(g, x, 1.0)),
    ("selu", Activation::Selu, |g, x, _| {
        let e = elu(g, x, SELU_ALPHA)?;
        with_const(g, BinaryOp::Mul, e, SELU_SCALE)
    }),
    ("softplus", Activation::Softplus, |g, x, _| {
        // Stable form: max(x, 0) + log1p(e^-|x|).
        let a = g.unary(UnaryOp::Abs, x)?;
        let na = g.unary(UnaryOp::Neg, a)?;
        let e = g.unary(UnaryOp::Exp, na)?;
        let l = g.unary(UnaryOp::Log1p, e)?;
        let r = g.unary(UnaryOp::Relu, x)?;
        g.binary(BinaryOp::Add, r, l)
    }),
    ("softsign", Activation::Softsign, |g, x, _| {
        let a = g.unary(UnaryOp::Abs, x)?;
        let d = with_const(g, BinaryOp::Add, a, 1.0)?;
        g.binary(BinaryOp::Div, x, d)
    }),
    ("hard_sigmoid", Activation::HardSigmoid, |g, x, _| {
        let s = with_const(g, BinaryOp::Mul, x, 0.2)?;
        let s = with_const(g, BinaryOp::Add, s, 0.5)?;
        let s = with_const(g, BinaryOp::Max, s, 0.0)?;
        with_const(g, BinaryOp::Min, s, 1.0)
    }),
    ("swish", Activation::Swish, |g, x, _| {
        let s = g.unary(UnaryOp::Sigmoid, x)?;
        g.binary(BinaryOp::Mul, x, s)
    }),
    ("gelu", Activation::Gelu, |g, x, _| {
        let s = with_const(g, BinaryOp::Mul, x, std::f32::consts::FRAC_1_SQRT_2)?;
        let e = g.unary(UnaryOp::Erf, s)?;
        let e = with_const(g, BinaryOp::Add, e, 1.0)?;
        let h = with_const(g, BinaryOp::Mul, x, 0.5)?;
        g.binary(BinaryOp::Mul, h, e)
    }),
    (
        "leaky_relu",
        Activation::LeakyRelu {
            alpha: Activation::LEAKY_RELU_DEFAULT_ALPHA,
        },
        |g, x, act| {
            let Activation::LeakyRelu { alpha } = *act else {
                unreachable!("the leaky_relu row is only used for LeakyRelu")
            };
            leaky_relu(g, x, alpha)
        },
    ),
];

/// `op(x, c)` with a scalar constant `c`.
fn with_const(g: &mut Graph, op: BinaryOp, x: NodeId, c: f32) -> ir::error::Result<NodeId> {
    let c = g.scalar(c);
    g.binary(op, x, c)
}

/// `x - max(x)` and `Σ e^(x - max)` over the last axis (kept), for softmax and log-softmax.
/// Neither result depends on the shift mathematically, so it is a `stop_gradient` (see
/// `losses::log_softmax`).
fn shifted_exp_sum(g: &mut Graph, x: NodeId) -> ir::error::Result<(NodeId, NodeId)> {
    let last = g.shape(x).rank().saturating_sub(1);
    let max = g.reduce(ReduceOp::Max, x, &[last], true)?;
    let max = g.stop_gradient(max)?;
    let shifted = g.binary(BinaryOp::Sub, x, max)?;
    let e = g.unary(UnaryOp::Exp, shifted)?;
    let sum = g.reduce(ReduceOp::Sum, e, &[last], true)?;
    Ok((shifted, sum))
}

/// `x > 0 ? x : alpha x`. (`max(x, alpha x)` only works for `0 <= alpha <= 1`; select
/// covers any alpha.) Shared by the `leaky_relu` activation and the `LeakyReLU` layer.
pub(crate) fn leaky_relu(g: &mut Graph, x: NodeId, alpha: f32) -> ir::error::Result<NodeId> {
    let zero = g.scalar(0.0);
    let positive = g.binary(BinaryOp::Gt, x, zero)?;
    let scaled = with_const(g, BinaryOp::Mul, x, alpha)?;
    g.add(ir::Op::Select, &[positive, x, scaled])
}

/// `x > 0 ? x : alpha (e^min(x,0) - 1)`; the `min` keeps the unused branch finite, so its
/// gradient is never `0 · inf`. Shared by the `elu` activation and the `ELU` layer.
pub(crate) fn elu(g: &mut Graph, x: NodeId, alpha: f32) -> ir::error::Result<NodeId> {
    let zero = g.scalar(0.0);
    let positive = g.binary(BinaryOp::Gt, x, zero)?;
    let negative_part = g.binary(BinaryOp::Min, x, zero)?;
    let em1 = g.unary(UnaryOp::Expm1, negative_part)?;
    let scaled = with_const(g, BinaryOp::Mul, em1, alpha)?;
    g.add(ir::Op::Select, &[positive, x, scaled])
}

impl Activation {
    /// Negative slope of `leaky_relu` when parsed by name (`tf.nn.leaky_relu`'s default).
    pub const LEAKY_RELU_DEFAULT_ALPHA: f32 = 0.2;
    /// Negative slope of Keras 2's `LeakyReLU` layer by default.
    pub const LEAKY_RELU_LAYER_ALPHA: f32 = 0.3;

    /// Every activation (with default parameters), in table order.
    pub fn all() -> impl Iterator<Item = Activation> {
        TABLE.iter().map(|row| row.1)
    }

    fn row(&self) -> &'static (&'static str, Activation, Builder) {
        TABLE
            .iter()
            .find(|row| std::mem::discriminant(&row.1) == std::mem::discriminant(self))
            .expect("every Activation variant has a table row")
    }

    /// The Keras name (`"relu"`, `"hard_sigmoid"`, ...).
    pub fn keras_name(&self) -> &'static str {
        self.row().0
    }

    /// Append this activation applied to `x` to `g`; returns the result node.
    pub fn build(&self, g: &mut Graph, x: NodeId) -> Result<NodeId> {
        Ok((self.row().2)(g, x, self)?)
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// Parse a Keras activation name; an unknown name is an error naming it.
    fn from_str(name: &str) -> Result<Self> {
        TABLE
            .iter()
            .find(|row| row.0 == name)
            .map(|row| row.1)
            .ok_or_else(|| Error::UnknownName {
                kind: "activation",
                name: name.to_string(),
                known: TABLE.iter().map(|row| row.0).collect::<Vec<_>>().join(", "),
            })
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keras_name())
    }
}

/// The Keras form of an activation: its name, or `{"class_name": "LeakyReLU", ...}` when the
/// slope differs from the one the name `leaky_relu` implies.
pub fn activation_json(activation: Activation) -> Value {
    match activation {
        Activation::LeakyRelu { alpha } if alpha != Activation::LEAKY_RELU_DEFAULT_ALPHA => json!({
            "class_name": "LeakyReLU",
            "config": {"alpha": f32_json(alpha)},
        }),
        other => Value::String(other.keras_name().to_string()),
    }
}

/// Reads an activation name or a `LeakyReLU` object (Keras' layer default slope 0.3).
pub fn read_activation(value: &Value) -> Result<Activation, String> {
    if let Some(name) = value.as_str() {
        return name.parse().map_err(|e: crate::error::Error| e.to_string());
    }
    let (class, config) = class_and_config(value)?;
    match class {
        "LeakyReLU" => Ok(Activation::LeakyRelu {
            alpha: f32_field(&config, "alpha", Activation::LEAKY_RELU_LAYER_ALPHA)?,
        }),
        other => Err(format!(
            "unknown activation class `{other}` (known: LeakyReLU, or a name)"
        )),
    }
}
