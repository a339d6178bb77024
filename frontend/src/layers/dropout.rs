//! The `Dropout` layer: inverted dropout while training, the identity otherwise.
//!
//! The mask is `RandomUniform(x's shape) >= rate`, scaled by `1 / (1 - rate)`. Its seed is the
//! optimizer's step counter (`optimizer/iterations`, a param the training graph updates every
//! step) plus a per-layer offset drawn from the model's seed, so every step and every
//! Dropout layer draws a different mask, and the same model seed gives the same masks. The
//! offset is below 2²³ so `iterations + offset` stays an exact f32 integer for 2²³ steps.
//! With Keras' `noise_shape` (e.g. `[None, 1, 1, C]`, EfficientNet's) the mask has that
//! shape (`None`: the input's size there) and is broadcast over the input.

use ir::{BinaryOp, Graph, NodeId, Op, Shape};
use serde_json::{Value, json};

use crate::config_json::f32_json;
use crate::error::Result;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, layer_config, layer_error};
use crate::optimizers::ITERATIONS;

/// Keras' `Dropout(rate)`: while training, zeroes each element with probability `rate` and
/// scales the rest by `1 / (1 - rate)`; in evaluate and predict it passes its input through.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout {
    rate: f32,
    /// Keras' `noise_shape`, batch axis first; `None` entries take the input's size.
    noise_shape: Option<Vec<Option<usize>>>,
    name: Option<String>,
}

impl Dropout {
    /// Dropout of a `rate` fraction of the units, `0 <= rate < 1`.
    pub fn new(rate: f32) -> Self {
        Dropout {
            rate,
            noise_shape: None,
            name: None,
        }
    }

    /// Draw one mask value per entry of `shape` (batch axis first; `None`: the input's
    /// size) and broadcast it, as Keras' `noise_shape` (`[None, 1, 1, C]` drops whole
    /// channels of an image).
    pub fn noise_shape(mut self, shape: Vec<Option<usize>>) -> Self {
        self.noise_shape = Some(shape);
        self
    }

    /// The layer a Keras `Dropout` config describes (a Keras `seed` is ignored: masks follow
    /// the model's seed).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let noise_shape = match c.get("noise_shape") {
            None => None,
            Some(Value::Array(dims)) => Some(
                dims.iter()
                    .map(|d| match d {
                        Value::Null => Ok(None),
                        d => d.as_u64().map(|n| Some(n as usize)).ok_or_else(|| {
                            c.error("noise_shape", format!("expected sizes or null, got {d}"))
                        }),
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(other) => {
                return Err(c.error("noise_shape", format!("expected a list, got {other}")));
            }
        };
        Ok(Dropout {
            rate: c.f32_or("rate", f32::NAN)?,
            noise_shape,
            name: Some(c.name().to_string()),
        })
    }

    /// The mask's shape for the batched input `dims`: `noise_shape` resolved, or `dims`.
    fn mask_dims(&self, dims: &[usize]) -> Result<Vec<usize>> {
        let Some(noise) = &self.noise_shape else {
            return Ok(dims.to_vec());
        };
        let resolved: Vec<usize> = noise
            .iter()
            .zip(dims)
            .map(|(n, &d)| n.unwrap_or(d))
            .collect();
        let fits =
            noise.len() == dims.len() && resolved.iter().zip(dims).all(|(&n, &d)| n == d || n == 1);
        if fits {
            Ok(resolved)
        } else {
            Err(layer_error(
                self,
                format!("noise_shape {noise:?} does not broadcast to the input {dims:?}"),
            ))
        }
    }

    named_builder!();

    /// The fraction of units dropped.
    pub fn rate(&self) -> f32 {
        self.rate
    }
}

/// A per-layer seed offset in `0..2²³` from the layer's 64-bit seed (a splitmix64 finaliser).
pub(crate) fn seed_offset(seed: u64) -> f32 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 41) as f32
}

impl Layer for Dropout {
    fn class_name(&self) -> &'static str {
        "Dropout"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        if !(0.0..1.0).contains(&self.rate) {
            return Err(layer_error(
                self,
                format!("rate must lie in [0, 1), got {}", self.rate),
            ));
        }
        let mut batched = vec![1];
        batched.extend(input.dims());
        self.mask_dims(&batched)?;
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"rate": f32_json(self.rate), "noise_shape": self.noise_shape, "seed": null}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        if !ctx.training || self.rate == 0.0 {
            return Ok(x);
        }
        let iterations = match g.find_leaf(ITERATIONS) {
            Some(node) => node,
            None => g.param(ITERATIONS, Shape::scalar()),
        };
        let offset = g.scalar(seed_offset(ctx.seed));
        let seed = g.binary(BinaryOp::Add, iterations, offset)?;
        let mask_shape = Shape::new(self.mask_dims(g.shape(x).dims())?);
        let uniform = g.add(Op::RandomUniform(mask_shape), &[seed])?;
        let rate = g.scalar(self.rate);
        let keep = g.binary(BinaryOp::Ge, uniform, rate)?;
        let scale = g.scalar(1.0 / (1.0 - self.rate));
        let mask = g.binary(BinaryOp::Mul, keep, scale)?;
        Ok(g.binary(BinaryOp::Mul, x, mask)?)
    }
}

#[cfg(test)]
mod tests {
    use super::seed_offset;

    #[test]
    fn offsets_are_exact_integers_below_two_to_the_23() {
        for seed in [0u64, 1, 12, u64::MAX] {
            let offset = seed_offset(seed);
            assert!(offset < (1u32 << 23) as f32 && offset.fract() == 0.0);
        }
        assert_ne!(seed_offset(1), seed_offset(2));
    }
}
