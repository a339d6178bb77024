//! The one elementwise emitter: a [`Program`] over broadcast operands, written to a
//! contiguous result. Primitive unary/binary/select ops, `broadcast`, fused elementwise
//! kernels and the epilogues of matmul/conv/pool all come through here.
//!
//! The result's index space is coalesced into a loop nest ([`super::nest`]); the innermost
//! level runs four lanes at a time (`f32x4`) with a scalar tail. Per operand, the innermost
//! stride decides how it is read: 1 → vector load, 0 → one scalar load splatted outside
//! the inner loop (scalars, bias rows broadcast down columns, ...), anything else → lane
//! gathers. Large kernels split their outermost level into chunks for the worker pool.

use cranelift_codegen::ir::types::F32X4;
use cranelift_codegen::ir::{InstBuilder, Value};
use ir::{Program, Shape};

use super::nest::{self, Nest, broadcast_strides, row_major};
use super::{Kernel, program::emit_program};

/// Emit `out[i] = program(inputs[0][i], inputs[1][i], ...)` for every index `i` of
/// `out_shape`, each input (a base pointer and its shape) broadcast to `out_shape`.
pub(crate) fn lower(
    k: &mut Kernel,
    program: &Program,
    inputs: &[(Value, &Shape)],
    out: Value,
    out_shape: &Shape,
) {
    let dims = out_shape.dims();
    let mut strides = vec![row_major(dims)];
    strides.extend(inputs.iter().map(|(_, s)| broadcast_strides(s, out_shape)));
    let full = Nest::coalesced(dims, strides);
    let (outer, inner, inner_strides) = full.split_inner();
    let mut bases = vec![out];
    bases.extend(inputs.iter().map(|&(b, _)| b));
    let zero = k.int(0);
    let offsets = vec![zero; bases.len()];
    let numel = out_shape.numel();
    let row = InnerRow {
        program,
        bases: &bases,
        strides: &inner_strides,
    };
    if outer.dims.is_empty() {
        k.chunks(inner / 4096, numel);
        let (lo, hi) = k.chunk_range(inner);
        row.emit(k, &offsets, lo, hi);
    } else {
        k.chunks(outer.dims[0], numel);
        nest::emit(k, &outer, offsets, true, &mut |k, offs, _| {
            let (lo, hi) = (k.int(0), k.int(inner as i64));
            row.emit(k, offs, lo, hi);
        });
    }
}

/// The innermost level: operand 0 is the result, the rest are the program's inputs
/// (program input `j` is operand `j + 1`); `strides` are the operands' row strides.
pub(crate) struct InnerRow<'p> {
    pub program: &'p Program,
    pub bases: &'p [Value],
    pub strides: &'p [i64],
}

impl InnerRow<'_> {
    /// Emit the row `[lo, hi)` at the operands' element `offsets`.
    pub fn emit(&self, k: &mut Kernel, offsets: &[Value], lo: Value, hi: Value) {
        // Operands constant along the row are loaded once.
        let fixed: Vec<Option<Value>> = (1..self.bases.len())
            .map(|j| {
                (self.strides[j] == 0).then(|| {
                    let v = k.load(self.bases[j], offsets[j]);
                    k.b.ins().splat(F32X4, v)
                })
            })
            .collect();
        let tail_start = k.for_range(lo, hi, 4, |k, i| {
            let ins: Vec<Value> = (1..self.bases.len())
                .map(|j| fixed[j - 1].unwrap_or_else(|| self.read4(k, j, offsets[j], i)))
                .collect();
            let v = emit_program(k, self.program, &ins);
            let at = k.b.ins().iadd(offsets[0], i);
            k.store(v, self.bases[0], at);
        });
        k.for_range(tail_start, hi, 1, |k, i| {
            let ins: Vec<Value> = (1..self.bases.len())
                .map(|j| {
                    fixed[j - 1].unwrap_or_else(|| {
                        let at = k.mul_add(i, self.strides[j], offsets[j]);
                        let v = k.load(self.bases[j], at);
                        k.b.ins().splat(F32X4, v)
                    })
                })
                .collect();
            let v = emit_program(k, self.program, &ins);
            let lane = k.b.ins().extractlane(v, 0);
            let at = k.b.ins().iadd(offsets[0], i);
            k.store(lane, self.bases[0], at);
        });
    }

    /// Four lanes of operand `j` starting at row position `i`.
    fn read4(&self, k: &mut Kernel, j: usize, offset: Value, i: Value) -> Value {
        let stride = self.strides[j];
        let start = k.mul_add(i, stride, offset);
        if stride == 1 {
            return k.load4(self.bases[j], start);
        }
        let first = k.load(self.bases[j], start);
        let mut v = k.b.ins().splat(F32X4, first);
        for lane in 1..4u8 {
            let at = k.b.ins().iadd_imm_s(start, stride * lane as i64);
            let x = k.load(self.bases[j], at);
            v = k.b.ins().insertlane(v, x, lane);
        }
        v
    }
}
