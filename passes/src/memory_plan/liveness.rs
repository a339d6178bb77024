//! Which nodes are computed at all, which memory each value lives in before any reuse
//! (a reshape lives in its operand's memory), and when each memory is read for the last time.
//! A multi-result kernel reads its operands at its own step; its `extract`s read nothing.

use ir::{Graph, NodeId, Op};

/// Whether `op` is a graph leaf (its value comes from outside the step).
pub(super) fn is_leaf(op: &Op) -> bool {
    matches!(op, Op::Input { .. } | Op::Param { .. } | Op::Const(_))
}

/// The liveness facts of one graph.
#[derive(Debug)]
pub(super) struct Liveness {
    /// Whether the node's value is needed: it feeds an output or an update (leaves always are
    /// given storage, needed or not).
    pub needed: Vec<bool>,
    /// The node whose memory holds this node's value: itself, or for a reshape the owner of
    /// its operand.
    pub owner: Vec<NodeId>,
    /// Per owner: the last step that reads its memory (a node index; `graph.len()` is the
    /// end of the step, when outputs and update values are read). `None`: never read.
    pub last_read: Vec<Option<usize>>,
}

impl Liveness {
    /// Analyse `graph`.
    pub(super) fn of(graph: &Graph) -> Self {
        let n = graph.len();
        let mut needed = vec![false; n];
        let mut stack: Vec<NodeId> = graph
            .outputs
            .iter()
            .map(|&(_, v)| v)
            .chain(graph.updates.iter().map(|&(_, v)| v))
            .collect();
        while let Some(id) = stack.pop() {
            if !std::mem::replace(&mut needed[id.index()], true) {
                stack.extend(graph.operands(id));
            }
        }

        let mut owner: Vec<NodeId> = graph.node_ids().collect();
        let mut last_read = vec![None; n];
        let read = |last_read: &mut Vec<Option<usize>>, memory: NodeId, at: usize| {
            let slot: &mut Option<usize> = &mut last_read[memory.index()];
            *slot = Some(slot.map_or(at, |s| s.max(at)));
        };
        for id in graph.node_ids().filter(|&id| needed[id.index()]) {
            let operands = graph.operands(id);
            match graph.op(id) {
                Op::Reshape(_) => owner[id.index()] = owner[operands[0].index()],
                op if is_leaf(op) || matches!(op, Op::Extract { .. }) => {}
                _ => operands
                    .iter()
                    .for_each(|&o| read(&mut last_read, owner[o.index()], id.index())),
            }
        }
        for &v in graph
            .outputs
            .iter()
            .map(|(_, v)| v)
            .chain(graph.updates.iter().map(|(_, v)| v))
        {
            read(&mut last_read, owner[v.index()], n);
        }
        Liveness {
            needed,
            owner,
            last_read,
        }
    }

    /// Whether `id` runs a kernel: needed, not a leaf, not a reshape, not an `extract` (its
    /// multi-result kernel runs instead).
    pub(super) fn is_kernel(&self, graph: &Graph, id: NodeId) -> bool {
        self.needed[id.index()]
            && !is_leaf(graph.op(id))
            && !matches!(graph.op(id), Op::Reshape(_) | Op::Extract { .. })
    }

    /// Whether the kernel writing `written` reads every operand whose value lives in
    /// `memory` only where it writes `written` ([`ir::kernels::writes_where_it_reads`]), so
    /// `written` may take over that memory at the kernel's step.
    pub(super) fn reads_only_where_it_writes(
        &self,
        graph: &Graph,
        written: NodeId,
        memory: NodeId,
    ) -> bool {
        let kernel = ir::kernels::kernel_of(graph, written);
        graph
            .operands(kernel)
            .into_iter()
            .enumerate()
            .all(|(j, o)| {
                self.owner[o.index()] != memory
                    || ir::kernels::writes_where_it_reads(graph, written, j)
            })
    }
}
