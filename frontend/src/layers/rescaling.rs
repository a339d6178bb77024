//! The `Rescaling` layer: `y = x · scale + offset`, elementwise, with Keras' scalar `scale`
//! and `offset` (the preprocessing step of MobileNetV3, EfficientNet, RegNet: `1/255` or
//! `1/127.5, -1`). No parameters; training and inference compute the same thing.
//!
//! It does NOT take per-channel lists for `scale`/`offset` (a config with one is an error
//! naming the field).

use ir::{BinaryOp, Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::config_json::f32_json;
use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config};

/// Keras' `Rescaling(scale, offset=0.0)`: multiplies by `scale`, then adds `offset`.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::prelude::*;
/// use kiln::layers::Rescaling;
/// let model = Sequential::of([Input::new([2]).into(), Rescaling::new(0.5).offset(-1.0).into()]);
/// let y = model.predict(&kiln::Tensor::new([1, 2], vec![2.0, 4.0]).unwrap(), 1)?;
/// assert_eq!(y.data, vec![0.0, 1.0]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rescaling {
    scale: f32,
    offset: f32,
    name: Option<String>,
}

impl Rescaling {
    /// `x · scale`, offset 0.
    pub fn new(scale: f32) -> Self {
        Rescaling {
            scale,
            offset: 0.0,
            name: None,
        }
    }

    /// Set the added offset (default 0).
    pub fn offset(mut self, offset: f32) -> Self {
        self.offset = offset;
        self
    }

    named_builder!();

    /// The layer a Keras `Rescaling` config describes (`scale` required, `offset` default 0).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        for field in ["scale", "offset"] {
            if let Some(v @ Value::Array(_)) = c.get(field) {
                return Err(c.error(
                    field,
                    format!("per-channel values are not supported, only a number; got {v}"),
                ));
            }
        }
        if c.get("scale").is_none() {
            return Err(c.error("scale", "is required"));
        }
        Ok(Rescaling {
            scale: c.f32_or("scale", 1.0)?,
            offset: c.f32_or("offset", 0.0)?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for Rescaling {
    fn class_name(&self) -> &'static str {
        "Rescaling"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"scale": f32_json(self.scale), "offset": f32_json(self.offset)}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let scale = g.scalar(self.scale);
        let scaled = g.binary(BinaryOp::Mul, x, scale)?;
        if self.offset == 0.0 {
            return Ok(scaled);
        }
        let offset = g.scalar(self.offset);
        Ok(g.binary(BinaryOp::Add, scaled, offset)?)
    }
}
