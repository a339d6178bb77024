//! Encoding, op to text: each op's name and attributes in print order ([`encode`]), a fused
//! op's program ([`format_program`]) and a multi-result kernel's loops ([`format_loop`]).

use super::atoms::format_f32;
use super::attrs::AttrValue;
use crate::fused::{FusedOp, Instr, Program};
use crate::infer::op_name;
use crate::multi::{Loop, LoopResult};
use crate::op::{Conv2dAttrs, Op, Padding, Pool2dAttrs, PoolKind};

/// An op as spelled in the text form, minus operands.
pub(in crate::text) struct OpSyntax<'a> {
    /// The op name, e.g. `reduce.sum`.
    pub name: String,
    /// Attributes in print order.
    pub attrs: Vec<(&'static str, AttrValue)>,
    /// The fused program, for fused ops but `fused.multi`.
    pub program: Option<&'a Program>,
    /// The loops of a `fused.multi` (empty for every other op).
    pub loops: &'a [Loop],
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
pub(in crate::text) fn encode(op: &Op) -> OpSyntax<'_> {
    let mut attrs = Vec::new();
    let mut program = None;
    let mut loops: &[Loop] = &[];
    match op {
        Op::Input { .. } | Op::Param { .. } | Op::Const(_) => {}
        Op::Unary(_) | Op::Binary(_) | Op::Select | Op::StopGradient | Op::Gather => {}
        Op::ScatterAdd { rows } => attrs.push(("rows", AttrValue::Atom(rows.to_string()))),
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
        Op::Fused(FusedOp::Multi(k)) => loops = &k.loops,
        Op::Fused(f) => program = push_fused_attrs(&mut attrs, f),
        Op::Extract { index, shape } => {
            attrs.push(("index", AttrValue::Atom(index.to_string())));
            attrs.push(("shape", ints(&shape.0)));
        }
    }
    OpSyntax {
        name: op_name(op),
        attrs,
        program,
        loops,
    }
}

/// The attributes of a fused op, in print order; returns its program (none for
/// `fused.multi`, whose loops the printer writes).
fn push_fused_attrs<'a>(
    attrs: &mut Vec<(&'static str, AttrValue)>,
    f: &'a FusedOp,
) -> Option<&'a Program> {
    Some(match f {
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
        FusedOp::Multi(_) => return None,
    })
}

/// One loop of a `fused.multi`: `loop domain=[3, 5] axes=[1] results=[r3, sum.r3.keep_dims]
/// { r0 = in 0, ... }` (`axes` only when there are some). A result is `r<reg>` for an
/// elementwise value, `<reduction>.r<reg>` for a reduction, with `.keep_dims` when it keeps
/// the reduced axes.
pub(in crate::text) fn format_loop(l: &Loop) -> String {
    let dims = |d: &[usize]| {
        d.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let results: Vec<String> = l
        .results
        .iter()
        .map(|r| match *r {
            LoopResult::Element(reg) => format!("r{reg}"),
            LoopResult::Reduce { op, reg, keep_dims } => {
                let keep = if keep_dims { ".keep_dims" } else { "" };
                format!("{}.r{reg}{keep}", op.name())
            }
        })
        .collect();
    let axes = if l.axes.is_empty() {
        String::new()
    } else {
        format!(" axes=[{}]", dims(&l.axes))
    };
    format!(
        "loop domain=[{}]{axes} results=[{}] {}",
        dims(l.domain.dims()),
        results.join(", "),
        format_program(&l.body)
    )
}

/// `p` as `{ r0 = in 0, r1 = const 1.5, r2 = add r0 r1 }`.
pub(in crate::text) fn format_program(p: &Program) -> String {
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
