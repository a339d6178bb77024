//! Fusion: groups of primitive ops become single [`ir::FusedOp`] kernels, chosen by a rule
//! table ([`RULES`]); see `README.md` in this folder for how to write a rule.
//!
//! Guarantees: the result computes the same values as the input under the reference
//! interpreter; every node is computed at most once (no rule duplicates work: a value needed
//! outside a kernel is always materialized, never recomputed); `outputs` and `updates` are
//! preserved (an update's value node fuses like any other node). Every fused node has the
//! shape of the node it replaces, or the pass fails naming the rule and the node.
//!
//! Deliberately not done: movement ops (reshape, transpose, broadcast, slice, concat, pad)
//! are never absorbed; fused ops are never fused again (running the pass twice is a no-op);
//! dead nodes are left for DCE.
//!
//! How it works: [`elementwise::Groups`] partitions the elementwise nodes into groups that can
//! share one kernel. Each rule, in table order, is offered every node not yet claimed; a rule
//! answers with a [`Fusion`] (the nodes it computes and the fused op replacing them), which is
//! accepted when none of its nodes is claimed yet. Earlier rules win: an elementwise group
//! becomes a matmul epilogue before it could become a standalone elementwise kernel.

pub mod elementwise;
pub mod epilogue;
mod fusion;
pub mod pool;
pub mod reduce;

use ir::{Graph, NodeId, Op};

use crate::error::PassError;
use crate::rebuild::Rebuild;
use elementwise::Groups;
pub use fusion::Fusion;

/// A fusion rule: the fusion anchored at a node, if the rule applies there.
pub type Rule = fn(&Groups, NodeId) -> Option<Fusion>;

/// The rules, in priority order.
pub const RULES: [(&str, Rule); 6] = [
    ("matmul_epilogue", epilogue::matmul),
    ("conv2d_epilogue", epilogue::conv2d),
    ("depthwise_conv2d_epilogue", epilogue::depthwise_conv2d),
    ("pool2d_epilogue", pool::pool2d),
    ("reduce_prologue", reduce::prologue),
    ("elementwise", elementwise::chain),
];

/// Fuse `graph` with every rule of [`RULES`].
pub fn fuse(graph: &Graph) -> Result<Graph, PassError> {
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
