//! Terse graph-building shorthands for the gradient rules, and the one helper that sums a
//! broadcast gradient back to its operand's shape.

use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Shape, Tensor, UnaryOp};

use crate::error::PassError;

/// Result alias for the rules.
pub(crate) type Res<T = NodeId> = Result<T, PassError>;

/// Shorthands over [`Graph`]'s builder API; every method appends one node (or none).
pub(crate) trait Emit {
    /// `a + b`
    fn add2(&mut self, a: NodeId, b: NodeId) -> Res;
    /// `a - b`
    fn sub2(&mut self, a: NodeId, b: NodeId) -> Res;
    /// `a * b`
    fn mul2(&mut self, a: NodeId, b: NodeId) -> Res;
    /// `a / b`
    fn div2(&mut self, a: NodeId, b: NodeId) -> Res;
    /// `a * c` for a scalar constant `c`.
    fn scale(&mut self, a: NodeId, c: f32) -> Res;
    /// `op(a, b)` for any binary op.
    fn bin(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> Res;
    /// `op(x)` for any unary op.
    fn un(&mut self, op: UnaryOp, x: NodeId) -> Res;
    /// `cond != 0 ? a : b`
    fn select(&mut self, cond: NodeId, a: NodeId, b: NodeId) -> Res;
    /// Sum over `axes` (no node when `axes` is empty).
    fn sum(&mut self, x: NodeId, axes: &[usize], keep_dims: bool) -> Res;
    /// Reshape, or `x` itself when the shape already matches.
    fn reshape_to(&mut self, x: NodeId, shape: &Shape) -> Res;
    /// Broadcast, or `x` itself when the shape already matches.
    fn broadcast_to(&mut self, x: NodeId, shape: &Shape) -> Res;
    /// Sum a gradient of a broadcast result back to the operand shape `target`: sum over
    /// the leading axes `target` lacks and over the axes where `target` has size 1, then
    /// reshape. The helper every broadcasting rule uses.
    fn reduce_to(&mut self, grad: NodeId, target: &Shape) -> Res;
}

impl Emit for Graph {
    fn add2(&mut self, a: NodeId, b: NodeId) -> Res {
        self.bin(BinaryOp::Add, a, b)
    }
    fn sub2(&mut self, a: NodeId, b: NodeId) -> Res {
        self.bin(BinaryOp::Sub, a, b)
    }
    fn mul2(&mut self, a: NodeId, b: NodeId) -> Res {
        self.bin(BinaryOp::Mul, a, b)
    }
    fn div2(&mut self, a: NodeId, b: NodeId) -> Res {
        self.bin(BinaryOp::Div, a, b)
    }
    fn scale(&mut self, a: NodeId, c: f32) -> Res {
        let c = self.scalar(c);
        self.mul2(a, c)
    }
    fn bin(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> Res {
        Ok(self.binary(op, a, b)?)
    }
    fn un(&mut self, op: UnaryOp, x: NodeId) -> Res {
        Ok(self.unary(op, x)?)
    }
    fn select(&mut self, cond: NodeId, a: NodeId, b: NodeId) -> Res {
        Ok(self.add(Op::Select, &[cond, a, b])?)
    }
    fn sum(&mut self, x: NodeId, axes: &[usize], keep_dims: bool) -> Res {
        if axes.is_empty() {
            return Ok(x);
        }
        Ok(self.reduce(ReduceOp::Sum, x, axes, keep_dims)?)
    }
    fn reshape_to(&mut self, x: NodeId, shape: &Shape) -> Res {
        if self.shape(x) == shape {
            return Ok(x);
        }
        Ok(self.reshape(x, shape.clone())?)
    }
    fn broadcast_to(&mut self, x: NodeId, shape: &Shape) -> Res {
        if self.shape(x) == shape {
            return Ok(x);
        }
        Ok(self.add(Op::Broadcast(shape.clone()), &[x])?)
    }
    fn reduce_to(&mut self, grad: NodeId, target: &Shape) -> Res {
        let have = self.shape(grad).clone();
        if &have == target {
            return Ok(grad);
        }
        if !target.broadcasts_to(&have) {
            return Err(PassError::Autodiff(format!(
                "cannot reduce a gradient of shape {have} to operand shape {target}"
            )));
        }
        let lead = have.rank() - target.rank();
        let axes: Vec<usize> = (0..have.rank())
            .filter(|&i| i < lead || (target.0[i - lead] == 1 && have.0[i] != 1))
            .collect();
        let summed = self.sum(grad, &axes, false)?;
        self.reshape_to(summed, target)
    }
}

/// A constant of zeros shaped like `shape`.
pub(crate) fn zeros(g: &mut Graph, shape: &Shape) -> NodeId {
    g.constant(Tensor::zeros(shape.clone()))
}
