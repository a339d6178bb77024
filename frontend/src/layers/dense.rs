//! The `Dense` layer: `activation(x · kernel + bias)`.

use ir::{BinaryOp, Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::activations::Activation;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};
use crate::regularizers::Regularizer;
use crate::saving::keras_objects::{activation_json, initializer_json, regularizer_json};

/// A fully connected layer with Keras' defaults: linear activation, bias on,
/// `glorot_uniform` kernel, `zeros` bias, no regularizers. Its input must be 1-D per example
/// (put a [`crate::layers::Flatten`] before it for images).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    units: usize,
    activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    bias_regularizer: Option<Regularizer>,
    name: Option<String>,
}

impl Dense {
    /// A dense layer of `units` outputs with Keras' defaults.
    pub fn new(units: usize) -> Self {
        Dense {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            name: None,
        }
    }

    /// Set the activation (default linear).
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether to add a bias (default true).
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// Set the kernel initializer (default `glorot_uniform`).
    pub fn kernel_initializer(mut self, initializer: Initializer) -> Self {
        self.kernel_initializer = initializer;
        self
    }

    /// Set the bias initializer (default `zeros`).
    pub fn bias_initializer(mut self, initializer: Initializer) -> Self {
        self.bias_initializer = initializer;
        self
    }

    /// Penalise the kernel (default none).
    pub fn kernel_regularizer(mut self, regularizer: Regularizer) -> Self {
        self.kernel_regularizer = Some(regularizer);
        self
    }

    /// Penalise the bias (default none).
    pub fn bias_regularizer(mut self, regularizer: Regularizer) -> Self {
        self.bias_regularizer = Some(regularizer);
        self
    }

    /// The same layer with an explicit name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Number of output units.
    pub fn units(&self) -> usize {
        self.units
    }

    /// The layer a Keras `Dense` config describes (Keras' defaults for missing fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&[
            "activity_regularizer",
            "kernel_constraint",
            "bias_constraint",
        ])?;
        Ok(Dense {
            units: c.usize("units")?,
            activation: c.activation_or("activation", Activation::Linear)?,
            use_bias: c.bool_or("use_bias", true)?,
            kernel_initializer: c
                .initializer_or("kernel_initializer", Initializer::GlorotUniform)?,
            bias_initializer: c.initializer_or("bias_initializer", Initializer::Zeros)?,
            kernel_regularizer: c.regularizer("kernel_regularizer")?,
            bias_regularizer: c.regularizer("bias_regularizer")?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for Dense {
    fn class_name(&self) -> &'static str {
        "Dense"
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if self.units == 0 {
            return Err(layer_error(self, "units must be at least 1"));
        }
        if input.rank() != 1 {
            return Err(layer_error(
                self,
                format!(
                    "expects a 1-D input per example, got {} (add a Flatten layer before it)",
                    keras_shape(input)
                ),
            ));
        }
        Ok(Shape::from([self.units]))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let mut params = vec![ParamSpec {
            name: "kernel",
            shape: Shape::from([input.numel(), self.units]),
            initializer: self.kernel_initializer,
            trainable: true,
            regularizer: self.kernel_regularizer,
        }];
        if self.use_bias {
            params.push(ParamSpec {
                name: "bias",
                shape: Shape::from([self.units]),
                initializer: self.bias_initializer,
                trainable: true,
                regularizer: self.bias_regularizer,
            });
        }
        params
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({
                "units": self.units,
                "activation": activation_json(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializer_json(self.kernel_initializer),
                "bias_initializer": initializer_json(self.bias_initializer),
                "kernel_regularizer": regularizer_json(self.kernel_regularizer),
                "bias_regularizer": regularizer_json(self.bias_regularizer),
                "activity_regularizer": null,
                "kernel_constraint": null,
                "bias_constraint": null,
            }),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let expected = if self.use_bias { 2 } else { 1 };
        if ctx.params.len() != expected {
            return Err(layer_error(
                self,
                format!(
                    "given {} parameter nodes, needs {expected}",
                    ctx.params.len()
                ),
            ));
        }
        let mut y = g.matmul(x, ctx.params[0], false, false)?;
        if self.use_bias {
            y = g.binary(BinaryOp::Add, y, ctx.params[1])?;
        }
        self.activation.build(g, y)
    }
}
