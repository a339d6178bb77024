//! The small layers `keras.applications` define for their own models, under the class names
//! their configs carry: `CustomScaleLayer` (InceptionResNetV2's residual `x + y · scale`,
//! written `Custom>CustomScaleLayer`) and `LayerScale` (ConvNeXt's learned per-channel
//! `x · γ`). It does NOT hold the applications' builders (`kiln::applications`).

use ir::{BinaryOp, Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::config_json::f32_json;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// InceptionResNetV2's `CustomScaleLayer(scale)` called on `[x, y]`: `x + y · scale`, the
/// two inputs of one shape. No parameters.
///
/// ```
/// use kiln::layers::{CustomScaleLayer, Layer};
/// let layer = CustomScaleLayer::new(0.17);
/// assert_eq!(layer.output_shape_many(&[[4, 8].into(), [4, 8].into()]).unwrap(), [4, 8].into());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CustomScaleLayer {
    scale: f32,
    name: Option<String>,
}

impl CustomScaleLayer {
    /// `x + y · scale`.
    pub fn new(scale: f32) -> Self {
        CustomScaleLayer { scale, name: None }
    }

    named_builder!();

    /// The layer a Keras `CustomScaleLayer` config describes (`scale` required).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        if c.get("scale").is_none() {
            return Err(c.error("scale", "is required"));
        }
        Ok(CustomScaleLayer {
            scale: c.f32_or("scale", 1.0)?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for CustomScaleLayer {
    fn class_name(&self) -> &'static str {
        "Custom>CustomScaleLayer"
    }

    fn name_prefix(&self) -> String {
        "custom_scale_layer".into()
    }

    name_methods!();

    fn arity(&self) -> Option<usize> {
        Some(2)
    }

    fn output_shape(&self, _input: &Shape) -> Result<Shape> {
        Err(layer_error(self, "takes two inputs [x, y], got one"))
    }

    fn output_shape_many(&self, inputs: &[Shape]) -> Result<Shape> {
        match inputs {
            [x, y] if x == y => Ok(x.clone()),
            [x, y] => Err(layer_error(
                self,
                format!(
                    "its inputs must have one shape, got {} and {}",
                    keras_shape(x),
                    keras_shape(y)
                ),
            )),
            _ => Err(layer_error(
                self,
                format!("takes two inputs [x, y], got {}", inputs.len()),
            )),
        }
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(self, json!({"scale": f32_json(self.scale)}))
    }

    fn build(&self, _g: &mut Graph, _x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        Err(layer_error(self, "takes two inputs [x, y], got one"))
    }

    fn build_many(&self, g: &mut Graph, xs: &[NodeId], _ctx: LayerContext<'_>) -> Result<NodeId> {
        let [x, y] = xs else {
            return Err(layer_error(
                self,
                format!("takes two inputs [x, y], got {}", xs.len()),
            ));
        };
        let scale = g.scalar(self.scale);
        let scaled = g.binary(BinaryOp::Mul, *y, scale)?;
        Ok(g.binary(BinaryOp::Add, *x, scaled)?)
    }
}

/// ConvNeXt's `LayerScale(init_values, projection_dim)`: `x · γ` with a learned `γ` of shape
/// `(projection_dim,)` over the last axis, initialised to `init_values`.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::prelude::*;
/// use kiln::layers::LayerScale;
/// let model = Sequential::of([Input::new([3, 8]).into(), LayerScale::new(1e-6, 8).into()]);
/// assert_eq!(model.count_params()?, 8);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LayerScale {
    init_values: f32,
    projection_dim: usize,
    name: Option<String>,
}

impl LayerScale {
    /// `x · γ`, `γ` of `projection_dim` values starting at `init_values`.
    pub fn new(init_values: f32, projection_dim: usize) -> Self {
        LayerScale {
            init_values,
            projection_dim,
            name: None,
        }
    }

    named_builder!();

    /// The layer a Keras `LayerScale` config describes (both fields required).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        if c.get("init_values").is_none() {
            return Err(c.error("init_values", "is required"));
        }
        Ok(LayerScale {
            init_values: c.f32_or("init_values", 0.0)?,
            projection_dim: c.usize("projection_dim")?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for LayerScale {
    fn class_name(&self) -> &'static str {
        "LayerScale"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        match input.dims().last() {
            Some(&d) if d == self.projection_dim => Ok(input.clone()),
            _ => Err(layer_error(
                self,
                format!(
                    "projection_dim {} must be the last axis of the input {}",
                    self.projection_dim,
                    keras_shape(input)
                ),
            )),
        }
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        vec![ParamSpec {
            name: "gamma",
            shape: Shape::from([self.projection_dim]),
            initializer: Initializer::Constant(self.init_values),
            trainable: true,
            regularizer: None,
        }]
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"init_values": f32_json(self.init_values), "projection_dim": self.projection_dim}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let [gamma] = ctx.params else {
            return Err(layer_error(
                self,
                format!("given {} parameter nodes, needs 1", ctx.params.len()),
            ));
        };
        Ok(g.binary(BinaryOp::Mul, x, *gamma)?)
    }
}
