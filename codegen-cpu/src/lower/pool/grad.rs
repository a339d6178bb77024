//! The gradient of 2-D pooling: `dx = pool2d_grad(x, dy)`. Max pooling routes each
//! gradient to the first maximum of its window (the first NaN, if any); average pooling
//! spreads it over the window's non-padding elements. Four channels at a time, like the forward kernel, with a
//! scalar tail; each image is one unit of chunking.
//!
//! Two ways to write `dx`: when the windows tile the input without overlap or padding
//! (stride equal to the window, every window inside — 2x2/2 "valid" pooling, the common
//! case) every input element belongs to at most one window, so each window *stores* its
//! shares and only the uncovered right/bottom edge is zeroed; otherwise the image is
//! zeroed first and each window *adds* its shares (overlapping windows accumulate).
//! Not done: a gradient that reuses the forward pass's argmax (the window is re-scanned).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F32, F32X4};
use cranelift_codegen::ir::{InstBuilder, Value};
use ir::{Pool2dAttrs, PoolKind, Shape};

use super::super::Kernel;
use super::super::movement::fill;
use super::super::nest::{self, Nest};
use super::{Geometry, add_valid, geometry, if_valid, load_lanes, store_lanes};

/// `dx = pool2d_grad(x, dy)`; see the module doc.
pub(crate) fn backward(
    k: &mut Kernel,
    attrs: &Pool2dAttrs,
    x: Value,
    x_shape: &Shape,
    dy: Value,
    dx: Value,
) {
    let g = geometry(attrs, x_shape);
    let image_len = g.h * g.w * g.c;
    k.chunks(g.n, g.n * g.oh * g.ow * g.c);
    let image = Nest {
        dims: vec![g.n],
        strides: vec![vec![(g.oh * g.ow * g.c) as i64], vec![image_len as i64]],
    };
    let zero = k.int(0);
    let oc = g.c as i64;
    let pixels = g.pixel_nest();
    let store_shares = g.attrs.strides == g.attrs.window && g.always_inside();
    nest::emit(k, &image, vec![zero, zero], true, &mut |k, img, _| {
        let dx_image = k.addr(dx, img[1]);
        if store_shares {
            zero_uncovered(k, &g, dx_image);
        } else {
            fill(k, dx_image, image_len, 0.0);
        }
        nest::emit(k, &pixels, img.to_vec(), false, &mut |k, offs, ivs| {
            let (lo, hi) = (k.int(0), k.int(oc));
            let lanes = Lanes {
                g: &g,
                x,
                dy,
                dx,
                offs,
                ivs,
                store_shares,
            };
            let tail = k.for_range(lo, hi, 4, |k, c| lanes.grad(k, c, true));
            k.for_range(tail, hi, 1, |k, c| lanes.grad(k, c, false));
        });
    });
}

/// Zero the part of one image's `dx` that no window covers: the columns right of the last
/// window in every covered row, and the rows below the last window.
fn zero_uncovered(k: &mut Kernel, g: &Geometry, dx_image: Value) {
    let ([sh, sw], c) = (g.attrs.strides, g.c);
    let (covered_rows, covered_cols) = (g.oh * sh, g.ow * sw);
    let row_len = g.w * c;
    if covered_cols < g.w {
        k.for_n(covered_rows, |k, row| {
            let first = k.int((covered_cols * c) as i64);
            let at = k.mul_add(row, row_len as i64, first);
            let start = k.addr(dx_image, at);
            fill(k, start, (g.w - covered_cols) * c, 0.0);
        });
    }
    if covered_rows < g.h {
        let at = k.int((covered_rows * row_len) as i64);
        let start = k.addr(dx_image, at);
        fill(k, start, (g.h - covered_rows) * row_len, 0.0);
    }
}

/// The state of one output pixel of [`backward`]: `offs` = (its `dy` offset, its image's
/// input offset), `ivs` = (`oh`, `ow`); `store_shares` picks the way `dx` is written.
struct Lanes<'a> {
    g: &'a Geometry,
    x: Value,
    dy: Value,
    dx: Value,
    offs: &'a [Value],
    ivs: &'a [Value],
    store_shares: bool,
}

/// How a window's gradient is shared: all to each lane's winning position (max), or the
/// same amount to every valid position (average).
#[derive(Clone, Copy)]
enum Share {
    Winner(Value),
    Even(Value),
}

impl Lanes<'_> {
    /// The gradient of channels `c..c+4` (`wide`) or of channel `c` of this pixel's window.
    fn grad(&self, k: &mut Kernel, c: Value, wide: bool) {
        let base = k.b.ins().iadd(self.offs[1], c);
        let dy_at = k.b.ins().iadd(self.offs[0], c);
        let grad = load_lanes(k, self.dy, dy_at, wide);
        let share = match self.g.attrs.kind {
            PoolKind::Max => Share::Winner(self.winner(k, base, wide)),
            PoolKind::Avg => Share::Even(self.even_share(k, base, grad)),
        };
        let zero4 = k.splat(0.0);
        // Second pass: give each lane's share to its place.
        self.g
            .window(k, self.ivs[0], self.ivs[1], base, &mut |k, valid, at, p| {
                let add = match share {
                    Share::Even(v) => v,
                    Share::Winner(w) => {
                        let p4 = k.b.ins().splat(F32X4, p);
                        let mine = k.b.ins().fcmp(FloatCC::Equal, w, p4);
                        k.blend(mine, grad, zero4)
                    }
                };
                let add = if_valid(k, valid, add, zero4);
                let new = if self.store_shares {
                    add
                } else {
                    let old = load_lanes(k, self.dx, at, wide);
                    k.b.ins().fadd(old, add)
                };
                store_lanes(k, new, self.dx, at, wide);
            });
    }

    /// Per lane, the window position of the first maximum (-1 if none).
    fn winner(&self, k: &mut Kernel, base: Value, wide: bool) -> Value {
        let (init, none) = (k.splat(f32::NEG_INFINITY), k.splat(-1.0));
        let (best, winner) = (k.var(F32X4, init), k.var(F32X4, none));
        self.g
            .window(k, self.ivs[0], self.ivs[1], base, &mut |k, valid, at, p| {
                let v = load_lanes(k, self.x, at, wide);
                let b = k.b.use_var(best);
                // ir::op::beats_max: greater, or the first NaN.
                let gt = k.b.ins().fcmp(FloatCC::GreaterThan, v, b);
                let v_nan = k.b.ins().fcmp(FloatCC::NotEqual, v, v);
                let b_num = k.b.ins().fcmp(FloatCC::Equal, b, b);
                let gt = k.b.ins().bor(gt, v_nan);
                let gt = k.b.ins().band(gt, b_num);
                let nb = k.blend(gt, v, b);
                let nb = if_valid(k, valid, nb, b);
                k.b.def_var(best, nb);
                let w = k.b.use_var(winner);
                let p4 = k.b.ins().splat(F32X4, p);
                let nw = k.blend(gt, p4, w);
                let nw = if_valid(k, valid, nw, w);
                k.b.def_var(winner, nw);
            });
        k.b.use_var(winner)
    }

    /// `grad` divided by the number of the window's non-padding positions.
    fn even_share(&self, k: &mut Kernel, base: Value, grad: Value) -> Value {
        let zero_f = k.f32(0.0);
        let count = k.var(F32, zero_f);
        self.g
            .window(k, self.ivs[0], self.ivs[1], base, &mut |k, valid, _, _| {
                add_valid(k, count, valid)
            });
        let n = k.b.use_var(count);
        let n4 = k.b.ins().splat(F32X4, n);
        k.b.ins().fdiv(grad, n4)
    }
}
