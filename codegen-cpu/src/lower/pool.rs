//! 2-D pooling (max / average, TensorFlow semantics: padding never wins a max and is not
//! counted in an average) and its gradient. NHWC layout; batches are split over chunks.
//!
//! Window positions that fall into the padding are read at a clamped, in-bounds address
//! and masked out, so no branch sits in the window loop and no load leaves the buffer.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32, F32X4};
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::Variable;
use ir::op::WindowAxis;
use ir::{Pool2dAttrs, PoolKind, Shape};

use super::Kernel;
use super::movement::fill;
use super::nest::{self, Nest};

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

    /// Visit the window of output `(oh, ow)`: `visit(k, valid, index)` with `index` the
    /// element offset (clamped in bounds) relative to `base` (the image/channel offset).
    fn window(
        &self,
        k: &mut Kernel,
        oh: Value,
        ow: Value,
        base: Value,
        visit: &mut dyn FnMut(&mut Kernel, Value, Value),
    ) {
        let [wh, ww] = self.attrs.window;
        let [sh, sw] = self.attrs.strides;
        let (h, w, c) = (self.h as i64, self.w as i64, self.c as i64);
        let (pt, pl) = (self.rows.pad_before as i64, self.cols.pad_before as i64);
        k.for_n(wh, |k, kh| {
            let ih = k.mul_add(oh, sh as i64, kh);
            let ih = k.b.ins().iadd_imm_s(ih, -pt);
            let ok_h = k.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, ih, h);
            k.for_n(ww, |k, kw| {
                let iw = k.mul_add(ow, sw as i64, kw);
                let iw = k.b.ins().iadd_imm_s(iw, -pl);
                let ok_w = k.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, iw, w);
                let valid = k.b.ins().band(ok_h, ok_w);
                let zero = k.int(0);
                let ihc = k.b.ins().select(valid, ih, zero);
                let iwc = k.b.ins().select(valid, iw, zero);
                let at = k.mul_add(ihc, w * c, base);
                let at = k.mul_add(iwc, c, at);
                visit(k, valid, at);
            });
        });
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
    g.window(k, ivs[0], ivs[1], base, &mut |k, valid, at| {
        let v = if wide {
            k.load4(x, at)
        } else {
            let s = k.load(x, at);
            k.b.ins().splat(F32X4, s)
        };
        let a = k.b.use_var(acc);
        let next = match kind {
            PoolKind::Max => {
                let gt = k.b.ins().fcmp(FloatCC::GreaterThan, v, a);
                let bigger = k.blend(gt, v, a);
                k.b.ins().select(valid, bigger, a)
            }
            PoolKind::Avg => {
                add_valid(k, count, valid);
                let sum = k.b.ins().fadd(a, v);
                k.b.ins().select(valid, sum, a)
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
    if wide {
        k.store(result, out, at);
    } else {
        let lane = k.b.ins().extractlane(result, 0);
        k.store(lane, out, at);
    }
}

/// `count += valid ? 1 : 0`.
fn add_valid(k: &mut Kernel, count: Variable, valid: Value) {
    let (one, zero) = (k.f32(1.0), k.f32(0.0));
    let inc = k.b.ins().select(valid, one, zero);
    let c = k.b.use_var(count);
    let c = k.b.ins().fadd(c, inc);
    k.b.def_var(count, c);
}

/// `dx = pool2d_grad(x, dy)`: max pooling routes each gradient to the first maximum of its
/// window; average pooling spreads it over the window's non-padding elements. Four
/// channels at a time, like [`forward`]; each image's `dx` is zeroed by its own chunk.
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
    nest::emit(k, &image, vec![zero, zero], true, &mut |k, img, _| {
        let dx_image = k.addr(dx, img[1]);
        fill(k, dx_image, image_len, 0.0);
        nest::emit(k, &pixels, img.to_vec(), false, &mut |k, offs, ivs| {
            let (lo, hi) = (k.int(0), k.int(oc));
            let lanes = Lanes {
                g: &g,
                x,
                dy,
                dx,
                offs,
                ivs,
            };
            let tail = k.for_range(lo, hi, 4, |k, c| lanes.grad(k, c, true));
            k.for_range(tail, hi, 1, |k, c| lanes.grad(k, c, false));
        });
    });
}

/// The state of one output pixel of [`backward`]: `offs` = (its `dy` offset, its image's
/// input offset), `ivs` = (`oh`, `ow`).
struct Lanes<'a> {
    g: &'a Geometry,
    x: Value,
    dy: Value,
    dx: Value,
    offs: &'a [Value],
    ivs: &'a [Value],
}

impl Lanes<'_> {
    /// Four channels from `c` (`wide`), or channel `c` alone in lane 0.
    fn load(&self, k: &mut Kernel, buf: Value, at: Value, wide: bool) -> Value {
        if wide {
            k.load4(buf, at)
        } else {
            let s = k.load(buf, at);
            k.b.ins().splat(F32X4, s)
        }
    }

    fn store(&self, k: &mut Kernel, v: Value, buf: Value, at: Value, wide: bool) {
        if wide {
            k.store(v, buf, at);
        } else {
            let lane = k.b.ins().extractlane(v, 0);
            k.store(lane, buf, at);
        }
    }

    /// Visit the window with a running window-position counter (an f32).
    fn window(
        &self,
        k: &mut Kernel,
        base: Value,
        visit: &mut dyn FnMut(&mut Kernel, Value, Value, Value),
    ) {
        let zero = k.f32(0.0);
        let position = k.var(F32, zero);
        self.g
            .window(k, self.ivs[0], self.ivs[1], base, &mut |k, valid, at| {
                let p = k.b.use_var(position);
                visit(k, valid, at, p);
                let one = k.f32(1.0);
                let next = k.b.ins().fadd(p, one);
                k.b.def_var(position, next);
            });
    }

    fn grad(&self, k: &mut Kernel, c: Value, wide: bool) {
        let base = k.b.ins().iadd(self.offs[1], c);
        let dy_at = k.b.ins().iadd(self.offs[0], c);
        let grad = self.load(k, self.dy, dy_at, wide);
        let zero4 = k.splat(0.0);
        let share = match self.g.attrs.kind {
            PoolKind::Max => {
                // First pass: per lane, the window position of the first maximum.
                let (init, none) = (k.splat(f32::NEG_INFINITY), k.splat(-1.0));
                let (best, winner) = (k.var(F32X4, init), k.var(F32X4, none));
                self.window(k, base, &mut |k, valid, at, p| {
                    let v = self.load(k, self.x, at, wide);
                    let b = k.b.use_var(best);
                    let gt = k.b.ins().fcmp(FloatCC::GreaterThan, v, b);
                    let nb = k.blend(gt, v, b);
                    let nb = k.b.ins().select(valid, nb, b);
                    k.b.def_var(best, nb);
                    let w = k.b.use_var(winner);
                    let p4 = k.b.ins().splat(F32X4, p);
                    let nw = k.blend(gt, p4, w);
                    let nw = k.b.ins().select(valid, nw, w);
                    k.b.def_var(winner, nw);
                });
                Share::Winner(k.b.use_var(winner))
            }
            PoolKind::Avg => {
                let zero_f = k.f32(0.0);
                let count = k.var(F32, zero_f);
                self.g
                    .window(k, self.ivs[0], self.ivs[1], base, &mut |k, valid, _| {
                        add_valid(k, count, valid)
                    });
                let n = k.b.use_var(count);
                let n4 = k.b.ins().splat(F32X4, n);
                Share::Even(k.b.ins().fdiv(grad, n4))
            }
        };
        // Second pass: add each lane's share where it belongs.
        self.window(k, base, &mut |k, valid, at, p| {
            let add = match share {
                Share::Even(v) => v,
                Share::Winner(w) => {
                    let p4 = k.b.ins().splat(F32X4, p);
                    let mine = k.b.ins().fcmp(FloatCC::Equal, w, p4);
                    k.blend(mine, grad, zero4)
                }
            };
            let add = k.b.ins().select(valid, add, zero4);
            let old = self.load(k, self.dx, at, wide);
            let new = k.b.ins().fadd(old, add);
            self.store(k, new, self.dx, at, wide);
        });
    }
}

/// How a window's gradient is shared: all to each lane's winning position (max), or the
/// same amount to every valid position (average).
#[derive(Clone, Copy)]
enum Share {
    Winner(Value),
    Even(Value),
}
