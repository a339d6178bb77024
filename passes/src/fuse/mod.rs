//! Fusion: groups of primitive ops become fused kernels, chosen by two rule tables; see
//! `README.md` in this folder for how to write a rule.
//!
//! 1. **Node rules** ([`RULES`]): an elementwise group joins the anchor it feeds or follows
//!    (matmul, convolution, pooling epilogues; reduction prologues) or becomes one
//!    elementwise kernel; each fused kernel replaces one node (its root).
//! 2. **Kernel merging** ([`MERGES`]): the elementwise and reducing kernels left
//!    ([`loops`]) merge into multi-result kernels (`fused.multi`): producers needed
//!    elsewhere into their consumers and siblings over one domain into one loop
//!    (multi-output), independent kernels into one kernel of several loops (horizontal).
//!
//! Guarantees: the result computes the same values as the input under the reference
//! interpreter; every node is computed at most once (no rule duplicates work: a value needed
//! outside a kernel is always written by it, never recomputed); `outputs` and `updates` are
//! preserved (an update's value node fuses like any other node). Every fused node (or
//! `extract`) has the shape of the node it replaces, or the pass fails naming the rule and
//! the node.
//!
//! Deliberately not done: movement ops other than `broadcast` are never absorbed (a
//! broadcast becomes a broadcast read when merged into its consumer's loop); fused ops are
//! not fused again by the node rules, and `fused.multi` kernels are never merged again;
//! dead nodes are left for DCE.
//!
//! How it works: [`elementwise::Groups`] partitions the elementwise nodes into groups that can
//! share one kernel. Each node rule, in table order, is offered every node not yet claimed; a
//! rule answers with a [`Fusion`] (the nodes it computes and the fused op replacing them),
//! which is accepted when none of its nodes is claimed yet. Earlier rules win: an elementwise
//! group becomes a matmul epilogue before it could become a standalone elementwise kernel.
//! Then [`clusters::Clusters`] starts every loop kernel of the result as a kernel of its own;
//! each merge rule, in table order and until nothing changes, is offered every kernel with
//! each of the [`MERGE_LOOKBACK`] kernels that run last before it (earliest first) and
//! answers with the loops they would form together, which the driver accepts where the
//! merged kernel has a place to run ([`placement`]).

mod build;
pub mod clusters;
pub mod elementwise;
pub mod epilogue;
mod fusion;
pub mod horizontal;
pub mod loops;
pub mod multi_output;
pub mod placement;
pub mod pool;
pub mod reduce;

use ir::{Graph, NodeId, Op};

use crate::error::PassError;
use crate::rebuild::Rebuild;
use clusters::{Clusters, Merged};
use elementwise::Groups;
pub use fusion::Fusion;

/// A fusion rule: the fusion anchored at a node, if the rule applies there.
pub type Rule = fn(&Groups, NodeId) -> Option<Fusion>;

/// A merge rule: the loops clusters `a` and `b` (`a` runs first) would form as one kernel,
/// if the rule merges them.
pub type MergeRule = fn(&Clusters, usize, usize) -> Option<Merged>;

/// The rules, in priority order.
pub const RULES: [(&str, Rule); 6] = [
    ("matmul_epilogue", epilogue::matmul),
    ("conv2d_epilogue", epilogue::conv2d),
    ("depthwise_conv2d_epilogue", epilogue::depthwise_conv2d),
    ("pool2d_epilogue", pool::pool2d),
    ("reduce_prologue", reduce::prologue),
    ("elementwise", elementwise::chain),
];

/// The merge rules, in priority order: one loop where possible, else side by side.
pub const MERGES: [(&str, MergeRule); 2] = [
    ("multi_output", multi_output::merge),
    ("horizontal", horizontal::merge),
];

/// Fuse `graph` with every rule of [`RULES`], then merge kernels with [`MERGES`].
pub fn fuse(graph: &Graph) -> Result<Graph, PassError> {
    let fused = fuse_nodes(graph)?;
    merge_kernels(&fused)
}

/// Merge the loop kernels of `graph` with every rule of [`MERGES`] (see the module docs).
pub fn merge_kernels(graph: &Graph) -> Result<Graph, PassError> {
    let mut clusters = Clusters::new(graph);
    for (_, rule) in MERGES {
        while merge_pass(&mut clusters, rule) {}
    }
    build::build(graph, &clusters)
}

/// How many of the kernels that run last before a kernel a merge rule is offered as its
/// partners. Merges are local (a big loop never moves past a big kernel, and a kernel's
/// window ends at its first reader), so a bounded look-back loses little and keeps merging
/// linear in the number of kernels: all of the seed MLP step's 46 loop kernels see each
/// other, and a ResNet50 training step (≈2000 loop kernels) merges in milliseconds.
pub const MERGE_LOOKBACK: usize = 32;

/// Offer every cluster to `rule` with each of the [`MERGE_LOOKBACK`] clusters that run last
/// before it, earliest first (so a value that only depends on early inputs joins the
/// earliest loop that can take it); whether anything merged.
fn merge_pass(clusters: &mut Clusters, rule: MergeRule) -> bool {
    let mut merged_any = false;
    for b in clusters.in_key_order() {
        for a in clusters.partners_before(b, MERGE_LOOKBACK) {
            if clusters.cluster(a).is_none() || clusters.cluster(b).is_none() {
                continue;
            }
            let Some(loops) = rule(clusters, a, b) else {
                continue;
            };
            if let Some(key) = clusters.placement(a, b) {
                clusters.merge(a, b, loops, key);
                merged_any = true;
            }
        }
    }
    merged_any
}

/// Fuse `graph` with every rule of [`RULES`].
pub fn fuse_nodes(graph: &Graph) -> Result<Graph, PassError> {
    let groups = Groups::find(graph);
    let mut claimed: Vec<Option<usize>> = vec![None; graph.len()];
    let mut fusions: Vec<(&str, Fusion)> = Vec::new();
    for (name, rule) in RULES {
        for id in graph.node_ids() {
            if claimed[id.index()].is_some() {
                continue;
            }
            let Some(fusion) = rule(&groups, id) else {
                continue;
            };
            if fusion.members.iter().all(|m| claimed[m.index()].is_none()) {
                for m in &fusion.members {
                    claimed[m.index()] = Some(fusions.len());
                }
                fusions.push((name, fusion));
            }
        }
    }
    let mut rebuild = Rebuild::new(graph);
    for id in graph.node_ids() {
        match claimed[id.index()] {
            None => {
                rebuild.copy(id)?;
            }
            Some(k) if fusions[k].1.root == id => {
                let (rule, fusion) = &fusions[k];
                let new = rebuild.add(Op::Fused(fusion.op.clone()), &fusion.operands)?;
                if rebuild.new_graph().shape(new) != graph.shape(id) {
                    return Err(PassError::Fusion {
                        rule,
                        node: id.to_string(),
                        msg: format!(
                            "fused shape {} differs from {}",
                            rebuild.new_graph().shape(new),
                            graph.shape(id)
                        ),
                    });
                }
                rebuild.set(id, new);
            }
            // Computed inside the fused node of its root, which comes later.
            Some(_) => {}
        }
    }
    rebuild.finish()
}

#[cfg(test)]
mod tests;
