//! The `Permute` layer: reorders the per-example axes (Keras' 1-based `dims`, the batch axis
//! stays first) as one transpose.

use ir::{Graph, NodeId, Op, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// Permutes the axes of each example: `Permute::new([2, 1])` on `(None, 10, 12)` gives
/// `(None, 12, 10)`. `dims` are 1-based, as in Keras (axis 0 is the batch).
///
/// ```
/// use kiln::layers::{Layer, Permute};
/// assert_eq!(Permute::new([2, 1]).output_shape(&[10, 12].into()).unwrap(), [12, 10].into());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Permute {
    dims: Vec<usize>,
    name: Option<String>,
}

impl Permute {
    /// A permutation of the per-example axes, 1-based (`[2, 1]` swaps the two axes).
    pub fn new(dims: impl IntoIterator<Item = usize>) -> Self {
        Permute {
            dims: dims.into_iter().collect(),
            name: None,
        }
    }

    named_builder!();

    /// The layer a Keras `Permute` config describes (`dims`: a list of 1-based axes).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let dims = c
            .get("dims")
            .and_then(Value::as_array)
            .and_then(|items| {
                items
                    .iter()
                    .map(|v| v.as_u64().map(|d| d as usize))
                    .collect()
            })
            .ok_or_else(|| c.error("dims", "must be a list of positive integers"))?;
        Ok(Permute {
            dims,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for Permute {
    fn class_name(&self) -> &'static str {
        "Permute"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let rank = input.rank();
        let mut seen = vec![false; rank];
        let valid = self.dims.len() == rank
            && self
                .dims
                .iter()
                .all(|&d| (1..=rank).contains(&d) && !std::mem::replace(&mut seen[d - 1], true));
        if !valid {
            return Err(layer_error(
                self,
                format!(
                    "dims {:?} must be a permutation of 1..={rank} for input {}",
                    self.dims,
                    keras_shape(input)
                ),
            ));
        }
        Ok(Shape::new(
            self.dims
                .iter()
                .map(|&d| input.dims()[d - 1])
                .collect::<Vec<_>>(),
        ))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let mut perm = vec![0];
        perm.extend(self.dims.iter().copied());
        if perm.len() != g.shape(x).rank() {
            return Err(layer_error(self, "dims do not match the input's rank"));
        }
        Ok(g.add(Op::Transpose(perm), &[x])?)
    }

    fn config(&self) -> Value {
        layer_config(self, json!({"dims": self.dims}))
    }
}
