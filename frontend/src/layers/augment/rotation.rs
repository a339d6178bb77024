//! The `RandomRotation` layer: while training, each image rotated about its centre by a
//! random angle (`resample.rs` reads the rotated pixels, fill mode and interpolation as
//! Keras; `trig.rs` gives the sine and cosine); the identity otherwise.

use std::f64::consts::PI;

use ir::{BinaryOp, Graph, NodeId, Shape, UnaryOp};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::augment::options::{Factor, TransformOptions, column_in, draw, read_seed};
use crate::layers::augment::resample::{Affine, bin, bin_k, transform};
use crate::layers::augment::trig::sin_cos;
use crate::layers::conv2d::image_dims;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_error};

/// Keras' `RandomRotation(factor, fill_mode="reflect", interpolation="bilinear", seed=None,
/// fill_value=0.0)`: while training, each image turns by `factor · 2π` radians, the factor
/// uniform in its range (a number `f` means `[-f, f]`; positive turns counter-clockwise);
/// in evaluate and predict it passes its input through.
///
/// ```
/// use kiln::layers::{Layer, RandomRotation};
/// let rotate = RandomRotation::new(0.1).seed(3);
/// assert_eq!(rotate.config()["fill_mode"], "reflect");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomRotation {
    factor: Factor,
    options: TransformOptions,
    seed: Option<u64>,
    name: Option<String>,
}

impl RandomRotation {
    /// Turns by up to `factor` of a full circle.
    pub fn new(factor: impl Into<Factor>) -> Self {
        RandomRotation {
            factor: factor.into(),
            options: TransformOptions::default(),
            seed: None,
            name: None,
        }
    }

    crate::layers::augment::options::transform_builders!();

    named_builder!();

    /// The layer a Keras `RandomRotation` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        Ok(RandomRotation {
            factor: Factor::read(c, "factor")?,
            options: TransformOptions::read(c)?,
            seed: read_seed(c)?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for RandomRotation {
    fn class_name(&self) -> &'static str {
        "RandomRotation"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        image_dims(self, input)?;
        let (lower, upper) = self.factor.signed();
        let ordered = lower <= upper;
        if !ordered {
            return Err(layer_error(
                self,
                format!("factor's lower bound exceeds its upper bound: ({lower}, {upper})"),
            ));
        }
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        let fields = json!({"factor": self.factor.to_json()});
        self.options.layer_config(self, fields, self.seed)
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        if !ctx.training {
            return Ok(x);
        }
        let [n, h, w, _] = <[usize; 4]>::try_from(g.shape(x).dims()).expect("an image batch");
        let (lower, upper) = self.factor.signed();
        let turn = |f: f32| (f64::from(f) * 2.0 * PI) as f32;
        let draws = draw(g, &ctx, self.seed, n, 1)?;
        let angle = column_in(g, draws, 0, (turn(lower), turn(upper)))?;
        let (sin, cos) = sin_cos(g, angle)?;
        // Keras' get_rotation_matrix: the offsets that keep the centre in place.
        let (wl, hl) = ((w - 1) as f32, (h - 1) as f32);
        let offset =
            |g: &mut Graph, a: NodeId, b: NodeId, op: BinaryOp, last: f32| -> Result<NodeId> {
                let a = bin_k(g, BinaryOp::Mul, a, wl)?;
                let b = bin_k(g, BinaryOp::Mul, b, hl)?;
                let moved = bin(g, op, a, b)?;
                let last = g.scalar(last);
                let rest = bin(g, BinaryOp::Sub, last, moved)?;
                bin_k(g, BinaryOp::Div, rest, 2.0)
            };
        let x0 = offset(g, cos, sin, BinaryOp::Sub, wl)?;
        let y0 = offset(g, sin, cos, BinaryOp::Add, hl)?;
        let neg_sin = g.unary(UnaryOp::Neg, sin)?;
        let map = Affine {
            xx: Some(cos),
            xy: Some(neg_sin),
            x0,
            yx: Some(sin),
            yy: Some(cos),
            y0,
        };
        transform(g, x, map, &self.options)
    }
}
