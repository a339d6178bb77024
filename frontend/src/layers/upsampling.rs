//! The `UpSampling2D` layer: images enlarged by integer factors, by repetition (`nearest`)
//! or by TensorFlow's bilinear resize with half-pixel centres (what tf-keras'
//! `backend.resize_images` calls: `tf.image.resize(method="bilinear")`). Nearest lowers to a
//! broadcast between two reshapes; bilinear to one constant interpolation matrix per axis,
//! applied with a matmul. It does not own the 1-D form (`UpSampling1D`, see `one_d.rs`).

use std::str::FromStr;

use ir::{Graph, NodeId, Op, Shape, Tensor};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::layers::conv2d::{Size2D, check_positive, image_dims};
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};

/// How [`UpSampling2D`] fills the new pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// `"nearest"`: each pixel repeated `size` times per axis.
    #[default]
    Nearest,
    /// `"bilinear"`: `tf.image.resize` bilinear with half-pixel centres (edges clamped).
    Bilinear,
}

impl Interpolation {
    /// The Keras name.
    pub fn keras_name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear",
        }
    }
}

impl FromStr for Interpolation {
    type Err = Error;

    /// `"nearest"` or `"bilinear"`; Keras' other methods (`area`, `bicubic`, ...) are not
    /// supported.
    fn from_str(name: &str) -> Result<Self> {
        match name {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            _ => Err(Error::UnknownName {
                kind: "interpolation",
                name: name.to_string(),
                known: "nearest, bilinear".into(),
            }),
        }
    }
}

/// Keras' `UpSampling2D` with its defaults: size 2, `nearest`. Input `(None, h, w, c)`,
/// output `(None, h·sh, w·sw, c)`.
///
/// ```
/// use kiln::layers::{Interpolation, Layer, UpSampling2D};
/// use kiln::Shape;
/// let up = UpSampling2D::new([2, 3]).interpolation(Interpolation::Bilinear);
/// assert_eq!(up.output_shape(&Shape::from([4, 5, 2])).unwrap(), Shape::from([8, 15, 2]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UpSampling2D {
    pub(crate) size: Size2D,
    pub(crate) interpolation: Interpolation,
    pub(crate) name: Option<String>,
}

impl Default for UpSampling2D {
    fn default() -> Self {
        UpSampling2D::new(2)
    }
}

impl UpSampling2D {
    /// Up-sampling by `size` (`2` or `[2, 3]`), nearest neighbour.
    pub fn new(size: impl Into<Size2D>) -> Self {
        UpSampling2D {
            size: size.into(),
            interpolation: Interpolation::Nearest,
            name: None,
        }
    }

    /// Set the interpolation (default `nearest`).
    pub fn interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    named_builder!();

    /// The layer a Keras `UpSampling2D` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_str("data_format", "channels_last")?;
        Ok(UpSampling2D {
            size: Size2D(c.usize_pair_or("size", [2, 2])?),
            interpolation: c
                .str_or("interpolation", "nearest")?
                .parse()
                .map_err(|e: Error| c.error("interpolation", e.to_string()))?,
            name: Some(c.name().to_string()),
        })
    }
}

/// TensorFlow's bilinear weights with half-pixel centres from `n` samples to `n·s`: row `i`
/// of the `[n·s, n]` matrix samples at `(i + 0.5) / s - 0.5`, between the clamped floor and
/// ceiling.
pub(crate) fn bilinear_matrix(n: usize, s: usize) -> Tensor {
    let out = n * s;
    let mut m = vec![0.0f32; out * n];
    for i in 0..out {
        let pos = (i as f32 + 0.5) / s as f32 - 0.5;
        let floor = pos.floor();
        let lerp = pos - floor;
        let lower = (floor.max(0.0) as usize).min(n - 1);
        let upper = (pos.ceil().max(0.0) as usize).min(n - 1);
        m[i * n + lower] += 1.0 - lerp;
        m[i * n + upper] += lerp;
    }
    Tensor::new([out, n].as_slice(), m).expect("the matrix has out·n elements")
}

/// `m @ x` over axis `axis` of `x`: that axis is moved to the front, the rest flattened, the
/// `[out, n]` matrix applied, and the axes put back.
pub(crate) fn apply_along(g: &mut Graph, x: NodeId, axis: usize, m: Tensor) -> Result<NodeId> {
    let dims = g.shape(x).dims().to_vec();
    let out = m.shape.dims()[0];
    let mut perm: Vec<usize> = vec![axis];
    perm.extend((0..dims.len()).filter(|&a| a != axis));
    let front = g.add(Op::Transpose(perm.clone()), &[x])?;
    let rest: usize = dims.iter().product::<usize>() / dims[axis];
    let flat = g.reshape(front, [dims[axis], rest])?;
    let m = g.constant(m);
    let y = g.matmul(m, flat, false, false)?;
    let mut moved: Vec<usize> = perm.iter().map(|&a| dims[a]).collect();
    moved[0] = out;
    let y = g.reshape(y, Shape::from(moved.as_slice()))?;
    let mut inverse = vec![0; perm.len()];
    for (i, &a) in perm.iter().enumerate() {
        inverse[a] = i;
    }
    Ok(g.add(Op::Transpose(inverse), &[y])?)
}

/// Repeats every element of axes `1..=k` of `x` (`[n, d1.., c]`) `sizes[i]` times.
pub(crate) fn repeat_nearest(g: &mut Graph, x: NodeId, sizes: &[usize]) -> Result<NodeId> {
    let dims = g.shape(x).dims().to_vec();
    let (mut split, mut spread, mut joined) = (vec![dims[0]], vec![dims[0]], vec![dims[0]]);
    for (d, s) in dims[1..=sizes.len()].iter().zip(sizes) {
        split.extend([*d, 1]);
        spread.extend([*d, *s]);
        joined.push(d * s);
    }
    let rest = &dims[sizes.len() + 1..];
    for v in [&mut split, &mut spread, &mut joined] {
        v.extend_from_slice(rest);
    }
    let x = g.reshape(x, Shape::from(split.as_slice()))?;
    let x = g.add(Op::Broadcast(Shape::from(spread.as_slice())), &[x])?;
    Ok(g.reshape(x, Shape::from(joined.as_slice()))?)
}

impl Layer for UpSampling2D {
    fn class_name(&self) -> &'static str {
        "UpSampling2D"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        check_positive(self, "size", self.size)?;
        let [h, w, c] = image_dims(self, input)?;
        Ok(Shape::from([
            h.saturating_mul(self.size.0[0]),
            w.saturating_mul(self.size.0[1]),
            c,
        ]))
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({
                "size": self.size.0,
                "data_format": "channels_last",
                "interpolation": self.interpolation.keras_name(),
            }),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, _ctx: LayerContext<'_>) -> Result<NodeId> {
        let dims = g.shape(x).dims().to_vec();
        if dims.len() != 4 {
            return Err(layer_error(self, "expects a batch of images"));
        }
        match self.interpolation {
            Interpolation::Nearest => repeat_nearest(g, x, &self.size.0),
            Interpolation::Bilinear => {
                let mut y = x;
                for axis in [1, 2] {
                    let s = self.size.0[axis - 1];
                    if s > 1 {
                        y = apply_along(g, y, axis, bilinear_matrix(dims[axis], s))?;
                    }
                }
                Ok(y)
            }
        }
    }
}
