//! Windowed pooling layers: [`MaxPooling2D`] and [`AveragePooling2D`] (aliases
//! [`MaxPool2D`], [`AvgPool2D`]), one generic [`Pooling2D`] told apart by a [`PoolingKind`]
//! marker that the global pooling layers share.

use std::marker::PhantomData;

use ir::{Graph, NodeId, Op, Pool2dAttrs, PoolKind, ReduceOp, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::conv2d::{
    Padding, Size2D, check_positive, image_dims, read_padding, window_output,
};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// What a pooling layer takes from its window: the maximum or the mean.
pub trait PoolingKind: std::fmt::Debug + Clone + PartialEq + Send + Sync + 'static {
    /// The windowed IR pooling.
    const POOL: PoolKind;
    /// The IR reduction of the global variant.
    const REDUCE: ReduceOp;
    /// Keras' class name of the windowed layer.
    const WINDOWED_CLASS: &'static str;
    /// Keras' class name of the global layer.
    const GLOBAL_CLASS: &'static str;
    /// Keras' class name of the 1-D windowed layer.
    const WINDOWED_1D_CLASS: &'static str;
    /// Keras' class name of the 1-D global layer.
    const GLOBAL_1D_CLASS: &'static str;
}

/// The maximum of each window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Max;

/// The mean of each window (padding excluded, as in TensorFlow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Average;

impl PoolingKind for Max {
    const POOL: PoolKind = PoolKind::Max;
    const REDUCE: ReduceOp = ReduceOp::Max;
    const WINDOWED_CLASS: &'static str = "MaxPooling2D";
    const GLOBAL_CLASS: &'static str = "GlobalMaxPooling2D";
    const WINDOWED_1D_CLASS: &'static str = "MaxPooling1D";
    const GLOBAL_1D_CLASS: &'static str = "GlobalMaxPooling1D";
}

impl PoolingKind for Average {
    const POOL: PoolKind = PoolKind::Avg;
    const REDUCE: ReduceOp = ReduceOp::Mean;
    const WINDOWED_CLASS: &'static str = "AveragePooling2D";
    const GLOBAL_CLASS: &'static str = "GlobalAveragePooling2D";
    const WINDOWED_1D_CLASS: &'static str = "AveragePooling1D";
    const GLOBAL_1D_CLASS: &'static str = "GlobalAveragePooling1D";
}

/// A 2-D pooling layer with Keras' defaults: a `2×2` window, strides equal to the window,
/// `valid` padding. Input `(None, h, w, c)`, output `(None, oh, ow, c)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pooling2D<K: PoolingKind> {
    pool_size: Size2D,
    strides: Option<Size2D>,
    padding: Padding,
    /// `[top, bottom, left, right]` padding that replaces `padding` (ONNX pools' `pads`);
    /// padded cells are skipped (max) or not counted (average). Keras has no such option:
    /// the config writes it as `explicit_padding`, which Keras itself does not read.
    explicit_padding: Option<[usize; 4]>,
    name: Option<String>,
    kind: PhantomData<K>,
}

/// Keras' `MaxPooling2D`.
pub type MaxPooling2D = Pooling2D<Max>;
/// Keras' alias `MaxPool2D`.
pub type MaxPool2D = MaxPooling2D;
/// Keras' `AveragePooling2D`.
pub type AveragePooling2D = Pooling2D<Average>;
/// Keras' alias `AvgPool2D`.
pub type AvgPool2D = AveragePooling2D;

impl<K: PoolingKind> Default for Pooling2D<K> {
    fn default() -> Self {
        Pooling2D::new(2)
    }
}

impl<K: PoolingKind> Pooling2D<K> {
    /// Pooling over `pool_size` windows (`2` or `[2, 3]`), strides equal to the window.
    pub fn new(pool_size: impl Into<Size2D>) -> Self {
        Pooling2D {
            pool_size: pool_size.into(),
            strides: None,
            padding: Padding::Valid,
            explicit_padding: None,
            name: None,
            kind: PhantomData,
        }
    }

    /// Pad `[top, bottom, left, right]` explicitly instead of `valid`/`same` (what ONNX
    /// `MaxPool`/`AveragePool` `pads` need; not a Keras option).
    pub fn explicit_padding(mut self, pads: [usize; 4]) -> Self {
        self.explicit_padding = Some(pads);
        self
    }

    /// The IR padding in use.
    fn ir_padding(&self) -> ir::Padding {
        match self.explicit_padding {
            Some(pads) => ir::Padding::Explicit(pads),
            None => self.padding.to_ir(),
        }
    }

    /// Set the strides (default: the pool size).
    pub fn strides(mut self, strides: impl Into<Size2D>) -> Self {
        self.strides = Some(strides.into());
        self
    }

    /// Set the padding (default `valid`).
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    named_builder!();

    /// The layer a Keras pooling config describes (Keras' defaults for missing fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        let pool_size = Size2D(c.usize_pair_or("pool_size", [2, 2])?);
        Ok(Pooling2D {
            pool_size,
            strides: Some(Size2D(c.usize_pair_or("strides", pool_size.0)?)),
            padding: read_padding(c)?,
            explicit_padding: read_explicit_padding(c)?,
            name: Some(c.name().to_string()),
            kind: PhantomData,
        })
    }

    /// The strides in use.
    fn effective_strides(&self) -> Size2D {
        self.strides.unwrap_or(self.pool_size)
    }

    /// The IR attributes.
    fn attrs(&self) -> Pool2dAttrs {
        Pool2dAttrs {
            kind: K::POOL,
            window: self.pool_size.0,
            strides: self.effective_strides().0,
            padding: self.ir_padding(),
        }
    }
}

/// The optional `explicit_padding` field (`[[top, bottom], [left, right]]`) Kiln writes.
fn read_explicit_padding(c: &ConfigReader) -> Result<Option<[usize; 4]>> {
    let Some(value) = c.get("explicit_padding") else {
        return Ok(None);
    };
    let flat: Option<Vec<usize>> = value.as_array().and_then(|rows| {
        rows.iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
            .map(|v| v.as_u64().map(|n| n as usize))
            .collect()
    });
    match flat.as_deref() {
        Some(&[t, b, l, r]) => Ok(Some([t, b, l, r])),
        _ => Err(c.error(
            "explicit_padding",
            "must be [[top, bottom], [left, right]] of non-negative integers",
        )),
    }
}

impl<K: PoolingKind> Layer for Pooling2D<K> {
    fn class_name(&self) -> &'static str {
        K::WINDOWED_CLASS
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        check_positive(self, "pool_size", self.pool_size)?;
        check_positive(self, "strides", self.effective_strides())?;
        let [h, w, c] = image_dims(self, input)?;
        let [oh, ow] = match self.explicit_padding {
            None => window_output(
                self,
                input,
                self.pool_size.0,
                self.effective_strides().0,
                self.padding,
            )?,
            Some(_) => {
                let (window, strides) = (self.pool_size.0, self.effective_strides().0);
                let resolve = |axis: usize, size: usize| {
                    self.ir_padding()
                        .resolve(axis, size, window[axis], strides[axis])
                        .map(|a| a.out)
                        .ok_or_else(|| {
                            layer_error(
                                self,
                                format!(
                                    "window {window:?} does not fit the padded input {}",
                                    keras_shape(input)
                                ),
                            )
                        })
                };
                [resolve(0, h)?, resolve(1, w)?]
            }
        };
        Ok(Shape::from([oh, ow, c]))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        let mut fields = json!({
            "pool_size": self.pool_size.0,
            "padding": self.padding.keras_name(),
            "strides": self.effective_strides().0,
            "data_format": "channels_last",
        });
        if let Some([t, b, l, r]) = self.explicit_padding {
            fields["explicit_padding"] = json!([[t, b], [l, r]]);
        }
        layer_config(self, fields)
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        Ok(g.add(Op::Pool2d(self.attrs()), &[x])?)
    }
}
