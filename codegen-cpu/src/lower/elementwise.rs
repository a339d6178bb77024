//! The one elementwise emitter: a [`Program`] over broadcast operands, written to one or
//! more contiguous results (registers of the program). Primitive unary/binary/select ops,
//! `broadcast`, fused elementwise kernels, the elementwise loops of multi-result kernels and
//! the epilogues of matmul/conv/pool all come through here.
//!
//! The result's index space is coalesced into a loop nest ([`super::nest`]); the innermost
//! level runs four lanes at a time (`f32x4`) with a scalar tail. Per operand, the innermost
//! stride decides how it is read: 1 → vector load, 0 → one scalar load splatted outside
//! the inner loop (scalars, bias rows broadcast down columns, ...), anything else → lane
//! gathers. Large kernels split their outermost level into chunks for the worker pool.

use cranelift_codegen::ir::types::F32X4;
use cranelift_codegen::ir::{InstBuilder, Value};
use ir::fused::Reg;
use ir::{Program, Shape};

use super::nest::{self, Nest, broadcast_strides, row_major};
use super::{Kernel, program::emit_program_registers};

/// Emit `out[i] = program(inputs[0][i], inputs[1][i], ...)` for every index `i` of
/// `out_shape`, each input (a base pointer and its shape) broadcast to `out_shape`.
pub(crate) fn lower(
    k: &mut Kernel,
    program: &Program,
    inputs: &[(Value, &Shape)],
    out: Value,
    out_shape: &Shape,
) {
    let last = program.instrs.len() - 1;
    lower_outputs(k, program, inputs, &[(out, last)], out_shape);
}

/// Emit, for every index `i` of `shape` and every `(base, reg)` of `outputs`,
/// `base[i] = register reg of program(inputs[0][i], ...)`, each input broadcast to `shape`.
/// Every output is contiguous of `shape`; all inputs of an element are read before any of
/// its outputs is written (so an output may be an input's memory, read at the same index).
pub(crate) fn lower_outputs(
    k: &mut Kernel,
    program: &Program,
    inputs: &[(Value, &Shape)],
    outputs: &[(Value, Reg)],
    shape: &Shape,
) {
    let dims = shape.dims();
    let mut strides = vec![row_major(dims); outputs.len()];
    strides.extend(inputs.iter().map(|(_, s)| broadcast_strides(s, shape)));
    let full = Nest::coalesced(dims, strides);
    let (outer, inner, inner_strides) = full.split_inner();
    let mut bases: Vec<Value> = outputs.iter().map(|&(b, _)| b).collect();
    bases.extend(inputs.iter().map(|&(b, _)| b));
    let results: Vec<Reg> = outputs.iter().map(|&(_, r)| r).collect();
    let zero = k.int(0);
    let offsets = vec![zero; bases.len()];
    let numel = shape.numel();
    let row = MultiOutputRow {
        program,
        bases: &bases,
        strides: &inner_strides,
        results: &results,
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

/// The innermost level: operand 0 is the result (the program's last register), the rest are
/// the program's inputs (program input `j` is operand `j + 1`); `strides` are the operands'
/// row strides.
pub(crate) struct InnerRow<'p> {
    pub program: &'p Program,
    pub bases: &'p [Value],
    pub strides: &'p [i64],
}

impl InnerRow<'_> {
    /// Emit the row `[lo, hi)` at the operands' element `offsets`.
    pub fn emit(&self, k: &mut Kernel, offsets: &[Value], lo: Value, hi: Value) {
        MultiOutputRow {
            program: self.program,
            bases: self.bases,
            strides: self.strides,
            results: &[self.program.instrs.len() - 1],
        }
        .emit(k, offsets, lo, hi);
    }
}

/// The innermost level with several outputs: the first `results.len()` operands are outputs
/// (output `r` stores register `results[r]`, contiguous along the row: stride 1), the rest
/// are the program's inputs (program input `j` is operand `results.len() + j`); `strides`
/// are the operands' row strides.
pub(crate) struct MultiOutputRow<'p> {
    pub program: &'p Program,
    pub bases: &'p [Value],
    pub strides: &'p [i64],
    pub results: &'p [Reg],
}

impl MultiOutputRow<'_> {
    /// Emit the row `[lo, hi)` at the operands' element `offsets`.
    pub fn emit(&self, k: &mut Kernel, offsets: &[Value], lo: Value, hi: Value) {
        let first_input = self.results.len();
        // Operands constant along the row are loaded once.
        let fixed: Vec<Option<Value>> = (first_input..self.bases.len())
            .map(|j| {
                (self.strides[j] == 0).then(|| {
                    let v = k.load(self.bases[j], offsets[j]);
                    k.b.ins().splat(F32X4, v)
                })
            })
            .collect();
        let tail_start = k.for_range(lo, hi, 4, |k, i| {
            let ins: Vec<Value> = (first_input..self.bases.len())
                .map(|j| fixed[j - first_input].unwrap_or_else(|| self.read4(k, j, offsets[j], i)))
                .collect();
            let regs = emit_program_registers(k, self.program, &ins);
            for (r, &reg) in self.results.iter().enumerate() {
                let at = k.b.ins().iadd(offsets[r], i);
                k.store(regs[reg], self.bases[r], at);
            }
        });
        k.for_range(tail_start, hi, 1, |k, i| {
            let ins: Vec<Value> = (first_input..self.bases.len())
                .map(|j| {
                    fixed[j - first_input].unwrap_or_else(|| {
                        let at = k.mul_add(i, self.strides[j], offsets[j]);
                        let v = k.load(self.bases[j], at);
                        k.b.ins().splat(F32X4, v)
                    })
                })
                .collect();
            let regs = emit_program_registers(k, self.program, &ins);
            for (r, &reg) in self.results.iter().enumerate() {
                let lane = k.b.ins().extractlane(regs[reg], 0);
                let at = k.b.ins().iadd(offsets[r], i);
                k.store(lane, self.bases[r], at);
            }
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
