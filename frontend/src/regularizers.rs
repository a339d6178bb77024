//! Weight regularizers (Keras' L1, L2, L1L2): a penalty on a parameter that the model adds
//! to its training and evaluation loss, in-graph.

use ir::{BinaryOp, Graph, NodeId, ReduceOp, UnaryOp};
use serde_json::{Map, Value, json};

use crate::config_json::{class_and_config, f32_field, f32_json};
use crate::error::Result;

/// A penalty on a weight tensor `w`: `l1 · Σ|w| + l2 · Σ w²`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Regularizer {
    /// `l1 · Σ|w|` (Keras default 0.01).
    L1(f32),
    /// `l2 · Σ w²` (Keras default 0.01).
    L2(f32),
    /// Both terms.
    L1L2 {
        /// Weight of `Σ|w|`.
        l1: f32,
        /// Weight of `Σ w²`.
        l2: f32,
    },
}

impl Regularizer {
    /// Keras' default strength for `l1`/`l2`.
    pub const DEFAULT: f32 = 0.01;

    /// `(l1, l2)` coefficients.
    pub fn coefficients(&self) -> (f32, f32) {
        match *self {
            Regularizer::L1(l1) => (l1, 0.0),
            Regularizer::L2(l2) => (0.0, l2),
            Regularizer::L1L2 { l1, l2 } => (l1, l2),
        }
    }

    /// Append the scalar penalty of parameter `w` to `g`.
    pub fn build_penalty(&self, g: &mut Graph, w: NodeId) -> Result<NodeId> {
        let (l1, l2) = self.coefficients();
        let axes: Vec<usize> = (0..g.shape(w).rank()).collect();
        let mut terms = Vec::new();
        for (coefficient, op) in [(l1, UnaryOp::Abs), (l2, UnaryOp::Square)] {
            if coefficient != 0.0 {
                let t = g.unary(op, w)?;
                let s = g.reduce(ReduceOp::Sum, t, &axes, false)?;
                let c = g.scalar(coefficient);
                terms.push(g.binary(BinaryOp::Mul, c, s)?);
            }
        }
        let mut total = match terms.first() {
            Some(&t) => t,
            None => g.scalar(0.0),
        };
        for &t in terms.iter().skip(1) {
            total = g.binary(BinaryOp::Add, total, t)?;
        }
        Ok(total)
    }
}

/// The Keras form of an optional regularizer: `null`, or `{"class_name": "L2", "config": {"l2": 0.01}}`.
pub fn regularizer_json(regularizer: Option<Regularizer>) -> Value {
    match regularizer {
        None => Value::Null,
        Some(Regularizer::L1(l1)) => json!({"class_name": "L1", "config": {"l1": f32_json(l1)}}),
        Some(Regularizer::L2(l2)) => json!({"class_name": "L2", "config": {"l2": f32_json(l2)}}),
        Some(Regularizer::L1L2 { l1, l2 }) => {
            json!({"class_name": "L1L2", "config": {"l1": f32_json(l1), "l2": f32_json(l2)}})
        }
    }
}

/// Reads `null`, a regularizer object, or a name (`"l1"`, `"l2"`, `"l1_l2"` with Keras' 0.01).
pub fn read_regularizer(value: &Value) -> Result<Option<Regularizer>, String> {
    const DEFAULT: f32 = Regularizer::DEFAULT;
    let (class, c) = match value {
        Value::Null => return Ok(None),
        Value::String(name) => (name.as_str(), Map::new()),
        other => class_and_config(other)?,
    };
    Ok(Some(match class {
        "L1" | "l1" => Regularizer::L1(f32_field(&c, "l1", DEFAULT)?),
        "L2" | "l2" => Regularizer::L2(f32_field(&c, "l2", DEFAULT)?),
        // The `L1L2` class defaults to 0 for both terms, the `l1_l2` function to 0.01.
        "L1L2" => Regularizer::L1L2 {
            l1: f32_field(&c, "l1", 0.0)?,
            l2: f32_field(&c, "l2", 0.0)?,
        },
        "l1_l2" => Regularizer::L1L2 {
            l1: DEFAULT,
            l2: DEFAULT,
        },
        other => {
            return Err(format!(
                "unknown regularizer `{other}` (known: L1, L2, L1L2)"
            ));
        }
    }))
}
