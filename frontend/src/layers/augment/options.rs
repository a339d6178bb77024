//! What the augmentation layers share: Keras' `factor` ranges, fill modes, the options of
//! the geometric layers (read from and written to configs), the Keras `seed`, and the
//! per-step random draw. It does NOT build any image arithmetic (see `resample.rs`).

use std::fmt;

use ir::{BinaryOp, Graph, NodeId, Op, Shape};
use serde_json::{Map, Value, json};

use crate::config_json::{f32_json, lookup, name_of, read_f32};
use crate::error::Result;
use crate::layers::dropout::seed_offset;
use crate::layers::{ConfigReader, Interpolation, LayerContext};
use crate::optimizers::ITERATIONS;

/// A Keras `factor`: one number (`0.2`: a range symmetric about the layer's neutral value)
/// or a `(lower, upper)` pair, written back in the form it was given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Factor {
    /// One number `f`: the range `[-f, f]` (for `RandomContrast`: `[1 - f, 1 + f]`).
    Symmetric(f32),
    /// An explicit `(lower, upper)` pair.
    Range(f32, f32),
}

impl Factor {
    /// `(lower, upper)` with a single number read as `(-f, f)`.
    pub fn signed(self) -> (f32, f32) {
        match self {
            Factor::Symmetric(f) => (-f, f),
            Factor::Range(lower, upper) => (lower, upper),
        }
    }

    /// The Keras JSON form: a number or a two-element list.
    pub fn to_json(self) -> Value {
        match self {
            Factor::Symmetric(f) => f32_json(f),
            Factor::Range(lower, upper) => json!([f32_json(lower), f32_json(upper)]),
        }
    }

    /// Reads a number or a two-element list.
    pub fn from_json(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Array(pair) => match pair.as_slice() {
                [lower, upper] => Ok(Factor::Range(read_f32(lower)?, read_f32(upper)?)),
                _ => Err(format!("expected a number or two numbers, got {value}")),
            },
            number => Ok(Factor::Symmetric(read_f32(number)?)),
        }
    }

    /// A required factor field of a config.
    pub(super) fn read(c: &ConfigReader, field: &str) -> Result<Self> {
        let value = c.get(field).ok_or_else(|| c.error(field, "is required"))?;
        Factor::from_json(value).map_err(|msg| c.error(field, msg))
    }
}

impl From<f32> for Factor {
    fn from(f: f32) -> Self {
        Factor::Symmetric(f)
    }
}

impl From<(f32, f32)> for Factor {
    fn from((lower, upper): (f32, f32)) -> Self {
        Factor::Range(lower, upper)
    }
}

/// How points outside the input image are filled (Keras' `fill_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FillMode {
    /// `(d c b a | a b c d | d c b a)`: reflected about the edge of the last pixel.
    #[default]
    Reflect,
    /// `(a b c d | a b c d | a b c d)`: wrapped around to the opposite edge.
    Wrap,
    /// `(k k k k | a b c d | k k k k)`: the constant `fill_value`.
    Constant,
    /// `(a a a a | a b c d | d d d d)`: the nearest edge pixel.
    Nearest,
}

const FILL_MODES: [(&str, FillMode); 4] = [
    ("reflect", FillMode::Reflect),
    ("wrap", FillMode::Wrap),
    ("constant", FillMode::Constant),
    ("nearest", FillMode::Nearest),
];

impl fmt::Display for FillMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(name_of(&FILL_MODES, self))
    }
}

/// The options every geometric augmentation layer takes, with Keras' defaults: `reflect`
/// fill, `bilinear` interpolation, fill value 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransformOptions {
    /// Keras' `fill_mode`.
    pub fill_mode: FillMode,
    /// Keras' `interpolation`: `nearest` or `bilinear`.
    pub interpolation: Interpolation,
    /// Keras' `fill_value`, used by [`FillMode::Constant`].
    pub fill_value: f32,
}

impl Default for TransformOptions {
    fn default() -> Self {
        TransformOptions {
            fill_mode: FillMode::Reflect,
            interpolation: Interpolation::Bilinear,
            fill_value: 0.0,
        }
    }
}

impl TransformOptions {
    /// `fill_mode`, `interpolation` and `fill_value` of a config (Keras' defaults when absent).
    pub(super) fn read(c: &ConfigReader) -> Result<Self> {
        let fill_mode = c.str_or("fill_mode", "reflect")?;
        let fill_mode =
            lookup(&FILL_MODES, &fill_mode, "fill_mode").map_err(|m| c.error("fill_mode", m))?;
        let interpolation = c
            .str_or("interpolation", "bilinear")?
            .parse()
            .map_err(|e: crate::error::Error| c.error("interpolation", e.to_string()))?;
        Ok(TransformOptions {
            fill_mode,
            interpolation,
            fill_value: c.f32_or("fill_value", 0.0)?,
        })
    }

    /// The layer's Keras config: its own `fields` (a JSON object) plus the three options and
    /// `seed`, in Keras' names.
    pub(super) fn layer_config(
        &self,
        layer: &dyn crate::layers::Layer,
        mut fields: Value,
        seed: Option<u64>,
    ) -> Value {
        if let Some(map) = fields.as_object_mut() {
            self.write(map);
            map.insert("seed".into(), json!(seed));
        }
        crate::layers::layer_config(layer, fields)
    }

    fn write(&self, fields: &mut Map<String, Value>) {
        fields.insert("fill_mode".into(), json!(self.fill_mode.to_string()));
        fields.insert("fill_value".into(), f32_json(self.fill_value));
        fields.insert(
            "interpolation".into(),
            json!(self.interpolation.keras_name()),
        );
    }
}

/// Keras' `seed` of a config: a non-negative integer or null.
pub(super) fn read_seed(c: &ConfigReader) -> Result<Option<u64>> {
    c.get("seed")
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| c.error("seed", format!("expected an integer or null, got {v}")))
        })
        .transpose()
}

/// `count` uniform `[0, 1)` numbers per example, `[batch, count]`, new at every training
/// step: `RandomUniform` seeded by the step counter plus an offset from the layer's `seed`
/// (or, without one, the model's seed for this layer). The same on every backend.
pub(super) fn draw(
    g: &mut Graph,
    ctx: &LayerContext<'_>,
    seed: Option<u64>,
    batch: usize,
    count: usize,
) -> Result<NodeId> {
    let iterations = match g.find_leaf(ITERATIONS) {
        Some(node) => node,
        None => g.param(ITERATIONS, Shape::scalar()),
    };
    let offset = g.scalar(seed_offset(seed.unwrap_or(ctx.seed)));
    let step_seed = g.binary(BinaryOp::Add, iterations, offset)?;
    Ok(g.add(Op::RandomUniform(Shape::from([batch, count])), &[step_seed])?)
}

/// Column `k` of a `[batch, count]` draw mapped onto `[lower, upper)`, shaped
/// `[batch, 1, 1]` (one value per example, broadcast over an image's rows and columns).
pub(super) fn column_in(
    g: &mut Graph,
    draws: NodeId,
    k: usize,
    (lower, upper): (f32, f32),
) -> Result<NodeId> {
    let batch = g.shape(draws).dims()[0];
    let u = g.add(
        Op::Slice {
            starts: vec![0, k],
            ends: vec![batch, k + 1],
        },
        &[draws],
    )?;
    let u = g.reshape(u, [batch, 1, 1])?;
    let width = g.scalar(upper - lower);
    let scaled = g.binary(BinaryOp::Mul, u, width)?;
    let lower = g.scalar(lower);
    Ok(g.binary(BinaryOp::Add, scaled, lower)?)
}

/// Generates the builders `fill_mode`, `interpolation`, `fill_value` and `seed` of a
/// geometric layer with fields `options: TransformOptions` and `seed: Option<u64>`; invoke
/// inside the layer's inherent `impl`.
macro_rules! transform_builders {
    () => {
        /// Keras' `fill_mode`: how points outside the image are filled (default `reflect`).
        pub fn fill_mode(mut self, mode: $crate::layers::augment::FillMode) -> Self {
            self.options.fill_mode = mode;
            self
        }

        /// Keras' `interpolation`: `Nearest` or `Bilinear` (the default).
        pub fn interpolation(mut self, interpolation: $crate::layers::Interpolation) -> Self {
            self.options.interpolation = interpolation;
            self
        }

        /// Keras' `fill_value`, read outside the image in `Constant` fill mode (default 0).
        pub fn fill_value(mut self, value: f32) -> Self {
            self.options.fill_value = value;
            self
        }

        /// Keras' `seed`: the layer draws the same transforms whatever the model's seed.
        pub fn seed(mut self, seed: u64) -> Self {
            self.seed = Some(seed);
            self
        }
    };
}

pub(crate) use transform_builders;
