//! The `RandomTranslation` layer: while training, each image shifted by a random fraction
//! of its height and width (`resample.rs` reads the shifted pixels, fill mode and
//! interpolation as Keras); the identity otherwise.

use ir::{BinaryOp, Graph, NodeId, Shape, UnaryOp};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::augment::options::{Factor, TransformOptions, column_in, draw, read_seed};
use crate::layers::augment::resample::{Affine, bin_k, transform};
use crate::layers::conv2d::image_dims;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_error};

/// Keras' `RandomTranslation(height_factor, width_factor, fill_mode="reflect",
/// interpolation="bilinear", seed=None, fill_value=0.0)`: while training, each image moves
/// down by `dy · height` and right by `dx · width` pixels, `dy` and `dx` uniform in the
/// factors' ranges (a number `f` means `[-f, f]`); in evaluate and predict it passes its
/// input through.
///
/// ```
/// use kiln::layers::{FillMode, Layer, RandomTranslation};
/// let shift = RandomTranslation::new(0.1, (-0.2, 0.3)).fill_mode(FillMode::Constant);
/// assert_eq!(shift.config()["width_factor"], serde_json::json!([-0.2, 0.3]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomTranslation {
    height_factor: Factor,
    width_factor: Factor,
    options: TransformOptions,
    seed: Option<u64>,
    name: Option<String>,
}

impl RandomTranslation {
    /// Shifts by up to the given fractions of the height and the width.
    pub fn new(height_factor: impl Into<Factor>, width_factor: impl Into<Factor>) -> Self {
        RandomTranslation {
            height_factor: height_factor.into(),
            width_factor: width_factor.into(),
            options: TransformOptions::default(),
            seed: None,
            name: None,
        }
    }

    crate::layers::augment::options::transform_builders!();

    named_builder!();

    /// The layer a Keras `RandomTranslation` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        Ok(RandomTranslation {
            height_factor: Factor::read(c, "height_factor")?,
            width_factor: Factor::read(c, "width_factor")?,
            options: TransformOptions::read(c)?,
            seed: read_seed(c)?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for RandomTranslation {
    fn class_name(&self) -> &'static str {
        "RandomTranslation"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        image_dims(self, input)?;
        for (field, factor) in [
            ("height_factor", self.height_factor),
            ("width_factor", self.width_factor),
        ] {
            let (lower, upper) = factor.signed();
            if !(lower <= upper && lower.abs() <= 1.0 && upper.abs() <= 1.0) {
                return Err(layer_error(
                    self,
                    format!("{field} must be a range within [-1, 1], got ({lower}, {upper})"),
                ));
            }
        }
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        let fields = json!({
            "height_factor": self.height_factor.to_json(),
            "width_factor": self.width_factor.to_json(),
        });
        self.options.layer_config(self, fields, self.seed)
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        if !ctx.training {
            return Ok(x);
        }
        let [n, h, w, _] = <[usize; 4]>::try_from(g.shape(x).dims()).expect("an image batch");
        let draws = draw(g, &ctx, self.seed, n, 2)?;
        let mut shifts = [0; 2].map(|_| None);
        for (k, (factor, len)) in [(self.height_factor, h), (self.width_factor, w)]
            .into_iter()
            .enumerate()
        {
            let fraction = column_in(g, draws, k, factor.signed())?;
            let pixels = bin_k(g, BinaryOp::Mul, fraction, len as f32)?;
            shifts[k] = Some(g.unary(UnaryOp::Neg, pixels)?);
        }
        let map = Affine {
            xx: None,
            xy: None,
            x0: shifts[1].expect("drawn"),
            yx: None,
            yy: None,
            y0: shifts[0].expect("drawn"),
        };
        transform(g, x, map, &self.options)
    }
}
