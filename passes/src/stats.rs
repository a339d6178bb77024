//! Kernel statistics of a graph: how many kernels one execution runs and how many bytes they
//! move, counted from the graph alone (no memory plan, no backend), so that fusion can be
//! judged by numbers that do not depend on timing noise.
//!
//! What counts (the execution model of [`ir::MemoryPlan::validate`]):
//! - a *kernel* is a node that one execution computes — it feeds an output or an update — and
//!   that is not a leaf (`input`, `param`, `const`) nor a `reshape` (a view: the memory planner
//!   aliases every needed reshape);
//! - a kernel *reads* each distinct memory among its operands once, whole (a reshape reads as
//!   the memory it views; an operand that the kernel broadcasts counts at its own size: these
//!   are the compulsory bytes, not the cache traffic);
//! - a kernel *writes* its result once, whole; a multi-result kernel (`fused.multi`) writes
//!   each result that is read (its `extract` nodes, which run nothing themselves).
//!
//! Bytes are 4 per element (everything is f32). Deliberately not counted: the end-of-step
//! copies of update values that are not computed in place, and a backend's internal scratch
//! (a convolution's column buffer, a matmul's packed panels).

use ir::{Graph, NodeId, Op};

/// Kernels and bytes of one execution of a graph (see the module docs for what counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelStats {
    /// Kernels run.
    pub kernels: usize,
    /// Bytes the kernels read, each operand memory once per kernel.
    pub bytes_read: usize,
    /// Bytes the kernels write.
    pub bytes_written: usize,
}

impl KernelStats {
    /// Bytes read plus bytes written.
    pub fn bytes_moved(&self) -> usize {
        self.bytes_read + self.bytes_written
    }
}

/// The [`KernelStats`] of one execution of `graph`.
pub fn kernel_stats(graph: &Graph) -> KernelStats {
    let needed = needed_nodes(graph);
    let mut stats = KernelStats::default();
    for id in graph.node_ids().filter(|&id| needed[id.index()]) {
        if matches!(graph.op(id), Op::Extract { .. }) {
            stats.bytes_written += bytes(graph, id);
            continue;
        }
        if !runs_kernel(graph.op(id)) {
            continue;
        }
        stats.kernels += 1;
        let mut memories: Vec<NodeId> = graph
            .operands(id)
            .into_iter()
            .map(|o| viewed_memory(graph, o))
            .collect();
        memories.sort_unstable();
        memories.dedup();
        stats.bytes_read += memories.iter().map(|&m| bytes(graph, m)).sum::<usize>();
        stats.bytes_written += bytes(graph, id);
    }
    stats
}

/// Whether a computed node of op `op` runs a kernel (leaves and views do not).
fn runs_kernel(op: &Op) -> bool {
    !matches!(
        op,
        Op::Input { .. } | Op::Param { .. } | Op::Const(_) | Op::Reshape(_)
    )
}

/// The node whose memory `id`'s value lives in: `id`, or what a chain of reshapes views.
fn viewed_memory(graph: &Graph, mut id: NodeId) -> NodeId {
    while matches!(graph.op(id), Op::Reshape(_)) {
        id = graph.operands(id)[0];
    }
    id
}

/// The bytes of `id`'s value.
fn bytes(graph: &Graph, id: NodeId) -> usize {
    graph.shape(id).numel() * std::mem::size_of::<f32>()
}

/// Whether each node feeds an output or an update value.
fn needed_nodes(graph: &Graph) -> Vec<bool> {
    let mut needed = vec![false; graph.len()];
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
    needed
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{BinaryOp, UnaryOp};

    #[test]
    fn counts_kernels_and_their_operand_and_result_bytes() {
        let mut g = Graph::new();
        let x = g.input("x", [2, 3]);
        let b = g.param("b", [3]);
        let y = g.binary(BinaryOp::Add, x, b).unwrap();
        let r = g.reshape(y, [6]).unwrap();
        // Reads y's memory twice (as itself and through the reshape): counted once.
        let z = g.binary(BinaryOp::Mul, y, y).unwrap();
        let w = g.add(Op::Reshape([6].into()), &[z]).unwrap();
        let s = g.binary(BinaryOp::Add, r, w).unwrap();
        let _dead = g.unary(UnaryOp::Exp, x).unwrap();
        g.add_output("s", s).unwrap();
        let stats = kernel_stats(&g);
        assert_eq!(
            stats.kernels, 3,
            "add, mul and the last add; reshapes and dead nodes not"
        );
        // add: x (24) + b (12) read, 24 written; mul: y once (24), 24; add: y and z (48), 24.
        assert_eq!(stats.bytes_read, 36 + 24 + 48);
        assert_eq!(stats.bytes_written, 3 * 24);
        assert_eq!(stats.bytes_moved(), 108 + 72);
    }
}
