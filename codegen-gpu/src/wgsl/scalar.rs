//! The elementwise op table: every [`UnaryOp`] and [`BinaryOp`] as a WGSL expression, f32
//! literals, the helper functions some ops need, and [`Program`]s as straight-line WGSL.
//! Every kernel with an elementwise part (fused programs, epilogues, prologues, movement
//! ops) goes through [`program`], so the scalar semantics live in this one table.

use std::collections::BTreeSet;

use ir::{BinaryOp, Instr, Program, UnaryOp};

/// A helper function a shader needs, emitted once per module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Helper {
    Erf,
    Expm1,
    Log1p,
    Pow,
    Tanh,
    Random,
    NanMax,
}

impl Helper {
    /// The WGSL source of the helper.
    pub(crate) fn source(self) -> &'static str {
        match self {
            // Abramowitz–Stegun 7.1.26: absolute error below 1.5e-7, under f32 rounding of
            // values near 1.
            Helper::Erf => {
                "fn k_erf(x: f32) -> f32 {\n    let a = abs(x);\n    let t = 1.0 / (1.0 + 0.3275911 * a);\n    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));\n    return sign(x) * (1.0 - poly * exp(-a * a));\n}\n"
            }
            // Kahan's tricks: exact where `exp(x)` or `1 + x` rounds to 1.
            Helper::Expm1 => {
                "fn k_expm1(x: f32) -> f32 {\n    let u = exp(x);\n    if (u == 1.0) { return x; }\n    let um1 = u - 1.0;\n    if (um1 == -1.0) { return -1.0; }\n    if (abs(x) > 0.5) { return um1; }\n    return um1 * x / log(u);\n}\n"
            }
            Helper::Log1p => {
                "fn k_log1p(x: f32) -> f32 {\n    let u = 1.0 + x;\n    if (u == 1.0) { return x; }\n    if (abs(x) > 0.5) { return log(u); }\n    return log(u) * x / (u - 1.0);\n}\n"
            }
            // WGSL's pow is undefined for a negative base; integral exponents follow powf.
            Helper::Pow => {
                "fn k_pow(a: f32, b: f32) -> f32 {\n    if (b == 0.0) { return 1.0; }\n    let r = pow(abs(a), b);\n    if (a < 0.0 && b == floor(b)) {\n        if (floor(b * 0.5) * 2.0 != b) { return -r; }\n        return r;\n    }\n    if (a < 0.0) { return bitcast<f32>(0x7fc00000u); }\n    return r;\n}\n"
            }
            // The clamp keeps large |x| from overflowing inside `tanh`; a NaN (tested on its
            // bits: a compiler may assume `x != x` is false) stays NaN, as `clamp` may not
            // keep it.
            Helper::Tanh => {
                "fn k_tanh(x: f32) -> f32 {\n    if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return x; }\n    return tanh(clamp(x, -15.0, 15.0));\n}\n"
            }
            // ir::op::nan_max / nan_min (and ReLU, sign): a NaN operand wins, as numpy's np.maximum. WGSL lets
            // a compiler assume no NaN (so `max` may drop one and `x != x` may fold to false):
            // NaN is tested on its bits, and the pick is a select, not a branch.
            Helper::NanMax => {
                "fn k_isnan(x: f32) -> bool {\n    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;\n}\n\nfn k_max(a: f32, b: f32) -> f32 {\n    return select(select(max(a, b), b, k_isnan(b)), a, k_isnan(a));\n}\n\nfn k_min(a: f32, b: f32) -> f32 {\n    return select(select(min(a, b), b, k_isnan(b)), a, k_isnan(a));\n}\n\nfn k_relu(x: f32) -> f32 {\n    return select(max(x, 0.0), x, k_isnan(x));\n}\n\nfn k_sign(x: f32) -> f32 {\n    return select(sign(x), x, k_isnan(x));\n}\n"
            }
            // ir::random: lowbias32 of the index xor the hashed seed, top 24 bits.
            Helper::Random => {
                "fn k_mix32(v: u32) -> u32 {\n    var x = v;\n    x ^= x >> 16u;\n    x *= 0x7feb352du;\n    x ^= x >> 15u;\n    x *= 0x846ca68bu;\n    x ^= x >> 16u;\n    return x;\n}\n\nfn k_uniform(seed: u32, index: u32) -> f32 {\n    let bits = k_mix32(index ^ k_mix32(seed + 0x9e3779b9u));\n    return f32(bits >> 8u) * (1.0 / 16777216.0);\n}\n"
            }
        }
    }
}

/// An f32 value as a WGSL expression that denotes exactly that value.
pub(crate) fn literal(v: f32) -> String {
    if v.is_finite() {
        let text = format!("{v:?}");
        if v.is_sign_negative() {
            format!("({text}f)")
        } else {
            format!("{text}f")
        }
    } else {
        format!("bitcast<f32>({:#010x}u)", v.to_bits())
    }
}

/// `op` applied to the expression `x`.
pub(crate) fn unary(op: UnaryOp, x: &str, helpers: &mut BTreeSet<Helper>) -> String {
    let mut call = |helper: Helper, name: &str| {
        helpers.insert(helper);
        format!("{name}({x})")
    };
    match op {
        UnaryOp::Neg => format!("-({x})"),
        UnaryOp::Abs => format!("abs({x})"),
        UnaryOp::Sign => call(Helper::NanMax, "k_sign"),
        UnaryOp::Exp => format!("exp({x})"),
        UnaryOp::Expm1 => call(Helper::Expm1, "k_expm1"),
        UnaryOp::Log => format!("log({x})"),
        UnaryOp::Log1p => call(Helper::Log1p, "k_log1p"),
        UnaryOp::Sqrt => format!("sqrt({x})"),
        UnaryOp::Rsqrt => format!("(1.0 / sqrt({x}))"),
        UnaryOp::Recip => format!("(1.0 / ({x}))"),
        UnaryOp::Square => format!("({x} * {x})"),
        UnaryOp::Relu => call(Helper::NanMax, "k_relu"),
        UnaryOp::Sigmoid => format!("(1.0 / (1.0 + exp(-({x}))))"),
        UnaryOp::Tanh => call(Helper::Tanh, "k_tanh"),
        UnaryOp::Erf => call(Helper::Erf, "k_erf"),
        UnaryOp::Floor => format!("floor({x})"),
    }
}

/// `op` applied to the expressions `a` and `b`.
pub(crate) fn binary(op: BinaryOp, a: &str, b: &str, helpers: &mut BTreeSet<Helper>) -> String {
    let flag = |cmp: &str| format!("select(0.0, 1.0, {a} {cmp} {b})");
    match op {
        BinaryOp::Add => format!("({a} + {b})"),
        BinaryOp::Sub => format!("({a} - {b})"),
        BinaryOp::Mul => format!("({a} * {b})"),
        BinaryOp::Div => format!("({a} / {b})"),
        BinaryOp::Max => {
            helpers.insert(Helper::NanMax);
            format!("k_max({a}, {b})")
        }
        BinaryOp::Min => {
            helpers.insert(Helper::NanMax);
            format!("k_min({a}, {b})")
        }
        BinaryOp::Pow => {
            helpers.insert(Helper::Pow);
            format!("k_pow({a}, {b})")
        }
        BinaryOp::Eq => flag("=="),
        BinaryOp::Ne => flag("!="),
        BinaryOp::Lt => flag("<"),
        BinaryOp::Le => flag("<="),
        BinaryOp::Gt => flag(">"),
        BinaryOp::Ge => flag(">="),
    }
}

/// `program` as WGSL statements defining `{prefix}0`, `{prefix}1`, ...; returns the
/// statements (each line indented by `indent`) and the name of the result register.
/// `input(n)` is the expression for program input `n`.
pub(crate) fn program(
    program: &Program,
    prefix: &str,
    indent: &str,
    helpers: &mut BTreeSet<Helper>,
    mut input: impl FnMut(usize) -> String,
) -> (String, String) {
    let reg = |r: usize| format!("{prefix}{r}");
    let mut out = String::new();
    for (i, instr) in program.instrs.iter().enumerate() {
        let value = match *instr {
            Instr::Input(n) => input(n),
            Instr::Const(c) => literal(c),
            Instr::Unary(op, a) => unary(op, &reg(a), helpers),
            Instr::Binary(op, a, b) => binary(op, &reg(a), &reg(b), helpers),
            Instr::Select(c, a, b) => format!("select({}, {}, {} != 0.0)", reg(b), reg(a), reg(c)),
        };
        out.push_str(&format!("{indent}let {} = {value};\n", reg(i)));
    }
    (out, reg(program.instrs.len().saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_exact_and_non_finite_values_are_bit_patterns() {
        assert_eq!(literal(1.0), "1.0f");
        assert_eq!(literal(-0.5), "(-0.5f)");
        assert_eq!(literal(1e-8), "1e-8f");
        assert_eq!(literal(f32::NEG_INFINITY), "bitcast<f32>(0xff800000u)");
    }
}
