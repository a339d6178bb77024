//! The `RandomFlip` layer: each image flipped left-right and/or up-down with probability ½
//! while training, the identity otherwise. Lowered to one `gather` of the pixel rows at
//! mirrored coordinates (exact, no interpolation).

use ir::{BinaryOp, Graph, NodeId, Shape};
use serde_json::{Value, json};

use crate::config_json::{lookup, name_of};
use crate::error::Result;
use crate::layers::augment::options::{column_in, draw, read_seed};
use crate::layers::augment::resample::{Image, Reads, bin, bin_k, grid, read, select};
use crate::layers::conv2d::image_dims;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config};

/// Which axes [`RandomFlip`] may flip (Keras' `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlipMode {
    /// `"horizontal"`: left-right.
    Horizontal,
    /// `"vertical"`: up-down.
    Vertical,
    /// `"horizontal_and_vertical"`: each independently (Keras' default).
    #[default]
    HorizontalAndVertical,
}

const MODES: [(&str, FlipMode); 3] = [
    ("horizontal", FlipMode::Horizontal),
    ("vertical", FlipMode::Vertical),
    ("horizontal_and_vertical", FlipMode::HorizontalAndVertical),
];

/// Keras' `RandomFlip(mode="horizontal_and_vertical", seed=None)`: while training, flips
/// each image of the batch with probability ½ per allowed axis; in evaluate and predict it
/// passes its input through.
///
/// Augmentation sits right after the input of an image model:
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::prelude::*;
/// let model = sequential![
///     Input::new([28, 28, 1]),
///     RandomFlip::new(FlipMode::Horizontal),
///     RandomRotation::new(0.05),
///     RandomZoom::new(0.1),
///     RandomTranslation::new(0.1, 0.1),
///     Rescaling::new(1.0 / 255.0),
///     Conv2D::new(16, 3).activation(Activation::Relu),
///     Flatten::new(),
///     Dense::new(10).activation(Activation::Softmax),
/// ];
/// assert_eq!(model.count_params()?, 16 * 9 + 16 + 26 * 26 * 16 * 10 + 10);
/// assert_eq!(model.layers()[1].config()["mode"], "horizontal");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RandomFlip {
    mode: FlipMode,
    seed: Option<u64>,
    name: Option<String>,
}

impl RandomFlip {
    /// Flips along the axes `mode` allows.
    pub fn new(mode: FlipMode) -> Self {
        RandomFlip {
            mode,
            seed: None,
            name: None,
        }
    }

    /// Keras' `seed`: the layer draws the same flips whatever the model's seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    named_builder!();

    /// The layer a Keras `RandomFlip` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        let mode = c.str_or("mode", "horizontal_and_vertical")?;
        Ok(RandomFlip {
            mode: lookup(&MODES, &mode, "mode").map_err(|m| c.error("mode", m))?,
            seed: read_seed(c)?,
            name: Some(c.name().to_string()),
        })
    }
}

impl Layer for RandomFlip {
    fn class_name(&self) -> &'static str {
        "RandomFlip"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        image_dims(self, input)?;
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"mode": name_of(&MODES, &self.mode), "seed": self.seed}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        if !ctx.training {
            return Ok(x);
        }
        let image = Image::new(g, x)?;
        let [n, h, w, _] = image.dims;
        let draws = draw(g, &ctx, self.seed, n, 2)?;
        let mut coords = [grid(g, h, 1), grid(g, w, 2)];
        let axes: &[usize] = match self.mode {
            FlipMode::Horizontal => &[1][..],
            FlipMode::Vertical => &[0],
            FlipMode::HorizontalAndVertical => &[0, 1],
        };
        for &axis in axes {
            let u = column_in(g, draws, axis, (0.0, 1.0))?;
            let flip = bin_k(g, BinaryOp::Lt, u, 0.5)?;
            let last = g.scalar(([h, w][axis] - 1) as f32);
            let mirrored = bin(g, BinaryOp::Sub, last, coords[axis])?;
            coords[axis] = select(g, flip, mirrored, coords[axis])?;
        }
        read(g, image, (coords[0], coords[1]), [h, w], Reads::Inside)
    }
}
