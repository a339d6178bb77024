//! The `ConstantOperand` layer: one elementwise arithmetic op between the input and a fixed
//! tensor (ONNX `Add`/`Sub`/`Mul`/`Div` with a constant operand that the importer could not
//! fold into a neighbouring layer's weights). The constant is a non-trainable parameter, so
//! Kiln files keep it. It is not a Keras layer: Keras cannot read its config.

use ir::{BinaryOp, Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::initializers::Initializer;
use crate::layers::layer_error;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config};

/// Which arithmetic a [`ConstantOperand`] applies, and on which side the constant sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstantArithmetic {
    /// `x + c`.
    Add,
    /// `x - c`.
    Subtract,
    /// `c - x`.
    SubtractFrom,
    /// `x · c`.
    Multiply,
    /// `x / c`.
    Divide,
    /// `c / x`.
    DivideInto,
}

/// The config names of the arithmetic kinds, in one table.
const KINDS: [(ConstantArithmetic, &str); 6] = [
    (ConstantArithmetic::Add, "add"),
    (ConstantArithmetic::Subtract, "subtract"),
    (ConstantArithmetic::SubtractFrom, "subtract_from"),
    (ConstantArithmetic::Multiply, "multiply"),
    (ConstantArithmetic::Divide, "divide"),
    (ConstantArithmetic::DivideInto, "divide_into"),
];

/// `x ∘ c` for a constant `c` of a per-example `shape` that broadcasts (NumPy rules) against
/// each example. The constant is the non-trainable parameter `constant`, zeros until set.
///
/// ```
/// use kiln::layers::{ConstantArithmetic, ConstantOperand, Layer};
/// let scale = ConstantOperand::new(ConstantArithmetic::Multiply, [3]);
/// assert_eq!(scale.output_shape(&[4, 3].into()).unwrap(), [4, 3].into());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantOperand {
    kind: ConstantArithmetic,
    shape: Shape,
    name: Option<String>,
}

impl ConstantOperand {
    /// `x ∘ c` for a constant of per-example `shape`.
    pub fn new(kind: ConstantArithmetic, shape: impl Into<Shape>) -> Self {
        ConstantOperand {
            kind,
            shape: shape.into(),
            name: None,
        }
    }

    named_builder!();

    /// The layer a `ConstantOperand` config describes (`operation`, `shape`).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let op = c.str_or("operation", "")?;
        let kind = KINDS
            .iter()
            .find(|(_, name)| *name == op)
            .map(|(k, _)| *k)
            .ok_or_else(|| c.error("operation", format!("unknown operation `{op}`")))?;
        let dims = c
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|d| {
                d.iter()
                    .map(|v| v.as_u64().map(|n| n as usize))
                    .collect::<Option<Vec<usize>>>()
            })
            .ok_or_else(|| c.error("shape", "must be a list of non-negative integers"))?;
        Ok(ConstantOperand {
            kind,
            shape: Shape::new(dims),
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for ConstantOperand {
    fn class_name(&self) -> &'static str {
        "ConstantOperand"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        match Shape::broadcast(input, &self.shape) {
            Some(out) if out == *input => Ok(out),
            _ => Err(layer_error(
                self,
                format!(
                    "its constant of shape {} does not broadcast to the input {}",
                    self.shape,
                    keras_shape(input)
                ),
            )),
        }
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        vec![ParamSpec {
            name: "constant",
            shape: self.shape.clone(),
            initializer: Initializer::Zeros,
            trainable: false,
            regularizer: None,
        }]
    }

    fn config(&self) -> Value {
        let op = KINDS.iter().find(|(k, _)| *k == self.kind).map(|(_, n)| *n);
        layer_config(self, json!({"operation": op, "shape": self.shape.dims()}))
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let c = ctx.params[0];
        let (op, a, b) = match self.kind {
            ConstantArithmetic::Add => (BinaryOp::Add, x, c),
            ConstantArithmetic::Subtract => (BinaryOp::Sub, x, c),
            ConstantArithmetic::SubtractFrom => (BinaryOp::Sub, c, x),
            ConstantArithmetic::Multiply => (BinaryOp::Mul, x, c),
            ConstantArithmetic::Divide => (BinaryOp::Div, x, c),
            ConstantArithmetic::DivideInto => (BinaryOp::Div, c, x),
        };
        Ok(g.binary(op, a, b)?)
    }
}
