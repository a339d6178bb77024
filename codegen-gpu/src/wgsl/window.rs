//! Windowed kernels that are not matrix products: pooling (with epilogue), its gradient,
//! and the depthwise convolution (with epilogue) and its two backprops. One invocation per result
//! element walks the window taps that touch it; padding cells are skipped, as in the
//! reference interpreter, and the gradients gather over the taps that read their element.

use ir::{Conv2dAttrs, Pool2dAttrs, PoolKind, Program, Shape};

use super::layout::{Axis, coords, flat_main, window_axes};
use super::module::Module;
use super::scalar::Helper;
use crate::error::Result;

/// The window of `module`'s op over an input of shape `input`.
fn axes(
    m: &Module,
    input: &Shape,
    window: [usize; 2],
    strides: [usize; 2],
    dilation: [usize; 2],
    padding: ir::Padding,
) -> Result<[Axis; 2]> {
    window_axes(input, window, strides, dilation, padding)
        .ok_or_else(|| m.unsupported("the window does not fit its input"))
}

/// A forward walk: `for ky, kx` over the window of output `(oy, ox)`, binding `iy`, `ix`
/// (u32) for taps inside the input and running `inner`.
fn forward_taps(h: &Axis, w: &Axis, oy: &str, ox: &str, inner: &str, indent: &str) -> String {
    format!(
        "{indent}for (var ky = 0u; ky < {kh}u; ky++) {{\n{indent}    let sy = i32({oy} * {sh}u + ky * {dh}u) - {ph};\n{indent}    if (sy < 0 || sy >= {ih}) {{ continue; }}\n{indent}    let iy = u32(sy);\n{indent}    for (var kx = 0u; kx < {kw}u; kx++) {{\n{indent}        let sx = i32({ox} * {sw}u + kx * {dw}u) - {pw};\n{indent}        if (sx < 0 || sx >= {iw}) {{ continue; }}\n{indent}        let ix = u32(sx);\n{inner}{indent}    }}\n{indent}}}\n",
        kh = h.window,
        sh = h.stride,
        dh = h.dilation,
        ph = h.pad,
        ih = h.input,
        kw = w.window,
        sw = w.stride,
        dw = w.dilation,
        pw = w.pad,
        iw = w.input,
    )
}

/// A backward walk: `for ky, kx` over the taps that read input `(iy, ix)`, binding the
/// output position `oy`, `ox` they belong to and running `inner`.
fn backward_taps(h: &Axis, w: &Axis, iy: &str, ix: &str, inner: &str, indent: &str) -> String {
    format!(
        "{indent}for (var ky = 0u; ky < {kh}u; ky++) {{\n{indent}    let ty = i32({iy} + {ph}u) - i32(ky * {dh}u);\n{indent}    if (ty < 0 || ty % {sh} != 0 || ty / {sh} >= {oh}) {{ continue; }}\n{indent}    let oy = u32(ty / {sh});\n{indent}    for (var kx = 0u; kx < {kw}u; kx++) {{\n{indent}        let tx = i32({ix} + {pw}u) - i32(kx * {dw}u);\n{indent}        if (tx < 0 || tx % {sw} != 0 || tx / {sw} >= {ow}) {{ continue; }}\n{indent}        let ox = u32(tx / {sw});\n{inner}{indent}    }}\n{indent}}}\n",
        kh = h.window,
        sh = h.stride,
        dh = h.dilation,
        ph = h.pad,
        oh = h.output,
        kw = w.window,
        sw = w.stride,
        dw = w.dilation,
        pw = w.pad,
        ow = w.output,
    )
}

/// Max or average pooling, then `epilogue` (extra inputs are operands 1..).
pub(super) fn pool(
    m: &mut Module,
    attrs: &Pool2dAttrs,
    epilogue: &Program,
) -> Result<(String, [u32; 3])> {
    let (x, out) = (m.operand_shape(0), m.shape().clone());
    let [h, w] = axes(m, &x, attrs.window, attrs.strides, [1, 1], attrs.padding)?;
    let c = x.dims()[3];
    let (obuf, obase) = m.output()?;
    let (xbuf, xbase) = m.operand(0)?;
    let read = format!(
        "{xbuf}[{xbase}u + ((c0 * {}u + iy) * {}u + ix) * {c}u + c3]",
        h.input, w.input
    );
    if attrs.kind == PoolKind::Max {
        m.helpers.insert(Helper::NanMax);
    }
    let (init, step, finish) = match attrs.kind {
        PoolKind::Max => (
            "    var best = bitcast<f32>(0xff800000u);\n",
            format!("            best = k_max(best, {read});\n"),
            "    let acc = best;\n",
        ),
        PoolKind::Avg => (
            "    var sum = 0.0;\n    var count = 0u;\n",
            format!("            sum += {read};\n            count += 1u;\n"),
            "    let acc = select(sum / f32(count), 0.0, count == 0u);\n",
        ),
    };
    let mut body = coords(out.dims(), "i", "c", "    ");
    body.push_str(init);
    body.push_str(&forward_taps(&h, &w, "c1", "c2", &step, "    "));
    body.push_str(finish);
    let (epi, result) = m.epilogue(epilogue, 1, "acc", "i", "    ")?;
    body.push_str(&epi);
    body.push_str(&format!("    {obuf}[{obase}u + i] = {result};\n"));
    Ok(flat_main(out.numel(), &body))
}

/// The gradient of pooling: each input element gathers `dy` from the windows that read
/// it — all of them for average pooling (divided by the window's input cell count), those
/// whose first maximum it is for max pooling.
pub(super) fn pool_grad(m: &mut Module, attrs: &Pool2dAttrs) -> Result<(String, [u32; 3])> {
    let x = m.operand_shape(0);
    let [h, w] = axes(m, &x, attrs.window, attrs.strides, [1, 1], attrs.padding)?;
    let c = x.dims()[3];
    let (obuf, obase) = m.output()?;
    let (xbuf, xbase) = m.operand(0)?;
    let (dybuf, dybase) = m.operand(1)?;
    let (step, helper) = match attrs.kind {
        PoolKind::Max => {
            // ir::op::beats_max: the first greater value, or the first NaN.
            m.helpers.insert(Helper::NanMax);
            let inner = format!(
                "            let v = {xbuf}[{xbase}u + ((nb * {}u + iy) * {}u + ix) * {c}u + ch];\n            if (src == 0xffffffffu || (!k_isnan(best) && (v > best || k_isnan(v)))) {{ best = v; src = iy * {}u + ix; }}\n",
                h.input, w.input, w.input
            );
            (
                format!(
                    "            if (window_source(c0, oy, ox, c3) == c1 * {}u + c2) {{ acc += g; }}\n",
                    w.input
                ),
                format!(
                    "fn window_source(nb: u32, oy: u32, ox: u32, ch: u32) -> u32 {{\n    var best = 0.0;\n    var src = 0xffffffffu;\n{}    return src;\n}}\n",
                    forward_taps(&h, &w, "oy", "ox", &inner, "    ")
                ),
            )
        }
        PoolKind::Avg => (
            "            acc += g / f32(window_count(oy, ox));\n".to_string(),
            format!(
                "fn window_count(oy: u32, ox: u32) -> u32 {{\n    var count = 0u;\n{}    return count;\n}}\n",
                forward_taps(&h, &w, "oy", "ox", "            count += 1u;\n", "    ")
            ),
        ),
    };
    m.decls.push_str(&helper);
    let inner = format!(
        "            let g = {dybuf}[{dybase}u + ((c0 * {}u + oy) * {}u + ox) * {c}u + c3];\n{step}",
        h.output, w.output
    );
    let mut body = coords(x.dims(), "i", "c", "    ");
    body.push_str("    var acc = 0.0;\n");
    body.push_str(&backward_taps(&h, &w, "c1", "c2", &inner, "    "));
    body.push_str(&format!("    {obuf}[{obase}u + i] = acc;\n"));
    Ok(flat_main(x.numel(), &body))
}

/// Depthwise convolution: output channel `ci * mult + mi` sums input channel `ci` over the
/// window with filter column `(ci, mi)`, then `epilogue` (extra inputs are operands 2..).
pub(super) fn depthwise(
    m: &mut Module,
    attrs: &Conv2dAttrs,
    epilogue: &Program,
) -> Result<(String, [u32; 3])> {
    let (x, f, out) = (m.operand_shape(0), m.operand_shape(1), m.shape().clone());
    let [h, w] = axes(
        m,
        &x,
        [f.dims()[0], f.dims()[1]],
        attrs.strides,
        attrs.dilation,
        attrs.padding,
    )?;
    let (c, mult) = (f.dims()[2], f.dims()[3]);
    let (obuf, obase) = m.output()?;
    let (xbuf, xbase) = m.operand(0)?;
    let (fbuf, fbase) = m.operand(1)?;
    let inner = format!(
        "            acc += {xbuf}[{xbase}u + ((c0 * {}u + iy) * {}u + ix) * {c}u + c3 / {mult}u] * {fbuf}[{fbase}u + (ky * {}u + kx) * {}u + c3];\n",
        h.input,
        w.input,
        w.window,
        c * mult
    );
    let mut body = coords(out.dims(), "i", "c", "    ");
    body.push_str("    var acc = 0.0;\n");
    body.push_str(&forward_taps(&h, &w, "c1", "c2", &inner, "    "));
    let (epi, result) = m.epilogue(epilogue, 2, "acc", "i", "    ")?;
    body.push_str(&epi);
    body.push_str(&format!("    {obuf}[{obase}u + i] = {result};\n"));
    Ok(flat_main(out.numel(), &body))
}

/// The depthwise convolution's input gradient: each input element gathers over the taps
/// that read it and the channel's `mult` filters.
pub(super) fn depthwise_backprop_input(
    m: &mut Module,
    attrs: &Conv2dAttrs,
) -> Result<(String, [u32; 3])> {
    let (f, x) = (m.operand_shape(1), m.shape().clone());
    let [h, w] = axes(
        m,
        &x,
        [f.dims()[0], f.dims()[1]],
        attrs.strides,
        attrs.dilation,
        attrs.padding,
    )?;
    let (c, mult) = (f.dims()[2], f.dims()[3]);
    let (obuf, obase) = m.output()?;
    let (dybuf, dybase) = m.operand(0)?;
    let (fbuf, fbase) = m.operand(1)?;
    let inner = format!(
        "            for (var mi = 0u; mi < {mult}u; mi++) {{\n                let k = c3 * {mult}u + mi;\n                acc += {dybuf}[{dybase}u + ((c0 * {}u + oy) * {}u + ox) * {cm}u + k] * {fbuf}[{fbase}u + (ky * {}u + kx) * {cm}u + k];\n            }}\n",
        h.output,
        w.output,
        w.window,
        cm = c * mult
    );
    let mut body = coords(x.dims(), "i", "c", "    ");
    body.push_str("    var acc = 0.0;\n");
    body.push_str(&backward_taps(&h, &w, "c1", "c2", &inner, "    "));
    body.push_str(&format!("    {obuf}[{obase}u + i] = acc;\n"));
    Ok(flat_main(x.numel(), &body))
}

/// The depthwise convolution's filter gradient: each filter element sums over the batch
/// and the output positions whose tap lands inside the input.
pub(super) fn depthwise_backprop_filter(
    m: &mut Module,
    attrs: &Conv2dAttrs,
) -> Result<(String, [u32; 3])> {
    let (x, f) = (m.operand_shape(0), m.shape().clone());
    let [h, w] = axes(
        m,
        &x,
        [f.dims()[0], f.dims()[1]],
        attrs.strides,
        attrs.dilation,
        attrs.padding,
    )?;
    let (batch, c, mult) = (x.dims()[0], f.dims()[2], f.dims()[3]);
    let (obuf, obase) = m.output()?;
    let (xbuf, xbase) = m.operand(0)?;
    let (dybuf, dybase) = m.operand(1)?;
    let mut body = coords(f.dims(), "i", "c", "    ");
    body.push_str(&format!(
        "    var acc = 0.0;\n    for (var nb = 0u; nb < {batch}u; nb++) {{\n        for (var oy = 0u; oy < {oh}u; oy++) {{\n            let sy = i32(oy * {sh}u + c0 * {dh}u) - {ph};\n            if (sy < 0 || sy >= {ih}) {{ continue; }}\n            for (var ox = 0u; ox < {ow}u; ox++) {{\n                let sx = i32(ox * {sw}u + c1 * {dw}u) - {pw};\n                if (sx < 0 || sx >= {iw}) {{ continue; }}\n                acc += {xbuf}[{xbase}u + ((nb * {ih}u + u32(sy)) * {iw}u + u32(sx)) * {c}u + c2] * {dybuf}[{dybase}u + ((nb * {oh}u + oy) * {ow}u + ox) * {cm}u + c2 * {mult}u + c3];\n            }}\n        }}\n    }}\n",
        oh = h.output, sh = h.stride, dh = h.dilation, ph = h.pad, ih = h.input,
        ow = w.output, sw = w.stride, dw = w.dilation, pw = w.pad, iw = w.input, cm = c * mult
    ));
    body.push_str(&format!("    {obuf}[{obase}u + i] = acc;\n"));
    Ok(flat_main(f.numel(), &body))
}
