//! The `ZeroPadding2D` layer: rows and columns of zeros around each image.

use ir::{Graph, NodeId, Op, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::conv2d::{Size2D, image_dims};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config};

/// Pads images with zeros: `(None, h, w, c)` → `(None, top + h + bottom, left + w + right, c)`.
/// Keras' default pads one row/column on every side.
#[derive(Debug, Clone, PartialEq)]
pub struct ZeroPadding2D {
    /// `[[top, bottom], [left, right]]`.
    padding: [[usize; 2]; 2],
    name: Option<String>,
}

impl Default for ZeroPadding2D {
    fn default() -> Self {
        ZeroPadding2D::new(1)
    }
}

impl ZeroPadding2D {
    /// Symmetric padding: `1` pads one on every side, `[1, 2]` one row above and below and
    /// two columns left and right.
    pub fn new(padding: impl Into<Size2D>) -> Self {
        let Size2D([h, w]) = padding.into();
        ZeroPadding2D::explicit([[h, h], [w, w]])
    }

    /// Explicit `[[top, bottom], [left, right]]` padding.
    pub fn explicit(padding: [[usize; 2]; 2]) -> Self {
        ZeroPadding2D {
            padding,
            name: None,
        }
    }

    /// The layer a Keras `ZeroPadding2D` config describes: `padding` as an int, a pair, or
    /// `[[top, bottom], [left, right]]`.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        let nested = c.get("padding").and_then(Value::as_array).and_then(|rows| {
            let pair = |v: &Value| -> Option<[usize; 2]> {
                let items = v.as_array()?;
                Some([
                    items.first()?.as_u64()? as usize,
                    items.get(1)?.as_u64()? as usize,
                ])
            };
            Some([pair(rows.first()?)?, pair(rows.get(1)?)?])
        });
        let padding = match nested {
            Some(explicit) => explicit,
            None => {
                let [h, w] = c.usize_pair_or("padding", [1, 1])?;
                [[h, h], [w, w]]
            }
        };
        Ok(ZeroPadding2D {
            padding,
            name: Some(c.name().to_string()),
        })
    }

    named_builder!();
}

impl Layer for ZeroPadding2D {
    fn class_name(&self) -> &'static str {
        "ZeroPadding2D"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let [h, w, c] = image_dims(self, input)?;
        let [[top, bottom], [left, right]] = self.padding;
        Ok(Shape::from([top + h + bottom, left + w + right, c]))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"padding": self.padding, "data_format": "channels_last"}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let [[top, bottom], [left, right]] = self.padding;
        let pad = Op::Pad {
            before: vec![0, top, left, 0],
            after: vec![0, bottom, right, 0],
            value: 0.0,
        };
        Ok(g.add(pad, &[x])?)
    }
}
