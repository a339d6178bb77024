//! Memory planning: where every node's value lives while a compiled step runs
//! ([`ir::MemoryPlan`]), with arena slots reused once their values are dead, reshapes as views
//! and parameter updates written in place when that is safe.
//!
//! # The contract backends rely on
//!
//! Execution model: leaves live in their own buffers; the non-leaf nodes run in node-index
//! order; each kernel reads its operands and writes its result into its storage; after the last
//! node, outputs are read and every update value not stored `InPlace` in its own parameter is
//! copied into that parameter's buffer. (Those end-of-step copies must act as if simultaneous
//! when an update value lives in another parameter's buffer, e.g. `update(a, b)`,
//! `update(b, a)`; the plan does not order them.)
//!
//! What [`plan`] produces, per node:
//! - `Input(n)` / `Param(n)` / `Const(n)` for the `n`-th leaf of that kind, always, even when
//!   unused;
//! - `None` for a non-leaf node that feeds no output and no update: it is not computed at all,
//!   and backends skip it;
//! - `Results` for a needed multi-result kernel (`fused.multi`): it runs at its step and
//!   writes each of its results into that result's `extract` node, which gets its storage
//!   below as if it were a kernel at the multi-result kernel's step (`InPlace` or `Arena`);
//! - `Alias(operand)` for every needed `Reshape` (no copy, no kernel). The value's memory is
//!   its operand's, followed through chains of reshapes, and stays live as long as any reader
//!   of any alias of it; an alias of an input or a parameter is fine because nothing writes
//!   through an alias;
//! - `InPlace(n)` for the update value `u` of the `n`-th parameter `p` exactly when all hold:
//!   `u` is written by a kernel (it runs one, or it is an `extract` of a multi-result kernel;
//!   it is not a leaf or a reshape, and not already the in-place update of an earlier-listed
//!   parameter); no node after `u`'s kernel reads `p`'s old value, directly or through
//!   reshapes of `p`; neither `p` nor a reshape of it is a graph output or an update value
//!   (those are read at the end of the step); and if `u`'s kernel itself reads `p` (directly
//!   or through a reshape), it reads it only where it writes `u`
//!   ([`ir::kernels::writes_where_it_reads`]: `u` is elementwise — `Unary`, `Binary`,
//!   `Select`, fused `Elementwise`, or an elementwise result of a loop, which visits each
//!   element of its domain once, that is the only loop of its kernel reading `p` — and
//!   every such operand has exactly
//!   `u`'s shape, no broadcast), so element `i` of `p` is read before element `i` of the new
//!   value is written over it. Only `u` is in place; the nodes computing `u`'s operands use
//!   the arena;
//! - `Arena { offset, len }` for every other value a kernel writes: `len` is the element
//!   count, the offset a multiple of [`ir::memory_plan::ARENA_ALIGN`]. A slot is reused once
//!   every value stored in it has been read for the last time (best-fit over a free list,
//!   deterministic). A kernel's result never shares memory with a value still read at or
//!   after its step, nor with another result of the same kernel, with one exception: a
//!   result may take over an arena operand that its kernel reads for the last time, when
//!   the kernel reads that memory only where it writes the result (the same rule as for
//!   `InPlace`, each operand memory taken by one result at most). Backends must therefore let
//!   an elementwise kernel's (or elementwise loop's) output alias such an input (read element
//!   `i` of every input before writing element `i`); every other output is disjoint from all
//!   of its kernel's inputs.
//!
//! The finished plan is checked with [`ir::MemoryPlan::validate`] before it is returned.

mod arena;
mod liveness;
#[cfg(test)]
mod tests;

use ir::kernels::{kernel_of, kernel_writes};
use ir::{FusedOp, Graph, MemoryPlan, NodeId, Op, Storage};

use crate::error::PassError;
use arena::{ArenaAllocator, aligned};
use liveness::{Liveness, is_leaf};

/// Plan the memory of one execution of `graph` (see the module docs for the guarantees).
pub fn plan(graph: &Graph) -> Result<MemoryPlan, PassError> {
    let live = Liveness::of(graph);
    let mut storage = vec![Storage::None; graph.len()];
    assign_leaves_and_aliases(graph, &live, &mut storage);
    assign_in_place_updates(graph, &live, &mut storage);
    let arena_len = assign_arena(graph, &live, &mut storage);
    let plan = MemoryPlan { storage, arena_len };
    plan.validate(graph)
        .map_err(|e| PassError::MemoryPlan(format!("the planned storage is invalid: {e}")))?;
    Ok(plan)
}

fn assign_leaves_and_aliases(graph: &Graph, live: &Liveness, storage: &mut [Storage]) {
    let (mut inputs, mut params, mut consts) = (0..usize::MAX, 0..usize::MAX, 0..usize::MAX);
    for id in graph.node_ids() {
        let needed = live.needed[id.index()];
        storage[id.index()] = match graph.op(id) {
            Op::Input { .. } => Storage::Input(inputs.next().expect("unbounded")),
            Op::Param { .. } => Storage::Param(params.next().expect("unbounded")),
            Op::Const(_) => Storage::Const(consts.next().expect("unbounded")),
            Op::Reshape(_) if needed => Storage::Alias(graph.operands(id)[0]),
            Op::Fused(FusedOp::Multi(_)) if needed => Storage::Results,
            _ => Storage::None,
        };
    }
}

fn assign_in_place_updates(graph: &Graph, live: &Liveness, storage: &mut [Storage]) {
    let params = graph.params();
    for &(param, value) in &graph.updates {
        let n = params
            .iter()
            .position(|&p| p == param)
            .expect("updates name params");
        let at = kernel_of(graph, value).index();
        let last_read = live.last_read[param.index()];
        let safe = live.is_kernel(graph, kernel_of(graph, value))
            && !matches!(graph.op(value), Op::Fused(FusedOp::Multi(_)))
            && storage[value.index()] == Storage::None
            && match last_read {
                None => true,
                Some(step) if step < at => true,
                Some(step) if step == at => live.reads_only_where_it_writes(graph, value, param),
                Some(_) => false,
            };
        if safe {
            storage[value.index()] = Storage::InPlace(n);
        }
    }
}

/// One reserved arena block and the value it holds now.
struct Block {
    holder: NodeId,
    last_read: usize,
    offset: usize,
    reserved: usize,
}

/// The arena while it is being planned: the allocator and the blocks in use.
#[derive(Default)]
struct Arena {
    allocator: ArenaAllocator,
    blocks: Vec<Block>,
}

/// Give every value a kernel writes that has no storage yet an arena slot; returns the arena
/// length.
fn assign_arena(graph: &Graph, live: &Liveness, storage: &mut [Storage]) -> usize {
    let mut arena = Arena::default();
    for id in graph.node_ids() {
        let step = id.index();
        if !live.is_kernel(graph, id) {
            continue;
        }
        let unplaced: Vec<NodeId> = kernel_writes(graph, id)
            .into_iter()
            .filter(|&w| live.needed[w.index()] && storage[w.index()] == Storage::None)
            .collect();
        if unplaced.is_empty() {
            continue;
        }
        let Arena { allocator, blocks } = &mut arena;
        blocks.retain(|b| {
            let dead = b.last_read < step;
            if dead {
                allocator.free(b.offset, b.reserved);
            }
            !dead
        });
        // Operand memories a result of this kernel already took over.
        let mut taken: Vec<NodeId> = Vec::new();
        for w in unplaced {
            storage[w.index()] = arena.place(graph, live, w, step, &mut taken);
        }
    }
    arena.allocator.high_water()
}

impl Arena {
    /// The slot of `w`, written at `step`: the memory of an operand it may take over (see
    /// [`dying_operand`]) and no other result of its kernel took, or a fresh block.
    fn place(
        &mut self,
        graph: &Graph,
        live: &Liveness,
        w: NodeId,
        step: usize,
        taken: &mut Vec<NodeId>,
    ) -> Storage {
        let len = graph.shape(w).numel();
        let last_read = live.last_read[w.index()].unwrap_or(step);
        if let Some(block) = dying_operand(graph, live, w, step, taken)
            .and_then(|x| self.blocks.iter_mut().find(|b| b.holder == x))
        {
            taken.push(block.holder);
            block.holder = w;
            block.last_read = last_read;
            return Storage::Arena {
                offset: block.offset,
                len,
            };
        }
        let reserved = aligned(len);
        let offset = if reserved == 0 {
            0
        } else {
            self.allocator.alloc(reserved)
        };
        if reserved > 0 {
            self.blocks.push(Block {
                holder: w,
                last_read,
                offset,
                reserved,
            });
        }
        Storage::Arena { offset, len }
    }
}

/// An operand memory of `w`'s kernel (at `step`) that `w` may write over: not a leaf, read
/// for the last time at `step`, of `w`'s size, read by the kernel only where it writes `w`,
/// and not `taken` by another of its results.
fn dying_operand(
    graph: &Graph,
    live: &Liveness,
    w: NodeId,
    step: usize,
    taken: &[NodeId],
) -> Option<NodeId> {
    graph
        .operands(kernel_of(graph, w))
        .into_iter()
        .map(|o| live.owner[o.index()])
        .find(|&memory| {
            !is_leaf(graph.op(memory))
                && !taken.contains(&memory)
                && live.last_read[memory.index()] == Some(step)
                && graph.shape(memory).numel() == graph.shape(w).numel()
                && live.reads_only_where_it_writes(graph, w, memory)
        })
}
