//! The loop view of a kernel: what the kernel-merging rules ([`super::MERGES`]) see of an
//! elementwise or reducing node after the node rules have run.
//!
//! A node is a *loop* when one pass over an index space (its domain) computes it: a
//! primitive `unary`/`binary`/`select`, a `broadcast` (the identity, its operand read
//! broadcast), a `fused.elementwise`, a `reduce` or a `fused.reduce`. Its [`LoopNode`] is its
//! domain, the axes it reduces (none for an elementwise node), a body program over its own
//! operands (`Input(i)` is operand `i`) and what its value is: the body's last register
//! whole, or reduced. Splat constant operands are inlined as `Instr::Const`, as the node
//! rules inline them (the loop's domain, not its operands, gives its shape).
//!
//! Deliberately not loops: anchors (matmul, convolutions, pooling and their gradients),
//! other movement ops, random numbers, and `fused.multi` kernels (never merged again).

use ir::{FusedOp, Graph, Instr, NodeId, Op, Program, ReduceOp, Shape};

/// What a loop node's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopValue {
    /// The body's last register at every element of the domain.
    Element,
    /// `op` of the body's last register over the node's axes.
    Reduce {
        /// The reduction.
        op: ReduceOp,
        /// Whether the reduced axes stay as size 1.
        keep_dims: bool,
    },
}

/// The loop view of one node (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LoopNode {
    /// The index space of the body.
    pub domain: Shape,
    /// The axes reduced; empty for an elementwise value.
    pub axes: Vec<usize>,
    /// The body over the node's operands (`Input(i)` is operand `i`).
    pub body: Program,
    /// What the node's value is.
    pub value: LoopValue,
}

impl LoopNode {
    /// Whether the node's value is elementwise (it reduces nothing).
    pub fn is_elementwise(&self) -> bool {
        self.value == LoopValue::Element
    }
}

/// The loop view of `id`, when it is a loop.
pub fn as_loop(graph: &Graph, id: NodeId) -> Option<LoopNode> {
    let single = |instr: Instr, arity: usize| Program {
        instrs: (0..arity).map(Instr::Input).chain([instr]).collect(),
    };
    let elementwise = |body: Program| LoopNode {
        domain: graph.shape(id).clone(),
        axes: vec![],
        body,
        value: LoopValue::Element,
    };
    let node = match graph.op(id) {
        Op::Unary(u) => elementwise(single(Instr::Unary(*u, 0), 1)),
        Op::Binary(b) => elementwise(single(Instr::Binary(*b, 0, 1), 2)),
        Op::Select => elementwise(single(Instr::Select(0, 1, 2), 3)),
        Op::Broadcast(_) => elementwise(Program::identity()),
        Op::Fused(FusedOp::Elementwise(p)) => elementwise(p.clone()),
        Op::Reduce {
            op,
            axes,
            keep_dims,
        } => LoopNode {
            domain: graph.shape(graph.operands(id)[0]).clone(),
            axes: axes.clone(),
            body: Program::identity(),
            value: LoopValue::Reduce {
                op: *op,
                keep_dims: *keep_dims,
            },
        },
        Op::Fused(FusedOp::Reduce {
            op,
            axes,
            keep_dims,
            input_shape,
            prologue,
        }) => LoopNode {
            domain: input_shape.clone(),
            axes: axes.clone(),
            body: prologue.clone(),
            value: LoopValue::Reduce {
                op: *op,
                keep_dims: *keep_dims,
            },
        },
        _ => return None,
    };
    Some(node)
}

/// The value of a splat constant (all elements bit-identical), which a loop inlines.
pub fn splat_value(graph: &Graph, id: NodeId) -> Option<f32> {
    match graph.op(id) {
        Op::Const(t) => t
            .data
            .first()
            .filter(|first| t.data.iter().all(|v| v.to_bits() == first.to_bits()))
            .copied(),
        _ => None,
    }
}
