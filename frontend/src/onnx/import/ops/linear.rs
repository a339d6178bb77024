//! `Gemm` and `MatMul` with a constant weight, as one `Dense` layer: the weight transposed
//! (`transB`) and scaled (`alpha`) once at load, `beta · C` as the bias. A product of two
//! model tensors, or a transposed data operand (`transA`), is refused with an error.

use crate::layers::Dense;
use crate::onnx::import::attrs::NodeCtx;
use crate::onnx::import::error::ImportResult;
use crate::onnx::import::graph::{Dyn, Importer, Layout, Producer, tensor};

/// `Y = alpha · A · B + beta · C` with a constant `B` (and `C`) → `Dense`.
pub(crate) fn gemm(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    if ctx.int_or("transA", 0) != 0 {
        return Err(ctx.error(
            "transA = 1 transposes the batch axis of the model's data; Kiln keeps it first",
        ));
    }
    let (alpha, beta) = (ctx.float_or("alpha", 1.0), ctx.float_or("beta", 1.0));
    let b = imp.required_const(ctx, 1)?;
    if b.dims.len() != 2 {
        return Err(ctx.error(format!("B must be 2-D, got dims {:?}", b.dims)));
    }
    let trans_b = ctx.int_or("transB", 0) != 0;
    let (k, n) = if trans_b {
        (b.dims[1], b.dims[0])
    } else {
        (b.dims[0], b.dims[1])
    };
    let w = b.to_f32();
    let kernel: Vec<f32> = (0..k * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            alpha * if trans_b { w[c * k + r] } else { w[i] }
        })
        .collect();
    let bias = match imp.const_input(ctx, 2)? {
        None => vec![0.0; n],
        Some(c) => row_bias(ctx, &c.dims, &c.to_f32(), n)?
            .into_iter()
            .map(|v| beta * v)
            .collect(),
    };
    dense(imp, ctx, k, n, kernel, bias)
}

/// A bias `C` that is the same for every row: dims `[]`, `[1]`, `[n]`, `[1, n]`, `[1, 1]`.
fn row_bias(ctx: &NodeCtx<'_>, dims: &[usize], data: &[f32], n: usize) -> ImportResult<Vec<f32>> {
    let rows: usize = dims.iter().rev().skip(1).product();
    let cols = dims.last().copied().unwrap_or(1);
    if dims.len() > 2 || rows != 1 || (cols != 1 && cols != n) {
        return Err(ctx.error(format!(
            "C of dims {dims:?} differs per row (per example); Kiln needs one bias row of {n}"
        )));
    }
    Ok((0..n)
        .map(|j| data[if cols == 1 { 0 } else { j }])
        .collect())
}

/// `MatMul(X, W)` with a constant 2-D `W` → `Dense` over X's last axis (zero bias, which a
/// following `Add` of a constant fills).
pub(crate) fn matmul(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let w = imp.const_input(ctx, 1).map_err(|_| {
        ctx.error("both operands depend on the model's input; Kiln maps MatMul with a constant B")
    })?;
    let w = w.ok_or_else(|| ctx.error("input 1 is missing"))?;
    if w.dims.len() != 2 {
        return Err(ctx.error(format!("B must be a 2-D constant, got dims {:?}", w.dims)));
    }
    let (k, n) = (w.dims[0], w.dims[1]);
    let kernel = w.to_f32();
    dense(imp, ctx, k, n, kernel, vec![0.0; n])
}

/// Applies `Dense(n)` on input 0 (in the ONNX layout) with the given kernel `[k, n]`.
fn dense(
    imp: &mut Importer<'_>,
    ctx: &NodeCtx<'_>,
    k: usize,
    n: usize,
    kernel: Vec<f32>,
    bias: Vec<f32>,
) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let x = imp.onnx_layout(ctx, x)?;
    let features = imp.kiln_dims(&x).last().copied().unwrap_or(0);
    if features != k {
        return Err(ctx.error(format!(
            "the data's last axis has {features} features, but the weight expects {k}"
        )));
    }
    let layer = Box::new(Dense::new(n));
    let params = vec![
        ("kernel", tensor(&[k, n], kernel)),
        ("bias", tensor(&[n], bias)),
    ];
    let (t, layer) = imp.apply(ctx, layer, &[x.t], params)?;
    let producer = Producer {
        layer,
        kernel: "kernel",
        stride: 1,
        channels: n,
    };
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: Layout::Onnx,
            producer: Some(producer),
        },
    )
}
