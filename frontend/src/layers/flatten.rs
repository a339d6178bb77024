//! The `Flatten` layer: one axis per example (a reshape).

use ir::{Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};

/// Flattens each example to one axis: `(None, 28, 28, 1)` → `(None, 784)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flatten {
    name: Option<String>,
}

impl Flatten {
    /// A flatten layer.
    pub fn new() -> Self {
        Flatten::default()
    }

    named_builder!();

    /// The layer a Keras `Flatten` config describes (`data_format` must be `channels_last`).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        Ok(Flatten::new().named(c.name()))
    }
}

impl Layer for Flatten {
    fn class_name(&self) -> &'static str {
        "Flatten"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if input.rank() == 0 {
            return Err(layer_error(
                self,
                "needs at least a 1-D input per example, got a scalar",
            ));
        }
        Ok(Shape::from([input.numel()]))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(self, json!({"data_format": "channels_last"}))
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let dims = g.shape(x).dims().to_vec();
        let batch = dims
            .first()
            .copied()
            .ok_or_else(|| layer_error(self, "input has no batch axis"))?;
        let per_example: usize = dims[1..].iter().product();
        Ok(g.reshape(x, [batch, per_example])?)
    }
}
