//! The `TFOpLambda` layer: a TF function tf-keras recorded in a functional model (`x + 3.0`,
//! `tf.math.multiply(x, y)`, `tf.reduce_mean(x, axis=[1, 2])`), rebuilt from its config's
//! `function` name and its call's keyword arguments. [`functions`] is the table of
//! supported functions; any other is an error naming it.
//!
//! The call's arguments live where Keras 2 writes them, in the inbound node's kwargs
//! ([`Layer::set_call_kwargs`] / [`Layer::call_kwargs`]); a binary function's tensor `y`
//! is its second input (Keras' keyword input `y`). It does NOT run arbitrary Python: only the
//! functions of the table, with the batch axis left alone.

mod functions;

use ir::{BinaryOp, Graph, NodeId, Op, Shape, UnaryOp};
use serde_json::{Map, Value, json};

pub use functions::{CallArgs, Elementwise, TfFunction, supported as supported_tf_functions};

use crate::error::{Error, Result};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// A TF function wrapped as a layer, as tf-keras records `tf.*` calls on Keras tensors.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::layers::{Layer, TFOpLambda};
/// let mut kwargs = serde_json::Map::new();
/// kwargs.insert("y".into(), serde_json::json!(3.0));
/// let add = TFOpLambda::new("__operators__.add")?.with_call_kwargs(&kwargs)?;
/// assert_eq!(add.output_shape(&[4, 4, 8].into())?, [4, 4, 8].into());
/// assert!(TFOpLambda::new("math.erf").is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TFOpLambda {
    function_name: String,
    function: TfFunction,
    args: CallArgs,
    kwargs: Map<String, Value>,
    name: Option<String>,
}

impl TFOpLambda {
    /// The TF function Keras calls `function` (`"math.multiply"`, without `tf.`), with no
    /// call arguments yet; an error for one Kiln does not support.
    pub fn new(function: &str) -> Result<Self> {
        let found = functions::lookup(function).map_err(|msg| Error::Layer {
            layer: "TFOpLambda".into(),
            msg,
        })?;
        let args = functions::call_args(found, &Map::new()).unwrap_or(CallArgs::None);
        Ok(TFOpLambda {
            function_name: function.to_string(),
            function: found,
            args,
            kwargs: Map::new(),
            name: None,
        })
    }

    /// With the call's keyword arguments (what Keras writes in the inbound node).
    pub fn with_call_kwargs(mut self, kwargs: &Map<String, Value>) -> Result<Self> {
        self.set_call_kwargs(kwargs)?;
        Ok(self)
    }

    named_builder!();

    /// The layer a Keras `TFOpLambda` config describes (`function` names the TF function).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let function = c
            .get("function")
            .and_then(Value::as_str)
            .ok_or_else(|| c.error("function", "must be a string"))?;
        let mut layer =
            TFOpLambda::new(function).map_err(|e| c.error("function", e.to_string()))?;
        layer.name = Some(c.name().to_string());
        Ok(layer)
    }

    /// An error about this layer.
    fn error(&self, msg: impl Into<String>) -> Error {
        layer_error(self, format!("tf.{}: {}", self.function_name, msg.into()))
    }

    /// A per-example axis of a rank-`rank` (batched) tensor from TF's `axis`; the batch
    /// axis is refused.
    fn per_example_axis(&self, axis: i64, rank: usize) -> Result<usize> {
        let resolved = if axis < 0 { axis + rank as i64 } else { axis };
        if (1..rank as i64).contains(&resolved) {
            Ok(resolved as usize)
        } else {
            Err(self.error(format!(
                "axis {axis} is the batch axis or out of range for rank {rank}"
            )))
        }
    }

    /// The reduced batched axes, sorted.
    fn reduced_axes(&self, axis: Option<&Vec<i64>>, rank: usize) -> Result<Vec<usize>> {
        let axis = axis.ok_or_else(|| self.error("axis None would reduce the batch axis"))?;
        let mut axes = axis
            .iter()
            .map(|&a| self.per_example_axis(a, rank))
            .collect::<Result<Vec<_>>>()?;
        axes.sort_unstable();
        axes.dedup();
        Ok(axes)
    }

    /// The per-example output shape for per-example `inputs`.
    fn shape_of(&self, inputs: &[Shape]) -> Result<Shape> {
        let count = match (&self.function, &self.args) {
            (TfFunction::Binary(_), CallArgs::Binary(None)) => 2..=2,
            (TfFunction::Concat, _) => 1..=usize::MAX,
            _ => 1..=1,
        };
        if !count.contains(&inputs.len()) {
            return Err(self.error(format!(
                "takes {} tensor inputs here, got {}",
                count.start(),
                inputs.len()
            )));
        }
        let x = &inputs[0];
        let rank = x.rank() + 1;
        match &self.args {
            CallArgs::Binary(Some(_)) | CallArgs::None => Ok(x.clone()),
            CallArgs::Binary(None) => {
                let y = &inputs[1];
                let joined = (x.rank() == y.rank())
                    .then(|| Shape::broadcast(x, y))
                    .flatten();
                joined.ok_or_else(|| {
                    self.error(format!(
                        "cannot combine {} and {}",
                        keras_shape(x),
                        keras_shape(y)
                    ))
                })
            }
            CallArgs::Reduce(axis, keepdims) => {
                let axes = self.reduced_axes(axis.as_ref(), rank)?;
                let dims = x.dims().iter().enumerate().filter_map(|(i, &d)| {
                    match (axes.contains(&(i + 1)), keepdims) {
                        (false, _) => Some(d),
                        (true, true) => Some(1),
                        (true, false) => None,
                    }
                });
                Ok(Shape::new(dims.collect::<Vec<_>>()))
            }
            CallArgs::Reshape(shape) => self.reshaped(x, shape),
            CallArgs::Transpose(perm) => {
                let mut sorted = perm.clone();
                sorted.sort_unstable();
                if perm.first() != Some(&0) || sorted != (0..rank).collect::<Vec<_>>() {
                    return Err(self.error(format!(
                        "perm {perm:?} must permute the {rank} axes keeping the batch axis first"
                    )));
                }
                Ok(Shape::new(
                    perm[1..]
                        .iter()
                        .map(|&a| x.dims()[a - 1])
                        .collect::<Vec<_>>(),
                ))
            }
            CallArgs::Concat(axis) => {
                let axis = self.per_example_axis(*axis, rank)? - 1;
                let mut dims = x.dims().to_vec();
                for other in &inputs[1..] {
                    let same = other.rank() == x.rank()
                        && (0..x.rank()).all(|i| i == axis || other.dims()[i] == x.dims()[i]);
                    if !same {
                        return Err(self.error(format!(
                            "cannot concatenate {} and {}",
                            keras_shape(x),
                            keras_shape(other)
                        )));
                    }
                    dims[axis] += other.dims()[axis];
                }
                Ok(Shape::new(dims))
            }
        }
    }

    /// `x` (per example) reshaped to TF's `shape` (batch first, one `-1` allowed after it).
    fn reshaped(&self, x: &Shape, shape: &[i64]) -> Result<Shape> {
        let bad = || self.error(format!("cannot reshape {} to {shape:?}", keras_shape(x)));
        let (&batch, rest) = shape.split_first().ok_or_else(bad)?;
        if batch != -1 || rest.iter().filter(|&&d| d == -1).count() > 1 {
            return Err(self.error(format!(
                "shape {shape:?} must start with -1 (the batch) and infer at most one other axis"
            )));
        }
        let fixed: Vec<usize> = rest
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .collect();
        let known = ir::size::checked_numel(&fixed).map_err(|_| bad())?;
        let total = x.numel();
        let dims = rest
            .iter()
            .map(|&d| match d {
                -1 if known > 0 && total.is_multiple_of(known) => Ok(total / known),
                d if d >= 0 => Ok(d as usize),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>>>()?;
        let out = Shape::new(dims);
        if out.numel() == total {
            Ok(out)
        } else {
            Err(bad())
        }
    }

    /// The elementwise function `f` of `x`.
    fn elementwise(g: &mut Graph, f: Elementwise, x: NodeId) -> Result<NodeId> {
        Ok(match f {
            Elementwise::Relu => g.unary(UnaryOp::Relu, x)?,
            Elementwise::Relu6 => {
                let relu = g.unary(UnaryOp::Relu, x)?;
                let six = g.scalar(6.0);
                g.binary(BinaryOp::Min, relu, six)?
            }
            Elementwise::Sigmoid => g.unary(UnaryOp::Sigmoid, x)?,
            Elementwise::Tanh => g.unary(UnaryOp::Tanh, x)?,
            Elementwise::Swish => {
                let s = g.unary(UnaryOp::Sigmoid, x)?;
                g.binary(BinaryOp::Mul, x, s)?
            }
        })
    }
}

impl Layer for TFOpLambda {
    fn class_name(&self) -> &'static str {
        "TFOpLambda"
    }

    fn name_prefix(&self) -> String {
        format!("tf.{}", self.function_name)
    }

    name_methods!();

    fn arity(&self) -> Option<usize> {
        None
    }

    fn input_counts(&self) -> std::ops::RangeInclusive<usize> {
        match self.function {
            TfFunction::Binary(_) => 1..=2,
            TfFunction::Concat => 1..=usize::MAX,
            _ => 1..=1,
        }
    }

    /// `y` for a binary function whose `y` is not a number (a number stays a call kwarg).
    fn keyword_inputs(&self) -> &'static [&'static str] {
        match self.args {
            CallArgs::Binary(None) => &["y"],
            _ => &[],
        }
    }

    fn call_kwargs(&self) -> Map<String, Value> {
        self.kwargs.clone()
    }

    fn set_call_kwargs(&mut self, kwargs: &Map<String, Value>) -> Result<()> {
        self.args = functions::call_args(self.function, kwargs).map_err(|m| self.error(m))?;
        self.kwargs = kwargs.clone();
        Ok(())
    }

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        self.shape_of(std::slice::from_ref(input))
    }

    fn output_shape_many(&self, inputs: &[Shape]) -> Result<Shape> {
        self.shape_of(inputs)
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(self, json!({"function": self.function_name}))
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        self.build_many(g, &[x], ctx)
    }

    fn build_many(&self, g: &mut Graph, xs: &[NodeId], _ctx: LayerContext<'_>) -> Result<NodeId> {
        let shapes: Vec<Shape> = xs
            .iter()
            .map(|&x| Shape::new(g.shape(x).dims()[1..].to_vec()))
            .collect();
        let out = self.shape_of(&shapes)?;
        let x = xs[0];
        let batch = g.shape(x).dims()[0];
        let rank = shapes[0].rank() + 1;
        Ok(match (&self.function, &self.args) {
            (TfFunction::Binary(op), CallArgs::Binary(Some(c))) => {
                let c = g.scalar(*c);
                g.binary(*op, x, c)?
            }
            (TfFunction::Binary(op), _) => g.binary(*op, x, xs[1])?,
            (TfFunction::Unary(f), _) => Self::elementwise(g, *f, x)?,
            (TfFunction::Reduce(op), CallArgs::Reduce(axis, keepdims)) => {
                let axes = self.reduced_axes(axis.as_ref(), rank)?;
                g.reduce(*op, x, &axes, *keepdims)?
            }
            (TfFunction::Transpose, CallArgs::Transpose(perm)) => {
                g.add(Op::Transpose(perm.clone()), &[x])?
            }
            (TfFunction::Concat, CallArgs::Concat(axis)) => {
                let axis = self.per_example_axis(*axis, rank)?;
                g.add(Op::Concat { axis }, xs)?
            }
            _ => {
                let mut dims = vec![batch];
                dims.extend(out.dims());
                g.reshape(x, Shape::new(dims))?
            }
        })
    }
}
