//! Reductions (`sum`, `mean`, `max`, `min`, `argmax` over any axes) whose elementwise body is
//! evaluated on the fly, element by element: a primitive or fused reduction (one result), or
//! the reducing loop of a multi-result kernel (several reductions over the same axes, plus
//! elementwise values of the body written whole as they are computed).
//!
//! The domain is split into the kept axes (outer nest, one result each) and the reduced
//! axes (inner nest, accumulated in registers). Both nests are coalesced, so `sum` over the
//! last axis or over everything walks memory contiguously. The outer nest is chunked for
//! the worker pool when the input is large. Reductions that keep the innermost axis run
//! vectorised through the elementwise row emitter instead (see [`lower_columns`]), and those
//! whose innermost reduced axis is contiguous use four-lane accumulators ([`lower_rows`]);
//! `argmax` and odd strides take the one-element-at-a-time path ([`lower_scalar`]).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F32, F32X4, I64};
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::Variable;
use ir::fused::Reg;
use ir::{BinaryOp, Instr, Program, ReduceOp, Shape};

use super::Kernel;
use super::elementwise::MultiOutputRow;
use super::nest::{self, Nest, broadcast_strides, row_major};
use super::program::{binary, emit_program_registers};

/// A reducing loop to lower: `body(inputs...)` evaluated at every index of `domain` (each
/// input broadcast to it); the register of each of `reductions` reduced over `axes`, and the
/// registers of `elements` written whole.
pub(crate) struct Reduction<'a> {
    pub axes: &'a [usize],
    pub body: &'a Program,
    pub domain: &'a Shape,
    pub reductions: &'a [(ReduceOp, Reg)],
    pub elements: &'a [Reg],
}

/// Where a [`Reduction`] writes: one contiguous result over the kept axes per reduction, one
/// contiguous value of the domain's shape per element register.
pub(crate) struct Outputs<'a> {
    pub reduced: &'a [Value],
    pub elements: &'a [Value],
}

/// Emit the reduction of `inputs` (base pointers and shapes) into `out`: as vectorised rows
/// of results ([`lower_columns`]), with four-lane accumulators over contiguous reduced rows
/// ([`lower_rows`]), or one element at a time ([`lower_scalar`]).
pub(crate) fn lower(k: &mut Kernel, r: &Reduction, inputs: &[(Value, &Shape)], out: &Outputs) {
    let dims = r.domain.dims();
    let nests = ReductionNests::of(r, inputs);
    let ReductionNests {
        kept,
        outer,
        inner,
        n_reduced,
    } = &nests;
    let has_argmax = r.reductions.iter().any(|&(op, _)| op == ReduceOp::ArgMax);
    if !has_argmax {
        let (kept_outer, row, row_strides) = outer.split_inner();
        if !kept.is_empty()
            && *kept.last().expect("non-empty") == dims.len() - 1
            && row_strides[2..].iter().all(|&s| s == 0 || s == 1)
        {
            let columns = Columns {
                kept_outer: &kept_outer,
                row,
                row_strides: &row_strides,
                reduced: inner,
                n_reduced: *n_reduced,
            };
            return lower_columns(k, r, inputs, out, &columns);
        }
        let contiguous_rows = inner.strides[2..]
            .iter()
            .all(|s| matches!(s.last(), Some(0 | 1)))
            && (r.elements.is_empty() || inner.strides[1].last() == Some(&1));
        if !inner.dims.is_empty() && contiguous_rows {
            return lower_rows(k, r, inputs, out, (outer, inner), *n_reduced);
        }
    }
    lower_scalar(k, r, inputs, out, &nests);
}

/// The loop nests of a reduction. Operand 0 is every reduced result (one offset over the
/// kept axes), operand 1 every element output (one offset over the domain), operands `2..`
/// the inputs.
struct ReductionNests {
    /// The kept axes of the domain.
    kept: Vec<usize>,
    /// Over the kept axes (one result each), coalesced.
    outer: Nest,
    /// Over the reduced axes, coalesced except for `argmax` (which needs its axis' loop
    /// variable); the reduced results do not move (stride 0).
    inner: Nest,
    /// Domain elements per result.
    n_reduced: usize,
}

impl ReductionNests {
    /// The nests of `r` over `inputs` (each broadcast to the domain).
    fn of(r: &Reduction, inputs: &[(Value, &Shape)]) -> Self {
        let dims = r.domain.dims();
        let kept: Vec<usize> = (0..dims.len()).filter(|a| !r.axes.contains(a)).collect();
        let pick = |s: &[i64], axes: &[usize]| axes.iter().map(|&a| s[a]).collect::<Vec<i64>>();
        let kept_dims: Vec<usize> = kept.iter().map(|&a| dims[a]).collect();
        let red_dims: Vec<usize> = r.axes.iter().map(|&a| dims[a]).collect();
        // Without element outputs their operand never moves, so it cannot stop coalescing.
        let element_strides = if r.elements.is_empty() {
            vec![0; dims.len()]
        } else {
            row_major(dims)
        };
        let mut in_strides: Vec<Vec<i64>> = vec![element_strides];
        in_strides.extend(inputs.iter().map(|(_, s)| broadcast_strides(s, r.domain)));
        let mut outer_strides = vec![row_major(&kept_dims)];
        outer_strides.extend(in_strides.iter().map(|s| pick(s, &kept)));
        let mut inner_strides = vec![vec![0; red_dims.len()]];
        inner_strides.extend(in_strides.iter().map(|s| pick(s, r.axes)));
        let outer = Nest::coalesced(&kept_dims, outer_strides);
        let argmax = r.reductions.iter().any(|&(op, _)| op == ReduceOp::ArgMax);
        let inner = if argmax {
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

/// The general reduction, one domain element at a time: per result element, a scalar
/// accumulator per reduction (and `argmax`'s best index) over the inner nest, the body
/// evaluated per element and its element outputs stored there.
fn lower_scalar(
    k: &mut Kernel,
    r: &Reduction,
    inputs: &[(Value, &Shape)],
    out: &Outputs,
    nests: &ReductionNests,
) {
    let (outer, inner) = (&nests.outer, &nests.inner);
    k.chunks(outer.dims.first().copied().unwrap_or(1), r.domain.numel());
    let zero = k.int(0);
    let offsets = vec![zero; inputs.len() + 2];
    let bases: Vec<Value> = inputs.iter().map(|&(b, _)| b).collect();
    let identity_body = r.body.is_identity() && inputs.len() == 1 && r.elements.is_empty();
    nest::emit(k, outer, offsets, true, &mut |k, offs, _| {
        let accs: Vec<(Variable, Variable)> = r
            .reductions
            .iter()
            .map(|&(op, _)| {
                let init = k.f32(identity(op));
                let zero_f = k.f32(0.0);
                (k.var(F32, init), k.var(F32, zero_f))
            })
            .collect();
        nest::emit(k, inner, offs.to_vec(), false, &mut |k, roffs, ivs| {
            let regs: Vec<Value> = if identity_body {
                vec![k.load(bases[0], roffs[2])]
            } else {
                let ins: Vec<Value> = (0..bases.len())
                    .map(|j| {
                        let x = k.load(bases[j], roffs[j + 2]);
                        k.b.ins().splat(F32X4, x)
                    })
                    .collect();
                emit_program_registers(k, r.body, &ins)
                    .into_iter()
                    .map(|v| k.b.ins().extractlane(v, 0))
                    .collect()
            };
            for (&(op, reg), &acc) in r.reductions.iter().zip(&accs) {
                fold_scalar(k, op, acc, regs[reg], ivs);
            }
            for (&reg, &base) in r.elements.iter().zip(out.elements) {
                k.store(regs[reg], base, roffs[1]);
            }
        });
        for (&(op, _), (&(acc, best), &base)) in
            r.reductions.iter().zip(accs.iter().zip(out.reduced))
        {
            let result = match op {
                ReduceOp::Mean => {
                    let a = k.b.use_var(acc);
                    let n = k.f32(nests.n_reduced as f32);
                    k.b.ins().fdiv(a, n)
                }
                ReduceOp::ArgMax => k.b.use_var(best),
                _ => k.b.use_var(acc),
            };
            k.store(result, base, offs[0]);
        }
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
        ReduceOp::ArgMax => {
            let gt = k.b.ins().fcmp(FloatCC::GreaterThan, v, a);
            let iv = ivs
                .first()
                .copied()
                .unwrap_or_else(|| k.b.ins().iconst(I64, 0));
            let ivf = k.b.ins().fcvt_from_sint(F32, iv);
            let old = k.b.use_var(best_idx);
            let idx = k.b.ins().select(gt, ivf, old);
            k.b.def_var(best_idx, idx);
            k.b.ins().select(gt, v, a)
        }
        // `v` replaces the accumulator when it is further out or NaN, so a NaN sticks
        // (ir::op::nan_max / nan_min).
        ReduceOp::Max | ReduceOp::Min => {
            let cc = if op == ReduceOp::Max {
                FloatCC::LessThan
            } else {
                FloatCC::GreaterThan
            };
            let further = k.b.ins().fcmp(cc, a, v);
            let v_nan = k.b.ins().fcmp(FloatCC::NotEqual, v, v);
            let take = k.b.ins().bor(further, v_nan);
            k.b.ins().select(take, v, a)
        }
    };
    k.b.def_var(acc, next);
}

/// The binary op that folds one more value into an accumulator, for the reductions that
/// have one (all but `argmax`).
fn column_combiner(op: ReduceOp) -> BinaryOp {
    match op {
        ReduceOp::Sum | ReduceOp::Mean => BinaryOp::Add,
        ReduceOp::Max => BinaryOp::Max,
        ReduceOp::Min => BinaryOp::Min,
        ReduceOp::ArgMax => unreachable!("argmax reductions take the scalar path"),
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

/// The row programs of a column reduction with `n` reductions.
struct ColumnPrograms {
    /// Every reduction's identity (input-less), filling the result rows first.
    fill: Program,
    /// Inputs `0..n` the accumulators (the result rows), inputs `n..` the reduction's
    /// inputs: the body's values folded into the accumulators, then the element values.
    fold: Program,
    /// The registers of `fold` stored: the folded accumulators, then the element values.
    fold_results: Vec<Reg>,
    /// Input 0 a result row, scaled by `1 / n_reduced` (a mean's last step).
    scale: Program,
}

/// The row programs of the column reduction `r` over `n_reduced` domain rows per result row.
fn column_programs(r: &Reduction, n_reduced: usize) -> ColumnPrograms {
    let n = r.reductions.len();
    let fill = Program {
        instrs: r
            .reductions
            .iter()
            .map(|&(op, _)| Instr::Const(identity(op)))
            .collect(),
    };
    // Inputs 0..n are the accumulators, inputs n.. feed the body.
    let mut fold = Program {
        instrs: (0..n).map(Instr::Input).collect(),
    };
    let moved = |reg: Reg| reg + n;
    for instr in &r.body.instrs {
        fold.instrs.push(match *instr {
            Instr::Input(i) => Instr::Input(i + n),
            Instr::Const(c) => Instr::Const(c),
            Instr::Unary(op, a) => Instr::Unary(op, moved(a)),
            Instr::Binary(op, a, b) => Instr::Binary(op, moved(a), moved(b)),
            Instr::Select(c, a, b) => Instr::Select(moved(c), moved(a), moved(b)),
        });
    }
    let mut fold_results = Vec::with_capacity(n + r.elements.len());
    for (acc, &(op, reg)) in r.reductions.iter().enumerate() {
        fold.instrs
            .push(Instr::Binary(column_combiner(op), acc, moved(reg)));
        fold_results.push(fold.instrs.len() - 1);
    }
    fold_results.extend(r.elements.iter().map(|&reg| moved(reg)));
    let scale = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Const(1.0 / n_reduced as f32),
            Instr::Binary(BinaryOp::Mul, 0, 1),
        ],
    };
    ColumnPrograms {
        fill,
        fold,
        fold_results,
        scale,
    }
}

/// Reductions that keep the innermost (contiguous) axis — column sums, bias gradients of
/// NHWC tensors — run as vectorised rows: the result rows are filled with the identities,
/// then each reduced position folds a whole domain row into them (and stores the row's
/// element values), four lanes at a time.
fn lower_columns(
    k: &mut Kernel,
    r: &Reduction,
    inputs: &[(Value, &Shape)],
    out: &Outputs,
    c: &Columns,
) {
    let (n, e) = (r.reductions.len(), r.elements.len());
    let programs = column_programs(r, c.n_reduced);
    // Operands of the fold row: results, element outputs, accumulators (the results again),
    // then the inputs; offsets: results and accumulators walk with operand 0 of the nests,
    // element outputs with operand 1, inputs with `2..`.
    let mut bases: Vec<Value> = out.reduced.to_vec();
    bases.extend_from_slice(out.elements);
    bases.extend_from_slice(out.reduced);
    bases.extend(inputs.iter().map(|&(b, _)| b));
    let mut strides = vec![1; 2 * n + e];
    strides.extend_from_slice(&c.row_strides[2..]);
    let widen = |offs: &[Value]| -> Vec<Value> {
        let mut all = vec![offs[0]; n];
        all.extend(std::iter::repeat_n(offs[1], e));
        all.extend(std::iter::repeat_n(offs[0], n));
        all.extend_from_slice(&offs[2..]);
        all
    };
    k.chunks(
        c.kept_outer.dims.first().copied().unwrap_or(1),
        r.domain.numel(),
    );
    let zero = k.int(0);
    let chunked = !c.kept_outer.dims.is_empty();
    let fill_results: Vec<Reg> = (0..n).collect();
    let fold = MultiOutputRow {
        program: &programs.fold,
        bases: &bases,
        strides: &strides,
        results: &programs.fold_results,
    };
    nest::emit(
        k,
        c.kept_outer,
        vec![zero; inputs.len() + 2],
        chunked,
        &mut |k, offs, _| {
            let (lo, hi) = (k.int(0), k.int(c.row as i64));
            MultiOutputRow {
                program: &programs.fill,
                bases: &bases[..n],
                strides: &strides[..n],
                results: &fill_results,
            }
            .emit(k, &vec![offs[0]; n], lo, hi);
            nest::emit(k, c.reduced, offs.to_vec(), false, &mut |k, roffs, _| {
                let (lo, hi) = (k.int(0), k.int(c.row as i64));
                fold.emit(k, &widen(roffs), lo, hi);
            });
            scale_means(k, r, out, &programs.scale, offs[0], c.row);
        },
    );
}

/// The last step of the column reductions that are means: each result row (at `offset`,
/// `row` long) scaled by `scale`.
fn scale_means(
    k: &mut Kernel,
    r: &Reduction,
    out: &Outputs,
    scale: &Program,
    offset: Value,
    row: usize,
) {
    for (&(op, _), &base) in r.reductions.iter().zip(out.reduced) {
        if op != ReduceOp::Mean {
            continue;
        }
        let (lo, hi) = (k.int(0), k.int(row as i64));
        MultiOutputRow {
            program: scale,
            bases: &[base, base],
            strides: &[1, 1],
            results: &[2],
        }
        .emit(k, &[offset, offset], lo, hi);
    }
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
/// everything): four partial results per reduction in an `f32x4` accumulator, the row tail
/// folded into lane 0, the lanes combined once per result.
fn lower_rows(
    k: &mut Kernel,
    r: &Reduction,
    inputs: &[(Value, &Shape)],
    out: &Outputs,
    nests: (&Nest, &Nest),
    n_reduced: usize,
) {
    let (outer, inner) = nests;
    let (inner_outer, row, row_strides) = inner.split_inner();
    k.chunks(outer.dims.first().copied().unwrap_or(1), r.domain.numel());
    let zero = k.int(0);
    let bases: Vec<Value> = inputs.iter().map(|&(b, _)| b).collect();
    let chunked = !outer.dims.is_empty();
    let reduced_row = ReducedRow {
        reduction: r,
        bases: &bases,
        element_bases: out.elements,
        strides: &row_strides,
        len: row,
    };
    nest::emit(
        k,
        outer,
        vec![zero; inputs.len() + 2],
        chunked,
        &mut |k, offs, _| {
            let accs: Vec<Variable> = r
                .reductions
                .iter()
                .map(|&(op, _)| {
                    let init = k.splat(identity(op));
                    k.var(F32X4, init)
                })
                .collect();
            nest::emit(k, &inner_outer, offs.to_vec(), false, &mut |k, roffs, _| {
                reduced_row.fold(k, roffs, &accs);
            });
            for (&(op, _), (&acc, &base)) in r.reductions.iter().zip(accs.iter().zip(out.reduced)) {
                let a = k.b.use_var(acc);
                let result = combine_lanes(k, op, a, n_reduced);
                k.store(result, base, offs[0]);
            }
        },
    );
}

/// One contiguous row of the reduced axes, folded into four-lane accumulators.
struct ReducedRow<'a> {
    reduction: &'a Reduction<'a>,
    /// The inputs' base pointers.
    bases: &'a [Value],
    /// The element outputs' base pointers (contiguous along the row).
    element_bases: &'a [Value],
    /// Strides along the row: the results' (unused), the element outputs' (1), then each
    /// input's (0 or 1).
    strides: &'a [i64],
    /// Elements in the row.
    len: usize,
}

impl ReducedRow<'_> {
    /// Fold the row starting at the offsets `roffs` (the results', the element outputs',
    /// then each input's) into `accs`: four elements at a time, then the tail one at a time
    /// into lane 0, storing the element values on the way. Inputs that do not move along
    /// the row (stride 0) are loaded once.
    fn fold(&self, k: &mut Kernel, roffs: &[Value], accs: &[Variable]) {
        let (bases, r) = (self.bases, self.reduction);
        let fixed: Vec<Option<Value>> = (0..bases.len())
            .map(|j| {
                (self.strides[j + 2] == 0).then(|| {
                    let v = k.load(bases[j], roffs[j + 2]);
                    k.b.ins().splat(F32X4, v)
                })
            })
            .collect();
        let (lo, hi) = (k.int(0), k.int(self.len as i64));
        let tail = k.for_range(lo, hi, 4, |k, i| {
            let ins: Vec<Value> = (0..bases.len())
                .map(|j| {
                    fixed[j].unwrap_or_else(|| {
                        let at = k.b.ins().iadd(roffs[j + 2], i);
                        k.load4(bases[j], at)
                    })
                })
                .collect();
            let regs = emit_program_registers(k, r.body, &ins);
            for (&(op, reg), &acc) in r.reductions.iter().zip(accs) {
                let a = k.b.use_var(acc);
                let folded = binary(k, column_combiner(op), a, regs[reg]);
                k.b.def_var(acc, folded);
            }
            if !r.elements.is_empty() {
                let at = k.b.ins().iadd(roffs[1], i);
                for (&reg, &base) in r.elements.iter().zip(self.element_bases) {
                    k.store(regs[reg], base, at);
                }
            }
        });
        k.for_range(tail, hi, 1, |k, i| self.fold_one(k, roffs, accs, &fixed, i));
    }

    /// Fold the one element `i` of the row into lane 0 of `accs` (the other lanes see the
    /// identity), storing its element values.
    fn fold_one(
        &self,
        k: &mut Kernel,
        roffs: &[Value],
        accs: &[Variable],
        fixed: &[Option<Value>],
        i: Value,
    ) {
        let (bases, r) = (self.bases, self.reduction);
        let ins: Vec<Value> = (0..bases.len())
            .map(|j| {
                fixed[j].unwrap_or_else(|| {
                    let at = k.b.ins().iadd(roffs[j + 2], i);
                    let v = k.load(bases[j], at);
                    k.b.ins().splat(F32X4, v)
                })
            })
            .collect();
        let regs = emit_program_registers(k, r.body, &ins);
        for (&(op, reg), &acc) in r.reductions.iter().zip(accs) {
            let lane = k.b.ins().extractlane(regs[reg], 0);
            let neutral = k.splat(identity(op));
            let v = k.b.ins().insertlane(neutral, lane, 0);
            let a = k.b.use_var(acc);
            let folded = binary(k, column_combiner(op), a, v);
            k.b.def_var(acc, folded);
        }
        if !r.elements.is_empty() {
            let at = k.b.ins().iadd(roffs[1], i);
            for (&reg, &base) in r.elements.iter().zip(self.element_bases) {
                let lane = k.b.ins().extractlane(regs[reg], 0);
                k.store(lane, base, at);
            }
        }
    }
}

/// The result of a four-lane accumulator `acc`: its lanes combined with `op`'s combiner,
/// divided by `n_reduced` for a mean.
fn combine_lanes(k: &mut Kernel, op: ReduceOp, acc: Value, n_reduced: usize) -> Value {
    let combine = column_combiner(op);
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
