//! `Conv` (any group count) and `ConvTranspose` as Kiln's `Conv2D` (with `groups`),
//! `DepthwiseConv2D` and `Conv2DTranspose`, the ONNX kernels `[M, C/g, kh, kw]` /
//! `[C, M, kh, kw]` rearranged once into Keras' layouts. ONNX padding becomes `valid`,
//! `same` (TensorFlow's split, when it is that) or a `ZeroPadding2D` before a `valid`
//! convolution. It does not own pooling (`pool.rs`).

use crate::layers::{Conv2D, Conv2DTranspose, DepthwiseConv2D, Layer, Padding, ZeroPadding2D};
use crate::onnx::import::attrs::NodeCtx;
use crate::onnx::import::error::ImportResult;
use crate::onnx::import::graph::{Dyn, Importer, Layout, Producer, tensor};
use crate::onnx::import::tensor::Const;

/// How a windowed op's ONNX padding maps to Kiln.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PadChoice {
    /// No padding.
    Valid,
    /// TensorFlow's `same` split (the odd cell after).
    Same,
    /// `[top, bottom, left, right]`.
    Explicit([usize; 4]),
}

/// A pair attribute (`strides`, `dilations`) with a default of 1.
pub(crate) fn pair(ctx: &NodeCtx<'_>, name: &str) -> ImportResult<[usize; 2]> {
    match ctx.ints(name) {
        None => Ok([1, 1]),
        Some(&[a, b]) if a >= 1 && b >= 1 => Ok([a as usize, b as usize]),
        Some(v) => Err(ctx.error(format!(
            "{name} {v:?}: Kiln maps 2-D windows with positive {name}"
        ))),
    }
}

/// The padding of a window of (dilated) size `k` with `strides` over an input `[h, w]`,
/// from `auto_pad` and `pads` (`[top, left, bottom, right]` in ONNX order).
pub(crate) fn padding(
    ctx: &NodeCtx<'_>,
    input: [usize; 2],
    k: [usize; 2],
    strides: [usize; 2],
) -> ImportResult<PadChoice> {
    let auto = ctx.string("auto_pad").unwrap_or_else(|| "NOTSET".into());
    let same = |axis: usize, lower: bool| {
        let out = input[axis].div_ceil(strides[axis]);
        let total = ((out.saturating_sub(1)) * strides[axis] + k[axis]).saturating_sub(input[axis]);
        if lower {
            (total - total / 2, total / 2)
        } else {
            (total / 2, total - total / 2)
        }
    };
    let pads: [usize; 4] = match auto.as_str() {
        "VALID" => return Ok(PadChoice::Valid),
        "SAME_UPPER" => return Ok(PadChoice::Same),
        "SAME_LOWER" => {
            let ((t, b), (l, r)) = (same(0, true), same(1, true));
            [t, b, l, r]
        }
        "NOTSET" | "" => match ctx.ints("pads") {
            None => [0; 4],
            Some(&[t, l, b, r]) if [t, l, b, r].iter().all(|&p| p >= 0) => {
                [t as usize, b as usize, l as usize, r as usize]
            }
            Some(p) => {
                return Err(ctx.error(format!("pads {p:?}: Kiln maps four non-negative 2-D pads")));
            }
        },
        other => return Err(ctx.error(format!("auto_pad `{other}` is not an ONNX mode"))),
    };
    let ((t, b), (l, r)) = (same(0, false), same(1, false));
    Ok(if pads == [0; 4] {
        PadChoice::Valid
    } else if pads == [t, b, l, r] {
        PadChoice::Same
    } else {
        PadChoice::Explicit(pads)
    })
}

/// The 4-D constant weight of input `i`.
fn weight<'c>(imp: &'c Importer<'_>, ctx: &NodeCtx<'_>, i: usize) -> ImportResult<&'c Const> {
    let w = imp.required_const(ctx, i)?;
    if w.dims.len() != 4 || w.dims.contains(&0) {
        return Err(ctx.error(format!(
            "weight dims {:?}: Kiln maps 2-D convolutions (4-D weights, no empty axis)",
            w.dims
        )));
    }
    Ok(w)
}

/// `Conv` → `DepthwiseConv2D` (group = input channels, one input channel per group), else
/// `Conv2D` with Keras' `groups`.
pub(crate) fn conv(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let mut x = imp.channels_last(ctx, x)?;
    let w = weight(imp, ctx, 1)?.clone();
    let [m, cg, kh, kw] = [w.dims[0], w.dims[1], w.dims[2], w.dims[3]];
    let bias = match imp.const_input(ctx, 2)? {
        Some(b) if b.len() == m => b.to_f32(),
        Some(b) => return Err(ctx.error(format!("bias dims {:?} differ from [{m}]", b.dims))),
        None => vec![0.0; m],
    };
    let [h, wd, c] = <[usize; 3]>::try_from(imp.kiln_dims(&x)).unwrap_or([0; 3]);
    let group = usize::try_from(ctx.int_or("group", 1)).unwrap_or(0);
    if group == 0 || cg * group != c || m % group != 0 {
        return Err(ctx.error(format!(
            "weight dims {:?} with group {group} do not fit {c} input channels",
            w.dims
        )));
    }
    let (strides, dil) = (pair(ctx, "strides")?, pair(ctx, "dilations")?);
    let k = [(kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1];
    let pad = match padding(ctx, [h, wd], k, strides)? {
        PadChoice::Explicit([t, b, l, r]) => {
            let t = imp.apply_helper(ctx, ZeroPadding2D::explicit([[t, b], [l, r]]), x.t)?;
            x = Dyn { t, ..x };
            Padding::Valid
        }
        PadChoice::Same => Padding::Same,
        PadChoice::Valid => Padding::Valid,
    };
    let data = w.to_f32();
    let (layer, kernel_name, kernel): (Box<dyn Layer>, _, _) =
        if group == 1 || !(group == c && cg == 1) {
            // Keras' grouped kernel (kh, kw, in / groups, out) from ONNX's (out, in / group,
            // kh, kw): the same rearrangement for every group count.
            let mut kern = vec![0.0; m * cg * kh * kw];
            for (i, v) in kern.iter_mut().enumerate() {
                let (mo, ci, j, ih) = (i % m, (i / m) % cg, (i / (m * cg)) % kw, i / (m * cg * kw));
                *v = data[((mo * cg + ci) * kh + ih) * kw + j];
            }
            let layer = Conv2D::new(m, [kh, kw])
                .strides(strides)
                .padding(pad)
                .dilation_rate(dil)
                .groups(group);
            (Box::new(layer), "kernel", tensor(&[kh, kw, cg, m], kern))
        } else {
            let mult = m / c;
            let mut kern = vec![0.0; m * kh * kw];
            for (i, v) in kern.iter_mut().enumerate() {
                let (out, j, ih) = (i % m, (i / m) % kw, i / (m * kw));
                *v = data[(out * kh + ih) * kw + j];
            }
            let layer = DepthwiseConv2D::new([kh, kw])
                .strides(strides)
                .padding(pad)
                .dilation_rate(dil)
                .depth_multiplier(mult);
            (
                Box::new(layer),
                "depthwise_kernel",
                tensor(&[kh, kw, c, mult], kern),
            )
        };
    let params = vec![(kernel_name, kernel), ("bias", tensor(&[m], bias))];
    let (t, name) = imp.apply(ctx, layer, &[x.t], params)?;
    let producer = Producer {
        layer: name,
        kernel: kernel_name,
        stride: 1,
        channels: m,
    };
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: Layout::ChannelsLast,
            producer: Some(producer),
        },
    )
}

/// `ConvTranspose` (group 1, no dilation) → `Conv2DTranspose` with `valid` (no pads) or
/// `same` padding (pads `p` with `k - 2p = stride`), where Keras' output size and ONNX's
/// agree; other paddings are refused.
pub(crate) fn conv_transpose(imp: &mut Importer<'_>, ctx: &NodeCtx<'_>) -> ImportResult<()> {
    let x = imp.dyn_input(ctx, 0)?;
    let x = imp.channels_last(ctx, x)?;
    let w = weight(imp, ctx, 1)?.clone();
    let [c, m, kh, kw] = [w.dims[0], w.dims[1], w.dims[2], w.dims[3]];
    let in_c = imp.kiln_dims(&x).last().copied().unwrap_or(0);
    if ctx.int_or("group", 1) != 1 || c != in_c {
        return Err(ctx.error(format!(
            "weight dims {:?} (group {}) over {in_c} input channels: Kiln maps group 1",
            w.dims,
            ctx.int_or("group", 1)
        )));
    }
    if pair(ctx, "dilations")? != [1, 1] || ctx.ints("output_shape").is_some() {
        return Err(ctx.error("dilations or output_shape are not supported"));
    }
    let strides = pair(ctx, "strides")?;
    let out_pad = ctx.ints("output_padding").unwrap_or(&[0, 0]);
    let pads = ctx.ints("pads").unwrap_or(&[0, 0, 0, 0]);
    let auto = ctx.string("auto_pad").unwrap_or_default();
    let k = [kh, kw];
    let padding = if out_pad.iter().any(|&p| p != 0) || !matches!(auto.as_str(), "" | "NOTSET") {
        None
    } else if pads.iter().all(|&p| p == 0) && (0..2).all(|a| k[a] >= strides[a]) {
        Some(Padding::Valid)
    } else if let &[t, l, b, r] = pads
        && t == b
        && l == r
        && [t, l]
            .iter()
            .zip(&k)
            .zip(&strides)
            .all(|((&p, &k), &s)| p >= 0 && k as i64 - 2 * p == s as i64)
    {
        Some(Padding::Same)
    } else {
        None
    };
    let padding = padding.ok_or_else(|| {
        ctx.error(format!(
            "pads {pads:?}, output_padding {out_pad:?}, auto_pad `{auto}` with kernel {k:?} and \
             strides {strides:?}: Kiln maps no padding (kernel >= stride) or pads p with \
             kernel - 2p = stride"
        ))
    })?;
    let bias = match imp.const_input(ctx, 2)? {
        Some(b) if b.len() == m => b.to_f32(),
        Some(b) => return Err(ctx.error(format!("bias dims {:?} differ from [{m}]", b.dims))),
        None => vec![0.0; m],
    };
    let data = w.to_f32();
    let mut kern = vec![0.0; m * c * kh * kw];
    for (i, v) in kern.iter_mut().enumerate() {
        let (ci, mo, j, ih) = (i % c, (i / c) % m, (i / (c * m)) % kw, i / (c * m * kw));
        *v = data[((ci * m + mo) * kh + ih) * kw + j];
    }
    let layer = Conv2DTranspose::new(m, k).strides(strides).padding(padding);
    let params = vec![
        ("kernel", tensor(&[kh, kw, m, c], kern)),
        ("bias", tensor(&[m], bias)),
    ];
    let (t, name) = imp.apply(ctx, Box::new(layer), &[x.t], params)?;
    let producer = Producer {
        layer: name,
        kernel: "kernel",
        stride: c,
        channels: m,
    };
    imp.set_dyn(
        ctx,
        Dyn {
            t,
            layout: Layout::ChannelsLast,
            producer: Some(producer),
        },
    )
}
