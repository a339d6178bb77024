//! The `Input` layer: declares the per-example shape a model takes.

use ir::{Graph, NodeId, Shape};

use crate::error::Result;
use crate::layers::{Layer, LayerContext, ParamSpec, layer_error};

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

    /// The same input with an explicit name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl Layer for Input {
    fn class_name(&self) -> &'static str {
        "InputLayer"
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }

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
        if self.shape.numel() == 0 {
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

    fn build(&self, _g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        Ok(x)
    }
}
