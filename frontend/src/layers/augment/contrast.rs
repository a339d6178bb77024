//! The `RandomContrast` layer: while training, each image's channels pushed away from or
//! towards their mean by a random factor, then clipped to the value range; the identity
//! otherwise. One factor per image (Keras 3; tf-keras 2 drew one per batch).

use ir::{BinaryOp, Graph, NodeId, ReduceOp, Shape};
use serde_json::{Value, json};

use crate::config_json::{f32_json, read_f32};
use crate::error::Result;
use crate::layers::augment::options::{Factor, column_in, draw, read_seed};
use crate::layers::augment::resample::{bin, bin_k};
use crate::layers::conv2d::image_dims;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};

/// Keras' default `value_range`.
const PIXELS: (f32, f32) = (0.0, 255.0);

/// Keras' `RandomContrast(factor, value_range=(0, 255), seed=None)`: while training, each
/// image becomes `(x - mean) · f + mean` per channel (`mean` over its pixels) with `f`
/// uniform in `[1 - lower, 1 + upper]` (`factor` is `lower = upper` or the pair), clipped
/// to `value_range`; in evaluate and predict it passes its input through.
///
/// ```
/// use kiln::layers::{Layer, RandomContrast};
/// let contrast = RandomContrast::new(0.2).value_range(0.0, 1.0);
/// assert_eq!(contrast.config()["value_range"], serde_json::json!([0.0, 1.0]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomContrast {
    factor: Factor,
    value_range: (f32, f32),
    seed: Option<u64>,
    name: Option<String>,
}

impl RandomContrast {
    /// Contrast factors in `[1 - f, 1 + f]` for a number, `[1 - lower, 1 + upper]` for a pair.
    pub fn new(factor: impl Into<Factor>) -> Self {
        RandomContrast {
            factor: factor.into(),
            value_range: PIXELS,
            seed: None,
            name: None,
        }
    }

    /// The range outputs are clipped to (Keras 3's `value_range`; default `(0, 255)`).
    pub fn value_range(mut self, low: f32, high: f32) -> Self {
        self.value_range = (low, high);
        self
    }

    /// Keras' `seed`: the layer draws the same factors whatever the model's seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    named_builder!();

    /// The layer a Keras `RandomContrast` config describes (`value_range` from Keras 3).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        let value_range = match c.get("value_range") {
            None => PIXELS,
            Some(Value::Array(pair)) if pair.len() == 2 => (
                read_f32(&pair[0]).map_err(|m| c.error("value_range", m))?,
                read_f32(&pair[1]).map_err(|m| c.error("value_range", m))?,
            ),
            Some(other) => {
                return Err(c.error("value_range", format!("expected two numbers, got {other}")));
            }
        };
        Ok(RandomContrast {
            factor: Factor::read(c, "factor")?,
            value_range,
            seed: read_seed(c)?,
            name: Some(c.name().to_string()),
        })
    }

    /// `(lower, upper)`: the factor range is `[1 - lower, 1 + upper]`.
    fn bounds(&self) -> (f32, f32) {
        match self.factor {
            Factor::Symmetric(f) => (f, f),
            Factor::Range(lower, upper) => (lower, upper),
        }
    }
}

impl Layer for RandomContrast {
    fn class_name(&self) -> &'static str {
        "RandomContrast"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        image_dims(self, input)?;
        let (lower, upper) = self.bounds();
        if !(lower >= 0.0 && upper >= 0.0 && lower <= 1.0) {
            return Err(layer_error(
                self,
                format!("factor must lie in [0, 1] (upper bound >= 0), got ({lower}, {upper})"),
            ));
        }
        if self.value_range.0 > self.value_range.1 {
            return Err(layer_error(
                self,
                format!("value_range {:?} is empty", self.value_range),
            ));
        }
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        let mut fields = json!({"factor": self.factor.to_json(), "seed": self.seed});
        // tf-keras 2 has no `value_range` (and rejects it): written only when not (0, 255).
        if self.value_range != PIXELS {
            let (low, high) = self.value_range;
            fields["value_range"] = json!([f32_json(low), f32_json(high)]);
        }
        layer_config(self, fields)
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        if !ctx.training {
            return Ok(x);
        }
        let n = g.shape(x).dims()[0];
        let (lower, upper) = self.bounds();
        let draws = draw(g, &ctx, self.seed, n, 1)?;
        let factor = column_in(g, draws, 0, (1.0 - lower, 1.0 + upper))?;
        let factor = g.reshape(factor, [n, 1, 1, 1])?;
        let mean = g.reduce(ReduceOp::Mean, x, &[1, 2], true)?;
        let centred = bin(g, BinaryOp::Sub, x, mean)?;
        let scaled = bin(g, BinaryOp::Mul, centred, factor)?;
        let y = bin(g, BinaryOp::Add, scaled, mean)?;
        let y = bin_k(g, BinaryOp::Max, y, self.value_range.0)?;
        bin_k(g, BinaryOp::Min, y, self.value_range.1)
    }
}
