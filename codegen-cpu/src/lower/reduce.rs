//! Reductions (`sum`, `mean`, `max`, `min`, `argmax` over any axes) and fused reductions
//! whose elementwise prologue is evaluated on the fly, element by element.
//!
//! The input box is split into the kept axes (outer nest, one result each) and the reduced
//! axes (inner nest, accumulated in registers). Both nests are coalesced, so `sum` over the
//! last axis or over everything walks memory contiguously. The outer nest is chunked for
//! the worker pool when the input is large.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F32, F32X4, I64};
use cranelift_codegen::ir::{InstBuilder, Value};
use ir::{Program, ReduceOp, Shape};

use super::Kernel;
use super::nest::{self, Nest, broadcast_strides, row_major};
use super::program::emit_program;

/// A reduction to lower: `op` over `axes` of `prologue(inputs...)`, evaluated over
/// `input_shape` (each input broadcast to it).
pub(crate) struct Reduction<'a> {
    pub op: ReduceOp,
    pub axes: &'a [usize],
    pub prologue: &'a Program,
    pub input_shape: &'a Shape,
}

/// Emit the reduction of `inputs` (base pointers and shapes) into the contiguous `out`.
pub(crate) fn lower(k: &mut Kernel, r: &Reduction, inputs: &[(Value, &Shape)], out: Value) {
    let dims = r.input_shape.dims();
    let kept: Vec<usize> = (0..dims.len()).filter(|a| !r.axes.contains(a)).collect();
    let pick = |s: &[i64], axes: &[usize]| axes.iter().map(|&a| s[a]).collect::<Vec<i64>>();
    let kept_dims: Vec<usize> = kept.iter().map(|&a| dims[a]).collect();
    let red_dims: Vec<usize> = r.axes.iter().map(|&a| dims[a]).collect();
    let in_strides: Vec<Vec<i64>> = inputs.iter().map(|(_, s)| broadcast_strides(s, r.input_shape)).collect();
    let mut outer_strides = vec![row_major(&kept_dims)];
    outer_strides.extend(in_strides.iter().map(|s| pick(s, &kept)));
    let mut inner_strides = vec![vec![0; red_dims.len()]];
    inner_strides.extend(in_strides.iter().map(|s| pick(s, r.axes)));
    let outer = Nest::coalesced(&kept_dims, outer_strides);
    // argmax needs its axis' loop variable, so its (single-level) nest is not coalesced.
    let inner = if r.op == ReduceOp::ArgMax { Nest { dims: red_dims.clone(), strides: inner_strides } } else { Nest::coalesced(&red_dims, inner_strides) };
    let n_reduced: usize = red_dims.iter().product();
    k.chunks(outer.dims.first().copied().unwrap_or(1), r.input_shape.numel());
    let zero = k.int(0);
    let offsets = vec![zero; inputs.len() + 1];
    let bases: Vec<Value> = inputs.iter().map(|&(b, _)| b).collect();
    let identity_prologue = r.prologue.is_identity() && inputs.len() == 1;
    nest::emit(k, &outer, offsets, true, &mut |k, offs, _| {
        let init = match r.op {
            ReduceOp::Sum | ReduceOp::Mean => 0.0,
            ReduceOp::Max | ReduceOp::ArgMax => f32::NEG_INFINITY,
            ReduceOp::Min => f32::INFINITY,
        };
        let init = k.f32(init);
        let acc = k.var(F32, init);
        let zero_f = k.f32(0.0);
        let best_idx = k.var(F32, zero_f);
        nest::emit(k, &inner, offs.to_vec(), false, &mut |k, roffs, ivs| {
            let v = if identity_prologue {
                k.load(bases[0], roffs[1])
            } else {
                let ins: Vec<Value> = (0..bases.len())
                    .map(|j| {
                        let x = k.load(bases[j], roffs[j + 1]);
                        k.b.ins().splat(F32X4, x)
                    })
                    .collect();
                let v = emit_program(k, r.prologue, &ins);
                k.b.ins().extractlane(v, 0)
            };
            let a = k.b.use_var(acc);
            let next = match r.op {
                ReduceOp::Sum | ReduceOp::Mean => k.b.ins().fadd(a, v),
                ReduceOp::Max | ReduceOp::ArgMax => {
                    let gt = k.b.ins().fcmp(FloatCC::GreaterThan, v, a);
                    if r.op == ReduceOp::ArgMax {
                        let iv = ivs.first().copied().unwrap_or_else(|| k.b.ins().iconst(I64, 0));
                        let ivf = k.b.ins().fcvt_from_sint(F32, iv);
                        let old = k.b.use_var(best_idx);
                        let idx = k.b.ins().select(gt, ivf, old);
                        k.b.def_var(best_idx, idx);
                    }
                    k.b.ins().select(gt, v, a)
                }
                ReduceOp::Min => {
                    let lt = k.b.ins().fcmp(FloatCC::LessThan, v, a);
                    k.b.ins().select(lt, v, a)
                }
            };
            k.b.def_var(acc, next);
        });
        let result = match r.op {
            ReduceOp::Mean => {
                let a = k.b.use_var(acc);
                let n = k.f32(n_reduced as f32);
                k.b.ins().fdiv(a, n)
            }
            ReduceOp::ArgMax => k.b.use_var(best_idx),
            _ => k.b.use_var(acc),
        };
        k.store(result, out, offs[0]);
    });
}
