//! 2-D pooling (max / average, TensorFlow semantics: padding never wins a max and is not
//! counted in an average; a NaN cell makes its windows' max NaN, as `ir::op::nan_max`) and its
//! gradient. NHWC layout; batches are split over chunks.
//!
//! Window positions that fall into the padding are read at a clamped, in-bounds address
//! and masked out, so no branch sits in the window loop and no load leaves the buffer;
//! when every window lies inside the input (no padding) the checks are left out, and small
//! windows are unrolled. The gradient lives in `grad.rs`.

mod grad;

pub(crate) use grad::backward;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32, F32X4};
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::Variable;
use ir::op::WindowAxis;
use ir::{Pool2dAttrs, PoolKind, Shape};

use super::Kernel;
use super::nest::{self, Nest};
use super::program::pick_propagating_nan;

/// The resolved geometry of a pooling op.
struct Geometry {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    oh: usize,
    ow: usize,
    rows: WindowAxis,
    cols: WindowAxis,
    attrs: Pool2dAttrs,
}

impl Geometry {
    fn new(attrs: &Pool2dAttrs, x: &Shape) -> Option<Geometry> {
        let d = x.dims();
        let rows = attrs
            .padding
            .resolve(0, d[1], attrs.window[0], attrs.strides[0])?;
        let cols = attrs
            .padding
            .resolve(1, d[2], attrs.window[1], attrs.strides[1])?;
        Some(Geometry {
            n: d[0],
            h: d[1],
            w: d[2],
            c: d[3],
            oh: rows.out,
            ow: cols.out,
            rows,
            cols,
            attrs: *attrs,
        })
    }

    /// The output pixels `(oh, ow)` of one image, with offsets into the output (operand 0;
    /// channel 0 of the pixel) and the input (operand 1; the image's start).
    fn pixel_nest(&self) -> Nest {
        let c = self.c as i64;
        Nest {
            dims: vec![self.oh, self.ow],
            strides: vec![vec![self.ow as i64 * c, c], vec![0, 0]],
        }
    }

    /// Whether every window position along both axes is inside the input (no padding is
    /// ever touched), so no tap needs a bounds check.
    fn always_inside(&self) -> bool {
        let inside = |axis: &WindowAxis, window: usize, stride: usize, size: usize| {
            axis.pad_before == 0 && axis.out.saturating_sub(1) * stride + window <= size
        };
        let ([wh, ww], [sh, sw]) = (self.attrs.window, self.attrs.strides);
        inside(&self.rows, wh, sh, self.h) && inside(&self.cols, ww, sw, self.w)
    }

    /// Visit the window of output `(oh, ow)`: `visit(k, valid, index, position)` with
    /// `valid` the tap's bounds check (`None` when it is statically inside), `index` the
    /// element offset (clamped in bounds) relative to `base` (the image/channel offset) and
    /// `position` the tap's row-major place in the window as an f32. Windows of at most
    /// [`UNROLL_MAX_TAPS`] taps are unrolled.
    fn window(&self, k: &mut Kernel, oh: Value, ow: Value, base: Value, visit: Visit<'_>) {
        let [wh, ww] = self.attrs.window;
        if wh * ww <= UNROLL_MAX_TAPS {
            for kh in 0..wh {
                for kw in 0..ww {
                    let (kh_v, kw_v) = (k.int(kh as i64), k.int(kw as i64));
                    let position = k.f32((kh * ww + kw) as f32);
                    self.tap(k, [oh, ow], [kh_v, kw_v], base, position, visit);
                }
            }
            return;
        }
        let zero = k.f32(0.0);
        let position = k.var(F32, zero);
        k.for_n(wh, |k, kh| {
            k.for_n(ww, |k, kw| {
                let p = k.b.use_var(position);
                self.tap(k, [oh, ow], [kh, kw], base, p, visit);
                let one = k.f32(1.0);
                let next = k.b.ins().fadd(p, one);
                k.b.def_var(position, next);
            });
        });
    }

    /// One tap `(kh, kw)` of the window of output `(oh, ow)`; see [`Geometry::window`].
    fn tap(
        &self,
        k: &mut Kernel,
        [oh, ow]: [Value; 2],
        [kh, kw]: [Value; 2],
        base: Value,
        position: Value,
        visit: Visit<'_>,
    ) {
        let [sh, sw] = self.attrs.strides;
        let (h, w, c) = (self.h as i64, self.w as i64, self.c as i64);
        let (pt, pl) = (self.rows.pad_before as i64, self.cols.pad_before as i64);
        let ih = k.mul_add(oh, sh as i64, kh);
        let iw = k.mul_add(ow, sw as i64, kw);
        if self.always_inside() {
            let at = k.mul_add(ih, w * c, base);
            let at = k.mul_add(iw, c, at);
            return visit(k, None, at, position);
        }
        let ih = k.b.ins().iadd_imm_s(ih, -pt);
        let ok_h = k.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, ih, h);
        let iw = k.b.ins().iadd_imm_s(iw, -pl);
        let ok_w = k.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, iw, w);
        let valid = k.b.ins().band(ok_h, ok_w);
        let zero = k.int(0);
        let ihc = k.b.ins().select(valid, ih, zero);
        let iwc = k.b.ins().select(valid, iw, zero);
        let at = k.mul_add(ihc, w * c, base);
        let at = k.mul_add(iwc, c, at);
        visit(k, Some(valid), at, position);
    }
}

/// What [`Geometry::window`] calls per tap: `(kernel, valid, index, position)`.
pub(super) type Visit<'v> = &'v mut dyn FnMut(&mut Kernel, Option<Value>, Value, Value);

/// Windows with at most this many taps are unrolled (2x2 and 3x3 pooling, the common
/// ones): the tap offsets become constants and no loop counter is kept.
const UNROLL_MAX_TAPS: usize = 16;

/// `valid ? v : otherwise`, or `v` when the tap is statically valid.
pub(super) fn if_valid(k: &mut Kernel, valid: Option<Value>, v: Value, otherwise: Value) -> Value {
    match valid {
        Some(valid) => k.b.ins().select(valid, v, otherwise),
        None => v,
    }
}

fn geometry(attrs: &Pool2dAttrs, x: &Shape) -> Geometry {
    Geometry::new(attrs, x).expect("shape inference checked that the window fits")
}

/// `out = pool2d(x)`. Channels are innermost (NHWC), so each window position is read four
/// channels at a time, with a scalar tail for the last `c % 4` channels.
pub(crate) fn forward(k: &mut Kernel, attrs: &Pool2dAttrs, x: Value, x_shape: &Shape, out: Value) {
    let g = geometry(attrs, x_shape);
    k.chunks(g.n, g.n * g.oh * g.ow * g.c);
    let image = Nest {
        dims: vec![g.n],
        strides: vec![
            vec![(g.oh * g.ow * g.c) as i64],
            vec![(g.h * g.w * g.c) as i64],
        ],
    };
    let zero = k.int(0);
    let oc = g.c as i64;
    let pixels = g.pixel_nest();
    nest::emit(k, &image, vec![zero, zero], true, &mut |k, img, _| {
        nest::emit(k, &pixels, img.to_vec(), false, &mut |k, offs, ivs| {
            let (lo, hi) = (k.int(0), k.int(oc));
            let tail = k.for_range(lo, hi, 4, |k, c| {
                pool_lanes(k, &g, x, out, offs, ivs, c, true)
            });
            k.for_range(tail, hi, 1, |k, c| {
                pool_lanes(k, &g, x, out, offs, ivs, c, false)
            });
        });
    });
}

/// Pool channels `c..c+4` (`wide`) or channel `c` alone of output pixel `ivs = [oh, ow]`;
/// `offs` are the pixel's output offset and its image's input offset. Scalar channels run
/// in lane 0 of the same vector code.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site pair; the values are the loop state"
)]
fn pool_lanes(
    k: &mut Kernel,
    g: &Geometry,
    x: Value,
    out: Value,
    offs: &[Value],
    ivs: &[Value],
    c: Value,
    wide: bool,
) {
    let kind = g.attrs.kind;
    let init = k.splat(if kind == PoolKind::Max {
        f32::NEG_INFINITY
    } else {
        0.0
    });
    let acc = k.var(F32X4, init);
    let zero_f = k.f32(0.0);
    let count = k.var(F32, zero_f);
    let base = k.b.ins().iadd(offs[1], c);
    g.window(k, ivs[0], ivs[1], base, &mut |k, valid, at, _| {
        let v = load_lanes(k, x, at, wide);
        let a = k.b.use_var(acc);
        let next = match kind {
            PoolKind::Max => {
                // A NaN cell wins and then sticks (ir::op::nan_max).
                let bigger = pick_propagating_nan(k, FloatCC::LessThan, a, v);
                if_valid(k, valid, bigger, a)
            }
            PoolKind::Avg => {
                add_valid(k, count, valid);
                let sum = k.b.ins().fadd(a, v);
                if_valid(k, valid, sum, a)
            }
        };
        k.b.def_var(acc, next);
    });
    let mut result = k.b.use_var(acc);
    if kind == PoolKind::Avg {
        let n = k.b.use_var(count);
        let n = k.b.ins().splat(F32X4, n);
        result = k.b.ins().fdiv(result, n);
    }
    let at = k.b.ins().iadd(offs[0], c);
    store_lanes(k, result, out, at, wide);
}

/// Four channels from element `at` of `buf` (`wide`), or channel `at` alone splatted.
pub(super) fn load_lanes(k: &mut Kernel, buf: Value, at: Value, wide: bool) -> Value {
    if wide {
        k.load4(buf, at)
    } else {
        let s = k.load(buf, at);
        k.b.ins().splat(F32X4, s)
    }
}

/// Stores `v`'s four lanes at element `at` of `buf` (`wide`), or its lane 0 alone.
pub(super) fn store_lanes(k: &mut Kernel, v: Value, buf: Value, at: Value, wide: bool) {
    if wide {
        k.store(v, buf, at);
    } else {
        let lane = k.b.ins().extractlane(v, 0);
        k.store(lane, buf, at);
    }
}

/// `count += valid ? 1 : 0`.
pub(super) fn add_valid(k: &mut Kernel, count: Variable, valid: Option<Value>) {
    let (one, zero) = (k.f32(1.0), k.f32(0.0));
    let inc = if_valid(k, valid, one, zero);
    let c = k.b.use_var(count);
    let c = k.b.ins().fadd(c, inc);
    k.b.def_var(count, c);
}
