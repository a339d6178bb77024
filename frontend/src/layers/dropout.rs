//! The `Dropout` layer: inverted dropout while training, the identity otherwise.
//!
//! The mask is `RandomUniform(x's shape) >= rate`, scaled by `1 / (1 - rate)`. Its seed is the
//! optimizer's step counter (`optimizer/iterations`, a param the training graph updates every
//! step) plus a per-layer offset drawn from the model's seed, so every step and every
//! Dropout layer draws a different mask, and the same model seed gives the same masks. The
//! offset is below 2²³ so `iterations + offset` stays an exact f32 integer for 2²³ steps.

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
    name: Option<String>,
}

impl Dropout {
    /// Dropout of a `rate` fraction of the units, `0 <= rate < 1`.
    pub fn new(rate: f32) -> Self {
        Dropout { rate, name: None }
    }

    /// The layer a Keras `Dropout` config describes (no `noise_shape`; a Keras `seed` is
    /// ignored: masks follow the model's seed).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        c.require_null(&["noise_shape"])?;
        Ok(Dropout {
            rate: c.f32_or("rate", f32::NAN)?,
            name: Some(c.name().to_string()),
        })
    }

    named_builder!();

    /// The fraction of units dropped.
    pub fn rate(&self) -> f32 {
        self.rate
    }
}

/// A per-layer seed offset in `0..2²³` from the layer's 64-bit seed (a splitmix64 finaliser).
fn seed_offset(seed: u64) -> f32 {
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
        Ok(input.clone())
    }

    fn params(&self, _input: &Shape) -> Vec<ParamSpec> {
        Vec::new()
    }

    fn config(&self) -> Value {
        layer_config(
            self,
            json!({"rate": f32_json(self.rate), "noise_shape": null, "seed": null}),
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
        let uniform = g.add(Op::RandomUniform(g.shape(x).clone()), &[seed])?;
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
