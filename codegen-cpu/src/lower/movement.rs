//! Movement ops as strided copies: `transpose`, `slice`, `concat`, `pad` (a fill, then a
//! copy into the interior). `reshape` (when not aliased) and `broadcast` are identity
//! programs of the elementwise emitter. One mechanism, [`copy`], moves a box of elements
//! between two strided layouts; contiguous rows move four lanes at a time.

use cranelift_codegen::ir::Value;
use ir::Shape;

use super::Kernel;
use super::nest::{self, Nest, row_major};

/// A strided box: a base pointer, a starting element offset and per-axis strides.
pub(crate) struct View {
    pub base: Value,
    pub offset: i64,
    pub strides: Vec<i64>,
}

/// Copy the box `dims` from `src` to `dst`. With `chunked`, the outermost level is split
/// over the kernel's chunks (the caller has set the chunk count).
pub(crate) fn copy(k: &mut Kernel, dims: &[usize], dst: &View, src: &View, chunked: bool) {
    let full = Nest::coalesced(dims, vec![dst.strides.clone(), src.strides.clone()]);
    let (outer, inner, inner_strides) = full.split_inner();
    let offsets = vec![k.int(dst.offset), k.int(src.offset)];
    let (db, sb) = (dst.base, src.base);
    let chunked = chunked && !outer.dims.is_empty();
    nest::emit(k, &outer, offsets, chunked, &mut |k, offs, _| {
        let (lo, hi) = (k.int(0), k.int(inner as i64));
        let (ds, ss) = (inner_strides[0], inner_strides[1]);
        let tail = if ds == 1 && ss == 1 {
            k.for_range(lo, hi, 4, |k, i| {
                let (d, s) = (k.mul_add(i, 1, offs[0]), k.mul_add(i, 1, offs[1]));
                let v = k.load4(sb, s);
                k.store(v, db, d);
            })
        } else {
            lo
        };
        k.for_range(tail, hi, 1, |k, i| {
            let (d, s) = (k.mul_add(i, ds, offs[0]), k.mul_add(i, ss, offs[1]));
            let v = k.load(sb, s);
            k.store(v, db, d);
        });
    });
}

/// Set `len` elements of `dst` to `value`.
pub(crate) fn fill(k: &mut Kernel, dst: Value, len: usize, value: f32) {
    let (lo, hi) = (k.int(0), k.int(len as i64));
    let v4 = k.splat(value);
    let tail = k.for_range(lo, hi, 4, |k, i| k.store(v4, dst, i));
    let v = k.f32(value);
    k.for_range(tail, hi, 1, |k, i| k.store(v, dst, i));
}

/// `out = transpose(x, perm)`.
pub(crate) fn transpose(
    k: &mut Kernel,
    perm: &[usize],
    x: Value,
    x_shape: &Shape,
    out: Value,
    out_shape: &Shape,
) {
    let xs = row_major(x_shape.dims());
    let src = View {
        base: x,
        offset: 0,
        strides: perm.iter().map(|&p| xs[p]).collect(),
    };
    let dst = View {
        base: out,
        offset: 0,
        strides: row_major(out_shape.dims()),
    };
    k.chunks(
        out_shape.dims().first().copied().unwrap_or(1),
        out_shape.numel(),
    );
    copy(k, out_shape.dims(), &dst, &src, true);
}

/// `out = x[starts..]` (the extent is `out_shape`).
pub(crate) fn slice(
    k: &mut Kernel,
    starts: &[usize],
    x: Value,
    x_shape: &Shape,
    out: Value,
    out_shape: &Shape,
) {
    let xs = row_major(x_shape.dims());
    let offset = starts.iter().zip(&xs).map(|(&s, &st)| s as i64 * st).sum();
    let src = View {
        base: x,
        offset,
        strides: xs,
    };
    let dst = View {
        base: out,
        offset: 0,
        strides: row_major(out_shape.dims()),
    };
    k.chunks(
        out_shape.dims().first().copied().unwrap_or(1),
        out_shape.numel(),
    );
    copy(k, out_shape.dims(), &dst, &src, true);
}

/// `out = concat(inputs, axis)`.
pub(crate) fn concat(
    k: &mut Kernel,
    axis: usize,
    inputs: &[(Value, &Shape)],
    out: Value,
    out_shape: &Shape,
) {
    let os = row_major(out_shape.dims());
    let mut start = 0;
    for &(x, shape) in inputs {
        let src = View {
            base: x,
            offset: 0,
            strides: row_major(shape.dims()),
        };
        let dst = View {
            base: out,
            offset: start as i64 * os[axis],
            strides: os.clone(),
        };
        copy(k, shape.dims(), &dst, &src, false);
        start += shape.dims()[axis];
    }
}

/// `out = pad(x, before, after, value)` (the extent is `out_shape`).
pub(crate) fn pad(
    k: &mut Kernel,
    before: &[usize],
    value: f32,
    x: Value,
    x_shape: &Shape,
    out: Value,
    out_shape: &Shape,
) {
    fill(k, out, out_shape.numel(), value);
    let os = row_major(out_shape.dims());
    let offset = before.iter().zip(&os).map(|(&b, &st)| b as i64 * st).sum();
    let src = View {
        base: x,
        offset: 0,
        strides: row_major(x_shape.dims()),
    };
    let dst = View {
        base: out,
        offset,
        strides: os,
    };
    copy(k, x_shape.dims(), &dst, &src, false);
}
