//! How each op is spelled: its name, its attributes (`key`, `key=atom` or `key=[a, b]`) and
//! its fused program. [`encode`] and [`decode`] are the two directions of one table, kept side
//! by side so that the printer and the parser cannot drift apart. Floats are spelled here too.

use crate::fused::{FusedOp, Instr, Program};
use crate::infer::op_name;
use crate::op::{BinaryOp, Conv2dAttrs, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, UnaryOp};
use crate::shape::Shape;

/// Every reduction, in declaration order.
pub(super) const REDUCE_OPS: [ReduceOp; 5] = [
    ReduceOp::Sum,
    ReduceOp::Mean,
    ReduceOp::Max,
    ReduceOp::Min,
    ReduceOp::ArgMax,
];

/// An attribute's value as written.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum AttrValue {
    /// A bare key: the boolean attribute is true.
    Flag,
    /// `key=atom`: a number or a word.
    Atom(String),
    /// `key=[a, b, ...]`.
    List(Vec<String>),
}

/// An op as spelled in the text form, minus operands.
pub(super) struct OpSyntax<'a> {
    /// The op name, e.g. `reduce.sum`.
    pub name: String,
    /// Attributes in print order.
    pub attrs: Vec<(&'static str, AttrValue)>,
    /// The fused program, for fused ops.
    pub program: Option<&'a Program>,
}

/// `x` spelled so that [`parse_f32`] gives back the same bits: Rust's shortest round-trip
/// form (`0.5`, `1e-45`, `-0.0`, `inf`, `-inf`, `NaN`), except that a NaN other than the
/// canonical one is written as its bit pattern, `0x7fc00001`.
pub(super) fn format_f32(x: f32) -> String {
    if x.is_nan() && x.to_bits() != f32::NAN.to_bits() {
        format!("0x{:08x}", x.to_bits())
    } else {
        format!("{x:?}")
    }
}

/// The inverse of [`format_f32`]; also accepts any decimal Rust's `f32` parser takes.
pub(super) fn parse_f32(text: &str) -> Result<f32, String> {
    let bad = || {
        format!(
            "`{text}` is not a float (write e.g. `1.5`, `-2e-3`, `inf`, `NaN` or bits `0x7fc00001`)"
        )
    };
    if let Some(hex) = text.strip_prefix("0x") {
        return u32::from_str_radix(hex, 16)
            .map(f32::from_bits)
            .map_err(|_| bad());
    }
    let x: f32 = text.parse().map_err(|_| bad())?;
    Ok(if x.is_nan() { f32::NAN } else { x })
}

/// A shape from written dimensions, rejecting one whose element count overflows `usize`.
pub(super) fn checked_shape(dims: Vec<usize>) -> Result<Shape, String> {
    match dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        Some(_) => Ok(Shape(dims)),
        None => Err(format!("shape {} has too many elements", Shape(dims))),
    }
}

/// A non-negative integer.
pub(super) fn parse_usize(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a non-negative integer"))
}

fn ints(values: &[usize]) -> AttrValue {
    AttrValue::List(values.iter().map(usize::to_string).collect())
}

fn padding_value(p: Padding) -> AttrValue {
    match p {
        Padding::Valid => AttrValue::Atom("valid".into()),
        Padding::Same => AttrValue::Atom("same".into()),
        Padding::Explicit(p) => ints(&p),
    }
}

fn pool_kind_name(kind: PoolKind) -> &'static str {
    match kind {
        PoolKind::Max => "max",
        PoolKind::Avg => "avg",
    }
}

fn push_flag(attrs: &mut Vec<(&'static str, AttrValue)>, key: &'static str, on: bool) {
    if on {
        attrs.push((key, AttrValue::Flag));
    }
}

fn push_conv(attrs: &mut Vec<(&'static str, AttrValue)>, c: &Conv2dAttrs) {
    attrs.push(("strides", ints(&c.strides)));
    attrs.push(("dilation", ints(&c.dilation)));
    attrs.push(("padding", padding_value(c.padding)));
}

fn push_pool(attrs: &mut Vec<(&'static str, AttrValue)>, p: &Pool2dAttrs) {
    attrs.push(("kind", AttrValue::Atom(pool_kind_name(p.kind).into())));
    attrs.push(("window", ints(&p.window)));
    attrs.push(("strides", ints(&p.strides)));
    attrs.push(("padding", padding_value(p.padding)));
}

/// How `op` is spelled. Leaves (`input`, `param`, `const`) have positional syntax that the
/// printer writes itself; for them this gives only the name.
pub(super) fn encode(op: &Op) -> OpSyntax<'_> {
    let mut attrs = Vec::new();
    let mut program = None;
    match op {
        Op::Input { .. } | Op::Param { .. } | Op::Const(_) => {}
        Op::Unary(_) | Op::Binary(_) | Op::Select => {}
        Op::Reduce {
            axes, keep_dims, ..
        } => {
            attrs.push(("axes", ints(axes)));
            push_flag(&mut attrs, "keep_dims", *keep_dims);
        }
        Op::MatMul {
            transpose_a,
            transpose_b,
        } => {
            push_flag(&mut attrs, "transpose_a", *transpose_a);
            push_flag(&mut attrs, "transpose_b", *transpose_b);
        }
        Op::Conv2d(c) | Op::DepthwiseConv2d(c) => push_conv(&mut attrs, c),
        Op::Conv2dBackpropInput {
            attrs: c,
            input_shape,
        }
        | Op::DepthwiseConv2dBackpropInput {
            attrs: c,
            input_shape,
        } => {
            push_conv(&mut attrs, c);
            attrs.push(("input_shape", ints(&input_shape.0)));
        }
        Op::Conv2dBackpropFilter {
            attrs: c,
            filter_shape,
        }
        | Op::DepthwiseConv2dBackpropFilter {
            attrs: c,
            filter_shape,
        } => {
            push_conv(&mut attrs, c);
            attrs.push(("filter_shape", ints(&filter_shape.0)));
        }
        Op::Pool2d(p) | Op::Pool2dGrad(p) => push_pool(&mut attrs, p),
        Op::Reshape(s) | Op::Broadcast(s) | Op::RandomUniform(s) => {
            attrs.push(("shape", ints(&s.0)))
        }
        Op::Transpose(perm) => attrs.push(("perm", ints(perm))),
        Op::Slice { starts, ends } => {
            attrs.push(("starts", ints(starts)));
            attrs.push(("ends", ints(ends)));
        }
        Op::Concat { axis } => attrs.push(("axis", AttrValue::Atom(axis.to_string()))),
        Op::Pad {
            before,
            after,
            value,
        } => {
            attrs.push(("before", ints(before)));
            attrs.push(("after", ints(after)));
            attrs.push(("value", AttrValue::Atom(format_f32(*value))));
        }
        Op::Fused(f) => program = Some(push_fused_attrs(&mut attrs, f)),
    }
    OpSyntax {
        name: op_name(op),
        attrs,
        program,
    }
}

/// The attributes of a fused op, in print order; returns its program.
fn push_fused_attrs<'a>(attrs: &mut Vec<(&'static str, AttrValue)>, f: &'a FusedOp) -> &'a Program {
    match f {
        FusedOp::Elementwise(p) => p,
        FusedOp::MatMul {
            transpose_a,
            transpose_b,
            epilogue,
        } => {
            push_flag(attrs, "transpose_a", *transpose_a);
            push_flag(attrs, "transpose_b", *transpose_b);
            epilogue
        }
        FusedOp::Conv2d { attrs: c, epilogue }
        | FusedOp::DepthwiseConv2d { attrs: c, epilogue } => {
            push_conv(attrs, c);
            epilogue
        }
        FusedOp::Pool2d { attrs: p, epilogue } => {
            push_pool(attrs, p);
            epilogue
        }
        FusedOp::Reduce {
            op,
            axes,
            keep_dims,
            input_shape,
            prologue,
        } => {
            attrs.push(("op", AttrValue::Atom(op.name().into())));
            attrs.push(("axes", ints(axes)));
            push_flag(attrs, "keep_dims", *keep_dims);
            attrs.push(("input_shape", ints(&input_shape.0)));
            prologue
        }
    }
}

/// Attributes as parsed, consumed by [`decode`]'s typed getters; any left unread is unknown.
#[derive(Debug, Default)]
pub(super) struct Attrs {
    entries: Vec<(String, AttrValue, bool)>,
}

impl Attrs {
    /// Record `key`; a key given twice is an error.
    pub(super) fn insert(&mut self, key: String, value: AttrValue) -> Result<(), String> {
        if self.entries.iter().any(|(k, _, _)| *k == key) {
            return Err(format!("attribute `{key}` given twice"));
        }
        self.entries.push((key, value, false));
        Ok(())
    }

    fn take(&mut self, key: &str) -> Option<&AttrValue> {
        let entry = self.entries.iter_mut().find(|(k, _, _)| k == key)?;
        entry.2 = true;
        Some(&entry.1)
    }

    fn atom(&mut self, key: &str) -> Result<String, String> {
        match self.take(key) {
            Some(AttrValue::Atom(a)) => Ok(a.clone()),
            Some(_) => Err(format!(
                "attribute `{key}` needs a single value like `{key}=1`"
            )),
            None => Err(format!("missing attribute `{key}`")),
        }
    }

    fn flag(&mut self, key: &str) -> Result<bool, String> {
        match self.take(key) {
            None => Ok(false),
            Some(AttrValue::Flag) => Ok(true),
            Some(_) => Err(format!("attribute `{key}` is a flag and takes no value")),
        }
    }

    fn ints(&mut self, key: &str) -> Result<Vec<usize>, String> {
        match self.take(key) {
            Some(AttrValue::List(items)) => items
                .iter()
                .map(|i| parse_usize(i))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("attribute `{key}`: {e}")),
            Some(_) => Err(format!(
                "attribute `{key}` needs a list like `{key}=[1, 2]`"
            )),
            None => Err(format!("missing attribute `{key}`")),
        }
    }

    fn int(&mut self, key: &str) -> Result<usize, String> {
        parse_usize(&self.atom(key)?).map_err(|e| format!("attribute `{key}`: {e}"))
    }

    fn float(&mut self, key: &str) -> Result<f32, String> {
        parse_f32(&self.atom(key)?).map_err(|e| format!("attribute `{key}`: {e}"))
    }

    fn fixed<const N: usize>(&mut self, key: &str) -> Result<[usize; N], String> {
        let v = self.ints(key)?;
        v.try_into().map_err(|v: Vec<usize>| {
            format!("attribute `{key}` needs {N} entries, got {}", v.len())
        })
    }

    fn shape(&mut self, key: &str) -> Result<Shape, String> {
        checked_shape(self.ints(key)?).map_err(|e| format!("attribute `{key}`: {e}"))
    }

    fn padding(&mut self, key: &str) -> Result<Padding, String> {
        if matches!(
            self.entries.iter().find(|(k, _, _)| k == key),
            Some((_, AttrValue::List(_), _))
        ) {
            return self.fixed::<4>(key).map(Padding::Explicit);
        }
        match self.atom(key)?.as_str() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            other => Err(format!(
                "attribute `{key}`: `{other}` is not `valid`, `same` or `[top, bottom, left, right]`"
            )),
        }
    }

    fn conv(&mut self) -> Result<Conv2dAttrs, String> {
        Ok(Conv2dAttrs {
            strides: self.fixed("strides")?,
            dilation: self.fixed("dilation")?,
            padding: self.padding("padding")?,
        })
    }

    fn pool(&mut self) -> Result<Pool2dAttrs, String> {
        let kind = match self.atom("kind")?.as_str() {
            "max" => PoolKind::Max,
            "avg" => PoolKind::Avg,
            other => return Err(format!("attribute `kind`: `{other}` is not `max` or `avg`")),
        };
        Ok(Pool2dAttrs {
            kind,
            window: self.fixed("window")?,
            strides: self.fixed("strides")?,
            padding: self.padding("padding")?,
        })
    }

    fn reduce_op(&mut self) -> Result<ReduceOp, String> {
        let name = self.atom("op")?;
        reduce_op_named(&name).ok_or_else(|| format!("attribute `op`: unknown reduction `{name}`"))
    }

    fn finish(&self) -> Result<(), String> {
        match self.entries.iter().find(|(_, _, used)| !used) {
            Some((key, _, _)) => Err(format!("unknown attribute `{key}`")),
            None => Ok(()),
        }
    }
}

fn reduce_op_named(name: &str) -> Option<ReduceOp> {
    REDUCE_OPS.into_iter().find(|r| r.name() == name)
}

/// The unary op called `name`.
pub(super) fn unary_named(name: &str) -> Option<UnaryOp> {
    UnaryOp::ALL.into_iter().find(|u| u.name() == name)
}

/// The binary op called `name`.
pub(super) fn binary_named(name: &str) -> Option<BinaryOp> {
    BinaryOp::ALL.into_iter().find(|b| b.name() == name)
}

/// The non-leaf op called `name` with `attrs` and, for fused ops, `program`. Errors are
/// prefixed with the op name.
pub(super) fn decode(name: &str, mut attrs: Attrs, program: Option<Program>) -> Result<Op, String> {
    let mut program = program;
    let op = decode_op(name, &mut attrs, &mut program).map_err(|e| format!("`{name}`: {e}"))?;
    attrs.finish().map_err(|e| format!("`{name}`: {e}"))?;
    if program.is_some() {
        return Err(format!("`{name}` takes no `{{ ... }}` program"));
    }
    Ok(op)
}

/// The op called `name`: an elementwise op, a reduction, another primitive, or a fused op
/// (see [`decode_fused`]).
fn decode_op(name: &str, a: &mut Attrs, program: &mut Option<Program>) -> Result<Op, String> {
    if let Some(u) = unary_named(name) {
        return Ok(Op::Unary(u));
    }
    if let Some(b) = binary_named(name) {
        return Ok(Op::Binary(b));
    }
    if let Some(r) = name.strip_prefix("reduce.") {
        let op = reduce_op_named(r).ok_or_else(|| format!("unknown reduction `{r}`"))?;
        return Ok(Op::Reduce {
            op,
            axes: a.ints("axes")?,
            keep_dims: a.flag("keep_dims")?,
        });
    }
    if let Some(kind) = name.strip_prefix("fused.") {
        return decode_fused(kind, a, program).map(Op::Fused);
    }
    Ok(match name {
        "input" | "param" | "const" => return Err("misplaced leaf syntax".into()),
        "select" => Op::Select,
        "matmul" => Op::MatMul {
            transpose_a: a.flag("transpose_a")?,
            transpose_b: a.flag("transpose_b")?,
        },
        "conv2d" => Op::Conv2d(a.conv()?),
        "conv2d_backprop_input" => Op::Conv2dBackpropInput {
            attrs: a.conv()?,
            input_shape: a.shape("input_shape")?,
        },
        "conv2d_backprop_filter" => Op::Conv2dBackpropFilter {
            attrs: a.conv()?,
            filter_shape: a.shape("filter_shape")?,
        },
        "depthwise_conv2d" => Op::DepthwiseConv2d(a.conv()?),
        "depthwise_conv2d_backprop_input" => Op::DepthwiseConv2dBackpropInput {
            attrs: a.conv()?,
            input_shape: a.shape("input_shape")?,
        },
        "depthwise_conv2d_backprop_filter" => Op::DepthwiseConv2dBackpropFilter {
            attrs: a.conv()?,
            filter_shape: a.shape("filter_shape")?,
        },
        "pool2d" => Op::Pool2d(a.pool()?),
        "pool2d_grad" => Op::Pool2dGrad(a.pool()?),
        "reshape" => Op::Reshape(a.shape("shape")?),
        "transpose" => Op::Transpose(a.ints("perm")?),
        "broadcast" => Op::Broadcast(a.shape("shape")?),
        "slice" => Op::Slice {
            starts: a.ints("starts")?,
            ends: a.ints("ends")?,
        },
        "concat" => Op::Concat {
            axis: a.int("axis")?,
        },
        "pad" => Op::Pad {
            before: a.ints("before")?,
            after: a.ints("after")?,
            value: a.float("value")?,
        },
        "random_uniform" => Op::RandomUniform(a.shape("shape")?),
        _ => return Err("unknown op".into()),
    })
}

/// The fused op `fused.<kind>`: its attributes, then its program (taken out of `program`).
fn decode_fused(
    kind: &str,
    a: &mut Attrs,
    program: &mut Option<Program>,
) -> Result<FusedOp, String> {
    let mut take_program = || {
        program
            .take()
            .ok_or_else(|| "needs a `{ ... }` program".to_string())
    };
    Ok(match kind {
        "elementwise" => FusedOp::Elementwise(take_program()?),
        "matmul" => FusedOp::MatMul {
            transpose_a: a.flag("transpose_a")?,
            transpose_b: a.flag("transpose_b")?,
            epilogue: take_program()?,
        },
        "conv2d" => FusedOp::Conv2d {
            attrs: a.conv()?,
            epilogue: take_program()?,
        },
        "depthwise_conv2d" => FusedOp::DepthwiseConv2d {
            attrs: a.conv()?,
            epilogue: take_program()?,
        },
        "pool2d" => FusedOp::Pool2d {
            attrs: a.pool()?,
            epilogue: take_program()?,
        },
        "reduce" => FusedOp::Reduce {
            op: a.reduce_op()?,
            axes: a.ints("axes")?,
            keep_dims: a.flag("keep_dims")?,
            input_shape: a.shape("input_shape")?,
            prologue: take_program()?,
        },
        _ => return Err("unknown op".into()),
    })
}

/// `p` as `{ r0 = in 0, r1 = const 1.5, r2 = add r0 r1 }`.
pub(super) fn format_program(p: &Program) -> String {
    let instrs: Vec<String> = p
        .instrs
        .iter()
        .enumerate()
        .map(|(i, instr)| {
            let body = match *instr {
                Instr::Input(n) => format!("in {n}"),
                Instr::Const(c) => format!("const {}", format_f32(c)),
                Instr::Unary(op, a) => format!("{} r{a}", op.name()),
                Instr::Binary(op, a, b) => format!("{} r{a} r{b}", op.name()),
                Instr::Select(c, a, b) => format!("select r{c} r{a} r{b}"),
            };
            format!("r{i} = {body}")
        })
        .collect();
    format!("{{ {} }}", instrs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_bit_exactly() {
        let odd_nan = f32::from_bits(0xffc0_0001);
        for x in [
            0.0,
            -0.0,
            0.1,
            1.0 / 3.0,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            odd_nan,
        ] {
            let text = format_f32(x);
            assert_eq!(parse_f32(&text).unwrap().to_bits(), x.to_bits(), "{text}");
        }
        assert_eq!(format_f32(odd_nan), "0xffc00001");
    }

    #[test]
    fn every_reduction_is_listed_once() {
        // Exhaustive: a new reduction fails to compile here until it gets an index.
        let index = |r: ReduceOp| match r {
            ReduceOp::Sum => 0,
            ReduceOp::Mean => 1,
            ReduceOp::Max => 2,
            ReduceOp::Min => 3,
            ReduceOp::ArgMax => 4,
        };
        assert_eq!(REDUCE_OPS.map(index), [0, 1, 2, 3, 4]);
        for r in REDUCE_OPS {
            assert_eq!(reduce_op_named(r.name()), Some(r));
        }
    }
}
