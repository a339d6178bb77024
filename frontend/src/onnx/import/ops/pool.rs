//! Pooling: `MaxPool`, `AveragePool` (`count_include_pad` both ways), `GlobalAveragePool`,
//! `GlobalMaxPool`, and `ReduceMean` over the two spatial axes of an image (axes as an
//! attribute or, from opset 18, an input). Padding that is not `valid` or TensorFlow's `same`
//! uses the pooling layers' explicit padding (padded cells skipped or not counted); an
//! average that counts padded cells pads with zeros first. Other reductions are refused.

use crate::layers::{
    GlobalAveragePooling2D, GlobalMaxPooling2D, Layer, Padding, Pooling2D, PoolingKind,
    ZeroPadding2D,
};
use crate::onnx::import::attrs::NodeCtx;
use crate::onnx::import::error::ImportResult;
use crate::onnx::import::graph::{Dyn, Importer, Layout};
use crate::onnx::import::ops::conv::{PadChoice, padding, pair};

/// `MaxPool`.
pub(crate) fn max_pool(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    if ctx.node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(ctx.error("the Indices output is not supported"));
    }
    if ctx.int_or("storage_order", 0) != 0 {
        return Err(ctx.error("storage_order 1 is not supported"));
    }
    windowed::<crate::layers::MaxPoolingKind>(imp, ctx, false)
}

/// `AveragePool`.
pub(crate) fn average_pool(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let include = ctx.int_or("count_include_pad", 0) != 0;
    windowed::<crate::layers::AveragePoolingKind>(imp, ctx, include)
}

/// A windowed pool; `zero_pad`: padded cells count (pad with zeros, then `valid`).
fn windowed<K: PoolingKind>(
    imp: &mut Importer<'_>,
    ctx: &NodeCtx<'_>,
    zero_pad: bool,
) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let mut x = imp.channels_last(ctx, x)?;
    let window = match ctx.ints("kernel_shape") {
        Some(&[a, b]) if a >= 1 && b >= 1 => [a as usize, b as usize],
        other => {
            return Err(ctx.error(format!(
                "kernel_shape {other:?}: Kiln maps 2-D pooling windows"
            )));
        }
    };
    if pair(ctx, "dilations")? != [1, 1] {
        return Err(ctx.error("dilations other than 1 are not supported"));
    }
    let strides = pair(ctx, "strides")?;
    let [h, w, _] = <[usize; 3]>::try_from(imp.kiln_dims(&x)).unwrap_or([0; 3]);
    let choice = padding(ctx, [h, w], window, strides)?;
    check_ceil_mode(ctx, [h, w], window, strides, choice)?;
    let mut layer = Pooling2D::<K>::new(window).strides(strides);
    match (choice, zero_pad) {
        (PadChoice::Valid, _) => {}
        (PadChoice::Same, false) => layer = layer.padding(Padding::Same),
        (PadChoice::Explicit(p), false) => layer = layer.explicit_padding(p),
        (PadChoice::Same | PadChoice::Explicit(_), true) => {
            let [t, b, l, r] = explicit(choice, [h, w], window, strides);
            let padded = imp.apply_helper(ctx, ZeroPadding2D::explicit([[t, b], [l, r]]), x.t)?;
            x = Dyn { t: padded, ..x };
        }
    }
    let (t, _) = imp.apply(ctx, Box::new(layer), &[x.t], Vec::new())?;
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: Layout::ChannelsLast,
            producer: None,
        },
    )
}

/// The `[top, bottom, left, right]` cells of a padding choice.
fn explicit(choice: PadChoice, input: [usize; 2], k: [usize; 2], s: [usize; 2]) -> [usize; 4] {
    match choice {
        PadChoice::Valid => [0; 4],
        PadChoice::Explicit(p) => p,
        PadChoice::Same => {
            let axis = |a: usize| {
                let total = (input[a].div_ceil(s[a]).saturating_sub(1) * s[a] + k[a])
                    .saturating_sub(input[a]);
                (total / 2, total - total / 2)
            };
            let ((t, b), (l, r)) = (axis(0), axis(1));
            [t, b, l, r]
        }
    }
}

/// `ceil_mode = 1` is accepted where it gives the same output size as floor.
fn check_ceil_mode(
    ctx: &NodeCtx<'_>,
    input: [usize; 2],
    k: [usize; 2],
    s: [usize; 2],
    choice: PadChoice,
) -> ImportResult<()> {
    if ctx.int_or("ceil_mode", 0) == 0 {
        return Ok(());
    }
    let p = explicit(choice, input, k, s);
    let exact = (0..2).all(|a| {
        let padded = input[a] + p[2 * a] + p[2 * a + 1];
        padded >= k[a] && (padded - k[a]).is_multiple_of(s[a])
    });
    if exact {
        Ok(())
    } else {
        Err(ctx.error("ceil_mode = 1 changes the output size here; it is not supported"))
    }
}

/// Applies a global pooling layer (keeping the 1×1 axes when `keepdims`).
fn global(
    imp: &mut Importer<'_>,
    ctx: &NodeCtx<'_>,
    x: Dyn,
    layer: Box<dyn Layer>,
    keepdims: bool,
) -> ImportResult<()> {
    let (t, _) = imp.apply(ctx, layer, &[x.t], Vec::new())?;
    let layout = if keepdims {
        Layout::ChannelsLast
    } else {
        Layout::Onnx
    };
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout,
            producer: None,
        },
    )
}

/// `GlobalAveragePool`.
pub(crate) fn global_average_pool(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let x = imp.channels_last(ctx, x)?;
    global(
        imp,
        ctx,
        x,
        Box::new(GlobalAveragePooling2D::new().keepdims(true)),
        true,
    )
}

/// `GlobalMaxPool`.
pub(crate) fn global_max_pool(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let x = imp.channels_last(ctx, x)?;
    global(
        imp,
        ctx,
        x,
        Box::new(GlobalMaxPooling2D::new().keepdims(true)),
        true,
    )
}

/// `ReduceMean` over the spatial axes `{2, 3}` of an image → `GlobalAveragePooling2D`.
pub(crate) fn reduce_mean(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let axes = match imp.const_input(ctx, 1)? {
        Some(c) => Some(c.to_i64()),
        None => ctx.ints("axes").map(<[i64]>::to_vec),
    };
    let x = imp.dyn_input(ctx, 0)?;
    let rank = imp.kiln_dims(&x).len() as i64 + 1;
    let mut axes: Vec<i64> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&v| if v < 0 { v + rank } else { v })
            .collect(),
        _ if ctx.int_or("noop_with_empty_axes", 0) != 0 => {
            let (t, layout) = (x.t, x.layout);
            return imp.set_dyn(
                ctx,
                Dyn {
                    t,
                    layout,
                    producer: None,
                },
            );
        }
        _ => (0..rank).collect(),
    };
    axes.sort_unstable();
    if rank != 4 || axes != [2, 3] {
        return Err(ctx.error(format!(
            "ReduceMean over axes {axes:?} of a rank-{rank} tensor is not supported (Kiln maps \
             the spatial axes [2, 3] of an image)"
        )));
    }
    let keepdims = ctx.int_or("keepdims", 1) != 0;
    let x = imp.channels_last(ctx, x)?;
    let layer = GlobalAveragePooling2D::new().keepdims(keepdims);
    global(imp, ctx, x, Box::new(layer), keepdims)
}
