//! The graph: nodes (op + inferred shape) on a petgraph DAG, plus named outputs and
//! parameter updates. petgraph stays behind this API.
//!
//! Invariant: nodes are only appended, and only with operands that already exist, so node
//! index order is a topological order. Passes never mutate a graph in place; they build a
//! new one.

use std::fmt;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::error::{IrError, Result};
use crate::infer::infer_shape;
use crate::op::{BinaryOp, Op, ReduceOp, UnaryOp};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// A node of a [`Graph`]; prints as `%n` like the text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The node's position in topological (insertion) order.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the node at `index`.
    pub fn from_index(index: usize) -> Self {
        NodeId(index as u32)
    }

    fn petgraph(self) -> NodeIndex<u32> {
        NodeIndex::new(self.index())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// One node: its op and the shape inference gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The operation.
    pub op: Op,
    /// The result shape.
    pub shape: Shape,
}

/// A dataflow graph of tensor ops.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    dag: DiGraph<Node, u32, u32>,
    /// Named results of one execution, in order (e.g. `loss`, `accuracy`, `logits`).
    pub outputs: Vec<(String, NodeId)>,
    /// `(param, new_value)`: after an execution, each parameter takes its new value.
    pub updates: Vec<(NodeId, NodeId)>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a node, inferring its shape. Fails (naming op and shapes) when the operands
    /// do not fit the op, or an operand is not in this graph.
    pub fn add(&mut self, op: Op, operands: &[NodeId]) -> Result<NodeId> {
        for &o in operands {
            self.check(o)?;
        }
        let shapes: Vec<&Shape> = operands
            .iter()
            .map(|&o| &self.dag[o.petgraph()].shape)
            .collect();
        let shape = infer_shape(&op, &shapes)?;
        let id = NodeId(self.dag.add_node(Node { op, shape }).index() as u32);
        for (slot, &o) in operands.iter().enumerate() {
            self.dag.add_edge(o.petgraph(), id.petgraph(), slot as u32);
        }
        Ok(id)
    }

    fn check(&self, id: NodeId) -> Result<()> {
        if id.index() < self.len() {
            Ok(())
        } else {
            Err(IrError::UnknownNode(id.to_string()))
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.dag.node_count()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All node ids in topological order.
    pub fn node_ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + ExactSizeIterator + use<> {
        (0..self.len() as u32).map(NodeId)
    }

    /// The node `id`. Panics on a foreign id (ids only come from this graph).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.dag[id.petgraph()]
    }

    /// The op of `id`.
    pub fn op(&self, id: NodeId) -> &Op {
        &self.node(id).op
    }

    /// The shape of `id`.
    pub fn shape(&self, id: NodeId) -> &Shape {
        &self.node(id).shape
    }

    /// The operands of `id`, in order.
    pub fn operands(&self, id: NodeId) -> Vec<NodeId> {
        let mut edges: Vec<(u32, NodeId)> = self
            .dag
            .edges_directed(id.petgraph(), Direction::Incoming)
            .map(|e| (*e.weight(), NodeId(e.source().index() as u32)))
            .collect();
        edges.sort_unstable();
        edges.into_iter().map(|(_, n)| n).collect()
    }

    /// The nodes that use `id` as an operand (each once, ascending).
    pub fn users(&self, id: NodeId) -> Vec<NodeId> {
        let mut users: Vec<NodeId> = self
            .dag
            .neighbors_directed(id.petgraph(), Direction::Outgoing)
            .map(|n| NodeId(n.index() as u32))
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    }

    /// Add a named output.
    pub fn add_output(&mut self, name: impl Into<String>, id: NodeId) -> Result<()> {
        self.check(id)?;
        self.outputs.push((name.into(), id));
        Ok(())
    }

    /// The output called `name`.
    pub fn output(&self, name: &str) -> Option<NodeId> {
        self.outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, id)| id)
    }

    /// Declare that `param` takes the value of `value` after each execution.
    pub fn add_update(&mut self, param: NodeId, value: NodeId) -> Result<()> {
        self.check(param)?;
        self.check(value)?;
        let bad = |msg: String| IrError::Verify {
            node: param.to_string(),
            msg,
        };
        if !matches!(self.op(param), Op::Param { .. }) {
            return Err(bad("only a param can be updated".into()));
        }
        if self.shape(param) != self.shape(value) {
            return Err(bad(format!(
                "update value {value} has shape {} but the param has {}",
                self.shape(value),
                self.shape(param)
            )));
        }
        if self.updates.iter().any(|&(p, _)| p == param) {
            return Err(bad("param updated twice".into()));
        }
        self.updates.push((param, value));
        Ok(())
    }

    /// `Input` nodes in order.
    pub fn inputs(&self) -> Vec<NodeId> {
        self.node_ids()
            .filter(|&n| matches!(self.op(n), Op::Input { .. }))
            .collect()
    }

    /// `Param` nodes in order.
    pub fn params(&self) -> Vec<NodeId> {
        self.node_ids()
            .filter(|&n| matches!(self.op(n), Op::Param { .. }))
            .collect()
    }

    /// The `Input` or `Param` node called `name`.
    pub fn find_leaf(&self, name: &str) -> Option<NodeId> {
        self.node_ids().find(|&n| matches!(self.op(n), Op::Input { name: m, .. } | Op::Param { name: m, .. } if m == name))
    }

    // ---- builder conveniences -------------------------------------------------------

    /// Add an `Input` leaf.
    pub fn input(&mut self, name: impl Into<String>, shape: impl Into<Shape>) -> NodeId {
        self.add(
            Op::Input {
                name: name.into(),
                shape: shape.into(),
            },
            &[],
        )
        .expect("leaves always infer")
    }

    /// Add a `Param` leaf.
    pub fn param(&mut self, name: impl Into<String>, shape: impl Into<Shape>) -> NodeId {
        self.add(
            Op::Param {
                name: name.into(),
                shape: shape.into(),
            },
            &[],
        )
        .expect("leaves always infer")
    }

    /// Add a constant.
    pub fn constant(&mut self, value: Tensor) -> NodeId {
        self.add(Op::Const(value), &[])
            .expect("leaves always infer")
    }

    /// Add a scalar constant.
    pub fn scalar(&mut self, value: f32) -> NodeId {
        self.constant(Tensor::scalar(value))
    }

    /// Add a unary op.
    pub fn unary(&mut self, op: UnaryOp, x: NodeId) -> Result<NodeId> {
        self.add(Op::Unary(op), &[x])
    }

    /// Add a binary op.
    pub fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.add(Op::Binary(op), &[a, b])
    }

    /// Add a (possibly transposed) matmul.
    pub fn matmul(
        &mut self,
        a: NodeId,
        b: NodeId,
        transpose_a: bool,
        transpose_b: bool,
    ) -> Result<NodeId> {
        self.add(
            Op::MatMul {
                transpose_a,
                transpose_b,
            },
            &[a, b],
        )
    }

    /// Add a reduction.
    pub fn reduce(
        &mut self,
        op: ReduceOp,
        x: NodeId,
        axes: &[usize],
        keep_dims: bool,
    ) -> Result<NodeId> {
        self.add(
            Op::Reduce {
                op,
                axes: axes.to_vec(),
                keep_dims,
            },
            &[x],
        )
    }

    /// Add a `stop_gradient`: `x` itself, through which autodiff passes no gradient.
    pub fn stop_gradient(&mut self, x: NodeId) -> Result<NodeId> {
        self.add(Op::StopGradient, &[x])
    }

    /// Add a reshape.
    pub fn reshape(&mut self, x: NodeId, shape: impl Into<Shape>) -> Result<NodeId> {
        self.add(Op::Reshape(shape.into()), &[x])
    }
}
