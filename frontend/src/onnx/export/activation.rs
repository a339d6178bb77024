//! Activations as ONNX nodes: [`apply`] writes one Kiln [`Activation`] (used by every layer
//! with an `activation` option), and the rules of the activation layers (`Activation`,
//! `ReLU`, `LeakyReLU`, `ELU`, `Softmax`, `PReLU`). Elementwise activations keep their
//! input's layout; softmax picks the ONNX axis holding Kiln's axis.
//!
//! Ops: `Relu`, `Clip` (relu6, capped ReLU), `Sigmoid`, `Tanh`, `Softmax`, `LogSoftmax`,
//! `Elu`, `Selu`, `Softplus`, `Softsign`, `HardSigmoid`, `LeakyRelu`, `PRelu`; swish is
//! `Mul(x, Sigmoid(x))` and gelu `0.5·x·(1 + Erf(x/√2))` (opset 17 has no `Gelu`).

use super::graph::{Emitter, Layout, Value, float, int};
use super::rules::Site;
use crate::activations::{Activation, SELU_ALPHA, SELU_SCALE};
use crate::error::Result;

/// `activation(x)`; the result's name starts with `base`.
pub(crate) fn apply(e: &mut Emitter, x: Value, activation: Activation, base: &str) -> Value {
    let unary = |e: &mut Emitter, op: &str, attrs| e.node(op, &[&x.name], base, attrs);
    let last = x.shape.rank();
    let name = match activation {
        Activation::Linear => return x,
        Activation::Relu => unary(e, "Relu", vec![]),
        Activation::Relu6 => clip(e, &x.name, 0.0, 6.0, base),
        Activation::Sigmoid => unary(e, "Sigmoid", vec![]),
        Activation::Tanh => unary(e, "Tanh", vec![]),
        Activation::Softmax => unary(e, "Softmax", vec![int("axis", x.onnx_axis(last))]),
        Activation::LogSoftmax => unary(e, "LogSoftmax", vec![int("axis", x.onnx_axis(last))]),
        Activation::Elu => unary(e, "Elu", vec![float("alpha", 1.0)]),
        Activation::Selu => unary(
            e,
            "Selu",
            vec![float("alpha", SELU_ALPHA), float("gamma", SELU_SCALE)],
        ),
        Activation::Softplus => unary(e, "Softplus", vec![]),
        Activation::Softsign => unary(e, "Softsign", vec![]),
        Activation::HardSigmoid => unary(
            e,
            "HardSigmoid",
            vec![float("alpha", 0.2), float("beta", 0.5)],
        ),
        Activation::LeakyRelu { alpha } => unary(e, "LeakyRelu", vec![float("alpha", alpha)]),
        Activation::Swish => {
            let s = e.node("Sigmoid", &[&x.name], &format!("{base}/sigmoid"), vec![]);
            e.node("Mul", &[&x.name, &s], base, vec![])
        }
        Activation::Gelu => gelu(e, &x.name, base),
    };
    Value { name, ..x }
}

/// `Clip(x, min, max)` with the bounds as scalar initializers.
fn clip(e: &mut Emitter, x: &str, min: f32, max: f32, base: &str) -> String {
    let lo = e.scalar(&format!("{base}/min"), min);
    let hi = e.scalar(&format!("{base}/max"), max);
    e.node("Clip", &[x, &lo, &hi], base, vec![])
}

/// `0.5·x·(1 + erf(x/√2))`, as Kiln's `gelu`.
fn gelu(e: &mut Emitter, x: &str, base: &str) -> String {
    let r = e.scalar(
        &format!("{base}/inv_sqrt2"),
        std::f32::consts::FRAC_1_SQRT_2,
    );
    let scaled = e.node("Mul", &[x, &r], &format!("{base}/scaled"), vec![]);
    let erf = e.node("Erf", &[&scaled], &format!("{base}/erf"), vec![]);
    let one = e.scalar(&format!("{base}/one"), 1.0);
    let plus = e.node("Add", &[&erf, &one], &format!("{base}/plus_one"), vec![]);
    let half = e.scalar(&format!("{base}/half"), 0.5);
    let hx = e.node("Mul", &[x, &half], &format!("{base}/half_x"), vec![]);
    e.node("Mul", &[&hx, &plus], base, vec![])
}

/// Keras' `Activation` layer.
pub(crate) fn activation_layer(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let act = site
        .reader()?
        .activation_or("activation", Activation::Linear)?;
    let x = site.input()?.clone();
    Ok(apply(e, x, act, site.name))
}

/// Keras' `ReLU` layer: `Relu`, `LeakyRelu` for a negative slope, then `Clip` for a cap.
/// A non-zero `threshold` has no rule.
pub(crate) fn relu_layer(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let c = site.reader()?;
    let threshold = c.f32_or("threshold", 0.0)?;
    if threshold != 0.0 {
        return Err(site.error(format!("threshold {threshold} (only 0 is exported)")));
    }
    let slope = c.f32_or("negative_slope", 0.0)?;
    let max = match c.get("max_value") {
        Some(_) => Some(c.f32_or("max_value", 0.0)?),
        None => None,
    };
    let x = site.input()?;
    let name = match (slope == 0.0, max) {
        (true, Some(max)) => clip(e, &x.name, 0.0, max, site.name),
        (true, None) => e.node("Relu", &[&x.name], site.name, vec![]),
        (false, max) => {
            let base = if max.is_some() {
                site.named("leaky")
            } else {
                site.name.into()
            };
            let y = e.node("LeakyRelu", &[&x.name], &base, vec![float("alpha", slope)]);
            match max {
                Some(max) => clip(e, &y, f32::NEG_INFINITY, max, site.name),
                None => y,
            }
        }
    };
    Ok(Value { name, ..x.clone() })
}

/// Keras' `LeakyReLU` layer.
pub(crate) fn leaky_relu_layer(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let alpha = site
        .reader()?
        .f32_or("alpha", Activation::LEAKY_RELU_LAYER_ALPHA)?;
    let x = site.input()?.clone();
    Ok(apply(e, x, Activation::LeakyRelu { alpha }, site.name))
}

/// Keras' `ELU` layer.
pub(crate) fn elu_layer(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let alpha = site.reader()?.f32_or("alpha", 1.0)?;
    let x = site.input()?;
    let name = e.node("Elu", &[&x.name], site.name, vec![float("alpha", alpha)]);
    Ok(Value { name, ..x.clone() })
}

/// Keras' `Softmax` layer along its `axis` (counting the batch axis as 0).
pub(crate) fn softmax_layer(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let x = site.input()?;
    let batched = x.shape.rank() as i64 + 1;
    let axis = match site.config.get("axis") {
        None | Some(serde_json::Value::Null) => -1,
        Some(v) => v
            .as_i64()
            .or_else(|| {
                v.as_array()
                    .filter(|a| a.len() == 1)
                    .and_then(|a| a[0].as_i64())
            })
            .ok_or_else(|| site.error(format!("axis {v} (one integer is exported)")))?,
    };
    let axis = if axis < 0 { axis + batched } else { axis };
    if !(1..batched).contains(&axis) {
        return Err(site.error(format!("axis {axis} out of range")));
    }
    let onnx_axis = x.onnx_axis(axis as usize);
    let name = e.node(
        "Softmax",
        &[&x.name],
        site.name,
        vec![int("axis", onnx_axis)],
    );
    Ok(Value { name, ..x.clone() })
}

/// Keras' `PReLU`: `PRelu(x, alpha)` in Kiln's layout (alpha broadcasts per example).
pub(crate) fn prelu_layer(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let x = site.input_in(e, Layout::Kiln)?;
    let alpha = site.param("alpha")?;
    let slope = e.floats(&site.named("alpha"), alpha.shape.dims(), &alpha.data);
    let name = e.node("PRelu", &[&x.name, &slope], site.name, vec![]);
    Ok(site.output(name, Layout::Kiln))
}
