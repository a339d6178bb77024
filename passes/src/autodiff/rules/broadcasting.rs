//! Rules for the broadcasting elementwise ops, the binary ops and `select`: each rule's
//! gradient is shaped like `y`, then summed back to the operand's shape.

use ir::infer::op_name;
use ir::{BinaryOp, Graph, NodeId, Op, UnaryOp};

use super::site::Site;
use crate::autodiff::emit::{Emit, Res};

/// The gradient for operand `i` of a broadcasting elementwise op (binary, select): its rule's
/// gradient, shaped like `y`, summed back to the operand's shape.
pub(super) fn broadcasting_grad(g: &mut Graph, site: &Site, i: usize) -> Res<Option<NodeId>> {
    let (y, dy, ops) = (site.node, site.dy, &site.operands);
    let x_shape = g.shape(ops[i]).clone();
    let full = match &site.op {
        Op::Binary(b) => binary_grad(g, *b, ops[0], ops[1], y, dy, i)?,
        Op::Select => select_grad(g, ops[0], dy, i)?,
        other => unreachable!("{} is not a broadcasting op", op_name(other)),
    };
    match full {
        Some(full) => Ok(Some(g.reduce_to(full, &x_shape)?)),
        None => Ok(None),
    }
}

/// The gradient for operand `i` of `y = cond ? a : b`, still shaped like `y`:
/// `da = cond ? dy : 0`, `db = cond ? 0 : dy`; none to `cond`.
fn select_grad(g: &mut Graph, cond: NodeId, dy: NodeId, i: usize) -> Res<Option<NodeId>> {
    let zero = g.scalar(0.0);
    let full = match i {
        1 => g.select(cond, dy, zero)?,
        2 => g.select(cond, zero, dy)?,
        _ => return Ok(None),
    };
    Ok(Some(full))
}

/// The gradient for operand `i` of `y = op(a, b)`, still shaped like `y` (the caller sums
/// it back to the operand's shape).
fn binary_grad(
    g: &mut Graph,
    op: BinaryOp,
    a: NodeId,
    b: NodeId,
    y: NodeId,
    dy: NodeId,
    i: usize,
) -> Res<Option<NodeId>> {
    use BinaryOp::*;
    let full = match (op, i) {
        // y = a + b: da = dy, db = dy
        (Add, _) => dy,
        // y = a - b: da = dy, db = -dy
        (Sub, 0) => dy,
        (Sub, _) => g.un(UnaryOp::Neg, dy)?,
        // y = a * b: da = dy * b, db = dy * a
        (Mul, 0) => g.mul2(dy, b)?,
        (Mul, _) => g.mul2(dy, a)?,
        // y = a / b: da = dy / b, db = -dy * a / b^2 = -dy * y / b
        (Div, 0) => g.div2(dy, b)?,
        (Div, _) => {
            let q = g.div2(y, b)?;
            let d = g.mul2(dy, q)?;
            g.un(UnaryOp::Neg, d)?
        }
        // y = max(a, b): da = dy * (a >= b), db = dy * (a < b)  (ties go to a)
        (Max, 0) => masked(g, Ge, a, b, dy)?,
        (Max, _) => masked(g, Lt, a, b, dy)?,
        // y = min(a, b): da = dy * (a <= b), db = dy * (a > b)  (ties go to a)
        (Min, 0) => masked(g, Le, a, b, dy)?,
        (Min, _) => masked(g, Gt, a, b, dy)?,
        // y = a^b: da = dy * b * a^(b - 1)
        (Pow, 0) => {
            let one = g.scalar(1.0);
            let b1 = g.sub2(b, one)?;
            let p = g.bin(Pow, a, b1)?;
            let d = g.mul2(b, p)?;
            g.mul2(dy, d)?
        }
        // y = a^b: db = dy * y * ln(a) where a > 0, else 0
        (Pow, _) => {
            let zero = g.scalar(0.0);
            let pos = g.bin(Gt, a, zero)?;
            let ln = g.un(UnaryOp::Log, a)?;
            let d = g.mul2(y, ln)?;
            let d = g.mul2(dy, d)?;
            g.select(pos, d, zero)?
        }
        // Comparisons are piecewise constant: no gradient.
        (Eq | Ne | Lt | Le | Gt | Ge, _) => return Ok(None),
    };
    Ok(Some(full))
}

/// `dy * cmp(a, b)`: the gradient routed where the comparison holds.
fn masked(g: &mut Graph, cmp: BinaryOp, a: NodeId, b: NodeId, dy: NodeId) -> Res {
    let mask = g.bin(cmp, a, b)?;
    g.mul2(dy, mask)
}
