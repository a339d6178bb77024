//! Keras' `Dot` merge layer: the dot product of two inputs along one axis of each, per
//! example (Keras' `batch_dot`), optionally of their l2-normalised values (cosine
//! similarity). A [`MergeKind`] of the generic [`Merge`] layer, which does the input-count
//! and batch checks and the config's common fields.
//!
//! Inputs of rank 2 or 3 with the batch axis (per-example rank 1 or 2). `axes` counts the
//! batch axis like Keras: an integer for both inputs or a pair, negative from the end; the
//! batch axis is refused. The output is the first input's other axes followed by the
//! second's (`(None, 1)` when neither has one). Lowered to one batched matrix product.
//! It does NOT take inputs of higher rank.

use ir::{BinaryOp, Graph, NodeId, ReduceOp, Shape, UnaryOp};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::merge::{Merge, MergeKind};
use crate::layers::{ConfigReader, keras_shape};

/// `tf.linalg.l2_normalize`'s floor under the squared norm.
const L2_EPSILON: f32 = 1e-12;

/// What `Dot` computes: its `axes` (one for both inputs, or one each) and whether it
/// normalises first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DotAxes {
    axes: [i64; 2],
    /// Whether `axes` was given as a pair (written back the same way).
    pair: bool,
    normalize: bool,
}

impl Default for DotAxes {
    fn default() -> Self {
        DotAxes {
            axes: [-1, -1],
            pair: false,
            normalize: false,
        }
    }
}

/// Keras' `Dot(axes, normalize=False)`: the per-example dot product of two inputs.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::prelude::*;
/// use kiln::layers::Dot;
/// let mut f = Functional::builder("scores");
/// let a = f.input(Input::new([5, 4]));
/// let b = f.input(Input::new([7, 4]));
/// let s = f.apply_many(Dot::with_axis(2), &[a, b])?;
/// assert_eq!(f.shape(s)?.dims(), [5, 7]);
/// # Ok(())
/// # }
/// ```
pub type Dot = Merge<DotAxes>;

impl Dot {
    /// The dot product along `axis` of both inputs (counting the batch axis, like Keras;
    /// negative from the end). [`Merge::new`] gives Keras' `axes=-1`.
    pub fn with_axis(axis: i64) -> Self {
        Merge::with_kind(DotAxes {
            axes: [axis, axis],
            pair: false,
            normalize: false,
        })
    }

    /// The dot product along axis `first` of the first input and `second` of the second.
    pub fn with_axes(first: i64, second: i64) -> Self {
        Merge::with_kind(DotAxes {
            axes: [first, second],
            pair: true,
            normalize: false,
        })
    }

    /// Whether to l2-normalise both inputs along their axes first (cosine similarity).
    pub fn normalize(mut self, normalize: bool) -> Self {
        self.kind_mut().normalize = normalize;
        self
    }
}

impl DotAxes {
    /// The per-example axis (batch axis excluded) of input `k` of per-example `rank`.
    fn axis(&self, k: usize, rank: usize) -> std::result::Result<usize, String> {
        let given = self.axes[k];
        let with_batch = rank as i64 + 1;
        let resolved = if given < 0 {
            given.rem_euclid(with_batch)
        } else {
            given
        };
        if resolved == 0 {
            return Err(format!(
                "axes {given} is the batch axis of input {k}; Dot contracts per-example axes"
            ));
        }
        if resolved >= with_batch {
            return Err(format!(
                "axes {given} is out of range for input {k} of rank {with_batch}"
            ));
        }
        Ok(resolved as usize - 1)
    }

    /// `x` l2-normalised along the batched axis `axis`.
    fn l2_normalize(g: &mut Graph, x: NodeId, axis: usize) -> ir::error::Result<NodeId> {
        let squared = g.unary(UnaryOp::Square, x)?;
        let sum = g.reduce(ReduceOp::Sum, squared, &[axis], true)?;
        let floor = g.scalar(L2_EPSILON);
        let sum = g.binary(BinaryOp::Max, sum, floor)?;
        let inv = g.unary(UnaryOp::Rsqrt, sum)?;
        g.binary(BinaryOp::Mul, x, inv)
    }
}

impl MergeKind for DotAxes {
    const CLASS: &'static str = "Dot";
    const ARITY: Option<usize> = Some(2);

    fn merged_shape(&self, inputs: &[Shape]) -> std::result::Result<Shape, String> {
        let mut dims = Vec::new();
        let mut sizes = [0; 2];
        for (k, shape) in inputs.iter().enumerate() {
            if !(1..=2).contains(&shape.rank()) {
                return Err(format!(
                    "takes inputs of rank 2 or 3 (with the batch axis), input {k} is {}",
                    keras_shape(shape)
                ));
            }
            let axis = self.axis(k, shape.rank())?;
            sizes[k] = shape.dims()[axis];
            dims.extend(
                shape
                    .dims()
                    .iter()
                    .enumerate()
                    .filter(|&(a, _)| a != axis)
                    .map(|(_, &d)| d),
            );
        }
        if sizes[0] != sizes[1] {
            return Err(format!(
                "the dot product axes differ in size: {} and {} (inputs {}, {})",
                sizes[0],
                sizes[1],
                keras_shape(&inputs[0]),
                keras_shape(&inputs[1])
            ));
        }
        if dims.is_empty() {
            dims.push(1);
        }
        Ok(Shape::new(dims))
    }

    fn lower(&self, g: &mut Graph, xs: &[NodeId]) -> ir::error::Result<NodeId> {
        let verify = |msg: String| ir::IrError::Verify {
            node: xs[0].to_string(),
            msg,
        };
        let mut operands = [xs[0], xs[1]];
        let mut transposed = [false; 2];
        let mut out = vec![g.shape(xs[0]).dims()[0]];
        for k in 0..2 {
            let dims = g.shape(xs[k]).dims().to_vec();
            let axis = self.axis(k, dims.len() - 1).map_err(verify)?;
            if self.normalize {
                operands[k] = Self::l2_normalize(g, operands[k], axis + 1)?;
            }
            out.extend(
                dims[1..]
                    .iter()
                    .enumerate()
                    .filter(|&(a, _)| a != axis)
                    .map(|(_, &d)| d),
            );
            if dims.len() == 2 {
                // A vector: a row of the first operand, a column of the second.
                let shape = if k == 0 {
                    [dims[0], 1, dims[1]]
                } else {
                    [dims[0], dims[1], 1]
                };
                operands[k] = g.reshape(operands[k], shape)?;
            } else {
                // The first operand contracts its last axis, the second its first.
                transposed[k] = (k == 0) == (axis == 0);
            }
        }
        if out.len() == 1 {
            out.push(1);
        }
        let product = g.matmul(operands[0], operands[1], transposed[0], transposed[1])?;
        g.reshape(product, Shape::new(out))
    }

    fn fields(&self) -> Value {
        let axes = if self.pair {
            json!(self.axes)
        } else {
            json!(self.axes[0])
        };
        json!({ "axes": axes, "normalize": self.normalize })
    }

    fn from_config(c: &ConfigReader) -> Result<Self> {
        let int = |v: &Value| {
            v.as_i64()
                .ok_or_else(|| c.error("axes", format!("expected integers, got {v}")))
        };
        let (axes, pair) = match c.get("axes") {
            None => return Err(c.error("axes", "is required")),
            Some(Value::Array(items)) if items.len() == 2 => {
                ([int(&items[0])?, int(&items[1])?], true)
            }
            Some(Value::Array(items)) => {
                return Err(c.error(
                    "axes",
                    format!("expected an integer or two, got {} values", items.len()),
                ));
            }
            Some(v) => {
                let axis = int(v)?;
                ([axis, axis], false)
            }
        };
        Ok(DotAxes {
            axes,
            pair,
            normalize: c.bool_or("normalize", false)?,
        })
    }
}
