//! The `RepeatVector` layer: each example's vector repeated `n` times along a new axis 1
//! (`(None, f)` → `(None, n, f)`), as a reshape and a broadcast.

use ir::{Graph, NodeId, Op, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// Repeats a 1-D input `n` times: `RepeatVector::new(3)` on `(None, 5)` gives `(None, 3, 5)`.
///
/// ```
/// use kiln::layers::{Layer, RepeatVector};
/// assert_eq!(RepeatVector::new(3).output_shape(&[5].into()).unwrap(), [3, 5].into());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatVector {
    n: usize,
    name: Option<String>,
}

impl RepeatVector {
    /// Repeat `n` times.
    pub fn new(n: usize) -> Self {
        RepeatVector { n, name: None }
    }

    named_builder!();

    /// The layer a Keras `RepeatVector` config describes (`n`).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        Ok(RepeatVector {
            n: c.usize("n")?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for RepeatVector {
    fn class_name(&self) -> &'static str {
        "RepeatVector"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if self.n == 0 {
            return Err(layer_error(self, "n must be at least 1"));
        }
        match *input.dims() {
            [features] => Ok(Shape::from([self.n, features])),
            _ => Err(layer_error(
                self,
                format!(
                    "expects a 1-D input per example, got {}",
                    keras_shape(input)
                ),
            )),
        }
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let [batch, features] = *g.shape(x).dims() else {
            return Err(layer_error(self, "expects a batch of vectors"));
        };
        let column = g.reshape(x, [batch, 1, features])?;
        Ok(g.add(
            Op::Broadcast(Shape::from([batch, self.n, features])),
            &[column],
        )?)
    }

    fn config(&self) -> Value {
        layer_config(self, json!({"n": self.n}))
    }
}
