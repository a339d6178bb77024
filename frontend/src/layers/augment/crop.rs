//! The `RandomCrop` layer: while training, a `height × width` window at a random offset
//! (one offset per batch, as Keras draws it), gathered exactly; at inference (and while
//! training on images smaller than the window) Keras' `smart_resize`: the largest centred
//! window of the target aspect ratio, resized bilinearly (`tf.image.resize`, half-pixel
//! centres) by one constant matrix per axis.

use ir::{BinaryOp, Graph, NodeId, Shape, Tensor, UnaryOp};
use serde_json::{Value, json};

use crate::error::Result;
use crate::layers::augment::options::{column_in, draw, read_seed};
use crate::layers::augment::resample::{Image, Reads, bin, bin_k, grid, read};
use crate::layers::conv2d::image_dims;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::upsampling::apply_along;
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};

/// Keras' `RandomCrop(height, width, seed=None)`: output `(None, height, width, c)`.
/// While training, a random window of that size (the same offset for the whole batch); in
/// evaluate and predict, the centred window of the target aspect ratio resized to it.
///
/// ```
/// use kiln::layers::{Layer, RandomCrop};
/// use kiln::Shape;
/// let crop = RandomCrop::new(24, 24);
/// assert_eq!(crop.output_shape(&Shape::from([28, 28, 1])).unwrap(), Shape::from([24, 24, 1]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomCrop {
    height: usize,
    width: usize,
    seed: Option<u64>,
    name: Option<String>,
}

impl RandomCrop {
    /// Windows of `height × width` pixels.
    pub fn new(height: usize, width: usize) -> Self {
        RandomCrop {
            height,
            width,
            seed: None,
            name: None,
        }
    }

    /// Keras' `seed`: the layer draws the same offsets whatever the model's seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    named_builder!();

    /// The layer a Keras `RandomCrop` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        Ok(RandomCrop {
            height: c.usize("height")?,
            width: c.usize("width")?,
            seed: read_seed(c)?,
            name: Some(c.name().to_string()),
        })
    }

    /// The random window of a batch `[n, h, w, c]` at least as large as the target.
    fn random_window(&self, g: &mut Graph, x: NodeId, ctx: &LayerContext<'_>) -> Result<NodeId> {
        let image = Image::new(g, x)?;
        let [_, h, w, _] = image.dims;
        let draws = draw(g, ctx, self.seed, 1, 2)?;
        let mut coords = [grid(g, self.height, 1), grid(g, self.width, 2)];
        for (axis, (len, target)) in [(h, self.height), (w, self.width)].into_iter().enumerate() {
            let spare = (len - target) as f32;
            let start = column_in(g, draws, axis, (0.0, spare + 1.0))?;
            let start = g.unary(UnaryOp::Floor, start)?;
            let start = bin_k(g, BinaryOp::Min, start, spare)?;
            coords[axis] = bin(g, BinaryOp::Add, coords[axis], start)?;
        }
        read(
            g,
            image,
            (coords[0], coords[1]),
            [self.height, self.width],
            Reads::Inside,
        )
    }
}

/// `smart_resize` along one axis of `len` pixels to `target`: the centred window of `crop`
/// pixels resized with half-pixel centres, as a `[target, len]` matrix.
fn resize_matrix(len: usize, crop: usize, target: usize) -> Tensor {
    let start = ((len - crop) as f32 / 2.0) as usize;
    let scale = crop as f32 / target as f32;
    let mut m = vec![0.0f32; target * len];
    for i in 0..target {
        let pos = (i as f32 + 0.5) * scale - 0.5;
        let floor = pos.floor();
        let lerp = pos - floor;
        let lower = (floor.max(0.0) as usize).min(crop - 1);
        let upper = (pos.ceil().max(0.0) as usize).min(crop - 1);
        m[i * len + start + lower] += 1.0 - lerp;
        m[i * len + start + upper] += lerp;
    }
    Tensor::new([target, len].as_slice(), m).expect("target·len values")
}

impl Layer for RandomCrop {
    fn class_name(&self) -> &'static str {
        "RandomCrop"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let [_, _, c] = image_dims(self, input)?;
        if self.height == 0 || self.width == 0 {
            return Err(layer_error(
                self,
                format!(
                    "height and width must be positive, got {} × {}",
                    self.height, self.width
                ),
            ));
        }
        Ok(Shape::from([self.height, self.width, c]))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"height": self.height, "width": self.width, "seed": self.seed}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let dims = g.shape(x).dims().to_vec();
        let (h, w) = (dims[1], dims[2]);
        if ctx.training && h >= self.height && w >= self.width {
            return self.random_window(g, x, &ctx);
        }
        // Keras' smart_resize: float32 arithmetic, truncated to integers.
        let crop_h = ((w * self.height) as f32 / self.width as f32) as usize;
        let crop_w = ((h * self.width) as f32 / self.height as f32) as usize;
        let (crop_h, crop_w) = (crop_h.clamp(1, h), crop_w.clamp(1, w));
        let mut y = x;
        for (axis, len, crop, target) in [(1, h, crop_h, self.height), (2, w, crop_w, self.width)] {
            if (len, crop) != (target, target) {
                y = apply_along(g, y, axis, resize_matrix(len, crop, target))?;
            }
        }
        Ok(y)
    }
}
