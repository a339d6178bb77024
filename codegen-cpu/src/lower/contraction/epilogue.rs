//! The fused epilogue of a rank-2 matmul, run by each chunk in place over the part of the
//! result it just produced, while that part is still in cache.

use cranelift_codegen::ir::Value;
use ir::{Program, Shape};

use crate::lower::Kernel;
use crate::lower::elementwise::InnerRow;
use crate::lower::nest::broadcast_strides;

/// A rank-2 matmul's epilogue, run by each chunk over the part of the result it produced
/// while that part is still in cache: program input 0 is the result, input `i >= 1` is
/// `extras[i - 1]` (a base pointer and its shape, broadcast to the result's).
pub(crate) struct Epilogue<'p> {
    pub program: &'p Program,
    pub extras: Vec<(Value, &'p Shape)>,
}

/// Run `ep` in place over rows `[r0, r1)` and columns `[c0, c1)` of the rank-2 result `c`.
pub(super) fn epilogue_rect(
    k: &mut Kernel,
    ep: &Epilogue,
    c: (Value, &Shape),
    (r0, r1): (Value, Value),
    (c0, c1): (Value, Value),
) {
    let n = c.1.dims()[1] as i64;
    // Operand 0 is the result written, operand 1 the result read (program input 0).
    let mut bases = vec![c.0, c.0];
    let mut row_strides = vec![n, n];
    let mut col_strides = vec![1, 1];
    for &(base, shape) in &ep.extras {
        let s = broadcast_strides(shape, c.1);
        bases.push(base);
        row_strides.push(s[0]);
        col_strides.push(s[1]);
    }
    let row = InnerRow {
        program: ep.program,
        bases: &bases,
        strides: &col_strides,
    };
    k.for_range(r0, r1, 1, |k, i| {
        let zero = k.int(0);
        let offsets: Vec<Value> = row_strides.iter().map(|&s| k.mul_add(i, s, zero)).collect();
        row.emit(k, &offsets, c0, c1);
    });
}
