//! Rules for the elementwise unary ops: `dx = dy * u'(x)`, written with `x` or `y`, with the
//! activation functions (`relu`, `sigmoid`, `tanh`, `erf`) in a function of their own. Where
//! `u'` can be written with the output `y` alone (`exp`, `relu`, `sigmoid`, `tanh`), it is, so
//! that the backward pass does not keep the input alive.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use crate::autodiff::emit::{Emit, Res};

/// `dx` for `y = u(x)`, as `dy * u'(x)` written with `x` or `y`.
pub(super) fn unary_grad(
    g: &mut Graph,
    u: UnaryOp,
    x: NodeId,
    y: NodeId,
    dy: NodeId,
) -> Res<Option<NodeId>> {
    use UnaryOp::*;
    let dx = match u {
        // y = -x: dx = -dy
        Neg => g.un(Neg, dy)?,
        // y = |x|: dx = dy * sign(x)
        Abs => {
            let s = g.un(Sign, x)?;
            g.mul2(dy, s)?
        }
        // y = sign(x), y = floor(x): piecewise constant, no gradient.
        Sign | Floor => return Ok(None),
        // y = e^x: dx = dy * y
        Exp => g.mul2(dy, y)?,
        // y = e^x - 1: dx = dy * (y + 1)
        Expm1 => {
            let one = g.scalar(1.0);
            let ex = g.add2(y, one)?;
            g.mul2(dy, ex)?
        }
        // y = ln x: dx = dy / x
        Log => g.div2(dy, x)?,
        // y = ln(1 + x): dx = dy / (1 + x)
        Log1p => {
            let one = g.scalar(1.0);
            let d = g.add2(x, one)?;
            g.div2(dy, d)?
        }
        // y = sqrt(x): dx = dy / (2 y)
        Sqrt => {
            let two_y = g.scale(y, 2.0)?;
            g.div2(dy, two_y)?
        }
        // y = x^(-1/2): dx = dy * (-1/2) x^(-3/2) = dy * (-1/2) * y / x
        Rsqrt => {
            let r = g.div2(y, x)?;
            let r = g.scale(r, -0.5)?;
            g.mul2(dy, r)?
        }
        // y = 1/x: dx = -dy * y^2
        Recip => {
            let y2 = g.un(Square, y)?;
            let d = g.mul2(dy, y2)?;
            g.un(Neg, d)?
        }
        // y = x^2: dx = dy * 2x
        Square => {
            let two_x = g.scale(x, 2.0)?;
            g.mul2(dy, two_x)?
        }
        Relu | Sigmoid | Tanh | Erf => activation_grad(g, u, x, y, dy)?,
    };
    Ok(Some(dx))
}

/// `dx` for the activation functions among the unary ops (`relu`, `sigmoid`, `tanh`, `erf`).
fn activation_grad(g: &mut Graph, u: UnaryOp, x: NodeId, y: NodeId, dy: NodeId) -> Res<NodeId> {
    use UnaryOp::*;
    Ok(match u {
        // y = max(x, 0): dx = dy * (x > 0), written as dy * (y > 0): y > 0 exactly when
        // x > 0 (a NaN x gives y = 0, as `f32::max` does, and NaN > 0 is false too, so the
        // mask is the same bit for bit). Reading y rather than x lets the pre-activation die
        // at the activation, so a matmul or conv can store y alone (relu in its epilogue).
        Relu => {
            let zero = g.scalar(0.0);
            let pos = g.bin(BinaryOp::Gt, y, zero)?;
            g.mul2(dy, pos)?
        }
        // y = 1/(1 + e^-x): dx = dy * y * (1 - y)
        Sigmoid => {
            let one = g.scalar(1.0);
            let one_minus = g.sub2(one, y)?;
            let d = g.mul2(y, one_minus)?;
            g.mul2(dy, d)?
        }
        // y = tanh x: dx = dy * (1 - y^2)
        Tanh => {
            let one = g.scalar(1.0);
            let y2 = g.un(Square, y)?;
            let d = g.sub2(one, y2)?;
            g.mul2(dy, d)?
        }
        // y = erf x: dx = dy * 2/sqrt(pi) * e^(-x^2)
        Erf => {
            let x2 = g.un(Square, x)?;
            let neg = g.un(Neg, x2)?;
            let e = g.un(Exp, neg)?;
            let d = g.scale(e, std::f32::consts::FRAC_2_SQRT_PI)?;
            g.mul2(dy, d)?
        }
        other => unreachable!("{other:?} is not an activation"),
    })
}
