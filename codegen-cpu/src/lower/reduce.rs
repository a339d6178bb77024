//! Reductions (`sum`, `mean`, `max`, `min`, `argmax` over any axes) and fused reductions
//! whose elementwise prologue is evaluated on the fly, element by element.
//!
//! The input box is split into the kept axes (outer nest, one result each) and the reduced
//! axes (inner nest, accumulated in registers). Both nests are coalesced, so `sum` over the
//! last axis or over everything walks memory contiguously. The outer nest is chunked for
//! the worker pool when the input is large. Reductions that keep the innermost axis run
//! vectorised through the elementwise row emitter instead (see [`lower_columns`]), and those
//! whose innermost reduced axis is contiguous use four-lane accumulators ([`lower_rows`]).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F32, F32X4, I64};
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::Variable;
use ir::{BinaryOp, Instr, Program, ReduceOp, Shape};

use super::Kernel;
use super::elementwise::InnerRow;
use super::nest::{self, Nest, broadcast_strides, row_major};
use super::program::{binary, emit_program};

/// A reduction to lower: `op` over `axes` of `prologue(inputs...)`, evaluated over
/// `input_shape` (each input broadcast to it).
pub(crate) struct Reduction<'a> {
    pub op: ReduceOp,
    pub axes: &'a [usize],
    pub prologue: &'a Program,
    pub input_shape: &'a Shape,
}

/// Emit the reduction of `inputs` (base pointers and shapes) into the contiguous `out`:
/// as vectorised rows of results ([`lower_columns`]), with four-lane accumulators over
/// contiguous reduced rows ([`lower_rows`]), or one element at a time ([`lower_scalar`]).
pub(crate) fn lower(k: &mut Kernel, r: &Reduction, inputs: &[(Value, &Shape)], out: Value) {
    let dims = r.input_shape.dims();
    let nests = ReductionNests::of(r, inputs);
    let ReductionNests {
        kept,
        outer,
        inner,
        n_reduced,
    } = &nests;
    if let Some(combine) = column_combiner(r.op) {
        let (kept_outer, row, row_strides) = outer.split_inner();
        if !kept.is_empty()
            && *kept.last().expect("non-empty") == dims.len() - 1
            && row_strides.iter().all(|&s| s == 0 || s == 1)
        {
            let columns = Columns {
                kept_outer: &kept_outer,
                row,
                row_strides: &row_strides,
                reduced: inner,
                n_reduced: *n_reduced,
            };
            return lower_columns(k, r, combine, inputs, out, &columns);
        }
    }
    if let Some(combine) = column_combiner(r.op) {
        let contiguous_rows = inner.strides[1..]
            .iter()
            .all(|s| matches!(s.last(), Some(0 | 1)));
        if !inner.dims.is_empty() && contiguous_rows {
            return lower_rows(k, r, combine, inputs, out, (outer, inner), *n_reduced);
        }
    }
    lower_scalar(k, r, inputs, out, &nests);
}

/// The loop nests of a reduction, operand 0 the result and operands `1..` the inputs.
struct ReductionNests {
    /// The kept axes of the input.
    kept: Vec<usize>,
    /// Over the kept axes (one result each), coalesced.
    outer: Nest,
    /// Over the reduced axes, coalesced except for `argmax` (which needs its axis' loop
    /// variable); the result does not move (stride 0).
    inner: Nest,
    /// Input elements per result.
    n_reduced: usize,
}

impl ReductionNests {
    /// The nests of `r` over `inputs` (each broadcast to the reduction's input shape).
    fn of(r: &Reduction, inputs: &[(Value, &Shape)]) -> Self {
        let dims = r.input_shape.dims();
        let kept: Vec<usize> = (0..dims.len()).filter(|a| !r.axes.contains(a)).collect();
        let pick = |s: &[i64], axes: &[usize]| axes.iter().map(|&a| s[a]).collect::<Vec<i64>>();
        let kept_dims: Vec<usize> = kept.iter().map(|&a| dims[a]).collect();
        let red_dims: Vec<usize> = r.axes.iter().map(|&a| dims[a]).collect();
        let in_strides: Vec<Vec<i64>> = inputs
            .iter()
            .map(|(_, s)| broadcast_strides(s, r.input_shape))
            .collect();
        let mut outer_strides = vec![row_major(&kept_dims)];
        outer_strides.extend(in_strides.iter().map(|s| pick(s, &kept)));
        let mut inner_strides = vec![vec![0; red_dims.len()]];
        inner_strides.extend(in_strides.iter().map(|s| pick(s, r.axes)));
        let outer = Nest::coalesced(&kept_dims, outer_strides);
        let inner = if r.op == ReduceOp::ArgMax {
            Nest {
                dims: red_dims.clone(),
                strides: inner_strides,
            }
        } else {
            Nest::coalesced(&red_dims, inner_strides)
        };
        ReductionNests {
            kept,
            outer,
            inner,
            n_reduced: red_dims.iter().product(),
        }
    }
}

/// The general reduction, one input element at a time: per result, a scalar accumulator
/// (and `argmax`'s best index) over the inner nest, the prologue evaluated per element.
fn lower_scalar(
    k: &mut Kernel,
    r: &Reduction,
    inputs: &[(Value, &Shape)],
    out: Value,
    nests: &ReductionNests,
) {
    let (outer, inner) = (&nests.outer, &nests.inner);
    k.chunks(
        outer.dims.first().copied().unwrap_or(1),
        r.input_shape.numel(),
    );
    let zero = k.int(0);
    let offsets = vec![zero; inputs.len() + 1];
    let bases: Vec<Value> = inputs.iter().map(|&(b, _)| b).collect();
    let identity_prologue = r.prologue.is_identity() && inputs.len() == 1;
    nest::emit(k, outer, offsets, true, &mut |k, offs, _| {
        let init = k.f32(identity(r.op));
        let acc = k.var(F32, init);
        let zero_f = k.f32(0.0);
        let best_idx = k.var(F32, zero_f);
        nest::emit(k, inner, offs.to_vec(), false, &mut |k, roffs, ivs| {
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
            fold_scalar(k, r.op, (acc, best_idx), v, ivs);
        });
        let result = match r.op {
            ReduceOp::Mean => {
                let a = k.b.use_var(acc);
                let n = k.f32(nests.n_reduced as f32);
                k.b.ins().fdiv(a, n)
            }
            ReduceOp::ArgMax => k.b.use_var(best_idx),
            _ => k.b.use_var(acc),
        };
        k.store(result, out, offs[0]);
    });
}

/// Fold the scalar `v` into the accumulator `acc`; for `argmax`, also record the loop
/// variable of the reduced axis (the first of `ivs`) in `best_idx` when `v` is a new
/// maximum.
fn fold_scalar(
    k: &mut Kernel,
    op: ReduceOp,
    (acc, best_idx): (Variable, Variable),
    v: Value,
    ivs: &[Value],
) {
    let a = k.b.use_var(acc);
    let next = match op {
        ReduceOp::Sum | ReduceOp::Mean => k.b.ins().fadd(a, v),
        ReduceOp::Max | ReduceOp::ArgMax => {
            let gt = k.b.ins().fcmp(FloatCC::GreaterThan, v, a);
            if op == ReduceOp::ArgMax {
                let iv = ivs
                    .first()
                    .copied()
                    .unwrap_or_else(|| k.b.ins().iconst(I64, 0));
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
}

/// The binary op that folds one more value into an accumulator, for the reductions that
/// have one (all but `argmax`).
fn column_combiner(op: ReduceOp) -> Option<BinaryOp> {
    match op {
        ReduceOp::Sum | ReduceOp::Mean => Some(BinaryOp::Add),
        ReduceOp::Max => Some(BinaryOp::Max),
        ReduceOp::Min => Some(BinaryOp::Min),
        ReduceOp::ArgMax => None,
    }
}

/// The loop structure of a column reduction: kept axes but the innermost (`kept_outer`),
/// the contiguous result row (`row` elements; operand strides along it), the reduced axes.
struct Columns<'a> {
    kept_outer: &'a Nest,
    row: usize,
    row_strides: &'a [i64],
    reduced: &'a Nest,
    n_reduced: usize,
}

/// The three row programs of a column reduction.
struct ColumnPrograms {
    /// The reduction's identity (input-less), filling the result row first.
    fill: Program,
    /// Input 0 the accumulator (the result row), inputs `1..` the reduction's inputs: the
    /// prologue's value folded into the accumulator.
    fold: Program,
    /// Input 0 the result row, scaled by `1 / n_reduced` (a mean's last step).
    scale: Program,
}

/// The row programs of the column reduction `r` folding with `combine` over `n_reduced`
/// input rows per result row.
fn column_programs(r: &Reduction, combine: BinaryOp, n_reduced: usize) -> ColumnPrograms {
    let fill = Program {
        instrs: vec![Instr::Const(identity(r.op))],
    };
    // The fold: input 0 is the accumulator (the result row), inputs 1.. feed the prologue.
    let mut fold = Program {
        instrs: vec![Instr::Input(0)],
    };
    let shift = 1;
    for instr in &r.prologue.instrs {
        let moved = |reg: usize| reg + shift;
        fold.instrs.push(match *instr {
            Instr::Input(n) => Instr::Input(n + 1),
            Instr::Const(c) => Instr::Const(c),
            Instr::Unary(op, a) => Instr::Unary(op, moved(a)),
            Instr::Binary(op, a, b) => Instr::Binary(op, moved(a), moved(b)),
            Instr::Select(c, a, b) => Instr::Select(moved(c), moved(a), moved(b)),
        });
    }
    let value = fold.instrs.len() - 1;
    fold.instrs.push(Instr::Binary(combine, 0, value));
    let scale = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Const(1.0 / n_reduced as f32),
            Instr::Binary(BinaryOp::Mul, 0, 1),
        ],
    };
    ColumnPrograms { fill, fold, scale }
}

/// Reductions that keep the innermost (contiguous) axis — column sums, bias gradients of
/// NHWC tensors — run as vectorised rows: the result row is filled with the identity, then
/// each reduced position folds a whole input row into it, four lanes at a time.
fn lower_columns(
    k: &mut Kernel,
    r: &Reduction,
    combine: BinaryOp,
    inputs: &[(Value, &Shape)],
    out: Value,
    c: &Columns,
) {
    let Columns {
        kept_outer,
        row,
        row_strides,
        reduced,
        n_reduced,
    } = *c;
    let ColumnPrograms { fill, fold, scale } = column_programs(r, combine, n_reduced);
    let mut bases = vec![out, out];
    bases.extend(inputs.iter().map(|&(b, _)| b));
    // Operand strides along the row: result 1, accumulator 1, inputs as given.
    let mut strides = vec![1, 1];
    strides.extend_from_slice(&row_strides[1..]);
    // Offsets per operand: the accumulator walks with the result (operand 0 of the nests).
    let widen = |offs: &[Value]| -> Vec<Value> {
        [offs[0], offs[0]]
            .into_iter()
            .chain(offs[1..].iter().copied())
            .collect()
    };
    k.chunks(
        kept_outer.dims.first().copied().unwrap_or(1),
        r.input_shape.numel(),
    );
    let zero = k.int(0);
    let chunked = !kept_outer.dims.is_empty();
    nest::emit(
        k,
        kept_outer,
        vec![zero; inputs.len() + 1],
        chunked,
        &mut |k, offs, _| {
            let (lo, hi) = (k.int(0), k.int(row as i64));
            InnerRow {
                program: &fill,
                bases: &bases[..1],
                strides: &strides[..1],
            }
            .emit(k, &offs[..1], lo, hi);
            nest::emit(k, reduced, offs.to_vec(), false, &mut |k, roffs, _| {
                let (lo, hi) = (k.int(0), k.int(row as i64));
                InnerRow {
                    program: &fold,
                    bases: &bases,
                    strides: &strides,
                }
                .emit(k, &widen(roffs), lo, hi);
            });
            if r.op == ReduceOp::Mean {
                let (lo, hi) = (k.int(0), k.int(row as i64));
                InnerRow {
                    program: &scale,
                    bases: &bases[..2],
                    strides: &strides[..2],
                }
                .emit(k, &[offs[0], offs[0]], lo, hi);
            }
        },
    );
}

/// The identity element of a folding reduction.
fn identity(op: ReduceOp) -> f32 {
    match op {
        ReduceOp::Max | ReduceOp::ArgMax => f32::NEG_INFINITY,
        ReduceOp::Min => f32::INFINITY,
        ReduceOp::Sum | ReduceOp::Mean => 0.0,
    }
}

/// Reductions whose innermost reduced axis is contiguous (softmax denominators, sums over
/// everything): four partial results in an `f32x4` accumulator, the row tail folded into
/// lane 0, the lanes combined once per result.
fn lower_rows(
    k: &mut Kernel,
    r: &Reduction,
    combine: BinaryOp,
    inputs: &[(Value, &Shape)],
    out: Value,
    nests: (&Nest, &Nest),
    n_reduced: usize,
) {
    let (outer, inner) = nests;
    let (inner_outer, row, row_strides) = inner.split_inner();
    k.chunks(
        outer.dims.first().copied().unwrap_or(1),
        r.input_shape.numel(),
    );
    let zero = k.int(0);
    let bases: Vec<Value> = inputs.iter().map(|&(b, _)| b).collect();
    let chunked = !outer.dims.is_empty();
    let reduced_row = ReducedRow {
        reduction: r,
        combine,
        bases: &bases,
        strides: &row_strides,
        len: row,
    };
    nest::emit(
        k,
        outer,
        vec![zero; inputs.len() + 1],
        chunked,
        &mut |k, offs, _| {
            let init = k.splat(identity(r.op));
            let acc = k.var(F32X4, init);
            nest::emit(k, &inner_outer, offs.to_vec(), false, &mut |k, roffs, _| {
                reduced_row.fold(k, roffs, acc);
            });
            let a = k.b.use_var(acc);
            let result = combine_lanes(k, r.op, combine, a, n_reduced);
            k.store(result, out, offs[0]);
        },
    );
}

/// One contiguous row of the reduced axes, folded into a four-lane accumulator.
struct ReducedRow<'a> {
    reduction: &'a Reduction<'a>,
    combine: BinaryOp,
    /// The inputs' base pointers.
    bases: &'a [Value],
    /// Strides along the row: the result's (unused), then each input's (0 or 1).
    strides: &'a [i64],
    /// Elements in the row.
    len: usize,
}

impl ReducedRow<'_> {
    /// Fold the row starting at the offsets `roffs` (the result's, then each input's) into
    /// `acc`: four elements at a time, then the tail one at a time into lane 0. Inputs
    /// that do not move along the row (stride 0) are loaded once.
    fn fold(&self, k: &mut Kernel, roffs: &[Value], acc: Variable) {
        let (bases, r, combine) = (self.bases, self.reduction, self.combine);
        let fixed: Vec<Option<Value>> = (0..bases.len())
            .map(|j| {
                (self.strides[j + 1] == 0).then(|| {
                    let v = k.load(bases[j], roffs[j + 1]);
                    k.b.ins().splat(F32X4, v)
                })
            })
            .collect();
        let (lo, hi) = (k.int(0), k.int(self.len as i64));
        let tail = k.for_range(lo, hi, 4, |k, i| {
            let ins: Vec<Value> = (0..bases.len())
                .map(|j| {
                    fixed[j].unwrap_or_else(|| {
                        let at = k.b.ins().iadd(roffs[j + 1], i);
                        k.load4(bases[j], at)
                    })
                })
                .collect();
            let v = emit_program(k, r.prologue, &ins);
            let a = k.b.use_var(acc);
            let folded = binary(k, combine, a, v);
            k.b.def_var(acc, folded);
        });
        k.for_range(tail, hi, 1, |k, i| {
            let ins: Vec<Value> = (0..bases.len())
                .map(|j| {
                    fixed[j].unwrap_or_else(|| {
                        let at = k.b.ins().iadd(roffs[j + 1], i);
                        let v = k.load(bases[j], at);
                        k.b.ins().splat(F32X4, v)
                    })
                })
                .collect();
            let v = emit_program(k, r.prologue, &ins);
            // Only lane 0 takes the tail element; the other lanes see the identity.
            let lane = k.b.ins().extractlane(v, 0);
            let neutral = k.splat(identity(r.op));
            let v = k.b.ins().insertlane(neutral, lane, 0);
            let a = k.b.use_var(acc);
            let folded = binary(k, combine, a, v);
            k.b.def_var(acc, folded);
        });
    }
}

/// The result of a four-lane accumulator `acc`: its lanes combined with `combine`, divided
/// by `n_reduced` for a mean.
fn combine_lanes(
    k: &mut Kernel,
    op: ReduceOp,
    combine: BinaryOp,
    acc: Value,
    n_reduced: usize,
) -> Value {
    let mut total = {
        let l0 = k.b.ins().extractlane(acc, 0);
        k.b.ins().splat(F32X4, l0)
    };
    for lane in 1..4u8 {
        let l = k.b.ins().extractlane(acc, lane);
        let l = k.b.ins().splat(F32X4, l);
        total = binary(k, combine, total, l);
    }
    if op == ReduceOp::Mean {
        let n = k.splat(n_reduced as f32);
        total = k.b.ins().fdiv(total, n);
    }
    k.b.ins().extractlane(total, 0)
}
