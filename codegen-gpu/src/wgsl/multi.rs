//! Multi-result kernels (`fused.multi`): one dispatch runs a group of the kernel's loops,
//! each on its own range of workgroups. An elementwise loop has one invocation per element
//! (as the flat template); a reducing loop has one workgroup per result element whose
//! invocations stride over the reduced elements and combine their partials in a workgroup
//! tree per reduction (as the reduction template), storing each element's values on the way.
//! The range a workgroup falls in depends only on its id, so barriers stay in uniform control
//! flow.
//!
//! A kernel whose loops bind more storage buffers than the device allows is split into
//! several dispatches, loops in order ([`loop_groups`]); nothing else is split.

use ir::{Graph, Loop, LoopResult, MemoryPlan, MultiKernel, NodeId, Op};

use super::layout::{coords, grid, offset};
use super::module::Module;
use super::reduce::{Combine, GROUP, NO_INDEX, declare_partials};
use super::scalar;
use crate::error::{GpuError, Result};

/// The extract node of each result of the multi-result kernel `node` (`None`: not read).
pub(super) fn result_nodes(graph: &Graph, node: NodeId, n_results: usize) -> Vec<Option<NodeId>> {
    let mut nodes = vec![None; n_results];
    for e in ir::kernels::kernel_writes(graph, node) {
        if let Op::Extract { index, .. } = graph.op(e) {
            nodes[*index] = Some(e);
        }
    }
    nodes
}

/// The loops of `kernel` (at `node`) in dispatch groups, in order, each binding at most
/// `max_bindings` storage buffers.
pub(super) fn loop_groups(
    graph: &Graph,
    plan: &MemoryPlan,
    node: NodeId,
    kernel: &MultiKernel,
    max_bindings: usize,
) -> Result<Vec<Vec<usize>>> {
    let probe = Module::for_results(graph, plan, node);
    let extracts = result_nodes(graph, node, kernel.n_results());
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_spaces = Vec::new();
    let mut first = 0;
    for (l, lp) in kernel.loops.iter().enumerate() {
        let stored: Vec<NodeId> = extracts[first..first + lp.results.len()]
            .iter()
            .flatten()
            .copied()
            .collect();
        first += lp.results.len();
        let spaces = probe.spaces(&stored, &lp.operands_read())?;
        if spaces.len() > max_bindings {
            return Err(GpuError::Unsupported {
                node: node.to_string(),
                op: "fused.multi".into(),
                msg: format!(
                    "loop {l} binds {} buffers, the device allows {max_bindings}",
                    spaces.len()
                ),
            });
        }
        let mut merged: Vec<_> = group_spaces.iter().chain(&spaces).copied().collect();
        merged.sort();
        merged.dedup();
        match groups.last_mut() {
            Some(group) if merged.len() <= max_bindings => {
                group.push(l);
                group_spaces = merged;
            }
            _ => {
                groups.push(vec![l]);
                group_spaces = spaces;
            }
        }
    }
    Ok(groups)
}

/// The `main` of the dispatch running loops `group` of `kernel`, and its grid.
pub(super) fn multi(
    m: &mut Module,
    kernel: &MultiKernel,
    group: &[usize],
) -> Result<(String, [u32; 3])> {
    let extracts = result_nodes(m.graph, m.node, kernel.n_results());
    let mut branches = String::new();
    let mut start = 0;
    let mut reduces = false;
    for &l in group {
        let lp = &kernel.loops[l];
        let first: usize = kernel.loops[..l].iter().map(|p| p.results.len()).sum();
        let stored = &extracts[first..first + lp.results.len()];
        let (body, groups) = if lp.is_elementwise() {
            elementwise_loop(m, lp, stored)?
        } else {
            reduces = true;
            reducing_loop(m, lp, stored)?
        };
        let keyword = if branches.is_empty() {
            "    if"
        } else {
            " else if"
        };
        branches.push_str(&format!(
            "{keyword} (g < {end}u) {{\n        let b = g - {start}u;\n{body}    }}",
            end = start + groups
        ));
        start += groups;
    }
    if reduces {
        // Every tree stores its index partials, argmax or not (the array is small).
        declare_partials(m, true);
    }
    let main = format!(
        "@compute @workgroup_size({GROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{
    let g = wg.y * nwg.x + wg.x;
{branches}
}}
"
    );
    Ok((main, grid(start)))
}

/// The reads of every operand a loop's body reads, at the domain coordinates `c*` (the flat
/// index `flat` when the operand is laid out as the domain), indexed by operand number.
fn operand_reads(m: &mut Module, lp: &Loop, flat: &str) -> Result<Vec<String>> {
    let mut reads = vec![String::new(); m.n_operands()];
    let domain_strides = lp.domain.strides();
    for k in lp.operands_read() {
        let (buf, base) = m.operand(k)?;
        let strides = m.operand_shape(k).broadcast_strides(&lp.domain);
        reads[k] = if strides == domain_strides && !strides.is_empty() {
            format!("{buf}[{base}u + {flat}]")
        } else {
            format!("{buf}[{}]", offset(base, &strides, "c"))
        };
    }
    Ok(reads)
}

/// An elementwise loop: one invocation per element `i` of the domain, in workgroup `b` of
/// the loop's range; returns the statements and the number of workgroups.
fn elementwise_loop(
    m: &mut Module,
    lp: &Loop,
    stored: &[Option<NodeId>],
) -> Result<(String, usize)> {
    let n = lp.domain.numel();
    let indent = "            ";
    let mut body = format!("        let i = b * {GROUP}u + lid;\n        if (i < {n}u) {{\n");
    body.push_str(&coords(lp.domain.dims(), "i", "c", indent));
    let reads = operand_reads(m, lp, "i")?;
    let (stmts, _) = scalar::program(&lp.body, "r", indent, &mut m.helpers, |k| reads[k].clone());
    body.push_str(&stmts);
    for (&result, extract) in lp.results.iter().zip(stored) {
        if let (LoopResult::Element(reg), Some(e)) = (result, extract)
            && let Some((buf, base)) = m.result(*e)?
        {
            body.push_str(&format!("{indent}{buf}[{base}u + i] = r{reg};\n"));
        }
    }
    body.push_str("        }\n");
    Ok((body, n.div_ceil(GROUP)))
}

/// A reducing loop: workgroup `b` of the loop's range computes result element `o = b`; its
/// invocations stride over the reduced elements (storing element values), then each
/// reduction is combined in the workgroup tree. Returns the statements and the number of
/// workgroups.
fn reducing_loop(m: &mut Module, lp: &Loop, stored: &[Option<NodeId>]) -> Result<(String, usize)> {
    let dims = lp.domain.dims();
    let kept: Vec<usize> = (0..dims.len()).filter(|a| !lp.axes.contains(a)).collect();
    let kept_dims: Vec<usize> = kept.iter().map(|&a| dims[a]).collect();
    let reduced: Vec<usize> = lp.axes.iter().map(|&a| dims[a]).collect();
    let (n_out, n_red) = (
        kept_dims.iter().product::<usize>(),
        reduced.iter().product::<usize>(),
    );
    let indent = "            ";
    let mut body = "        let o = b;\n".to_string();
    body.push_str(&coords(&kept_dims, "o", "k", "        "));
    let combines: Vec<(usize, Combine, LoopResult)> = lp
        .results
        .iter()
        .enumerate()
        .filter_map(|(j, &result)| match result {
            LoopResult::Reduce { op, reg, .. } => Some((
                j,
                Combine::of(
                    op,
                    &format!("r{reg}"),
                    n_red,
                    (&format!("acc{j}"), &format!("at{j}")),
                    &mut m.helpers,
                ),
                result,
            )),
            LoopResult::Element(_) => None,
        })
        .collect();
    for (j, c, _) in &combines {
        body.push_str(&format!("        var acc{j} = {};\n", c.init));
        body.push_str(&format!("        var at{j} = {NO_INDEX};\n"));
    }
    body.push_str(&format!(
        "        for (var r = lid; r < {n_red}u; r += {GROUP}u) {{\n"
    ));
    body.push_str(&element_statements(m, lp, stored, &reduced, indent)?);
    for (_, c, _) in &combines {
        body.push_str(&format!("{indent}{}\n", c.step));
    }
    body.push_str("        }\n");
    for (j, c, _) in &combines {
        let Some((buf, base)) = stored[*j].map(|e| m.result(e)).transpose()?.flatten() else {
            continue;
        };
        body.push_str(&tree(c, *j, &format!("{buf}[{base}u + o]")));
    }
    Ok((body, n_out))
}

/// The statements inside a reducing loop's stride loop: the domain coordinates of reduced
/// element `r` of result element `o`, the body, and the stores of the stored element values.
fn element_statements(
    m: &mut Module,
    lp: &Loop,
    stored: &[Option<NodeId>],
    reduced: &[usize],
    indent: &str,
) -> Result<String> {
    let mut out = coords(reduced, "r", "q", indent);
    let (mut kept_at, mut red_at) = (0, 0);
    for a in 0..lp.domain.rank() {
        let source = if lp.axes.contains(&a) {
            red_at += 1;
            format!("q{}", red_at - 1)
        } else {
            kept_at += 1;
            format!("k{}", kept_at - 1)
        };
        out.push_str(&format!("{indent}let c{a} = {source};\n"));
    }
    let flat = offset(0, &lp.domain.strides(), "c");
    out.push_str(&format!("{indent}let e = {flat};\n"));
    let reads = operand_reads(m, lp, "e")?;
    let (stmts, _) = scalar::program(&lp.body, "r", indent, &mut m.helpers, |k| reads[k].clone());
    out.push_str(&stmts);
    for (&result, extract) in lp.results.iter().zip(stored) {
        if let (LoopResult::Element(reg), Some(e)) = (result, extract)
            && let Some((buf, base)) = m.result(*e)?
        {
            out.push_str(&format!("{indent}{buf}[{base}u + e] = r{reg};\n"));
        }
    }
    Ok(out)
}

/// The workgroup tree of reduction `j` (accumulators `acc{j}`, `at{j}`), its result stored
/// by invocation 0 into `target`.
fn tree(c: &Combine, j: usize, target: &str) -> String {
    format!(
        "        workgroupBarrier();
        part[lid] = acc{j};
        part_at[lid] = at{j};
        workgroupBarrier();
        for (var s = {half}u; s > 0u; s >>= 1u) {{
            if (lid < s) {{
                {merge}
            }}
            workgroupBarrier();
        }}
        if (lid == 0u) {{
            {target} = {result};
        }}
",
        half = GROUP / 2,
        merge = c.merge,
        result = c.result,
    )
}
