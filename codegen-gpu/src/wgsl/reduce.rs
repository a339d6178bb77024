//! Reductions with an elementwise prologue: one workgroup per result element. Its
//! invocations stride over the reduced elements (each evaluating the prologue on the
//! operands broadcast to the pre-reduction shape), then combine their partial results in
//! a workgroup-memory tree. Argmax carries the index and keeps the first maximum.

use std::collections::BTreeSet;

use ir::{Program, ReduceOp, Shape};

use super::layout::{coords, grid, offset};
use super::module::Module;
use super::scalar::{self, Helper};
use crate::error::Result;

/// Invocations per workgroup (and partial results combined by the tree).
pub(super) const GROUP: usize = 64;

/// `op` over `axes` of `prologue(operands...)` evaluated over `input_shape`.
pub(super) fn reduce(
    m: &mut Module,
    op: ReduceOp,
    axes: &[usize],
    input_shape: &Shape,
    prologue: &Program,
) -> Result<(String, [u32; 3])> {
    check_supported(m, op, axes, prologue)?;
    let dims = input_shape.dims();
    let kept: Vec<usize> = (0..dims.len())
        .filter(|a| !axes.contains(a))
        .map(|a| dims[a])
        .collect();
    let reduced: Vec<usize> = axes.iter().map(|&a| dims[a]).collect();
    let (n_out, n_red) = (
        kept.iter().product::<usize>(),
        reduced.iter().product::<usize>(),
    );
    let (obuf, obase) = m.output()?;
    let (element, value) = reduced_element(m, axes, input_shape, &reduced, prologue)?;
    let indent = ELEMENT_INDENT;
    let none = NO_INDEX;
    let Combine {
        init,
        step,
        merge,
        result,
    } = Combine::of(op, &value, n_red, ("acc", "at"), &mut m.helpers);
    let argmax = op == ReduceOp::ArgMax;
    declare_partials(m, argmax);
    let main = format!(
        "@compute @workgroup_size({GROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{
    let o = wg.y * nwg.x + wg.x;
    let in_range = o < {n_out}u;
{kept_coords}    var acc = {init};
{at_decl}    if (in_range) {{
        for (var r = lid; r < {n_red}u; r += {GROUP}u) {{
{element}{indent}{step}
        }}
    }}
    part[lid] = acc;
{at_store}    workgroupBarrier();
    for (var s = {half}u; s > 0u; s >>= 1u) {{
        if (lid < s) {{
            {merge}
        }}
        workgroupBarrier();
    }}
    if (in_range && lid == 0u) {{
        {obuf}[{obase}u + o] = {result};
    }}
}}
",
        kept_coords = coords(&kept, "o", "k", "    "),
        at_decl = if argmax { format!("    var at = {none};\n") } else { String::new() },
        at_store = if argmax { "    part_at[lid] = at;\n" } else { "" },
        half = GROUP / 2,
    );
    Ok((main, grid(n_out)))
}

/// Indentation of the statements that evaluate one reduced element (inside the loop).
const ELEMENT_INDENT: &str = "        ";

/// The argmax index of "no element yet".
pub(super) const NO_INDEX: &str = "0xffffffffu";

/// Errors for what this template cannot reduce: a prologue reading more inputs than the node
/// has operands, or an argmax over other than one axis.
fn check_supported(m: &Module, op: ReduceOp, axes: &[usize], prologue: &Program) -> Result<()> {
    if program_inputs(prologue) > m.n_operands() {
        return Err(m.unsupported(&format!(
            "the prologue reads {} inputs but the node has {} operands",
            prologue.n_inputs(),
            m.n_operands()
        )));
    }
    if op == ReduceOp::ArgMax && axes.len() != 1 {
        return Err(m.unsupported("argmax reduces exactly one axis"));
    }
    Ok(())
}

/// The statements that evaluate the prologue at reduced element `r` of result element `o`
/// (coordinates `k*` kept, `q*` reduced, `c*` of the input), reading each operand broadcast
/// to `input_shape`; and the expression of the value.
fn reduced_element(
    m: &mut Module,
    axes: &[usize],
    input_shape: &Shape,
    reduced: &[usize],
    prologue: &Program,
) -> Result<(String, String)> {
    let mut reads = Vec::new();
    for k in 0..m.n_operands() {
        let (buf, base) = m.operand(k)?;
        let strides = m.operand_shape(k).broadcast_strides(input_shape);
        reads.push(format!("{buf}[{}]", offset(base, &strides, "c")));
    }
    let indent = ELEMENT_INDENT;
    let mut element = coords(reduced, "r", "q", indent);
    let (mut kept_at, mut red_at) = (0, 0);
    for a in 0..input_shape.rank() {
        let source = if axes.contains(&a) {
            red_at += 1;
            format!("q{}", red_at - 1)
        } else {
            kept_at += 1;
            format!("k{}", kept_at - 1)
        };
        element.push_str(&format!("{indent}let c{a} = {source};\n"));
    }
    let (stmts, value) =
        scalar::program(prologue, "r", indent, &mut m.helpers, |n| reads[n].clone());
    element.push_str(&stmts);
    Ok((element, value))
}

/// How one reduction accumulates: WGSL for the accumulator's start value, one step folding
/// in the element's value, one merge of partial `lid + s` into `lid`, and the result.
pub(super) struct Combine {
    /// The accumulator's initial value.
    pub init: String,
    /// Folds the element's value into the accumulator (and the index, for argmax).
    pub step: String,
    /// Folds partial result `lid + s` into `lid` in the workgroup tree.
    pub merge: String,
    /// The result from the combined partials.
    pub result: String,
}

impl Combine {
    /// The combination for `op` of elements whose value is `value`, `n_red` of them per
    /// result, into the accumulator variable `acc` (and, for argmax, the index variable `at`;
    /// the reduced element's index is `r`). Max and min let a NaN win (`k_max`/`k_min`, added
    /// to `helpers`); argmax keeps the first greater value.
    pub(super) fn of(
        op: ReduceOp,
        value: &str,
        n_red: usize,
        (acc, at): (&str, &str),
        helpers: &mut BTreeSet<Helper>,
    ) -> Combine {
        let (indent, none) = (ELEMENT_INDENT, NO_INDEX);
        if matches!(op, ReduceOp::Max | ReduceOp::Min) {
            helpers.insert(Helper::NanMax);
        }
        let (init, step, merge, result) = match op {
            ReduceOp::Sum | ReduceOp::Mean => (
                "0.0".to_string(),
                format!("{acc} += {value};"),
                "part[lid] += part[lid + s];".to_string(),
                if op == ReduceOp::Mean {
                    format!("part[0] / {}", scalar::literal(n_red as f32))
                } else {
                    "part[0]".into()
                },
            ),
            ReduceOp::Max => (
                "bitcast<f32>(0xff800000u)".into(),
                format!("{acc} = k_max({acc}, {value});"),
                "part[lid] = k_max(part[lid], part[lid + s]);".into(),
                "part[0]".into(),
            ),
            ReduceOp::Min => (
                "bitcast<f32>(0x7f800000u)".into(),
                format!("{acc} = k_min({acc}, {value});"),
                "part[lid] = k_min(part[lid], part[lid + s]);".into(),
                "part[0]".into(),
            ),
            ReduceOp::ArgMax => (
                "0.0".into(),
                format!(
                    "let {acc}_v = {value};\n{indent}if ({at} == {none} || {acc}_v > {acc}) {{ {acc} = {acc}_v; {at} = r; }}"
                ),
                format!(
                    "let ov = part[lid + s];\n            let oi = part_at[lid + s];\n            if (oi != {none} && (part_at[lid] == {none} || ov > part[lid] || (ov == part[lid] && oi < part_at[lid]))) {{ part[lid] = ov; part_at[lid] = oi; }}"
                ),
                format!("select(f32(part_at[0]), 0.0, part_at[0] == {none})"),
            ),
        };
        Combine {
            init,
            step,
            merge,
            result,
        }
    }
}

/// The workgroup arrays of partial results (and, for argmax, their indices).
pub(super) fn declare_partials(m: &mut Module, argmax: bool) {
    m.decls
        .push_str(&format!("var<workgroup> part: array<f32, {GROUP}>;\n"));
    if argmax {
        m.decls
            .push_str(&format!("var<workgroup> part_at: array<u32, {GROUP}>;\n"));
    }
}

/// The number of operands a prologue reads.
fn program_inputs(p: &Program) -> usize {
    p.n_inputs()
}
