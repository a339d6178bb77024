//! The `RandomZoom` layer: while training, each image zoomed about its centre by random
//! factors (`resample.rs` reads the scaled pixels, fill mode and interpolation as Keras);
//! the identity otherwise.

use ir::{BinaryOp, Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::augment::options::{Factor, TransformOptions, column_in, draw, read_seed};
use crate::layers::augment::resample::{Affine, bin_k, transform};
use crate::layers::conv2d::image_dims;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_error};

/// Keras' `RandomZoom(height_factor, width_factor=None, fill_mode="reflect",
/// interpolation="bilinear", seed=None, fill_value=0.0)`: while training, each image's
/// source window is `1 + f` times its size per axis, `f` uniform in the factor's range (a
/// number means `[-f, f]`; negative zooms in, positive out); without `width_factor` both
/// axes take the height's factor. In evaluate and predict it passes its input through.
///
/// ```
/// use kiln::layers::{Layer, RandomZoom};
/// let zoom = RandomZoom::new((-0.3, 0.0));
/// assert_eq!(zoom.config()["width_factor"], serde_json::Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomZoom {
    height_factor: Factor,
    width_factor: Option<Factor>,
    options: TransformOptions,
    seed: Option<u64>,
    name: Option<String>,
}

impl RandomZoom {
    /// Zooms both axes by the same random factor from `height_factor`'s range.
    pub fn new(height_factor: impl Into<Factor>) -> Self {
        RandomZoom {
            height_factor: height_factor.into(),
            width_factor: None,
            options: TransformOptions::default(),
            seed: None,
            name: None,
        }
    }

    /// Zooms the width by its own random factor (Keras' `width_factor`).
    pub fn width_factor(mut self, factor: impl Into<Factor>) -> Self {
        self.width_factor = Some(factor.into());
        self
    }

    crate::layers::augment::options::transform_builders!();

    named_builder!();

    /// The layer a Keras `RandomZoom` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        let width_factor = c
            .get("width_factor")
            .map(|v| Factor::from_json(v).map_err(|m| c.error("width_factor", m)))
            .transpose()?;
        Ok(RandomZoom {
            height_factor: Factor::read(c, "height_factor")?,
            width_factor,
            options: TransformOptions::read(c)?,
            seed: read_seed(c)?,
            name: Some(c.name().to_string()),
        })
    }

    /// `[1 + lower, 1 + upper)`, in f64 as Keras adds before TensorFlow's f32.
    fn zooms(factor: Factor) -> (f32, f32) {
        let (lower, upper) = factor.signed();
        let one_plus = |f: f32| (1.0 + f64::from(f)) as f32;
        (one_plus(lower), one_plus(upper))
    }
}

impl Layer for RandomZoom {
    fn class_name(&self) -> &'static str {
        "RandomZoom"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        image_dims(self, input)?;
        let (lower, upper) = self.height_factor.signed();
        if !(lower <= upper && lower.abs() <= 1.0 && upper.abs() <= 1.0) {
            return Err(layer_error(
                self,
                format!("height_factor must be a range within [-1, 1], got ({lower}, {upper})"),
            ));
        }
        if let Some((lower, upper)) = self.width_factor.map(Factor::signed)
            && !(lower <= upper && lower >= -1.0)
        {
            return Err(layer_error(
                self,
                format!("width_factor must be a range above -1, got ({lower}, {upper})"),
            ));
        }
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        let fields = json!({
            "height_factor": self.height_factor.to_json(),
            "width_factor": self.width_factor.map(Factor::to_json),
        });
        self.options.layer_config(self, fields, self.seed)
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        if !ctx.training {
            return Ok(x);
        }
        let [n, h, w, _] = <[usize; 4]>::try_from(g.shape(x).dims()).expect("an image batch");
        let draws = draw(g, &ctx, self.seed, n, 2)?;
        let zy = column_in(g, draws, 0, Self::zooms(self.height_factor))?;
        let zx = match self.width_factor {
            Some(factor) => column_in(g, draws, 1, Self::zooms(factor))?,
            None => zy,
        };
        // Keras' get_zoom_matrix: offset ((len - 1) / 2) · (1 - zoom) keeps the centre.
        let offset = |g: &mut Graph, zoom: NodeId, len: usize| -> Result<NodeId> {
            let one = g.scalar(1.0);
            let rest = g.binary(BinaryOp::Sub, one, zoom)?;
            bin_k(g, BinaryOp::Mul, rest, (len as f32 - 1.0) / 2.0)
        };
        let map = Affine {
            xx: Some(zx),
            xy: None,
            x0: offset(g, zx, w)?,
            yx: None,
            yy: Some(zy),
            y0: offset(g, zy, h)?,
        };
        transform(g, x, map, &self.options)
    }
}
