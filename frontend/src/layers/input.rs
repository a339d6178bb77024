//! The `Input` layer: declares the per-example shape a model takes.

use ir::{Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::config::read_usize;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_error};

/// The model's input: a per-example shape, e.g. `Input::new([28, 28, 1])` for MNIST images.
/// It has no parameters and passes its input through.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    shape: Shape,
    name: Option<String>,
}

impl Input {
    /// An input of per-example `shape`.
    pub fn new(shape: impl Into<Shape>) -> Self {
        Input {
            shape: shape.into(),
            name: None,
        }
    }

    named_builder!();

    /// The input a Keras `InputLayer` config describes: `batch_input_shape` (Keras 3:
    /// `batch_shape`) is `[null, d1, d2, ...]`, every per-example axis a known size.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        for field in ["sparse", "ragged"] {
            if c.bool_or(field, false)? {
                return Err(c.error(field, "sparse and ragged inputs are not supported"));
            }
        }
        let field = if c.get("batch_input_shape").is_some() {
            "batch_input_shape"
        } else {
            "batch_shape"
        };
        let dims = c
            .get(field)
            .and_then(Value::as_array)
            .ok_or_else(|| c.error(field, "is required: a list [null, d1, d2, ...]"))?;
        let dims = dims
            .iter()
            .skip(1)
            .map(|d| {
                read_usize(d).map_err(|msg| {
                    c.error(
                        field,
                        format!("every axis after the batch must have a size: {msg}"),
                    )
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        if dims.is_empty() {
            return Err(c.error(field, "needs at least one axis after the batch axis"));
        }
        ir::size::checked_numel(&dims).map_err(|e| c.error(field, e.to_string()))?;
        Ok(Input::new(Shape::new(dims)).named(c.name()))
    }
}

impl Layer for Input {
    fn class_name(&self) -> &'static str {
        "InputLayer"
    }

    name_methods!();

    fn name_prefix(&self) -> String {
        "input".into()
    }

    fn input_shape(&self) -> Option<&Shape> {
        Some(&self.shape)
    }

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if input != &self.shape {
            return Err(layer_error(
                self,
                format!("declared shape {} but fed {}", self.shape, input),
            ));
        }
        let count = self
            .shape
            .checked_numel()
            .map_err(|e| layer_error(self, e.to_string()))?;
        if count == 0 {
            return Err(layer_error(
                self,
                format!("shape {} has no elements", self.shape),
            ));
        }
        Ok(self.shape.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        let mut batch_input_shape = vec![Value::Null];
        batch_input_shape.extend(self.shape.dims().iter().map(|&d| json!(d)));
        json!({
            "batch_input_shape": batch_input_shape,
            "dtype": "float32",
            "sparse": false,
            "ragged": false,
            "name": self.name.as_deref().unwrap_or_default(),
        })
    }

    fn build(&self, _g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        Ok(x)
    }
}
