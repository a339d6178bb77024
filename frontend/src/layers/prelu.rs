//! The `PReLU` layer: a leaky ReLU whose negative slope `alpha` is a trained parameter, one
//! per element of the per-example shape (or shared along Keras' `shared_axes`). It does not
//! own the fixed-slope `LeakyReLU` (see `activation_kinds.rs`).

use ir::{BinaryOp, Graph, NodeId, Shape, UnaryOp};
use serde_json::{Value, json};

use crate::error::Result;
use crate::initializers::{Initializer, initializer_json};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};
use crate::regularizers::{Regularizer, regularizer_json};

/// Keras' parametric ReLU: `relu(x) - alpha · relu(-x)`, with `alpha` of the per-example
/// input shape, size 1 along each of `shared_axes` (1-based, as in Keras: axis 1 is the first
/// axis after the batch). Defaults: `zeros` initializer, no regularizer, nothing shared.
///
/// ```
/// use kiln::layers::{Layer, PReLU};
/// use kiln::Shape;
/// let prelu = PReLU::new().shared_axes([1, 2]);
/// assert_eq!(prelu.params(&Shape::from([4, 4, 3]))[0].shape, Shape::from([1, 1, 3]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PReLU {
    alpha_initializer: Initializer,
    alpha_regularizer: Option<Regularizer>,
    shared_axes: Vec<usize>,
    name: Option<String>,
}

impl Default for PReLU {
    fn default() -> Self {
        PReLU::new()
    }
}

impl PReLU {
    /// A PReLU with Keras' defaults.
    pub fn new() -> Self {
        PReLU {
            alpha_initializer: Initializer::Zeros,
            alpha_regularizer: None,
            shared_axes: Vec::new(),
            name: None,
        }
    }

    /// Set how `alpha` is filled (default `zeros`).
    pub fn alpha_initializer(mut self, initializer: Initializer) -> Self {
        self.alpha_initializer = initializer;
        self
    }

    /// Penalise `alpha` (default none).
    pub fn alpha_regularizer(mut self, regularizer: Regularizer) -> Self {
        self.alpha_regularizer = Some(regularizer);
        self
    }

    /// Share `alpha` along these axes (1-based, batch excluded; default none).
    pub fn shared_axes(mut self, axes: impl IntoIterator<Item = usize>) -> Self {
        self.shared_axes = axes.into_iter().collect();
        self
    }

    named_builder!();

    /// The layer a Keras `PReLU` config describes (`shared_axes`: null, an int or a list).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&["alpha_constraint"])?;
        let shared_axes = match c.get("shared_axes") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_u64().map(|a| a as usize).ok_or_else(|| {
                        c.error("shared_axes", format!("expected integers, got {v}"))
                    })
                })
                .collect::<Result<_>>()?,
            Some(_) => vec![c.usize("shared_axes")?],
        };
        Ok(PReLU {
            alpha_initializer: c.initializer_or("alpha_initializer", Initializer::Zeros)?,
            alpha_regularizer: c.regularizer("alpha_regularizer")?,
            shared_axes,
            name: Some(c.name().to_string()),
        })
    }

    /// The shape of `alpha` for a per-example `input` shape.
    fn alpha_shape(&self, input: &Shape) -> Shape {
        let mut dims = input.dims().to_vec();
        for &a in &self.shared_axes {
            if let Some(d) = a.checked_sub(1).and_then(|i| dims.get_mut(i)) {
                *d = 1;
            }
        }
        Shape::from(dims.as_slice())
    }
}

impl Layer for PReLU {
    fn class_name(&self) -> &'static str {
        "PReLU"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if let Some(bad) = self
            .shared_axes
            .iter()
            .find(|&&a| a == 0 || a > input.rank())
        {
            return Err(layer_error(
                self,
                format!(
                    "shared_axes entry {bad} is not an axis of the input {} (1 to {})",
                    keras_shape(input),
                    input.rank()
                ),
            ));
        }
        Ok(input.clone())
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        vec![ParamSpec {
            name: "alpha",
            shape: self.alpha_shape(input),
            initializer: self.alpha_initializer,
            trainable: true,
            regularizer: self.alpha_regularizer,
        }]
    }

    fn config(&self) -> Value {
        let shared = if self.shared_axes.is_empty() {
            Value::Null
        } else {
            json!(self.shared_axes)
        };
        layer_config(
            self,
            json!({
                "alpha_initializer": initializer_json(self.alpha_initializer),
                "alpha_regularizer": regularizer_json(self.alpha_regularizer),
                "alpha_constraint": null,
                "shared_axes": shared,
            }),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let [alpha] = ctx.params else {
            return Err(layer_error(
                self,
                format!("given {} parameter nodes, needs 1", ctx.params.len()),
            ));
        };
        let positive = g.unary(UnaryOp::Relu, x)?;
        let flipped = g.unary(UnaryOp::Neg, x)?;
        let negative = g.unary(UnaryOp::Relu, flipped)?;
        let scaled = g.binary(BinaryOp::Mul, *alpha, negative)?;
        Ok(g.binary(BinaryOp::Sub, positive, scaled)?)
    }
}
