//! `BatchNormalization` (inference form) as Kiln's `BatchNormalization` over the channel
//! axis, its scale, bias, mean and variance becoming gamma, beta, moving mean and moving
//! variance; epsilon and momentum carried over (ONNX and Keras weigh momentum alike).

use crate::layers::BatchNormalization;
use crate::onnx::import::attrs::NodeCtx;
use crate::onnx::import::error::ImportResult;
use crate::onnx::import::graph::{Dyn, Importer, tensor};

/// `BatchNormalization(X, scale, B, mean, var)` → `BatchNormalization`.
pub(crate) fn batch_norm(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    if ctx.int_or("training_mode", 0) != 0 || ctx.node.output.len() > 1 {
        return Err(ctx.error("the training form (running statistics as outputs) is not supported"));
    }
    let x = imp.dyn_input(ctx, 0)?;
    let x = if imp.kiln_dims(&x).len() == 3 {
        imp.channels_last(ctx, x)?
    } else {
        x
    };
    let axis = imp.kiln_axis(ctx, &x, 1)?;
    let channels = imp
        .kiln_dims(&x)
        .get(axis.wrapping_sub(1))
        .copied()
        .unwrap_or(0);
    let mut params = Vec::new();
    for (i, name) in [
        (1, "gamma"),
        (2, "beta"),
        (3, "moving_mean"),
        (4, "moving_variance"),
    ] {
        let v = imp.required_const(ctx, i)?;
        if v.len() != channels {
            return Err(ctx.error(format!(
                "input {i} has dims {:?}, but the data has {channels} channels",
                v.dims
            )));
        }
        params.push((name, tensor(&[channels], v.to_f32())));
    }
    let layer = BatchNormalization::new()
        .axis(axis as i64)
        .epsilon(ctx.float_or("epsilon", 1e-5))
        .momentum(ctx.float_or("momentum", 0.9));
    let (t, _) = imp.apply(ctx, Box::new(layer), &[x.t], params)?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: x.layout,
            producer: None,
        },
    )
}
