//! Where every node's value lives while a compiled step runs: the memory plan that the
//! planning pass produces and every backend consumes.
//!
//! Three kinds of storage exist at run time: the caller's input buffers, the persistent
//! parameter buffers (weights and optimizer state, kept across steps), and one scratch
//! arena per step. A node either owns a slot of the arena, or *is* an input/param/const,
//! or is a view of another node's storage (a reshape), or writes straight into a parameter
//! buffer (an in-place update). A multi-result kernel owns nothing itself: each of its
//! results lives in its `extract` node's storage.

use crate::error::IrError;
use crate::graph::NodeId;
pub use crate::kernels::is_elementwise;
use crate::kernels::{kernel_writes, writes_where_it_reads};

/// The storage of one node's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// The `n`-th graph input (in order of the `Input` nodes).
    Input(usize),
    /// The `n`-th parameter buffer (in order of the `Param` nodes).
    Param(usize),
    /// The `n`-th constant (in order of the `Const` nodes), owned by the compiled program.
    Const(usize),
    /// `len` f32 elements at `offset` (in elements) in the step's arena.
    Arena {
        /// Offset in f32 elements.
        offset: usize,
        /// Length in f32 elements.
        len: usize,
    },
    /// Same bytes as another node (e.g. a reshape); never written through.
    Alias(NodeId),
    /// Computed directly into the `n`-th parameter buffer: this node is the update of that
    /// parameter, and nothing that runs after it reads the parameter's old value.
    InPlace(usize),
    /// Never materialised (dead, or fused into its only user).
    None,
    /// Runs a multi-result kernel (`fused.multi`) that holds no value itself: it writes each
    /// of its results into the storage of that result's `extract` node (an extract whose
    /// storage is `None` is computed but not stored).
    Results,
}

/// The memory plan of a graph: one [`Storage`] per node (indexed by `NodeId::index`) and
/// the arena size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryPlan {
    /// Storage per node, indexed by node index.
    pub storage: Vec<Storage>,
    /// Arena size in f32 elements.
    pub arena_len: usize,
}

impl MemoryPlan {
    /// The storage of `node`.
    pub fn of(&self, node: NodeId) -> Storage {
        self.storage[node.index()]
    }

    /// The parameter updates of `graph` a backend copies at the end of a step, as
    /// `(parameter index among graph.params(), value)`: every update whose value is not
    /// computed in place in its parameter's storage.
    pub fn copied_updates(&self, graph: &crate::graph::Graph) -> Vec<(usize, NodeId)> {
        let params = graph.params();
        graph
            .updates
            .iter()
            .map(|&(param, value)| {
                let index = params
                    .iter()
                    .position(|&p| p == param)
                    .expect("updates name params (checked by Graph::add_update)");
                (index, value)
            })
            .filter(|&(index, value)| self.of(value) != Storage::InPlace(index))
            .collect()
    }
}

impl MemoryPlan {
    /// The plan without any reuse: leaves are their own storage, a multi-result kernel runs
    /// as `Results`, every other node gets a fresh arena slot. Correct for any graph; the
    /// baseline the planning pass improves on and a debugging aid (a bug that disappears under
    /// this plan is a planning bug).
    pub fn naive(graph: &crate::graph::Graph) -> Self {
        use crate::op::Op;
        let (mut n_inputs, mut n_params, mut n_consts, mut arena_len) = (0, 0, 0, 0);
        let storage = graph
            .node_ids()
            .map(|id| {
                let next = |counter: &mut usize| {
                    *counter += 1;
                    *counter - 1
                };
                match graph.op(id) {
                    Op::Input { .. } => Storage::Input(next(&mut n_inputs)),
                    Op::Param { .. } => Storage::Param(next(&mut n_params)),
                    Op::Const(_) => Storage::Const(next(&mut n_consts)),
                    Op::Fused(crate::fused::FusedOp::Multi(_)) => Storage::Results,
                    _ => {
                        let len = graph.shape(id).numel();
                        arena_len += len;
                        Storage::Arena {
                            offset: arena_len - len,
                            len,
                        }
                    }
                }
            })
            .collect();
        MemoryPlan { storage, arena_len }
    }
}

/// Arena offsets are multiples of this many f32 elements (64 bytes: a cache line, and the
/// widest SIMD vector either backend uses), so every arena value starts aligned.
pub const ARENA_ALIGN: usize = 16;

/// The memory a value lives in, after following aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Input(usize),
    Param(usize),
    Const(usize),
    Arena { offset: usize, len: usize },
}

impl Region {
    fn overlaps(self, other: Region) -> bool {
        match (self, other) {
            (Region::Arena { offset: a, len: la }, Region::Arena { offset: b, len: lb }) => {
                la > 0 && lb > 0 && a < b + lb && b < a + la
            }
            (a, b) => a == b,
        }
    }
}

impl MemoryPlan {
    /// Follow alias chains from `node` to the node that owns the memory.
    /// Callers guarantee (via [`MemoryPlan::validate`]'s kind checks) that every alias points
    /// at an earlier node, so this terminates.
    fn owner(&self, mut node: NodeId) -> NodeId {
        while let Storage::Alias(target) = self.of(node) {
            node = target;
        }
        node
    }

    fn region(&self, owner: NodeId) -> Option<Region> {
        match self.of(owner) {
            Storage::Input(k) => Some(Region::Input(k)),
            Storage::Param(k) | Storage::InPlace(k) => Some(Region::Param(k)),
            Storage::Const(k) => Some(Region::Const(k)),
            Storage::Arena { offset, len } => Some(Region::Arena { offset, len }),
            Storage::Alias(_) | Storage::None | Storage::Results => None,
        }
    }

    /// Check that executing `graph` under this plan computes what the graph means.
    ///
    /// The execution model (the one every backend implements): leaves live in their own
    /// buffers; the non-leaf nodes run in node-index order, skipping `None` (never computed),
    /// `Alias` (a view, no kernel) and `extract`s (their multi-result kernel writes them);
    /// each kernel reads its operands and writes its result into its storage, a `Results`
    /// kernel each of its results into its extract's storage; after the last node, graph
    /// outputs are read and each update value is copied into its parameter's buffer (unless it
    /// already lives there as `InPlace`).
    ///
    /// Checked, by simulating that order, one function per invariant and in this order:
    /// 1. **One storage per node** (`check_storage_count`).
    /// 2. **Each storage fits its node** (`check_storage_kinds`): leaves are
    ///    `Input`/`Param`/`Const` numbered in order of their kind; `Alias` only on a reshape,
    ///    pointing at its operand; `InPlace(k)` only on the update value of the `k`-th param;
    ///    `Results` exactly on the `fused.multi` nodes that run (an extract of a kernel that
    ///    does not run is `None`); arena slots have the node's element count, an offset
    ///    aligned to [`ARENA_ALIGN`], and fit in `arena_len`.
    /// 3. **Everything read is materialised** (`check_reads`): operands, what a view
    ///    shows, outputs and update values.
    /// 4. **No kernel clobbers a live value** (`check_writes`): no kernel writes memory
    ///    holding a value that is read later (at its own step or after; outputs and update
    ///    values are read at the end), and the results of one kernel are disjoint. The one
    ///    exception is a kernel overwriting exactly the memory of a value whose last read is
    ///    this very kernel, reading it only where it writes it
    ///    ([`crate::kernels::writes_where_it_reads`]: an [`is_elementwise`] kernel or an
    ///    elementwise loop, through operands of the written value's own shape).
    ///
    /// Errors are [`IrError::Verify`] naming the node at fault.
    pub fn validate(&self, graph: &crate::graph::Graph) -> Result<(), IrError> {
        self.check_storage_count(graph)?;
        self.check_storage_kinds(graph)?;
        let last_read = self.check_reads(graph)?;
        self.check_writes(graph, &last_read)
    }

    /// Invariant 1: the plan has exactly one storage per node of `graph`.
    fn check_storage_count(&self, graph: &crate::graph::Graph) -> Result<(), IrError> {
        if self.storage.len() == graph.len() {
            return Ok(());
        }
        Err(IrError::Verify {
            node: "plan".into(),
            msg: format!(
                "has {} storages for {} nodes",
                self.storage.len(),
                graph.len()
            ),
        })
    }

    /// Invariant 2: every node's storage is of a kind its op allows (see [`Self::validate`]).
    fn check_storage_kinds(&self, graph: &crate::graph::Graph) -> Result<(), IrError> {
        use crate::op::Op;
        let params = graph.params();
        let (mut n_inputs, mut n_params, mut n_consts) = (0, 0, 0);
        for id in graph.node_ids() {
            let storage = self.of(id);
            let leaf_index = |counter: &mut usize| {
                *counter += 1;
                *counter - 1
            };
            let expected_leaf = match graph.op(id) {
                Op::Input { .. } => Some(Storage::Input(leaf_index(&mut n_inputs))),
                Op::Param { .. } => Some(Storage::Param(leaf_index(&mut n_params))),
                Op::Const(_) => Some(Storage::Const(leaf_index(&mut n_consts))),
                _ => None,
            };
            match (expected_leaf, storage) {
                (Some(want), got) if want != got => {
                    return Err(node_error(
                        id,
                        format!("leaf has storage {got:?}, expected {want:?}"),
                    ));
                }
                (Some(_), _) | (None, Storage::None) => {}
                (None, Storage::Input(_) | Storage::Param(_) | Storage::Const(_)) => {
                    return Err(node_error(
                        id,
                        format!("computed node has leaf storage {storage:?}"),
                    ));
                }
                (None, Storage::Alias(target)) => check_alias(graph, id, target)?,
                (None, Storage::InPlace(k)) => check_in_place(graph, &params, id, k)?,
                (None, Storage::Arena { offset, len }) => {
                    self.check_arena_slot(graph, id, offset, len)?;
                }
                (None, Storage::Results) => {}
            }
            if expected_leaf.is_none() {
                self.check_multi_storage(graph, id)?;
            }
        }
        Ok(())
    }

    /// Part of invariant 2: `Results` exactly on the `fused.multi` nodes that run, and no
    /// stored result of a kernel that does not run.
    fn check_multi_storage(&self, graph: &crate::graph::Graph, id: NodeId) -> Result<(), IrError> {
        use crate::fused::FusedOp;
        use crate::op::Op;
        let storage = self.of(id);
        match graph.op(id) {
            Op::Fused(FusedOp::Multi(_))
                if !matches!(storage, Storage::Results | Storage::None) =>
            {
                Err(node_error(
                    id,
                    format!("a multi-result kernel has storage {storage:?}, not Results"),
                ))
            }
            Op::Fused(FusedOp::Multi(_)) => Ok(()),
            Op::Extract { .. }
                if storage != Storage::None
                    && self.of(graph.operands(id)[0]) != Storage::Results =>
            {
                Err(node_error(
                    id,
                    format!(
                        "stores a result of {}, which does not run",
                        graph.operands(id)[0]
                    ),
                ))
            }
            _ if storage == Storage::Results => Err(node_error(
                id,
                "only a fused.multi node runs as Results".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Part of invariant 2: the arena slot of `id` holds its value, is aligned to
    /// [`ARENA_ALIGN`] and lies inside the arena.
    fn check_arena_slot(
        &self,
        graph: &crate::graph::Graph,
        id: NodeId,
        offset: usize,
        len: usize,
    ) -> Result<(), IrError> {
        let numel = graph.shape(id).numel();
        if len != numel {
            return Err(node_error(
                id,
                format!("arena slot holds {len} elements, the value has {numel}"),
            ));
        }
        if len > 0 && !offset.is_multiple_of(ARENA_ALIGN) {
            return Err(node_error(
                id,
                format!("arena offset {offset} is not a multiple of {ARENA_ALIGN}"),
            ));
        }
        if offset + len > self.arena_len {
            return Err(node_error(
                id,
                format!(
                    "arena slot {offset}..{} exceeds the arena ({})",
                    offset + len,
                    self.arena_len
                ),
            ));
        }
        Ok(())
    }

    /// Whether `id` runs a kernel: a computed node that is materialised and not a view.
    fn is_kernel(&self, graph: &crate::graph::Graph, id: NodeId) -> bool {
        use crate::op::Op;
        !matches!(self.of(id), Storage::None | Storage::Alias(_))
            && !matches!(
                graph.op(id),
                Op::Input { .. } | Op::Param { .. } | Op::Const(_) | Op::Extract { .. }
            )
    }

    /// Invariant 3: every read finds a materialised value. Returns each owner's last read,
    /// indexed by node (`graph.len()` stands for the end of the step).
    fn check_reads(&self, graph: &crate::graph::Graph) -> Result<Vec<Option<usize>>, IrError> {
        let end = graph.len();
        let mut last_read: Vec<Option<usize>> = vec![None; graph.len()];
        let mut read = |reader: NodeId, value: NodeId, at: usize| -> Result<(), IrError> {
            let owner = self.owner(value);
            if self.of(owner) == Storage::None {
                return Err(node_error(
                    reader,
                    format!("reads {value}, which is never computed"),
                ));
            }
            let slot = &mut last_read[owner.index()];
            *slot = Some(slot.map_or(at, |s| s.max(at)));
            Ok(())
        };
        for id in graph.node_ids() {
            if self.is_kernel(graph, id) {
                for operand in graph.operands(id) {
                    read(id, operand, id.index())?;
                }
            }
        }
        // A view reads nothing itself (its readers count as readers of the memory it shows),
        // but what it shows must exist.
        for id in graph.node_ids() {
            if let Storage::Alias(target) = self.of(id)
                && self.of(self.owner(target)) == Storage::None
            {
                return Err(node_error(
                    id,
                    format!("aliases {target}, which is never computed"),
                ));
            }
        }
        for (name, value) in &graph.outputs {
            read(*value, *value, end)
                .map_err(|_| node_error(*value, format!("output `{name}` is never computed")))?;
        }
        for &(param, value) in &graph.updates {
            read(value, value, end).map_err(|_| {
                node_error(value, format!("update value of {param} is never computed"))
            })?;
        }
        Ok(last_read)
    }

    /// Invariant 4: simulating the kernels in execution order, none writes memory that holds
    /// a value still to be read, except an in-step overwrite (see
    /// [`Self::overwrites_in_step`]), and the values one kernel writes are disjoint.
    /// `last_read` is [`Self::check_reads`]'s result.
    fn check_writes(
        &self,
        graph: &crate::graph::Graph,
        last_read: &[Option<usize>],
    ) -> Result<(), IrError> {
        use crate::op::Op;
        let mut live: Vec<NodeId> = graph
            .node_ids()
            .filter(|&id| {
                matches!(
                    graph.op(id),
                    Op::Input { .. } | Op::Param { .. } | Op::Const(_)
                ) && self.region(id).is_some()
            })
            .collect();
        for id in graph.node_ids().filter(|&id| self.is_kernel(graph, id)) {
            let step = id.index();
            live.retain(|v| last_read[v.index()].is_some_and(|r| r >= step));
            let writes: Vec<(NodeId, Region)> = kernel_writes(graph, id)
                .into_iter()
                .filter_map(|w| self.region(w).map(|r| (w, r)))
                .collect();
            for (k, &(w, written)) in writes.iter().enumerate() {
                self.check_write(graph, (w, written), &live, last_read, step)?;
                if let Some(&(other, _)) = writes[..k].iter().find(|(_, r)| r.overlaps(written)) {
                    return Err(node_error(
                        w,
                        format!("is written over {other}, a result of the same kernel"),
                    ));
                }
            }
            live.extend(writes.into_iter().map(|(w, _)| w));
        }
        Ok(())
    }

    /// Part of invariant 4: writing `w` into `written` at `step` clobbers none of the `live`
    /// values, but for an in-step overwrite.
    fn check_write(
        &self,
        graph: &crate::graph::Graph,
        (w, written): (NodeId, Region),
        live: &[NodeId],
        last_read: &[Option<usize>],
        step: usize,
    ) -> Result<(), IrError> {
        for &value in live {
            let held = self.region(value).expect("live values have a region");
            if !held.overlaps(written) {
                continue;
            }
            let dies_here = last_read[value.index()] == Some(step);
            if !(dies_here && self.overwrites_in_step(graph, w, held, written)) {
                let until = match last_read[value.index()] {
                    Some(r) if r == graph.len() => "the end of the step".to_string(),
                    Some(r) => format!("%{r}"),
                    None => "never".to_string(),
                };
                return Err(node_error(
                    w,
                    format!("writes {written:?}, overwriting {value} (read until {until})"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the kernel writing `w` into `written`, over a value held in `held` whose last
    /// read is this kernel, reads each element before writing it at the same flat index: it
    /// writes exactly that memory, and every operand living there is one it reads only where
    /// it writes `w` ([`writes_where_it_reads`]).
    fn overwrites_in_step(
        &self,
        graph: &crate::graph::Graph,
        w: NodeId,
        held: Region,
        written: Region,
    ) -> bool {
        let kernel = crate::kernels::kernel_of(graph, w);
        held == written
            && graph
                .operands(kernel)
                .into_iter()
                .enumerate()
                .all(|(j, o)| {
                    let r = self
                        .region(self.owner(o))
                        .expect("operands are materialised");
                    !r.overlaps(written) || (r == written && writes_where_it_reads(graph, w, j))
                })
    }
}

/// An [`IrError::Verify`] naming `node`.
fn node_error(node: NodeId, msg: String) -> IrError {
    IrError::Verify {
        node: node.to_string(),
        msg,
    }
}

/// Part of invariant 2: only a reshape may alias, only its operand, of the same size.
fn check_alias(graph: &crate::graph::Graph, id: NodeId, target: NodeId) -> Result<(), IrError> {
    use crate::op::Op;
    if !matches!(graph.op(id), Op::Reshape(_)) || graph.operands(id) != [target] {
        return Err(node_error(
            id,
            format!("only a reshape may alias, and only its operand (got alias of {target})"),
        ));
    }
    if graph.shape(target).numel() != graph.shape(id).numel() {
        return Err(node_error(
            id,
            format!("aliases {target} of a different size"),
        ));
    }
    Ok(())
}

/// Part of invariant 2: `InPlace(k)` only on the update value of the `k`-th param.
fn check_in_place(
    graph: &crate::graph::Graph,
    params: &[NodeId],
    id: NodeId,
    k: usize,
) -> Result<(), IrError> {
    let param = params.get(k).copied();
    if graph
        .updates
        .iter()
        .any(|&(p, v)| Some(p) == param && v == id)
    {
        return Ok(());
    }
    Err(node_error(
        id,
        format!("is in place in param buffer {k} but is not that param's update value"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;
    use crate::op::BinaryOp;

    #[test]
    fn naive_plan_gives_every_computed_node_its_own_slot() {
        let mut g = Graph::new();
        let x = g.input("x", [2, 3]);
        let w = g.param("w", [3]);
        let y = g.binary(BinaryOp::Mul, x, w).unwrap();
        let z = g.binary(BinaryOp::Add, y, x).unwrap();
        let plan = MemoryPlan::naive(&g);
        assert_eq!(plan.of(x), Storage::Input(0));
        assert_eq!(plan.of(w), Storage::Param(0));
        assert_eq!(plan.of(y), Storage::Arena { offset: 0, len: 6 });
        assert_eq!(plan.of(z), Storage::Arena { offset: 6, len: 6 });
        assert_eq!(plan.arena_len, 12);
    }
}
