//! Activations: `Relu`, `LeakyRelu`, `Clip` with a lower bound of 0 (ReLU6 and capped
//! ReLUs), `Sigmoid`, `Tanh`, and `Softmax` with opset 13's one-axis semantics and the older
//! opsets' flatten-to-2-D semantics. Other `Clip` bounds are refused.

use crate::activations::Activation;
use crate::layers::{ActivationLayer, Layer, LeakyReLU, ReLU, Reshape, Softmax};
use crate::onnx::import::attrs::NodeCtx;
use crate::onnx::import::error::ImportResult;
use crate::onnx::import::graph::{Dyn, Importer};

/// Applies a parameter-free layer that keeps the layout.
fn unary(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>, layer: Box<dyn Layer>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let (t, _) = imp.apply(ctx, layer, &[x.t], Vec::new())?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: x.layout,
            producer: None,
        },
    )
}

/// `Relu`.
pub(crate) fn relu(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    unary(imp, ctx, Box::new(ReLU::new()))
}

/// `LeakyRelu(alpha = 0.01)`.
pub(crate) fn leaky_relu(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    unary(
        imp,
        ctx,
        Box::new(LeakyReLU::new(ctx.float_or("alpha", 0.01))),
    )
}

/// `Sigmoid`.
pub(crate) fn sigmoid(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    unary(
        imp,
        ctx,
        Box::new(ActivationLayer::new(Activation::Sigmoid)),
    )
}

/// `Tanh`.
pub(crate) fn tanh(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    unary(imp, ctx, Box::new(ActivationLayer::new(Activation::Tanh)))
}

/// `Clip(min, max)` (inputs from opset 11, attributes before) with `min` 0 → `ReLU` capped
/// at `max`.
pub(crate) fn clip(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let bound = |i: usize, attr: &str, default: f32| -> ImportResult<f32> {
        match imp.const_input(ctx, i)? {
            Some(c) if c.len() == 1 => Ok(c.to_f32()[0]),
            Some(c) => Err(ctx.error(format!("bound {i} must be a scalar, got dims {:?}", c.dims))),
            None => Ok(ctx.float_or(attr, default)),
        }
    };
    let (lo, hi) = (
        bound(1, "min", f32::NEG_INFINITY)?,
        bound(2, "max", f32::INFINITY)?,
    );
    if lo != 0.0 || hi < 0.0 {
        return Err(ctx.error(format!(
            "Clip to [{lo}, {hi}] is not supported: Kiln maps a lower bound of 0 (ReLU, ReLU6)"
        )));
    }
    let layer = if hi.is_finite() {
        ReLU::new().max_value(hi)
    } else {
        ReLU::new()
    };
    unary(imp, ctx, Box::new(layer))
}

/// `Softmax`: from opset 13 along `axis` (default -1); before, over all axes from `axis`
/// (default 1) flattened.
pub(crate) fn softmax(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let rank = imp.kiln_dims(&x).len() as i64 + 1;
    let default = if ctx.opset >= 13 { -1 } else { 1 };
    let axis = ctx.int_or("axis", default);
    let a = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&a) {
        return Err(ctx.error(format!("axis {axis} is out of range for rank {rank}")));
    }
    if ctx.opset >= 13 || a == rank - 1 {
        let k = imp.kiln_axis(ctx, &x, a)?;
        return unary(imp, ctx, Box::new(Softmax::new(k as i64)));
    }
    if a == 0 {
        return Err(ctx.error("axis 0 flattens the batch axis into the softmax"));
    }
    let x = imp.onnx_layout(ctx, x)?;
    let dims = imp.onnx_dims(&x);
    let split = a as usize - 1;
    let mut flat: Vec<i64> = dims[..split].iter().map(|&d| d as i64).collect();
    flat.push(dims[split..].iter().product::<usize>() as i64);
    let t = imp.apply_helper(ctx, Reshape::new(flat), x.t)?;
    let (t, _) = imp.apply(ctx, Box::new(Softmax::new(-1)), &[t], Vec::new())?;
    let back = imp.apply_helper(ctx, Reshape::new(dims.iter().map(|&d| d as i64)), t)?;
    imp.set_dyn(
        ctx,
        Dyn {
            t: back,
            layout: x.layout,
            producer: None,
        },
    )
}
