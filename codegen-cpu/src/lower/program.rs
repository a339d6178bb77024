//! The elementwise op table: every [`UnaryOp`], [`BinaryOp`] and `select` as a CLIF
//! sequence on `f32x4` lanes, and the evaluation of a whole [`Program`]. Scalar code
//! (tails, reductions, pooling epilogues) runs the same sequences in lane 0.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};
use ir::{BinaryOp, Instr, Program, UnaryOp};

use super::{Kernel, math};

/// Evaluate `program` on `f32x4` input values; returns every register's value.
pub(crate) fn emit_program_registers(
    k: &mut Kernel,
    program: &Program,
    inputs: &[Value],
) -> Vec<Value> {
    let mut regs: Vec<Value> = Vec::with_capacity(program.instrs.len());
    for instr in &program.instrs {
        let v = match *instr {
            Instr::Input(n) => inputs[n],
            Instr::Const(c) => k.splat(c),
            Instr::Unary(op, a) => unary(k, op, regs[a]),
            Instr::Binary(op, a, b) => binary(k, op, regs[a], regs[b]),
            Instr::Select(c, a, b) => select(k, regs[c], regs[a], regs[b]),
        };
        regs.push(v);
    }
    regs
}

/// `cond != 0 ? a : b` (NaN conditions count as true, like `!=`).
pub(crate) fn select(k: &mut Kernel, cond: Value, a: Value, b: Value) -> Value {
    let zero = k.splat(0.0);
    let m = k.b.ins().fcmp(FloatCC::NotEqual, cond, zero);
    k.blend(m, a, b)
}

/// One unary op on `f32x4`.
pub(crate) fn unary(k: &mut Kernel, op: UnaryOp, x: Value) -> Value {
    match op {
        UnaryOp::Neg => k.b.ins().fneg(x),
        UnaryOp::Abs => k.b.ins().fabs(x),
        UnaryOp::Sign => {
            let (zero, one) = (k.splat(0.0), k.splat(1.0));
            let neg = compare(k, FloatCC::LessThan, x, zero);
            let neg = k.b.ins().fneg(neg);
            let pos = k.b.ins().fcmp(FloatCC::GreaterThan, x, zero);
            let signed = k.blend(pos, one, neg);
            let nan = k.b.ins().fcmp(FloatCC::NotEqual, x, x);
            k.blend(nan, x, signed)
        }
        UnaryOp::Exp => math::exp(k, x),
        UnaryOp::Expm1 => math::expm1(k, x),
        UnaryOp::Log => math::log(k, x),
        UnaryOp::Log1p => math::log1p(k, x),
        UnaryOp::Sqrt => k.b.ins().sqrt(x),
        UnaryOp::Rsqrt => {
            let (one, s) = (k.splat(1.0), k.b.ins().sqrt(x));
            k.b.ins().fdiv(one, s)
        }
        UnaryOp::Recip => {
            let one = k.splat(1.0);
            k.b.ins().fdiv(one, x)
        }
        UnaryOp::Square => k.b.ins().fmul(x, x),
        UnaryOp::Relu => {
            // `x <= 0` is false for NaN, which keeps `x`: one compare, NaN propagates at no
            // cost (and every target lowers it, aarch64's vector compares included).
            let zero = k.splat(0.0);
            let clear = k.b.ins().fcmp(FloatCC::LessThanOrEqual, x, zero);
            k.blend(clear, zero, x)
        }
        UnaryOp::Sigmoid => math::sigmoid(k, x),
        UnaryOp::Tanh => math::tanh(k, x),
        UnaryOp::Erf => math::erf(k, x),
        UnaryOp::Floor => k.b.ins().floor(x),
    }
}

/// One binary op on `f32x4`.
pub(crate) fn binary(k: &mut Kernel, op: BinaryOp, a: Value, b: Value) -> Value {
    match op {
        BinaryOp::Add => k.b.ins().fadd(a, b),
        BinaryOp::Sub => k.b.ins().fsub(a, b),
        BinaryOp::Mul => k.b.ins().fmul(a, b),
        BinaryOp::Div => k.b.ins().fdiv(a, b),
        BinaryOp::Max => pick_propagating_nan(k, FloatCC::LessThan, a, b),
        BinaryOp::Min => pick_propagating_nan(k, FloatCC::GreaterThan, a, b),
        BinaryOp::Pow => math::pow(k, a, b),
        BinaryOp::Eq => compare(k, FloatCC::Equal, a, b),
        BinaryOp::Ne => compare(k, FloatCC::NotEqual, a, b),
        BinaryOp::Lt => compare(k, FloatCC::LessThan, a, b),
        BinaryOp::Le => compare(k, FloatCC::LessThanOrEqual, a, b),
        BinaryOp::Gt => compare(k, FloatCC::GreaterThan, a, b),
        BinaryOp::Ge => compare(k, FloatCC::GreaterThanOrEqual, a, b),
    }
}

/// `max`/`min` with numpy's semantics ([`ir::op::nan_max`]: a NaN operand wins): `b` when
/// `a cc b` holds or `b` is NaN, else `a` (so a NaN `a` is kept). `LessThan` gives the
/// maximum, `GreaterThan` the minimum. Two compares, one `or`, one blend: no branches.
pub(crate) fn pick_propagating_nan(k: &mut Kernel, cc: FloatCC, a: Value, b: Value) -> Value {
    let less = k.b.ins().fcmp(cc, a, b);
    let b_nan = k.b.ins().fcmp(FloatCC::NotEqual, b, b);
    let take_b = k.b.ins().bor(less, b_nan);
    k.blend(take_b, b, a)
}

/// A comparison as 1.0 / 0.0 lanes.
fn compare(k: &mut Kernel, cc: FloatCC, a: Value, b: Value) -> Value {
    let m = k.b.ins().fcmp(cc, a, b);
    let one = k.splat(1.0);
    let zero = k.splat(0.0);
    k.blend(m, one, zero)
}
