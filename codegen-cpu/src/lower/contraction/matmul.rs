//! (Batched) matmuls as `kiln_sgemm` calls: the kernel of a plain matmul and the kernel of
//! a rank-2 fused matmul with its epilogue, each one call per matrix of the batch and
//! chunk, a chunk then running its part of the epilogue.

use std::mem::offset_of;

use cranelift_codegen::ir::{FuncRef, InstBuilder, Value};
use cranelift_module::{FuncId, Module};
use ir::{NodeId, Program, Shape};

use super::args::{put, stack_struct, threads, words};
use super::epilogue::{Epilogue, epilogue_rect};
use super::product::Product;
use super::split::{chunk_rect, is_gemv, split};
use crate::abi::Loc;
use crate::contract::SgemmArgs;
use crate::error::Result;
use crate::lower::Kernel;
use crate::lowerer::Lowerer;

/// The `kiln_sgemm` import (one pointer argument: the argument struct).
fn import_sgemm<M: Module>(l: &mut Lowerer<'_, M>) -> Result<FuncId> {
    l.import("kiln_sgemm", &[l.module.target_config().pointer_type()])
}

/// A rank-2 fused matmul and its epilogue in one kernel: `locs` and `shapes` are all the
/// node's operands (`A`, `B`, then the epilogue's extra ones), `locs` ending with the
/// result's location.
pub(super) fn matmul_with_epilogue<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    (ta, tb): (bool, bool),
    epilogue: &Program,
    locs: &[Loc],
    shapes: &[&Shape],
) -> Result<()> {
    let out_shape = l.graph.shape(id);
    let f = import_sgemm(l)?;
    let n = shapes.len();
    l.kernel(id, locs, &[f], |k, b, f| {
        let ep = Epilogue {
            program: epilogue,
            extras: (2..n).map(|j| (b[j], shapes[j])).collect(),
        };
        let ep = (!epilogue.is_identity()).then_some(&ep);
        matmul(
            k,
            f[0],
            (b[0], shapes[0], ta),
            (b[1], shapes[1], tb),
            (b[n], out_shape),
            ep,
        )
    })
}

/// A (batched) matmul kernel without epilogue: `A` and `B` at `locs[0]` and `locs[1]`,
/// transposed as `(ta, tb)` say, `C` at `locs[2]`.
pub(super) fn matmul_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    (ta, tb): (bool, bool),
    locs: &[Loc; 3],
    shapes: [&Shape; 2],
) -> Result<()> {
    let f = import_sgemm(l)?;
    let (sa, sb) = (shapes[0].clone(), shapes[1].clone());
    let out = l.graph.shape(id).clone();
    l.kernel(id, locs, &[f], |k, b, f| {
        matmul(
            k,
            f[0],
            (b[0], &sa, ta),
            (b[1], &sb, tb),
            (b[2], &out),
            None,
        )
    })
}

/// One `kiln_sgemm` call per matrix of the batch and chunk; a chunk then runs `epilogue`
/// (rank-2 products only) over its part of `C`.
fn matmul(
    k: &mut Kernel,
    f: FuncRef,
    a: (Value, &Shape, bool),
    b: (Value, &Shape, bool),
    c: (Value, &Shape),
    epilogue: Option<&Epilogue>,
) {
    let p = Product::of((a.1, a.2), (b.1, b.2), c.1);
    let (n_chunks, axis) = split(p.m, p.n, p.k, threads());
    k.n_chunks = n_chunks;
    // Chunks are the parallelism, except for matrix-vector products (see `split`).
    let call_threads = if is_gemv(p.m, p.n) { threads() } else { 1 };
    let args = stack_struct(k, &words(&p.template(call_threads)));
    let (rows, cols) = chunk_rect(k, &p, axis, args);
    sgemm_calls(k, f, &p, args, (a.0, b.0, c.0), (rows.0, cols.0));
    if let Some(ep) = epilogue {
        epilogue_rect(k, ep, c, rows, cols);
    }
}

/// The loop over the batch calling `kiln_sgemm` (`f`) with the arguments at `args`, its
/// pointers set to this chunk's first elements of each matrix of the buffers `(a, b, c)`;
/// the chunk starts at row `r0` and column `c0` of `C`.
fn sgemm_calls(
    k: &mut Kernel,
    f: FuncRef,
    p: &Product,
    args: Value,
    (a, b, c): (Value, Value, Value),
    (r0, c0): (Value, Value),
) {
    // Element offsets of this chunk's first A, B and C elements within one matrix.
    let a_off = k.b.ins().imul_imm_s(r0, p.a_strides.0 as i64);
    let b_off = k.b.ins().imul_imm_s(c0, p.b_strides.1 as i64);
    let c_off = k.b.ins().imul_imm_s(r0, p.n as i64);
    let c_off = k.b.ins().iadd(c_off, c0);
    k.for_n(p.batch, |k, i| {
        let at = |k: &mut Kernel, base: Value, matrix_len: usize, off: Value| {
            let pa = k.b.ins().imul_imm_s(i, matrix_len as i64);
            let pa = k.b.ins().iadd(pa, off);
            k.addr(base, pa)
        };
        let pa = at(k, a, p.a_len, a_off);
        let pb = at(k, b, p.b_len, b_off);
        let pc = at(k, c, p.m * p.n, c_off);
        put(k, args, offset_of!(SgemmArgs, a), pa);
        put(k, args, offset_of!(SgemmArgs, b), pb);
        put(k, args, offset_of!(SgemmArgs, c), pc);
        k.b.ins().call(f, &[args]);
    });
}
