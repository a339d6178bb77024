//! How a matmul is split into one chunk per thread: the chunk count and axis (rows or
//! columns of `C`), the tile-aligned chunk boundaries, and the part of `C` each chunk
//! computes.

use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::args::put;
use super::product::Product;
use crate::contract::SgemmArgs;
use crate::lower::{Kernel, MAX_CHUNKS};

/// How a product is split into chunks: along the rows of `C` (`M`) or its columns (`N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SplitAxis {
    Rows,
    Cols,
}

/// Products of fewer flops (`2*m*n*k`) run as one chunk on one thread.
const SPLIT_MIN_FLOPS: usize = 2 << 20;

/// Chunk boundaries are multiples of this many rows or columns (the microkernels' tiles).
const SPLIT_ALIGN: usize = 16;

/// The chunk count and split axis of an `m x n x k` product: one chunk per thread for large
/// products (see [`SPLIT_MIN_FLOPS`]), split along the longer side of `C` so that each
/// chunk is one `kiln_sgemm` call on one thread.
///
/// A matrix-vector product (`m == 1` or `n == 1`: a batch-1 Dense layer) stays one chunk
/// and `kiln_sgemm` shares it among threads itself ([`is_gemv`]): chunks of columns would give
/// each thread a piece of every row of a row-major weight matrix, which streams from memory
/// slower than whole rows (VGG16's fc1 on the 2-core Zen 4 host: 42-44 ms split by
/// columns, 31-33 ms split by rows).
pub(super) fn split(m: usize, n: usize, k: usize, threads: usize) -> (usize, SplitAxis) {
    let axis = if m >= n {
        SplitAxis::Rows
    } else {
        SplitAxis::Cols
    };
    let len = m.max(n);
    let flops = 2usize.saturating_mul(m).saturating_mul(n).saturating_mul(k);
    if flops < SPLIT_MIN_FLOPS || is_gemv(m, n) {
        return (1, axis);
    }
    (threads.min(len / SPLIT_ALIGN).clamp(1, MAX_CHUNKS), axis)
}

/// Whether an `m x n` product is a matrix-vector product, which `kiln_sgemm` threads itself.
pub(super) fn is_gemv(m: usize, n: usize) -> bool {
    m == 1 || n == 1
}

/// Start of chunk `c` (an `i64` value, `0..=n_chunks`) of `0..len`: `c * len / n_chunks`
/// rounded down to [`SPLIT_ALIGN`], and `len` for `c == n_chunks`.
fn split_point(k: &mut Kernel, c: Value, len: usize) -> Value {
    let n = k.n_chunks as i64;
    let t = k.b.ins().imul_imm_s(c, len as i64);
    let t = k.b.ins().udiv_imm_u(t, n);
    let t = k.b.ins().band_imm_s(t, !(SPLIT_ALIGN as i64 - 1));
    let last = k.b.ins().icmp_imm_s(IntCC::Equal, c, n);
    let end = k.int(len as i64);
    k.b.ins().select(last, end, t)
}

/// This chunk's rows `[r0, r1)` and columns `[c0, c1)` of every matrix of `C` (all of them
/// for a single chunk); a chunk's extent along `axis` is stored in the arguments at `args`.
pub(super) fn chunk_rect(
    k: &mut Kernel,
    p: &Product,
    axis: SplitAxis,
    args: Value,
) -> ((Value, Value), (Value, Value)) {
    let full_rows = (k.int(0), k.int(p.m as i64));
    let full_cols = (k.int(0), k.int(p.n as i64));
    if k.n_chunks <= 1 {
        return (full_rows, full_cols);
    }
    let len = if axis == SplitAxis::Rows { p.m } else { p.n };
    let lo = split_point(k, k.chunk, len);
    let next = k.b.ins().iadd_imm_s(k.chunk, 1);
    let hi = split_point(k, next, len);
    let extent = k.b.ins().isub(hi, lo);
    let field = if axis == SplitAxis::Rows {
        offset_of!(SgemmArgs, m)
    } else {
        offset_of!(SgemmArgs, n)
    };
    put(k, args, field, extent);
    if axis == SplitAxis::Rows {
        ((lo, hi), full_cols)
    } else {
        (full_rows, (lo, hi))
    }
}
