//! Borders of images: [`ZeroPadding2D`] adds rows and columns of zeros around each image,
//! [`Cropping2D`] removes them; one generic [`Border2D`] told apart by a [`BorderKind`]
//! (they share the `int | (h, w) | ((top, bottom), (left, right))` argument). The 1-D forms
//! (`ZeroPadding1D`, `Cropping1D`) live in `one_d.rs`.

use std::marker::PhantomData;

use ir::{Graph, NodeId, Op, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::conv2d::{Size2D, image_dims};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// Whether a [`Border2D`] adds or removes its border.
pub trait BorderKind: std::fmt::Debug + Clone + PartialEq + Send + Sync + 'static {
    /// Keras' class name of the 2-D layer.
    const CLASS: &'static str;
    /// Keras' class name of the 1-D layer.
    const CLASS_1D: &'static str;
    /// The config field holding the border (`padding`, `cropping`).
    const FIELD: &'static str;
    /// The border per side when the config gives none (2-D; the 1-D default is 1 for both).
    const DEFAULT: usize;
    /// Whether the border is added (padding) rather than removed (cropping).
    const ADDS: bool;
}

/// Adds zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pad;

/// Removes rows and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop;

impl BorderKind for Pad {
    const CLASS: &'static str = "ZeroPadding2D";
    const CLASS_1D: &'static str = "ZeroPadding1D";
    const FIELD: &'static str = "padding";
    const DEFAULT: usize = 1;
    const ADDS: bool = true;
}

impl BorderKind for Crop {
    const CLASS: &'static str = "Cropping2D";
    const CLASS_1D: &'static str = "Cropping1D";
    const FIELD: &'static str = "cropping";
    const DEFAULT: usize = 0;
    const ADDS: bool = false;
}

/// A border around images: `(None, h, w, c)` → `(None, h ± (top + bottom), w ± (left +
/// right), c)`. Keras' defaults: `ZeroPadding2D` pads one row/column on every side,
/// `Cropping2D` crops nothing.
///
/// ```
/// use kiln::layers::{Cropping2D, Layer};
/// use kiln::Shape;
/// let crop = Cropping2D::explicit([[1, 1], [2, 2]]);
/// assert_eq!(crop.output_shape(&Shape::from([32, 32, 8])).unwrap(), Shape::from([30, 28, 8]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Border2D<K: BorderKind> {
    /// `[[top, bottom], [left, right]]`.
    pub(crate) border: [[usize; 2]; 2],
    pub(crate) name: Option<String>,
    kind: PhantomData<K>,
}

/// Keras' `ZeroPadding2D`.
pub type ZeroPadding2D = Border2D<Pad>;
/// Keras' `Cropping2D`.
pub type Cropping2D = Border2D<Crop>;

impl<K: BorderKind> Default for Border2D<K> {
    fn default() -> Self {
        Border2D::new(K::DEFAULT)
    }
}

impl<K: BorderKind> Border2D<K> {
    /// Symmetric border: `1` is one on every side, `[1, 2]` one row above and below and two
    /// columns left and right.
    pub fn new(border: impl Into<Size2D>) -> Self {
        let Size2D([h, w]) = border.into();
        Border2D::explicit([[h, h], [w, w]])
    }

    /// Explicit `[[top, bottom], [left, right]]` border.
    pub fn explicit(border: [[usize; 2]; 2]) -> Self {
        Border2D {
            border,
            name: None,
            kind: PhantomData,
        }
    }

    /// The layer a Keras config describes: the border as an int, a pair, or
    /// `[[top, bottom], [left, right]]`.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        let nested = c.get(K::FIELD).and_then(Value::as_array).and_then(|rows| {
            let pair = |v: &Value| -> Option<[usize; 2]> {
                let items = v.as_array()?;
                Some([
                    items.first()?.as_u64()? as usize,
                    items.get(1)?.as_u64()? as usize,
                ])
            };
            Some([pair(rows.first()?)?, pair(rows.get(1)?)?])
        });
        let border = match nested {
            Some(explicit) => explicit,
            None => {
                let [h, w] = c.usize_pair_or(K::FIELD, [K::DEFAULT; 2])?;
                [[h, h], [w, w]]
            }
        };
        Ok(Border2D {
            border,
            name: Some(c.name().to_string()),
            kind: PhantomData,
        })
    }

    named_builder!();
}

impl<K: BorderKind> Layer for Border2D<K> {
    fn class_name(&self) -> &'static str {
        K::CLASS
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let [h, w, c] = image_dims(self, input)?;
        let [[top, bottom], [left, right]] = self.border;
        let (v, u) = (top + bottom, left + right);
        if !K::ADDS {
            if v >= h || u >= w {
                return Err(layer_error(
                    self,
                    format!(
                        "cropping {:?} leaves nothing of the input {}",
                        self.border,
                        keras_shape(input)
                    ),
                ));
            }
            return Ok(Shape::from([h - v, w - u, c]));
        }
        Ok(Shape::from([h + v, w + u, c]))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        let mut fields = serde_json::Map::new();
        fields.insert(K::FIELD.into(), json!(self.border));
        fields.insert("data_format".into(), json!("channels_last"));
        layer_config(self, Value::Object(fields))
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let [[top, bottom], [left, right]] = self.border;
        if !K::ADDS {
            let dims = g.shape(x).dims().to_vec();
            self.output_shape(&Shape::from(&dims[1..]))?;
            let [n, h, w, c] = dims[..] else {
                return Err(layer_error(self, "expects a batch of images"));
            };
            let slice = Op::Slice {
                starts: vec![0, top, left, 0],
                ends: vec![n, h - bottom, w - right, c],
            };
            return Ok(g.add(slice, &[x])?);
        }
        let pad = Op::Pad {
            before: vec![0, top, left, 0],
            after: vec![0, bottom, right, 0],
            value: 0.0,
        };
        Ok(g.add(pad, &[x])?)
    }
}
