//! The `Activation` layer: applies an [`Activation`] elementwise (softmax: over the last axis).

use ir::{Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::activations::Activation;
use crate::activations::activation_json;
use crate::error::Result;
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};

/// Keras' `Activation` layer, e.g. `ActivationLayer::new(Activation::Softmax)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationLayer {
    activation: Activation,
    name: Option<String>,
}

impl ActivationLayer {
    /// A layer applying `activation`.
    pub fn new(activation: Activation) -> Self {
        ActivationLayer {
            activation,
            name: None,
        }
    }

    /// The same layer with an explicit name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The activation applied.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The layer a Keras `Activation` config describes (`activation` is required).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        if c.get("activation").is_none() {
            return Err(c.error("activation", "is required"));
        }
        Ok(
            ActivationLayer::new(c.activation_or("activation", Activation::Linear)?)
                .named(c.name()),
        )
    }
}

impl Layer for ActivationLayer {
    fn class_name(&self) -> &'static str {
        "Activation"
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let over_last_axis = matches!(
            self.activation,
            Activation::Softmax | Activation::LogSoftmax
        );
        if over_last_axis && input.rank() == 0 {
            return Err(layer_error(
                self,
                format!(
                    "{} needs an axis per example, got a scalar",
                    self.activation
                ),
            ));
        }
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"activation": activation_json(self.activation)}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        self.activation.build(g, x)
    }
}
