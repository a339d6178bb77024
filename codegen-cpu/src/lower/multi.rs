//! Multi-result kernels (`fused.multi`): one kernel function that runs every loop of the
//! kernel, each through the elementwise emitter (loops without reductions) or the reduction
//! emitter (loops with them), writing each stored result to its `extract`'s storage.
//!
//! Chunks: every loop splits its own work into `c` chunks as it would alone; the kernel has
//! as many chunks as its most split loop, and chunk `j` runs chunk `j` of every loop that has
//! one (a loop of one chunk runs in chunk 0). So the independent loops of a horizontally
//! fused kernel share one dispatch, and small ones never wake the worker pool by themselves.
//!
//! Deliberately not done: a result whose extract has no storage (dead) is not stored, and a
//! reduction nobody reads is not computed.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_module::Module;
use ir::{Instr, Loop, LoopResult, MultiKernel, NodeId, Op, Program, Shape};

use super::Kernel;
use super::{elementwise, reduce};
use crate::abi::{self, Loc};
use crate::error::Result;
use crate::lowerer::Lowerer;

/// Emit the one kernel of the multi-result node `id`.
pub(crate) fn lower<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    kernel: &MultiKernel,
) -> Result<()> {
    let graph = l.graph;
    let operands = graph.operands(id);
    let mut locs: Vec<Loc> = operands
        .iter()
        .map(|&o| l.loc(o, id))
        .collect::<Result<_>>()?;
    // Where each result goes among `locs`, when it is stored at all.
    let mut slots: Vec<Option<usize>> = vec![None; kernel.n_results()];
    for e in ir::kernels::kernel_writes(graph, id) {
        if let (Op::Extract { index, .. }, Some(loc)) =
            (graph.op(e), abi::resolve(graph, l.plan, e)?)
        {
            slots[*index] = Some(locs.len());
            locs.push(loc);
        }
    }
    let shapes: Vec<&Shape> = operands.iter().map(|&o| graph.shape(o)).collect();
    l.kernel(id, &locs, &[], |k, bases, _| {
        let mut first = 0;
        let mut chunks = 1;
        for lp in &kernel.loops {
            let loop_slots = &slots[first..first + lp.results.len()];
            first += lp.results.len();
            if let Some(c) = guarded_loop(k, lp, bases, &shapes, loop_slots) {
                chunks = chunks.max(c);
            }
        }
        k.n_chunks = chunks;
    })
}

/// Emit `lp` behind a check that this call's chunk is one of the loop's; returns its chunk
/// count (`None` when it stores nothing and is skipped).
fn guarded_loop(
    k: &mut Kernel,
    lp: &Loop,
    bases: &[Value],
    shapes: &[&Shape],
    slots: &[Option<usize>],
) -> Option<usize> {
    if slots.iter().all(Option::is_none) {
        return None;
    }
    let (guard, body, next) = (k.b.create_block(), k.b.create_block(), k.b.create_block());
    k.b.ins().jump(guard, &[]);
    k.b.switch_to_block(body);
    emit_loop(k, lp, bases, shapes, slots);
    let chunks = k.n_chunks;
    k.b.ins().jump(next, &[]);
    // The guard is filled last: only now is the loop's chunk count known.
    k.b.switch_to_block(guard);
    let run =
        k.b.ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, k.chunk, chunks as i64);
    k.b.ins().brif(run, body, &[], next, &[]);
    k.b.switch_to_block(next);
    Some(chunks)
}

/// Emit one loop: its body over the operands it reads, its stored results into
/// `bases[slot]`.
fn emit_loop(
    k: &mut Kernel,
    lp: &Loop,
    bases: &[Value],
    shapes: &[&Shape],
    slots: &[Option<usize>],
) {
    let read = lp.operands_read();
    let body = localized(&lp.body, &read);
    let inputs: Vec<(Value, &Shape)> = read.iter().map(|&n| (bases[n], shapes[n])).collect();
    let mut elements = Vec::new();
    let mut reductions = Vec::new();
    for (&result, slot) in lp.results.iter().zip(slots) {
        let Some(slot) = *slot else { continue };
        match result {
            LoopResult::Element(reg) => elements.push((bases[slot], reg)),
            LoopResult::Reduce { op, reg, .. } => reductions.push((bases[slot], (op, reg))),
        }
    }
    if reductions.is_empty() {
        elementwise::lower_outputs(k, &body, &inputs, &elements, &lp.domain);
        return;
    }
    let element_regs: Vec<_> = elements.iter().map(|&(_, reg)| reg).collect();
    let element_bases: Vec<Value> = elements.iter().map(|&(b, _)| b).collect();
    let reduced: Vec<_> = reductions.iter().map(|&(_, r)| r).collect();
    let reduced_bases: Vec<Value> = reductions.iter().map(|&(b, _)| b).collect();
    let reduction = reduce::Reduction {
        axes: &lp.axes,
        body: &body,
        domain: &lp.domain,
        reductions: &reduced,
        elements: &element_regs,
    };
    let outputs = reduce::Outputs {
        reduced: &reduced_bases,
        elements: &element_bases,
    };
    reduce::lower(k, &reduction, &inputs, &outputs);
}

/// `body` reading only the kernel operands `read`, renumbered `0..`: input `read[i]` becomes
/// input `i`.
fn localized(body: &Program, read: &[usize]) -> Program {
    Program {
        instrs: body
            .instrs
            .iter()
            .map(|&instr| match instr {
                Instr::Input(n) => Instr::Input(
                    read.iter()
                        .position(|&r| r == n)
                        .expect("read lists every input"),
                ),
                other => other,
            })
            .collect(),
    }
}
