//! Elementwise groups — the analysis every fusion rule reads — and the elementwise rule.
//!
//! A *group* is a set of elementwise nodes (unary, binary, select) that one fused kernel can
//! compute in registers. It has one *root* (the only member whose value may be needed
//! outside the group); every other member:
//! - has all its users inside the group and is neither an output nor an update value, and
//! - has exactly the root's shape.
//!
//! The shape condition is the no-recompute policy: every member is evaluated exactly once per
//! output element, so fusing never repeats work (a member that a broadcast would recompute,
//! like `exp(x[8]) + y[1000, 8]`'s `exp`, stays its own group and is materialized). Only
//! *leaves* (operands from outside the group) are read broadcast. Nothing is ever
//! recomputed: a node with users in two groups is the root of its own group.
//!
//! Guarantees of [`Groups::program`]: the program evaluates the group's root from its leaves
//! exactly as the primitive ops would (same scalar ops in the same order; splat constants
//! are inlined bit-for-bit). The elementwise rule ([`chain`]) fuses groups of two or more ops
//! into one [`FusedOp::Elementwise`]; a lone op stays primitive (fusing it gains nothing).
//!
//! Deliberately not done: `Broadcast`, `Reshape` and other movement ops are not absorbed
//! (they change the index space), and constants with distinct elements stay operands.

use std::collections::HashMap;

use ir::fused::Reg;
use ir::{FusedOp, Graph, Instr, NodeId, Op, Program, Shape};

use super::fusion::Fusion;

/// The elementwise groups of a graph.
pub struct Groups<'a> {
    graph: &'a Graph,
    root_of: Vec<Option<NodeId>>,
    members: HashMap<NodeId, Vec<NodeId>>,
    escapes: Vec<bool>,
}

/// Whether `op` is computed element by element (and so can live in a [`Program`]).
pub fn is_elementwise(op: &Op) -> bool {
    matches!(op, Op::Unary(_) | Op::Binary(_) | Op::Select)
}

impl<'a> Groups<'a> {
    /// Partition the elementwise nodes of `graph` into groups (see the module doc).
    pub fn find(graph: &'a Graph) -> Self {
        let mut escapes = vec![false; graph.len()];
        for id in graph
            .outputs
            .iter()
            .map(|&(_, id)| id)
            .chain(graph.updates.iter().map(|&(_, v)| v))
        {
            escapes[id.index()] = true;
        }
        let mut root_of: Vec<Option<NodeId>> = vec![None; graph.len()];
        // Users come after their operands, so a reverse sweep sees every user's group first.
        for id in graph
            .node_ids()
            .rev()
            .filter(|&id| is_elementwise(graph.op(id)))
        {
            let users = graph.users(id);
            let shared_root = users
                .iter()
                .map(|u| root_of[u.index()])
                .reduce(|a, b| if a == b { a } else { None })
                .flatten();
            root_of[id.index()] = match shared_root {
                Some(root) if !escapes[id.index()] && graph.shape(root) == graph.shape(id) => {
                    Some(root)
                }
                _ => Some(id),
            };
        }
        let mut members: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
        for id in graph.node_ids() {
            if let Some(root) = root_of[id.index()] {
                members.entry(root).or_default().push(id);
            }
        }
        Groups {
            graph,
            root_of,
            members,
            escapes,
        }
    }

    /// The graph analysed.
    pub fn graph(&self) -> &'a Graph {
        self.graph
    }

    /// Whether `id` is the root of a group.
    pub fn is_root(&self, id: NodeId) -> bool {
        self.root_of[id.index()] == Some(id)
    }

    /// The members of the group rooted at `root`, in topological order (the root last).
    /// Empty when `root` is not a group root.
    pub fn members(&self, root: NodeId) -> &[NodeId] {
        self.members.get(&root).map_or(&[], Vec::as_slice)
    }

    /// The root of the one group that consumes every use of `id`, when `id` is not an output
    /// or update value and all its users are members of that group.
    pub fn consuming_group(&self, id: NodeId) -> Option<NodeId> {
        if self.escapes[id.index()] {
            return None;
        }
        let users = self.graph.users(id);
        let roots: Vec<Option<NodeId>> = users.iter().map(|u| self.root_of[u.index()]).collect();
        match roots.first() {
            Some(&Some(root)) if roots.iter().all(|&r| r == Some(root)) => Some(root),
            _ => None,
        }
    }

    /// Whether `id`'s only use is as the operand of one node (`user`), so a fused op
    /// computing both never needs `id` in memory.
    pub fn used_only_by(&self, id: NodeId, user: NodeId) -> bool {
        !self.escapes[id.index()] && self.graph.users(id) == [user]
    }

    /// The program computing the group rooted at `root` and the nodes its `Input(i)` reads
    /// (the leaves). `first_inputs` get the first input numbers (an anchor is input 0);
    /// other leaves follow in order of first use. Constant leaves that `inline` accepts
    /// become `Instr::Const` instead of inputs.
    pub fn program(
        &self,
        root: NodeId,
        first_inputs: &[NodeId],
        inline: Inline,
    ) -> (Program, Vec<NodeId>) {
        let mut builder = ProgramBuilder {
            instrs: Vec::new(),
            leaves: first_inputs.to_vec(),
            regs: HashMap::new(),
        };
        for &member in self.members(root) {
            let operands: Vec<Reg> = self
                .graph
                .operands(member)
                .into_iter()
                .map(|o| builder.operand(self.graph, o, inline))
                .collect();
            let instr = match *self.graph.op(member) {
                Op::Unary(u) => Instr::Unary(u, operands[0]),
                Op::Binary(b) => Instr::Binary(b, operands[0], operands[1]),
                _ => Instr::Select(operands[0], operands[1], operands[2]),
            };
            builder.instrs.push(instr);
            builder.regs.insert(member, builder.instrs.len() - 1);
        }
        (
            Program {
                instrs: builder.instrs,
            },
            builder.leaves,
        )
    }
}

/// Which constant leaves a program inlines as `Instr::Const`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inline {
    /// Every splat constant (all elements bit-identical, e.g. a folded `broadcast(0.5)`).
    /// Right when the kernel's shape does not come from its operands (epilogues,
    /// reductions); for an elementwise kernel a `[1, 1]` or `[2, 3]` splat may be what gives
    /// the result its shape.
    Splat,
    /// Rank-0 constants only: they never change a broadcast result's shape.
    RankZero,
}

impl Inline {
    fn accepts(self, t: &ir::Tensor) -> bool {
        match self {
            Inline::Splat => t
                .data
                .first()
                .is_some_and(|first| t.data.iter().all(|v| v.to_bits() == first.to_bits())),
            Inline::RankZero => t.shape.rank() == 0,
        }
    }
}

/// Accumulates a program's instructions, its leaves, and the register of every node emitted.
struct ProgramBuilder {
    instrs: Vec<Instr>,
    leaves: Vec<NodeId>,
    regs: HashMap<NodeId, Reg>,
}

impl ProgramBuilder {
    /// The register holding node `id`: a member's own instruction, or a leaf read (emitted
    /// on first use).
    fn operand(&mut self, graph: &Graph, id: NodeId, inline: Inline) -> Reg {
        if let Some(&reg) = self.regs.get(&id) {
            return reg;
        }
        let instr = match graph.op(id) {
            Op::Const(t) if inline.accepts(t) => Instr::Const(t.data[0]),
            _ => {
                let input = self
                    .leaves
                    .iter()
                    .position(|&l| l == id)
                    .unwrap_or_else(|| {
                        self.leaves.push(id);
                        self.leaves.len() - 1
                    });
                Instr::Input(input)
            }
        };
        self.instrs.push(instr);
        self.regs.insert(id, self.instrs.len() - 1);
        self.instrs.len() - 1
    }
}

/// The elementwise rule: a group of two or more ops rooted at `id` becomes one
/// [`FusedOp::Elementwise`] whose operands are the group's leaves.
pub fn chain(groups: &Groups, id: NodeId) -> Option<Fusion> {
    if !groups.is_root(id) || groups.members(id).len() < 2 {
        return None;
    }
    let graph = groups.graph();
    // The fused op's shape is its operands' broadcast: inlining a `[1, 1]` constant could
    // lower its rank, so fall back to inlining rank-0 constants only.
    [Inline::Splat, Inline::RankZero]
        .into_iter()
        .find_map(|inline| {
            let (program, leaves) = groups.program(id, &[], inline);
            let shape = leaves.iter().try_fold(Shape::scalar(), |acc, &l| {
                Shape::broadcast(&acc, graph.shape(l))
            });
            (shape.as_ref() == Some(graph.shape(id))).then(|| Fusion {
                root: id,
                members: groups.members(id).to_vec(),
                op: FusedOp::Elementwise(program),
                operands: leaves,
            })
        })
}
