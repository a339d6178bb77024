//! Shape ops on model tensors: `Flatten`, `Reshape` (with `allowzero`; the batch axis must
//! stay first, and a constant batch size in the target pins the model to it), `Transpose`
//! (composed with the layout, so an NCHW→NHWC transpose costs nothing), `Concat`, `Pad`
//! (zeros on the spatial axes), `Identity` and `Dropout`. A 4-D tensor is brought to the ONNX
//! element order (one `Permute`) before an op that depends on it.

use crate::layers::{Concatenate, Dropout, Flatten, Permute, PinnedBatch, Reshape, ZeroPadding2D};
use crate::onnx::import::attrs::NodeCtx;
use crate::onnx::import::error::ImportResult;
use crate::onnx::import::fold::{Folder, resolve_reshape};
use crate::onnx::import::graph::{Dyn, Importer, Layout};
use crate::onnx::import::tensor::Mark;

/// `Identity`: the same tensor.
pub(crate) fn identity(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    imp.set_dyn(
        ctx,
        Dyn {
            producer: None,
            ..x
        },
    )
}

/// `Dropout` → Kiln's `Dropout` at the node's ratio (attribute before opset 12, input after;
/// default 0.5): the identity in prediction, dropout when fine-tuning.
pub(crate) fn dropout(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let rate = match imp.const_input(ctx, 1)? {
        Some(r) if r.len() == 1 => r.to_f32()[0],
        Some(r) => return Err(ctx.error(format!("ratio has dims {:?}", r.dims))),
        None => ctx.float_or("ratio", 0.5),
    };
    if ctx.node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(ctx.error("the mask output is not supported"));
    }
    let x = imp.dyn_input(ctx, 0)?;
    let (t, _) = imp.apply(ctx, Box::new(Dropout::new(rate)), &[x.t], Vec::new())?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: x.layout,
            producer: None,
        },
    )
}

/// `Flatten(axis = 1)` → Kiln's `Flatten` (after a `Permute` to the ONNX order when the
/// image is larger than 1×1).
pub(crate) fn flatten(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let dims = imp.onnx_dims(&x);
    let rank = dims.len() as i64 + 1;
    let axis = ctx.int_or("axis", 1);
    let a = if axis < 0 { axis + rank } else { axis };
    if a < 1 || a > rank || dims[..(a as usize - 1)].iter().any(|&d| d != 1) {
        return Err(ctx.error(format!(
            "axis {axis} of a tensor of shape [N, {dims:?}] merges the batch axis with others; \
             Kiln keeps the batch axis"
        )));
    }
    let spatial_one = dims.len() == 3 && dims[1] == 1 && dims[2] == 1;
    let x = if x.layout == Layout::ChannelsLast && !spatial_one {
        imp.onnx_layout(ctx, x)?
    } else {
        x
    };
    let (t, _) = imp.apply(ctx, Box::new(Flatten::new()), &[x.t], Vec::new())?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: Layout::Onnx,
            producer: None,
        },
    )
}

/// `Reshape(data, shape)`: the target resolved against the exported batch size; the first
/// axis must be the batch axis, taken from the data (`0`, `-1`, or `Shape`'s batch element)
/// or a constant equal to the exported batch size, which pins the model to that size.
pub(crate) fn reshape(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let target = match imp.const_input(ctx, 1)? {
        Some(c) => c.clone(),
        None => match ctx.ints("shape") {
            Some(s) => crate::onnx::import::tensor::Const::i64(vec![s.len()], s.to_vec()),
            None => return Err(ctx.error("the target shape is missing")),
        },
    };
    let x = imp.dyn_input(ctx, 0)?;
    let per = imp.onnx_dims(&x);
    // A 1×1 image has the same element order in both layouts: no Permute needed.
    let x = if per.len() == 3 && per[1] * per[2] == 1 {
        x
    } else {
        imp.onnx_layout(ctx, x)?
    };
    let mut full = vec![imp.batch];
    full.extend_from_slice(&per);
    let allowzero = ctx.int_or("allowzero", 0) != 0;
    let values = target.to_i64();
    let folder = Folder {
        ctx: *ctx,
        limit: imp.limit,
    };
    let out = resolve_reshape(&folder, &full, &values, allowzero)?;
    let per_numel: usize = per.iter().product();
    let rest_numel: usize = out.iter().skip(1).product();
    let first = values.first().copied();
    let dynamic = !out.is_empty()
        && rest_numel == per_numel
        && (target.mark(0) == Mark::Batch || first == Some(-1) || (first == Some(0) && !allowzero));
    let pinned_by = (0..values.len()).any(|i| target.mark(i) == Mark::FromBatch)
        || (!dynamic && out.first() == Some(&imp.batch) && rest_numel == per_numel);
    if !dynamic && !pinned_by {
        return Err(ctx.error(format!(
            "target shape {values:?} on data of shape [N={}, {per:?}] merges the batch axis with \
             others; Kiln keeps the batch axis first",
            imp.batch
        )));
    }
    let per_target: Vec<i64> = out[1..].iter().map(|&d| d as i64).collect();
    let (mut t, _) = imp.apply(ctx, Box::new(Reshape::new(per_target)), &[x.t], Vec::new())?;
    if pinned_by && !imp.free_batch {
        let origin = format!(
            "ONNX node `{}` ({} to the constant shape {values:?})",
            ctx.name(),
            ctx.op()
        );
        t = imp.apply_helper(ctx, PinnedBatch::new(imp.batch, origin), t)?;
    }
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: Layout::Onnx,
            producer: None,
        },
    )
}

/// `Transpose(perm)` with `perm[0] = 0`, composed with the data's layout into at most one
/// `Permute`.
pub(crate) fn transpose(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let rank = imp.kiln_dims(&x).len() + 1;
    let perm: Vec<usize> = match ctx.ints("perm") {
        Some(p) => p
            .iter()
            .map(|&a| usize::try_from(if a < 0 { a + rank as i64 } else { a }).unwrap_or(rank))
            .collect(),
        None => (0..rank).rev().collect(),
    };
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..rank).collect::<Vec<_>>() || perm[0] != 0 {
        return Err(ctx.error(format!(
            "perm {perm:?}: Kiln maps permutations that keep the batch axis first"
        )));
    }
    // Output ONNX axis i reads input ONNX axis perm[i], held at Kiln axis kiln_axis(perm[i]).
    let from: Vec<usize> = perm
        .iter()
        .map(|&p| imp.kiln_axis(ctx, &x, p as i64))
        .collect::<ImportResult<_>>()?;
    let t = if from.iter().enumerate().all(|(i, &f)| i == f) {
        x.t
    } else {
        let (t, _) = imp.apply(
            ctx,
            Box::new(Permute::new(from[1..].to_vec())),
            &[x.t],
            Vec::new(),
        )?;
        t
    };
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: Layout::Onnx,
            producer: None,
        },
    )
}

/// `Concat` of model tensors along a non-batch axis.
pub(crate) fn concat(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let n = ctx.node.input.len();
    let mut xs = (0..n)
        .map(|i| imp.dyn_input(ctx, i))
        .collect::<ImportResult<Vec<Dyn>>>()?;
    if xs.is_empty() {
        return Err(ctx.error("has no inputs"));
    }
    if xs.iter().any(|x| x.layout != xs[0].layout) {
        xs = xs
            .into_iter()
            .map(|x| imp.onnx_layout(ctx, x))
            .collect::<ImportResult<_>>()?;
    }
    let axis = imp.kiln_axis(ctx, &xs[0], ctx.int_or("axis", 0))?;
    if axis == 0 {
        return Err(ctx.error("concatenating along the batch axis is not supported"));
    }
    let ts: Vec<_> = xs.iter().map(|x| x.t).collect();
    let layout = xs[0].layout;
    let (t, _) = imp.apply(
        ctx,
        Box::new(Concatenate::with_axis(axis as i64)),
        &ts,
        Vec::new(),
    )?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout,
            producer: None,
        },
    )
}

/// `Pad` with zeros on the spatial axes of an image → `ZeroPadding2D`.
pub(crate) fn pad(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let mode = ctx.string("mode").unwrap_or_else(|| "constant".into());
    if mode != "constant" {
        return Err(ctx.error(format!("mode `{mode}` is not supported (constant is)")));
    }
    if let Some(v) = imp.const_input(ctx, 2)?
        && v.to_f32().iter().any(|&x| x != 0.0)
    {
        return Err(ctx.error("a constant_value other than 0 is not supported"));
    }
    let pads = match imp.const_input(ctx, 1)? {
        Some(p) => p.to_i64(),
        None => ctx.ints("pads").map(<[i64]>::to_vec).unwrap_or_default(),
    };
    let axes = match imp.const_input(ctx, 3)? {
        Some(a) => a.to_i64(),
        None => (0..(pads.len() / 2) as i64).collect(),
    };
    let x = imp.dyn_input(ctx, 0)?;
    let rank = imp.kiln_dims(&x).len() + 1;
    let mut begin = vec![0i64; rank];
    let mut end = vec![0i64; rank];
    if pads.len() != 2 * axes.len() {
        return Err(ctx.error(format!("pads {pads:?} do not match axes {axes:?}")));
    }
    for (k, &a) in axes.iter().enumerate() {
        let a = usize::try_from(if a < 0 { a + rank as i64 } else { a })
            .ok()
            .filter(|&a| a < rank)
            .ok_or_else(|| ctx.error(format!("axis {a} is out of range")))?;
        begin[a] = pads[k];
        end[a] = pads[k + axes.len()];
    }
    if rank != 4
        || begin[..2] != [0, 0]
        || end[..2] != [0, 0]
        || begin.iter().chain(&end).any(|&p| p < 0)
    {
        return Err(ctx.error(format!(
            "pads {pads:?}: Kiln maps non-negative padding of the spatial axes of an image"
        )));
    }
    let x = imp.channels_last(ctx, x)?;
    let border = [
        [begin[2] as usize, end[2] as usize],
        [begin[3] as usize, end[3] as usize],
    ];
    let (t, _) = imp.apply(
        ctx,
        Box::new(ZeroPadding2D::explicit(border)),
        &[x.t],
        Vec::new(),
    )?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: Layout::ChannelsLast,
            producer: None,
        },
    )
}
