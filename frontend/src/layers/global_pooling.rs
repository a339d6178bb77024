//! Global pooling: [`GlobalAveragePooling2D`] and [`GlobalMaxPooling2D`], a reduction over
//! height and width per channel.

use std::marker::PhantomData;

use ir::{Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::conv2d::image_dims;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::pooling::{Average, Max, PoolingKind};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config};

/// Reduces each channel of an image to one value: `(None, h, w, c)` → `(None, c)`, or
/// `(None, 1, 1, c)` with `keepdims`.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalPooling2D<K: PoolingKind> {
    keepdims: bool,
    name: Option<String>,
    kind: PhantomData<K>,
}

/// Keras' `GlobalAveragePooling2D`.
pub type GlobalAveragePooling2D = GlobalPooling2D<Average>;
/// Keras' `GlobalMaxPooling2D`.
pub type GlobalMaxPooling2D = GlobalPooling2D<Max>;

impl<K: PoolingKind> Default for GlobalPooling2D<K> {
    fn default() -> Self {
        GlobalPooling2D {
            keepdims: false,
            name: None,
            kind: PhantomData,
        }
    }
}

impl<K: PoolingKind> GlobalPooling2D<K> {
    /// A global pooling layer (no kept spatial axes).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep the pooled axes as size 1 (default false).
    pub fn keepdims(mut self, keepdims: bool) -> Self {
        self.keepdims = keepdims;
        self
    }

    /// The layer a Keras global pooling config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        Ok(GlobalPooling2D {
            keepdims: c.bool_or("keepdims", false)?,
            name: Some(c.name().to_string()),
            kind: PhantomData,
        })
    }

    named_builder!();
}

impl<K: PoolingKind> Layer for GlobalPooling2D<K> {
    fn class_name(&self) -> &'static str {
        K::GLOBAL_CLASS
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let [_, _, c] = image_dims(self, input)?;
        Ok(if self.keepdims {
            Shape::from([1, 1, c])
        } else {
            Shape::from([c])
        })
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"data_format": "channels_last", "keepdims": self.keepdims}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        Ok(g.reduce(K::REDUCE, x, &[1, 2], self.keepdims)?)
    }
}
