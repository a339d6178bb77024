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
//! - `Alias(operand)` for every needed `Reshape` (no copy, no kernel). The value's memory is
//!   its operand's, followed through chains of reshapes, and stays live as long as any reader
//!   of any alias of it; an alias of an input or a parameter is fine because nothing writes
//!   through an alias;
//! - `InPlace(n)` for the update value `u` of the `n`-th parameter `p` exactly when all hold:
//!   `u` runs a kernel (it is not a leaf or a reshape, and not already the in-place update of
//!   an earlier-listed parameter); no node after `u` reads `p`'s old value, directly or
//!   through reshapes of `p`; neither `p` nor a reshape of it is a graph output or an update
//!   value (those are read at the end of the step); and if `u` itself reads `p` (directly or
//!   through a reshape), `u` is elementwise ([`ir::memory_plan::is_elementwise`]: `Unary`,
//!   `Binary`, `Select`, fused `Elementwise`) and every such operand has exactly `u`'s shape
//!   (no broadcast), so element `i` of `p` is read before element `i` of the new value is
//!   written over it. Only `u` is in place; the nodes computing `u`'s operands use the arena;
//! - `Arena { offset, len }` for every other kernel: `len` is the element count, the offset
//!   a multiple of [`ir::memory_plan::ARENA_ALIGN`]. A slot is reused once every value stored
//!   in it has been read for the last time (best-fit over a free list, deterministic). A
//!   kernel's result never shares memory with a value still read at or after its step, with
//!   one exception: an elementwise kernel may write over an arena operand that it reads for
//!   the last time, when every operand living in that memory has exactly the kernel's shape.
//!   Backends must therefore let an elementwise kernel's output alias such an input (read
//!   element `i` of every input before writing element `i`); every other kernel's output is
//!   disjoint from all of its inputs.
//!
//! The finished plan is checked with [`ir::MemoryPlan::validate`] before it is returned.

mod arena;
mod liveness;
#[cfg(test)]
mod tests;

use ir::memory_plan::is_elementwise;
use ir::{Graph, MemoryPlan, NodeId, Op, Storage};

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
        storage[id.index()] = match graph.op(id) {
            Op::Input { .. } => Storage::Input(inputs.next().expect("unbounded")),
            Op::Param { .. } => Storage::Param(params.next().expect("unbounded")),
            Op::Const(_) => Storage::Const(consts.next().expect("unbounded")),
            Op::Reshape(_) if live.needed[id.index()] => Storage::Alias(graph.operands(id)[0]),
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
        let at = value.index();
        let last_read = live.last_read[param.index()];
        let safe = live.is_kernel(graph, value)
            && storage[at] == Storage::None
            && match last_read {
                None => true,
                Some(step) if step < at => true,
                Some(step) if step == at => {
                    is_elementwise(graph.op(value))
                        && live.reads_only_at_own_index(graph, value, param)
                }
                Some(_) => false,
            };
        if safe {
            storage[at] = Storage::InPlace(n);
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

/// Give every remaining kernel an arena slot; returns the arena length.
fn assign_arena(graph: &Graph, live: &Liveness, storage: &mut [Storage]) -> usize {
    let mut allocator = ArenaAllocator::default();
    let mut blocks: Vec<Block> = Vec::new();
    for id in graph.node_ids() {
        let step = id.index();
        if !live.is_kernel(graph, id) || storage[step] != Storage::None {
            continue;
        }
        blocks.retain(|b| {
            let dead = b.last_read < step;
            if dead {
                allocator.free(b.offset, b.reserved);
            }
            !dead
        });
        let len = graph.shape(id).numel();
        let last_read = live.last_read[step].unwrap_or(step);
        if let Some(block) = dying_same_shape_operand(graph, live, id)
            .and_then(|x| blocks.iter_mut().find(|b| b.holder == x))
        {
            block.holder = id;
            block.last_read = last_read;
            storage[step] = Storage::Arena {
                offset: block.offset,
                len,
            };
            continue;
        }
        let reserved = aligned(len);
        let offset = if reserved == 0 {
            0
        } else {
            allocator.alloc(reserved)
        };
        if reserved > 0 {
            blocks.push(Block {
                holder: id,
                last_read,
                offset,
                reserved,
            });
        }
        storage[step] = Storage::Arena { offset, len };
    }
    allocator.high_water()
}

/// For an elementwise kernel: an operand's memory owner that it reads for the last time,
/// only at its own index, and that has the kernel's size — the kernel may write over it.
fn dying_same_shape_operand(graph: &Graph, live: &Liveness, id: NodeId) -> Option<NodeId> {
    if !is_elementwise(graph.op(id)) {
        return None;
    }
    graph
        .operands(id)
        .into_iter()
        .map(|o| live.owner[o.index()])
        .find(|&memory| {
            !is_leaf(graph.op(memory))
                && live.last_read[memory.index()] == Some(id.index())
                && graph.shape(memory).numel() == graph.shape(id).numel()
                && live.reads_only_at_own_index(graph, id, memory)
        })
}
