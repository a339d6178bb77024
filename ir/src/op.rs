//! The closed set of primitive ops. Keras layers, losses and optimizers all decompose into
//! these in the frontend; fusion groups them into [`crate::fused::FusedOp`]s.
//!
//! Layout conventions: images are NHWC, conv filters are HWIO (`[kh, kw, in, out]`), like
//! TensorFlow/Keras. Everything is f32. Comparisons yield 1.0 or 0.0; `select` treats any
//! non-zero condition as true.

use crate::fused::FusedOp;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// One operation. Operands are the node's inputs in order; the arity is fixed per variant
/// except for `Concat` and `Fused`.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A value fed in on every call (a batch of data, labels, a step counter). No operands.
    Input {
        /// Name the caller binds the value by.
        name: String,
        /// Its shape.
        shape: Shape,
    },
    /// A persistent value (weights, optimizer state) that lives across calls; may be
    /// replaced by the graph's `updates`. No operands.
    Param {
        /// Name the caller binds the value by.
        name: String,
        /// Its shape.
        shape: Shape,
    },
    /// A constant tensor. No operands.
    Const(Tensor),
    /// Elementwise unary op. Operands: `x`.
    Unary(UnaryOp),
    /// Elementwise binary op with numpy broadcasting. Operands: `a`, `b`.
    Binary(BinaryOp),
    /// `cond != 0 ? a : b` with broadcasting of all three. Operands: `cond`, `a`, `b`.
    Select,
    /// Reduction over `axes`. Operands: `x`.
    Reduce {
        /// Which reduction.
        op: ReduceOp,
        /// Axes reduced, strictly increasing.
        axes: Vec<usize>,
        /// Keep reduced axes as size 1.
        keep_dims: bool,
    },
    /// Batched matrix product over the last two axes: `[.., m, k] x [.., k, n] -> [.., m, n]`
    /// (after the optional transposes of each operand's last two axes). Batch axes must be
    /// equal. Operands: `a`, `b`.
    MatMul {
        /// Use `a`'s last two axes transposed.
        transpose_a: bool,
        /// Use `b`'s last two axes transposed.
        transpose_b: bool,
    },
    /// 2-D convolution (cross-correlation, as in TF). Operands: input `[n, h, w, c]`,
    /// filter `[kh, kw, c, o]`. Result `[n, oh, ow, o]`.
    Conv2d(Conv2dAttrs),
    /// Gradient of `Conv2d` with respect to its input. Operands: `dy` `[n, oh, ow, o]`,
    /// filter `[kh, kw, c, o]`. Result: the input's shape, given here.
    Conv2dBackpropInput {
        /// The forward convolution's attributes.
        attrs: Conv2dAttrs,
        /// The forward input's shape `[n, h, w, c]`.
        input_shape: Shape,
    },
    /// Gradient of `Conv2d` with respect to its filter. Operands: input `[n, h, w, c]`,
    /// `dy` `[n, oh, ow, o]`. Result: the filter's shape, given here.
    Conv2dBackpropFilter {
        /// The forward convolution's attributes.
        attrs: Conv2dAttrs,
        /// The forward filter's shape `[kh, kw, c, o]`.
        filter_shape: Shape,
    },
    /// Depthwise 2-D convolution: each input channel is convolved with its own
    /// `depth_multiplier` filters. Operands: input `[n, h, w, c]`, filter `[kh, kw, c, m]`.
    /// Result `[n, oh, ow, c * m]`, output channel `ci * m + mi` from input channel `ci`.
    DepthwiseConv2d(Conv2dAttrs),
    /// Gradient of `DepthwiseConv2d` with respect to its input. Operands: `dy`
    /// `[n, oh, ow, c * m]`, filter `[kh, kw, c, m]`. Result: the input's shape, given here.
    DepthwiseConv2dBackpropInput {
        /// The forward convolution's attributes.
        attrs: Conv2dAttrs,
        /// The forward input's shape `[n, h, w, c]`.
        input_shape: Shape,
    },
    /// Gradient of `DepthwiseConv2d` with respect to its filter. Operands: input
    /// `[n, h, w, c]`, `dy` `[n, oh, ow, c * m]`. Result: the filter's shape, given here.
    DepthwiseConv2dBackpropFilter {
        /// The forward convolution's attributes.
        attrs: Conv2dAttrs,
        /// The forward filter's shape `[kh, kw, c, m]`.
        filter_shape: Shape,
    },
    /// Max or average pooling. Operands: input `[n, h, w, c]`. Result `[n, oh, ow, c]`.
    Pool2d(Pool2dAttrs),
    /// Gradient of `Pool2d` with respect to its input. Operands: forward input `x`, `dy`.
    /// Max pooling routes each gradient to the first maximum of its window; average pooling
    /// spreads it over the window's non-padding elements.
    Pool2dGrad(Pool2dAttrs),
    /// Same elements, new shape (equal element count). Operands: `x`.
    Reshape(Shape),
    /// Permute axes: result axis `i` is operand axis `perm[i]`. Operands: `x`.
    Transpose(Vec<usize>),
    /// Numpy broadcast to the given shape. Operands: `x`.
    Broadcast(Shape),
    /// The identity on values through which no gradient flows: autodiff treats its result as
    /// a constant (JAX's `stop_gradient`). For a value that a result does not depend on
    /// mathematically, such as the shift of a stable log-sum-exp. Passes after autodiff
    /// replace it by its operand (`simplify::algebraic`). Operands: `x`.
    StopGradient,
    /// Contiguous sub-box `[starts, ends)` per axis. Operands: `x`.
    Slice {
        /// First index per axis.
        starts: Vec<usize>,
        /// One past the last index per axis.
        ends: Vec<usize>,
    },
    /// Join along `axis`; all other axes equal. Operands: one or more tensors.
    Concat {
        /// The axis joined along.
        axis: usize,
    },
    /// Constant padding. Operands: `x`.
    Pad {
        /// Elements added before each axis.
        before: Vec<usize>,
        /// Elements added after each axis.
        after: Vec<usize>,
        /// The padding value.
        value: f32,
    },
    /// Rows of a table picked by ids (an embedding lookup): `result[i.., j..] =
    /// table[ids[i..], j..]`. Operands: `table` `[v, d..]` (rank at least 1), `ids` of any
    /// shape, whose values are row numbers carried as f32. Result `ids.shape ++ table.shape[1..]`.
    /// An id that is not an integer in `[0, v)` (fractional, negative, too large, NaN)
    /// selects a row of zeros, so no kernel ever reads outside the table; a graph input that
    /// feeds the ids is checked before any kernel runs instead ([`crate::leaf`]).
    Gather,
    /// The gradient of `Gather` with respect to its table: the update rows summed into the
    /// rows their ids name (repeated ids add). Operands: `ids`, `updates`
    /// `ids.shape ++ [d..]`. Result `[rows, d..]`; a row no id names is zero, and the
    /// updates of an id that is not an integer in `[0, rows)` are dropped (the rows `Gather`
    /// reads as zeros get no gradient).
    ScatterAdd {
        /// Rows of the result (the gathered table's first axis).
        rows: usize,
    },
    /// Uniform random numbers in `[0, 1)` of the given shape, a pure function of the seed
    /// and the element index (see [`crate::random`]): the same on every backend. Operands: a
    /// scalar seed (its value is truncated to an integer).
    RandomUniform(Shape),
    /// A fused kernel, created only by the fusion pass. Operands: see [`FusedOp`].
    Fused(FusedOp),
    /// Result `index` of a multi-result kernel ([`FusedOp::Multi`]), of the given shape
    /// (that result's). Runs nothing: the kernel writes the value. Operands: the kernel.
    Extract {
        /// Which result.
        index: usize,
        /// The result's shape.
        shape: Shape,
    },
}

/// Elementwise unary ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `|x|`
    Abs,
    /// `-1, 0, 1` by the sign of `x` (NaN for NaN, as numpy's `np.sign`)
    Sign,
    /// `e^x`
    Exp,
    /// `e^x - 1`, accurate near 0
    Expm1,
    /// natural logarithm
    Log,
    /// `ln(1 + x)`, accurate near 0
    Log1p,
    /// square root
    Sqrt,
    /// `1 / sqrt(x)`
    Rsqrt,
    /// `1 / x`
    Recip,
    /// `x * x`
    Square,
    /// `max(x, 0)` (NaN stays NaN, see [`nan_max`])
    Relu,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// hyperbolic tangent
    Tanh,
    /// the error function
    Erf,
    /// round towards negative infinity
    Floor,
}

/// Elementwise binary ops (numpy broadcasting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `max(a, b)`; a NaN operand wins, as in numpy's `np.maximum` ([`nan_max`])
    Max,
    /// `min(a, b)`; a NaN operand wins, as in numpy's `np.minimum` ([`nan_min`])
    Min,
    /// `a ^ b`
    Pow,
    /// `a == b` as 1.0/0.0
    Eq,
    /// `a != b` as 1.0/0.0
    Ne,
    /// `a < b` as 1.0/0.0
    Lt,
    /// `a <= b` as 1.0/0.0
    Le,
    /// `a > b` as 1.0/0.0
    Gt,
    /// `a >= b` as 1.0/0.0
    Ge,
}

/// Reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum.
    Sum,
    /// Arithmetic mean.
    Mean,
    /// Maximum; NaN if any element is NaN ([`nan_max`]).
    Max,
    /// Minimum; NaN if any element is NaN ([`nan_min`]).
    Min,
    /// Index (as f32) of the first maximum; exactly one axis. (With NaN elements its index
    /// is unspecified but in range: backends differ.)
    ArgMax,
}

/// Padding of a windowed op (conv, pool) over H and W.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// No padding; windows that do not fit are dropped.
    Valid,
    /// TensorFlow "SAME": `out = ceil(in / stride)`; the total padding is split with the
    /// extra element at the bottom/right.
    Same,
    /// Explicit `[top, bottom, left, right]` zero padding.
    Explicit([usize; 4]),
}

/// One spatial axis of a windowed op, resolved: padding before/after and output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowAxis {
    /// Padding before (top or left).
    pub pad_before: usize,
    /// Padding after (bottom or right).
    pub pad_after: usize,
    /// Output size along this axis.
    pub out: usize,
}

impl Padding {
    /// Resolve one spatial axis (`axis` 0 = H, 1 = W) for input size `input`, window
    /// `window` (already dilated), and `stride`. `None` when the window does not fit.
    pub fn resolve(
        self,
        axis: usize,
        input: usize,
        window: usize,
        stride: usize,
    ) -> Option<WindowAxis> {
        if stride == 0 || window == 0 {
            return None;
        }
        let (pad_before, pad_after) = match self {
            Padding::Valid => (0, 0),
            Padding::Same => {
                let out = input.div_ceil(stride);
                let total = out
                    .checked_sub(1)?
                    .checked_mul(stride)?
                    .checked_add(window)?
                    .saturating_sub(input);
                (total / 2, total - total / 2)
            }
            Padding::Explicit(p) => (p[axis * 2], p[axis * 2 + 1]),
        };
        let padded = input.checked_add(pad_before)?.checked_add(pad_after)?;
        if padded < window {
            return None;
        }
        Some(WindowAxis {
            pad_before,
            pad_after,
            out: (padded - window) / stride + 1,
        })
    }
}

/// Attributes of a 2-D convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dAttrs {
    /// Strides over H and W.
    pub strides: [usize; 2],
    /// Dilation over H and W (1 = dense).
    pub dilation: [usize; 2],
    /// Padding.
    pub padding: Padding,
}

/// Pooling kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// Maximum of the window (padding never wins; a NaN in the window wins, [`nan_max`]).
    Max,
    /// Mean of the window's non-padding elements (TF semantics).
    Avg,
}

/// Attributes of a 2-D pooling op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2dAttrs {
    /// Max or average.
    pub kind: PoolKind,
    /// Window size over H and W.
    pub window: [usize; 2],
    /// Strides over H and W.
    pub strides: [usize; 2],
    /// Padding.
    pub padding: Padding,
}

impl UnaryOp {
    /// Every unary op, for table-driven tests and parsers.
    pub const ALL: [UnaryOp; 16] = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Sign,
        UnaryOp::Exp,
        UnaryOp::Expm1,
        UnaryOp::Log,
        UnaryOp::Log1p,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Recip,
        UnaryOp::Square,
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Erf,
        UnaryOp::Floor,
    ];

    /// The op's name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Sign => "sign",
            UnaryOp::Exp => "exp",
            UnaryOp::Expm1 => "expm1",
            UnaryOp::Log => "log",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Recip => "recip",
            UnaryOp::Square => "square",
            UnaryOp::Relu => "relu",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Erf => "erf",
            UnaryOp::Floor => "floor",
        }
    }

    /// The reference scalar semantics (the interpreter and constant folding use this).
    pub fn eval(self, x: f32) -> f32 {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Abs => x.abs(),
            UnaryOp::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else if x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            UnaryOp::Exp => x.exp(),
            UnaryOp::Expm1 => x.exp_m1(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log1p => x.ln_1p(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Rsqrt => 1.0 / x.sqrt(),
            UnaryOp::Recip => 1.0 / x,
            UnaryOp::Square => x * x,
            UnaryOp::Relu => {
                if x > 0.0 || x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Erf => erf(x),
            UnaryOp::Floor => x.floor(),
        }
    }
}

impl BinaryOp {
    /// Every binary op, for table-driven tests and parsers.
    pub const ALL: [BinaryOp; 13] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Min,
        BinaryOp::Pow,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
    ];

    /// The op's name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
            BinaryOp::Pow => "pow",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
        }
    }

    /// The reference scalar semantics.
    pub fn eval(self, a: f32, b: f32) -> f32 {
        let flag = |c: bool| if c { 1.0 } else { 0.0 };
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Max => nan_max(a, b),
            BinaryOp::Min => nan_min(a, b),
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Eq => flag(a == b),
            BinaryOp::Ne => flag(a != b),
            BinaryOp::Lt => flag(a < b),
            BinaryOp::Le => flag(a <= b),
            BinaryOp::Gt => flag(a > b),
            BinaryOp::Ge => flag(a >= b),
        }
    }
}

impl ReduceOp {
    /// The op's name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::ArgMax => "argmax",
        }
    }
}

/// `max(a, b)` as numpy's `np.maximum`: a NaN operand is the result (`a` when both are),
/// so a NaN reaches every value computed from it. (Rust's `f32::max` drops a NaN instead.)
/// Every backend's max — `Relu`, `BinaryOp::Max`, max reductions, max pooling — agrees.
///
/// ```
/// assert!(ir::op::nan_max(f32::NAN, 1.0).is_nan() && ir::op::nan_max(1.0, f32::NAN).is_nan());
/// assert_eq!(ir::op::nan_max(-1.0, 2.0), 2.0);
/// ```
pub fn nan_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || a >= b { a } else { b }
}

/// `min(a, b)` as numpy's `np.minimum`: a NaN operand is the result (see [`nan_max`]).
pub fn nan_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || a <= b { a } else { b }
}

/// Whether `v` replaces `best` as the maximum seen so far when the first maximum wins and
/// NaN counts as the greatest value (the first NaN wins): max pooling's gradient routes to
/// this element.
pub fn beats_max(v: f32, best: f32) -> bool {
    !best.is_nan() && (v > best || v.is_nan())
}

/// The error function, to f32 accuracy (Abramowitz–Stegun 7.1.26 is too coarse for
/// gradient checks, so this uses the erfc continued-fraction-free rational form of W. J. Cody
/// evaluated in f64).
pub fn erf(x: f32) -> f32 {
    libm_erf(x as f64) as f32
}

fn libm_erf(x: f64) -> f64 {
    // Series for small |x|, complementary asymptotic continued fraction otherwise; f64
    // keeps both well inside f32 accuracy.
    let ax = x.abs();
    let r = if ax < 2.5 {
        // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
        let mut sum: f64 = 0.0;
        let mut term = ax;
        let x2 = ax * ax;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs().max(1e-300) || n < 1.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x2 / n;
            if n > 200.0 {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else {
        // erfc(x) = exp(-x^2)/(x sqrt(pi)) * 1/(1+ 1/(2x^2)/(1+2/(2x^2)/(1+...))) via Lentz.
        let mut f = ax;
        let mut k = 60.0;
        while k > 0.0 {
            f = ax + (k / 2.0) / f;
            k -= 1.0;
        }
        1.0 - (-ax * ax).exp() / (f * std::f64::consts::PI.sqrt())
    };
    r.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_extra_row_at_the_end() {
        // 5 wide, window 3, stride 2: out 3, total pad 2 -> 1 before, 1 after.
        let a = Padding::Same.resolve(0, 5, 3, 2).unwrap();
        assert_eq!((a.pad_before, a.pad_after, a.out), (1, 1, 3));
        // 4 wide, window 3, stride 2: out 2, total pad 1 -> 0 before, 1 after.
        let a = Padding::Same.resolve(0, 4, 3, 2).unwrap();
        assert_eq!((a.pad_before, a.pad_after, a.out), (0, 1, 2));
        assert_eq!(Padding::Valid.resolve(0, 5, 3, 2).unwrap().out, 2);
        assert!(Padding::Valid.resolve(0, 2, 3, 1).is_none());
    }

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
            (3.0, 0.999_977_9),
            (-1.0, -0.842_700_8),
        ] {
            assert!(
                (erf(x) - want).abs() < 1e-6,
                "erf({x}) = {} want {want}",
                erf(x)
            );
        }
    }
}
