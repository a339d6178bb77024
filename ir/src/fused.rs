//! Fused ops: the kernels fusion creates and every backend lowers. Backend-neutral data.
//!
//! A fused kernel is one primitive "anchor" computation (none, a matmul, a convolution, a
//! reduction, a pooling) plus an elementwise [`Program`] run on its inputs or its result,
//! so intermediate tensors never reach memory; or a multi-result kernel of elementwise and
//! reducing loops ([`crate::multi`]).

use crate::multi::MultiKernel;
use crate::op::{BinaryOp, Conv2dAttrs, Op, Pool2dAttrs, ReduceOp, UnaryOp};
use crate::shape::Shape;

/// A register in a [`Program`]: the index of an earlier instruction.
pub type Reg = usize;

/// One instruction of an elementwise program. Each instruction defines one register: its
/// own index in [`Program::instrs`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instr {
    /// The kernel's `n`-th elementwise input, read at the current (broadcast) index.
    Input(usize),
    /// A constant.
    Const(f32),
    /// A unary op.
    Unary(UnaryOp, Reg),
    /// A binary op.
    Binary(BinaryOp, Reg, Reg),
    /// `cond != 0 ? a : b`.
    Select(Reg, Reg, Reg),
}

/// A straight-line scalar program evaluated once per output element. The result is the last
/// instruction. Instructions only read earlier registers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    /// The instructions; the last one is the result.
    pub instrs: Vec<Instr>,
}

impl Program {
    /// The identity program on input 0 (an epilogue that does nothing).
    pub fn identity() -> Self {
        Program {
            instrs: vec![Instr::Input(0)],
        }
    }

    /// Whether this is exactly [`Program::identity`].
    pub fn is_identity(&self) -> bool {
        self.instrs == [Instr::Input(0)]
    }

    /// The number of inputs the program reads (one more than the highest `Input` index).
    pub fn n_inputs(&self) -> usize {
        self.instrs
            .iter()
            .filter_map(|i| match i {
                Instr::Input(n) => Some(n + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Evaluate on scalar inputs (reference semantics).
    pub fn eval(&self, inputs: &[f32]) -> f32 {
        *self
            .eval_registers(inputs)
            .last()
            .expect("a program has at least one instruction")
    }

    /// Evaluate on scalar inputs, returning every register (reference semantics).
    pub fn eval_registers(&self, inputs: &[f32]) -> Vec<f32> {
        let mut regs = Vec::with_capacity(self.instrs.len());
        for instr in &self.instrs {
            let v = match *instr {
                Instr::Input(n) => inputs[n],
                Instr::Const(c) => c,
                Instr::Unary(op, a) => op.eval(regs[a]),
                Instr::Binary(op, a, b) => op.eval(regs[a], regs[b]),
                Instr::Select(c, a, b) => {
                    if regs[c] != 0.0 {
                        regs[a]
                    } else {
                        regs[b]
                    }
                }
            };
            regs.push(v);
        }
        regs
    }
}

/// A fused kernel. The node's operands are listed per variant.
#[derive(Debug, Clone, PartialEq)]
pub enum FusedOp {
    /// `program` over all operands, each broadcast to the node's shape.
    Elementwise(Program),
    /// `epilogue(matmul(a, b), extra...)`. Operands: `a`, `b`, then the epilogue's extra
    /// inputs (program input 0 is the matmul result; input `i >= 1` is operand `i + 1`,
    /// broadcast to the result shape).
    MatMul {
        /// Use `a`'s last two axes transposed.
        transpose_a: bool,
        /// Use `b`'s last two axes transposed.
        transpose_b: bool,
        /// Applied to each result element.
        epilogue: Program,
    },
    /// `epilogue(conv2d(x, w), extra...)`. Operands: input, filter, then the epilogue's
    /// extra inputs, numbered as for `MatMul`.
    Conv2d {
        /// The convolution.
        attrs: Conv2dAttrs,
        /// Applied to each result element.
        epilogue: Program,
    },
    /// `epilogue(depthwise_conv2d(x, w), extra...)`. Operands: input, filter `[kh, kw, c, m]`,
    /// then the epilogue's extra inputs, numbered as for `MatMul`.
    DepthwiseConv2d {
        /// The convolution.
        attrs: Conv2dAttrs,
        /// Applied to each result element.
        epilogue: Program,
    },
    /// `epilogue(pool2d(x), extra...)`. Operands: input, then the epilogue's extra inputs
    /// (program input 0 is the pooled value; input `i >= 1` is operand `i`).
    Pool2d {
        /// The pooling.
        attrs: Pool2dAttrs,
        /// Applied to each result element.
        epilogue: Program,
    },
    /// `reduce(prologue(operands...))`: the prologue runs over `input_shape` (operands
    /// broadcast to it), then the reduction.
    Reduce {
        /// Which reduction.
        op: ReduceOp,
        /// Axes reduced.
        axes: Vec<usize>,
        /// Keep reduced axes as size 1.
        keep_dims: bool,
        /// The shape the prologue produces, before reduction.
        input_shape: Shape,
        /// The elementwise prologue.
        prologue: Program,
    },
    /// Several results from one kernel of loops (see [`crate::multi`]): the node holds no
    /// value (shape `[0]`); `extract` nodes read its results. Operands: every value the loops
    /// read (`Input(n)` is operand `n`).
    Multi(MultiKernel),
}

impl FusedOp {
    /// The op's name in the text form.
    pub fn name(&self) -> &'static str {
        match self {
            FusedOp::Elementwise(_) => "fused.elementwise",
            FusedOp::MatMul { .. } => "fused.matmul",
            FusedOp::Conv2d { .. } => "fused.conv2d",
            FusedOp::DepthwiseConv2d { .. } => "fused.depthwise_conv2d",
            FusedOp::Pool2d { .. } => "fused.pool2d",
            FusedOp::Reduce { .. } => "fused.reduce",
            FusedOp::Multi(_) => "fused.multi",
        }
    }
}

/// A fused kernel of the form `epilogue(anchor(operands[..arity]), operands[arity..]...)`:
/// the primitive op it computes first and the program run on each of its result elements
/// (program input 0 is the anchor's element, input `i >= 1` is operand `arity + i - 1`).
/// Every backend can evaluate such a kernel as the unfused anchor followed by the epilogue.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchoredEpilogue<'a> {
    /// The primitive anchor op (never itself fused).
    pub anchor: Op,
    /// How many of the kernel's leading operands are the anchor's.
    pub arity: usize,
    /// Applied to each anchor result element.
    pub epilogue: &'a Program,
}

impl FusedOp {
    /// The kernel's elementwise programs: its body, epilogue or prologue; one body per loop
    /// of a multi-result kernel.
    pub fn programs(&self) -> Vec<&Program> {
        match self {
            FusedOp::Elementwise(p)
            | FusedOp::MatMul { epilogue: p, .. }
            | FusedOp::Conv2d { epilogue: p, .. }
            | FusedOp::DepthwiseConv2d { epilogue: p, .. }
            | FusedOp::Pool2d { epilogue: p, .. }
            | FusedOp::Reduce { prologue: p, .. } => vec![p],
            FusedOp::Multi(k) => k.loops.iter().map(|l| &l.body).collect(),
        }
    }

    /// The anchor and epilogue of a kernel with an epilogue (fused matmul, convolutions and
    /// pooling); `None` for elementwise kernels, reductions and multi-result kernels.
    pub fn anchored_epilogue(&self) -> Option<AnchoredEpilogue<'_>> {
        let (anchor, arity, epilogue) = match self {
            FusedOp::MatMul {
                transpose_a,
                transpose_b,
                epilogue,
            } => (
                Op::MatMul {
                    transpose_a: *transpose_a,
                    transpose_b: *transpose_b,
                },
                2,
                epilogue,
            ),
            FusedOp::Conv2d { attrs, epilogue } => (Op::Conv2d(*attrs), 2, epilogue),
            FusedOp::DepthwiseConv2d { attrs, epilogue } => {
                (Op::DepthwiseConv2d(*attrs), 2, epilogue)
            }
            FusedOp::Pool2d { attrs, epilogue } => (Op::Pool2d(*attrs), 1, epilogue),
            FusedOp::Elementwise(_) | FusedOp::Reduce { .. } | FusedOp::Multi(_) => return None,
        };
        Some(AnchoredEpilogue {
            anchor,
            arity,
            epilogue,
        })
    }
}
