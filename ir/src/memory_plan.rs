//! Where every node's value lives while a compiled step runs: the memory plan that the
//! planning pass produces and every backend consumes.
//!
//! Three kinds of storage exist at run time: the caller's input buffers, the persistent
//! parameter buffers (weights and optimizer state, kept across steps), and one scratch
//! arena per step. A node either owns a slot of the arena, or *is* an input/param/const,
//! or is a view of another node's storage (a reshape), or writes straight into a parameter
//! buffer (an in-place update).

use crate::graph::NodeId;

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
}

impl MemoryPlan {
    /// The plan without any reuse: leaves are their own storage, every other node gets a
    /// fresh arena slot. Correct for any graph; the baseline the planning pass improves on
    /// and a debugging aid (a bug that disappears under this plan is a planning bug).
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
                    _ => {
                        let len = graph.shape(id).numel();
                        arena_len += len;
                        Storage::Arena { offset: arena_len - len, len }
                    }
                }
            })
            .collect();
        MemoryPlan { storage, arena_len }
    }
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
