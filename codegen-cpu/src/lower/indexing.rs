//! The indexing ops as CLIF: `gather` (a row copy per id) and `scatter_add` (a zero fill,
//! then each update row added into the row its id names). An id is valid when it is an
//! integer in `[0, rows)` ([`ir::ids::row_of`], checked here in f64 as there): a `gather`
//! writes a row of zeros for an invalid id and a `scatter_add` drops its row, so no kernel
//! reads or writes outside the table, whatever the ids hold.
//!
//! Costs: `gather` moves `ids × width` elements, four lanes at a time, its ids split over
//! the kernel's chunks; `scatter_add` fills `rows × width` and adds `ids × width` in one
//! chunk (ids may repeat, so rows are not split between threads).
//!
//! Not here: the check that rejects bad ids bound to an input before the step runs
//! (`ir::leaf::bind_leaves`, run by the executable).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F64, I64};
use cranelift_codegen::ir::{InstBuilder, Value};

use super::Kernel;
use super::movement::fill;

/// The row an id names (`i64`) and whether the id is valid (an `i8` truth value).
fn row_of(k: &mut Kernel, id: Value, rows: usize) -> (Value, Value) {
    let wide = k.b.ins().fpromote(F64, id);
    let zero = k.b.ins().f64const(0.0);
    let limit = k.b.ins().f64const(rows as f64);
    let non_negative = k.b.ins().fcmp(FloatCC::GreaterThanOrEqual, wide, zero);
    let below = k.b.ins().fcmp(FloatCC::LessThan, wide, limit);
    let floor = k.b.ins().floor(wide);
    let integral = k.b.ins().fcmp(FloatCC::Equal, floor, wide);
    let in_range = k.b.ins().band(non_negative, below);
    let valid = k.b.ins().band(in_range, integral);
    let row = k.b.ins().fcvt_to_uint_sat(I64, wide);
    (row, valid)
}

/// Run `then` when `cond` (an `i8` truth value) holds, else `otherwise`.
fn branch(
    k: &mut Kernel,
    cond: Value,
    then: impl FnOnce(&mut Kernel),
    otherwise: impl FnOnce(&mut Kernel),
) {
    let (yes, no, done) = (k.b.create_block(), k.b.create_block(), k.b.create_block());
    k.b.ins().brif(cond, yes, &[], no, &[]);
    k.b.switch_to_block(yes);
    then(k);
    k.b.ins().jump(done, &[]);
    k.b.switch_to_block(no);
    otherwise(k);
    k.b.ins().jump(done, &[]);
    k.b.switch_to_block(done);
}

/// `dst[d + j] = f(src[s + j], dst[d + j])` for `j < width`, four lanes at a time; with
/// `add`, `f` adds, else it copies.
fn row_op(k: &mut Kernel, dst: (Value, Value), src: (Value, Value), width: usize, add: bool) {
    let ((db, d), (sb, s)) = (dst, src);
    let (lo, hi) = (k.int(0), k.int(width as i64));
    let tail = k.for_range(lo, hi, 4, |k, j| {
        let (dj, sj) = (k.b.ins().iadd(d, j), k.b.ins().iadd(s, j));
        let mut v = k.load4(sb, sj);
        if add {
            let old = k.load4(db, dj);
            v = k.b.ins().fadd(old, v);
        }
        k.store(v, db, dj);
    });
    k.for_range(tail, hi, 1, |k, j| {
        let (dj, sj) = (k.b.ins().iadd(d, j), k.b.ins().iadd(s, j));
        let mut v = k.load(sb, sj);
        if add {
            let old = k.load(db, dj);
            v = k.b.ins().fadd(old, v);
        }
        k.store(v, db, dj);
    });
}

/// `out[i, ..] = table[ids[i], ..]` for `n` ids and rows of `width` elements out of `rows`
/// (a row of zeros for an invalid id).
pub(crate) fn gather(
    k: &mut Kernel,
    table: Value,
    ids: Value,
    out: Value,
    (rows, width, n): (usize, usize, usize),
) {
    k.chunks(n, n * width);
    let (lo, hi) = k.chunk_range(n);
    k.for_range(lo, hi, 1, |k, i| {
        let id = k.load(ids, i);
        let (row, valid) = row_of(k, id, rows);
        let d = k.b.ins().imul_imm_s(i, width as i64);
        branch(
            k,
            valid,
            |k| {
                let s = k.b.ins().imul_imm_s(row, width as i64);
                row_op(k, (out, d), (table, s), width, false);
            },
            |k| {
                let dst = k.addr(out, d);
                fill(k, dst, width, 0.0);
            },
        );
    });
}

/// `out` (`[rows, width]`) zeroed, then `updates[i, ..]` added into row `ids[i]` for each
/// of the `n` ids (nothing for an invalid id).
pub(crate) fn scatter_add(
    k: &mut Kernel,
    ids: Value,
    updates: Value,
    out: Value,
    (rows, width, n): (usize, usize, usize),
) {
    k.chunks(1, 0);
    fill(k, out, rows * width, 0.0);
    k.for_n(n, |k, i| {
        let id = k.load(ids, i);
        let (row, valid) = row_of(k, id, rows);
        branch(
            k,
            valid,
            |k| {
                let (d, s) = (
                    k.b.ins().imul_imm_s(row, width as i64),
                    k.b.ins().imul_imm_s(i, width as i64),
                );
                row_op(k, (out, d), (updates, s), width, true);
            },
            |_| {},
        );
    });
}
