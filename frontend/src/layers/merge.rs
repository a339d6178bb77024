//! Keras' merge layers, which combine two or more tensors into one: [`Add`], [`Subtract`],
//! [`Multiply`], [`Average`], [`Maximum`], [`Minimum`] and [`Concatenate`].
//!
//! One generic [`Merge`] layer does the bookkeeping every merge shares (input counts, batch
//! checks, errors, config); a [`MergeKind`] says what it computes. The six elementwise merges
//! are rows of one table: each [`ElementwiseFold`] marker names its Keras class and the IR
//! binary op its inputs are folded with, and a single implementation turns every row into a
//! merge kind. [`ConcatAxis`] is the one kind with state (the axis).
//!
//! Shapes follow Keras 2: elementwise merges broadcast per-example shapes right-aligned, a
//! dimension of 1 stretching to the other's size (`_Merge._compute_elemwise_op_output_shape`);
//! a lower-rank input gets axes of size 1 inserted after the batch axis, as Keras'
//! `expand_dims(x, axis=1)` does. `Concatenate`'s axis counts the batch axis like Keras
//! (`-1` is the last axis, `1` the first per-example axis; the batch axis itself is refused).

use std::fmt::Debug;

use ir::{BinaryOp, Graph, NodeId, Op, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// What a merge layer computes from its inputs.
pub trait MergeKind: Debug + Clone + PartialEq + Default + Send + Sync + 'static {
    /// Keras' class name.
    const CLASS: &'static str;

    /// How many inputs it takes: `Some(n)` for exactly `n`, `None` for two or more.
    const ARITY: Option<usize>;

    /// The per-example output shape for per-example `inputs` (their count already
    /// checked), or why the shapes do not fit.
    fn merged_shape(&self, inputs: &[Shape]) -> std::result::Result<Shape, String>;

    /// Append the merge of the batched `xs` (already checked by
    /// [`MergeKind::merged_shape`] on their per-example shapes).
    fn lower(&self, g: &mut Graph, xs: &[NodeId]) -> ir::error::Result<NodeId>;

    /// The kind's own Keras config fields (an object).
    fn fields(&self) -> Value;

    /// The kind a Keras config describes.
    fn from_config(c: &ConfigReader) -> Result<Self>;
}

/// An elementwise merge: its Keras class and the binary op that folds the inputs left to
/// right (`((x0 op x1) op x2) ...`), optionally divided by the input count.
pub trait ElementwiseFold:
    Debug + Clone + Copy + PartialEq + Default + Send + Sync + 'static
{
    /// Keras' class name.
    const CLASS: &'static str;
    /// `Some(n)` for exactly `n` inputs, `None` for two or more.
    const ARITY: Option<usize>;
    /// The op the inputs are folded with.
    const OP: BinaryOp;
    /// Whether the fold is divided by the number of inputs (the mean).
    const DIVIDE_BY_COUNT: bool;
}

/// Declares the marker types of the elementwise merges: the table from class to fold.
macro_rules! elementwise_folds {
    ($($(#[$doc:meta])* $marker:ident => $class:literal, $arity:expr, $op:ident, $mean:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $marker;

        impl ElementwiseFold for $marker {
            const CLASS: &'static str = $class;
            const ARITY: Option<usize> = $arity;
            const OP: BinaryOp = BinaryOp::$op;
            const DIVIDE_BY_COUNT: bool = $mean;
        }
    )*};
}

elementwise_folds! {
    /// The elementwise sum (`Add`).
    Sum => "Add", None, Add, false;
    /// The first input minus the second (`Subtract`).
    Difference => "Subtract", Some(2), Sub, false;
    /// The elementwise product (`Multiply`).
    Product => "Multiply", None, Mul, false;
    /// The elementwise mean (`Average`).
    Mean => "Average", None, Add, true;
    /// The elementwise maximum (`Maximum`).
    Greatest => "Maximum", None, Max, false;
    /// The elementwise minimum (`Minimum`).
    Least => "Minimum", None, Min, false;
}

impl<F: ElementwiseFold> MergeKind for F {
    const CLASS: &'static str = <F as ElementwiseFold>::CLASS;
    const ARITY: Option<usize> = <F as ElementwiseFold>::ARITY;

    fn merged_shape(&self, inputs: &[Shape]) -> std::result::Result<Shape, String> {
        let mut merged = inputs[0].clone();
        for shape in &inputs[1..] {
            merged = Shape::broadcast(&merged, shape).ok_or_else(|| {
                format!(
                    "inputs cannot be broadcast together: {} (each dimension must be equal or 1)",
                    shapes_text(inputs)
                )
            })?;
        }
        Ok(merged)
    }

    fn lower(&self, g: &mut Graph, xs: &[NodeId]) -> ir::error::Result<NodeId> {
        let rank = xs.iter().map(|&x| g.shape(x).rank()).max().unwrap_or(0);
        let mut aligned = Vec::with_capacity(xs.len());
        for &x in xs {
            aligned.push(expand_after_batch(g, x, rank)?);
        }
        let mut merged = aligned[0];
        for &x in &aligned[1..] {
            merged = g.binary(F::OP, merged, x)?;
        }
        if F::DIVIDE_BY_COUNT {
            let count = g.scalar(xs.len() as f32);
            merged = g.binary(BinaryOp::Div, merged, count)?;
        }
        Ok(merged)
    }

    fn fields(&self) -> Value {
        json!({})
    }

    fn from_config(_c: &ConfigReader) -> Result<Self> {
        Ok(F::default())
    }
}

/// `x` (batched) with axes of size 1 inserted after the batch axis up to `rank`, as Keras
/// aligns inputs of lower rank.
fn expand_after_batch(g: &mut Graph, x: NodeId, rank: usize) -> ir::error::Result<NodeId> {
    let dims = g.shape(x).dims().to_vec();
    if dims.len() >= rank {
        return Ok(x);
    }
    let mut expanded = Vec::with_capacity(rank);
    expanded.extend_from_slice(&dims[..1]);
    expanded.resize(rank - dims.len() + 1, 1);
    expanded.extend_from_slice(&dims[1..]);
    g.reshape(x, Shape::new(expanded))
}

/// `Concatenate`'s axis, counted like Keras over the shape with the batch axis:
/// negative from the end (default `-1`), `0` is the batch axis (refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatAxis {
    axis: i64,
}

impl Default for ConcatAxis {
    fn default() -> Self {
        ConcatAxis { axis: -1 }
    }
}

impl ConcatAxis {
    /// The per-example axis (no batch axis) for per-example inputs of `rank`, or why not.
    fn per_example_axis(self, rank: usize) -> std::result::Result<usize, String> {
        let with_batch = rank as i64 + 1;
        let resolved = if self.axis < 0 {
            self.axis + with_batch
        } else {
            self.axis
        };
        if resolved == 0 {
            return Err(format!(
                "axis {} is the batch axis; Kiln concatenates per-example axes only",
                self.axis
            ));
        }
        if !(1..with_batch).contains(&resolved) {
            return Err(format!(
                "axis {} is out of range for inputs of rank {with_batch} (with the batch axis)",
                self.axis
            ));
        }
        Ok((resolved - 1) as usize)
    }
}

impl MergeKind for ConcatAxis {
    const CLASS: &'static str = "Concatenate";
    const ARITY: Option<usize> = None;

    fn merged_shape(&self, inputs: &[Shape]) -> std::result::Result<Shape, String> {
        let rank = inputs[0].rank();
        if inputs.iter().any(|s| s.rank() != rank) {
            return Err(format!(
                "inputs must have the same rank, got {}",
                shapes_text(inputs)
            ));
        }
        let axis = self.per_example_axis(rank)?;
        let without_axis = |s: &Shape| {
            let mut dims = s.dims().to_vec();
            dims.remove(axis);
            dims
        };
        if inputs
            .iter()
            .any(|s| without_axis(s) != without_axis(&inputs[0]))
        {
            return Err(format!(
                "inputs must match in every axis but the concatenation axis {}, got {}",
                self.axis,
                shapes_text(inputs)
            ));
        }
        let mut dims = inputs[0].dims().to_vec();
        dims[axis] = inputs.iter().map(|s| s.dims()[axis]).sum();
        Ok(Shape::new(dims))
    }

    fn lower(&self, g: &mut Graph, xs: &[NodeId]) -> ir::error::Result<NodeId> {
        let rank = g.shape(xs[0]).rank().saturating_sub(1);
        let axis = self
            .per_example_axis(rank)
            .map_err(|msg| ir::IrError::Verify {
                node: xs[0].to_string(),
                msg,
            })?;
        g.add(Op::Concat { axis: axis + 1 }, xs)
    }

    fn fields(&self) -> Value {
        json!({ "axis": self.axis })
    }

    fn from_config(c: &ConfigReader) -> Result<Self> {
        let axis = match c.get("axis") {
            None => -1,
            Some(value) => value
                .as_i64()
                .ok_or_else(|| c.error("axis", format!("expected an integer, got {value}")))?,
        };
        Ok(ConcatAxis { axis })
    }
}

/// A merge layer: takes several tensors, gives one, has no parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Merge<K: MergeKind> {
    kind: K,
    name: Option<String>,
}

/// Keras' `Add`: the elementwise sum of two or more inputs.
pub type Add = Merge<Sum>;
/// Keras' `Subtract`: the first of exactly two inputs minus the second.
pub type Subtract = Merge<Difference>;
/// Keras' `Multiply`: the elementwise product of two or more inputs.
pub type Multiply = Merge<Product>;
/// Keras' `Average`: the elementwise mean of two or more inputs.
pub type Average = Merge<Mean>;
/// Keras' `Maximum`: the elementwise maximum of two or more inputs.
pub type Maximum = Merge<Greatest>;
/// Keras' `Minimum`: the elementwise minimum of two or more inputs.
pub type Minimum = Merge<Least>;
/// Keras' `Concatenate`: joins two or more inputs along an axis (default `-1`).
pub type Concatenate = Merge<ConcatAxis>;

impl<K: MergeKind> Merge<K> {
    /// The merge with Keras' defaults.
    pub fn new() -> Self {
        Merge::default()
    }

    named_builder!();

    /// The merge computing `kind` (for kinds with options, such as `Dot`'s axes).
    pub(crate) fn with_kind(kind: K) -> Self {
        Merge { kind, name: None }
    }

    /// The kind, to change its options.
    pub(crate) fn kind_mut(&mut self) -> &mut K {
        &mut self.kind
    }

    /// The layer a Keras config of its class describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(Merge {
            kind: K::from_config(c)?,
            name: Some(c.name().to_string()),
        })
    }

    /// Fails unless `count` inputs suit this layer.
    fn check_count(&self, count: usize) -> Result<()> {
        match K::ARITY {
            Some(n) if count != n => Err(layer_error(
                self,
                format!("takes exactly {n} inputs, got {count}"),
            )),
            None if count < 2 => Err(layer_error(
                self,
                format!("takes at least 2 inputs, got {count}"),
            )),
            _ => Ok(()),
        }
    }

    /// The error of the single-input methods.
    fn needs_several_inputs(&self) -> crate::error::Error {
        let how_many = match K::ARITY {
            Some(n) => format!("exactly {n}"),
            None => "at least 2".to_string(),
        };
        layer_error(
            self,
            format!("is a merge layer and needs {how_many} inputs, not one"),
        )
    }
}

impl Concatenate {
    /// Concatenate along `axis`, counted like Keras with the batch axis (`-1` is the last;
    /// the batch axis `0` is refused when the layer is used).
    pub fn with_axis(axis: i64) -> Self {
        Merge {
            kind: ConcatAxis { axis },
            name: None,
        }
    }

    /// The axis as given (Keras' counting).
    pub fn axis(&self) -> i64 {
        self.kind.axis
    }
}

/// `(None, 3), (None, 4)`: the shapes of several inputs as Keras prints them.
fn shapes_text(inputs: &[Shape]) -> String {
    inputs
        .iter()
        .map(keras_shape)
        .collect::<Vec<_>>()
        .join(", ")
}

impl<K: MergeKind> Layer for Merge<K> {
    fn class_name(&self) -> &'static str {
        K::CLASS
    }

    name_methods!();

    fn output_shape(&self, _input: &Shape) -> Result<Shape> {
        Err(self.needs_several_inputs())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn build(&self, _g: &mut Graph, _x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        Err(self.needs_several_inputs())
    }

    fn arity(&self) -> Option<usize> {
        K::ARITY
    }

    fn output_shape_many(&self, inputs: &[Shape]) -> Result<Shape> {
        self.check_count(inputs.len())?;
        self.kind
            .merged_shape(inputs)
            .map_err(|msg| layer_error(self, msg))
    }

    fn params_many(&self, _inputs: &[Shape]) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn build_many(&self, g: &mut Graph, xs: &[NodeId], _ctx: LayerContext<'_>) -> Result<NodeId> {
        self.check_count(xs.len())?;
        let mut batch = None;
        let mut per_example = Vec::with_capacity(xs.len());
        for &x in xs {
            let dims = g.shape(x).dims();
            let Some((&n, rest)) = dims.split_first() else {
                return Err(layer_error(self, format!("input {x} has no batch axis")));
            };
            if batch.is_some_and(|b| b != n) {
                return Err(layer_error(
                    self,
                    format!(
                        "inputs have different batch sizes: {}",
                        xs.iter()
                            .map(|&x| g.shape(x).to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            batch = Some(n);
            per_example.push(Shape::from(rest));
        }
        self.output_shape_many(&per_example)?;
        Ok(self.kind.lower(g, xs)?)
    }

    fn config(&self) -> Value {
        layer_config(self, self.kind.fields())
    }
}
