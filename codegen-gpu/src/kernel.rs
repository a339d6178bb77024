//! What code generation hands the runtime: one [`Kernel`] per computed node (its WGSL
//! module, the buffers it binds and its dispatch grid), and where each node's value lives
//! ([`Loc`]: a buffer [`Space`] and an offset), resolved from the memory plan.

use ir::{Graph, MemoryPlan, NodeId, Storage};

use crate::error::{GpuError, Result};

/// A device buffer of a compiled step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    /// The step's scratch arena.
    Arena,
    /// The `n`-th graph input.
    Input(usize),
    /// The `n`-th parameter.
    Param(usize),
    /// The `n`-th constant.
    Const(usize),
}

/// Where a value lives: `offset` f32 elements into buffer `space`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// The buffer.
    pub space: Space,
    /// Offset in f32 elements.
    pub offset: usize,
}

/// One binding of a kernel: `@binding(i)` is the `i`-th entry of [`Kernel::bindings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The buffer bound.
    pub space: Space,
    /// Bound `read_write` (the kernel writes its result there) rather than `read`.
    pub writable: bool,
}

/// One compute dispatch: a WGSL module with entry point `main` and its bindings (all in
/// group 0, each buffer bound whole, at most once).
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    /// The node it computes.
    pub node: NodeId,
    /// A label naming the node and op, for errors and debugging.
    pub label: String,
    /// The WGSL source.
    pub wgsl: String,
    /// The buffers bound, in binding order.
    pub bindings: Vec<Binding>,
    /// Workgroups to dispatch along x, y, z.
    pub workgroups: [u32; 3],
}

/// Where the value of `id` lives under `plan`, following aliases; `None` when it is never
/// materialised.
pub fn resolve(graph: &Graph, plan: &MemoryPlan, mut id: NodeId) -> Result<Option<Loc>> {
    let mut hops = 0;
    loop {
        let storage = plan
            .storage
            .get(id.index())
            .copied()
            .ok_or_else(|| GpuError::Plan {
                node: id.to_string(),
                msg: format!(
                    "the plan has {} storages for a graph of {} nodes",
                    plan.storage.len(),
                    graph.len()
                ),
            })?;
        let loc = |space, offset| Ok(Some(Loc { space, offset }));
        return match storage {
            Storage::Input(k) => loc(Space::Input(k), 0),
            Storage::Param(k) | Storage::InPlace(k) => loc(Space::Param(k), 0),
            Storage::Const(k) => loc(Space::Const(k), 0),
            Storage::Arena { offset, .. } => loc(Space::Arena, offset),
            // A multi-result kernel holds no value: its extracts do.
            Storage::None | Storage::Results => Ok(None),
            Storage::Alias(target) => {
                hops += 1;
                if target >= id || hops > graph.len() {
                    return Err(GpuError::Plan {
                        node: id.to_string(),
                        msg: format!("aliases {target}, which is not an earlier node"),
                    });
                }
                id = target;
                continue;
            }
        };
    }
}

/// Like [`resolve`], but a value that is never materialised is an error naming `reader`.
pub fn resolve_read(graph: &Graph, plan: &MemoryPlan, reader: NodeId, id: NodeId) -> Result<Loc> {
    resolve(graph, plan, id)?.ok_or_else(|| GpuError::Plan {
        node: reader.to_string(),
        msg: format!("reads {id}, which the plan never materialises"),
    })
}

/// Check that every arena slot of `plan` holds its node's element count and lies inside
/// the arena, so no kernel reads or writes past a value. (Alignment is not needed here:
/// GPU copies only need whole f32s, so the unaligned [`MemoryPlan::naive`] plan is fine.)
pub fn check_slots(graph: &Graph, plan: &MemoryPlan) -> Result<()> {
    if plan.storage.len() != graph.len() {
        return Err(GpuError::Plan {
            node: "plan".into(),
            msg: format!(
                "has {} storages for {} nodes",
                plan.storage.len(),
                graph.len()
            ),
        });
    }
    for id in graph.node_ids() {
        if let Storage::Arena { offset, len } = plan.of(id) {
            let numel = graph.shape(id).numel();
            if len != numel
                || offset
                    .checked_add(len)
                    .is_none_or(|end| end > plan.arena_len)
            {
                return Err(GpuError::Plan {
                    node: id.to_string(),
                    msg: format!(
                        "arena slot {offset}..{} for {numel} values does not fit an arena of {}",
                        offset + len,
                        plan.arena_len
                    ),
                });
            }
        }
    }
    Ok(())
}
