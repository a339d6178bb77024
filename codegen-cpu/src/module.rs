//! Lowering a whole graph into a Cranelift [`Module`], written once and used by both the
//! JIT ([`crate::jit`]) and object emission ([`crate::aot`]).
//!
//! Output: one function per kernel (local), one data object per constant (local), and the
//! step function (named by the caller) that runs the kernels in node order — directly, or
//! through `kiln_parallel_for` for kernels split into chunks — with, when asked
//! ([`LowerOptions::ready_hooks`], JIT only), a ready-hook call after each output's node. See [`crate::abi`]; the
//! state of one lowering is a [`Lowerer`], each node's kernels come from [`crate::node`].

use cranelift_module::{Linkage, Module};
use ir::{Graph, MemoryPlan};

use crate::abi;
use crate::error::Result;
use crate::lowerer::{LoweredStep, Lowerer};
use crate::node;

/// What a lowering adds besides the code: the CLIF text, the ready hooks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LowerOptions {
    /// Keep each function's CLIF in [`LoweredStep::clif`].
    pub keep_clif: bool,
    /// Call the ready hook ([`crate::ready`]) for each output right after the kernels of the
    /// nodes up to the output's node (in node order, every operand comes earlier, and the
    /// memory plan keeps an output's storage untouched until the step ends).
    pub ready_hooks: bool,
}

/// Lower `graph` under `plan` into `module`; the step function is called `step_name`.
pub(crate) fn lower_graph<M: Module>(
    module: &mut M,
    graph: &Graph,
    plan: &MemoryPlan,
    step_name: &str,
    linkage: Linkage,
) -> Result<LoweredStep> {
    lower_graph_with(
        module,
        graph,
        plan,
        step_name,
        linkage,
        LowerOptions::default(),
    )
}

/// [`lower_graph`] with `options`.
pub(crate) fn lower_graph_with<M: Module>(
    module: &mut M,
    graph: &Graph,
    plan: &MemoryPlan,
    step_name: &str,
    linkage: Linkage,
    options: LowerOptions,
) -> Result<LoweredStep> {
    abi::check_plan(graph, plan)?;
    let mut l = Lowerer::new(module, graph, plan, step_name, options.keep_clif);
    l.define_consts()?;
    let mut ready_at: Vec<Vec<usize>> = vec![Vec::new(); graph.len()];
    if options.ready_hooks {
        for (index, (_, node)) in graph.outputs.iter().enumerate() {
            ready_at[node.index()].push(index);
        }
    }
    for id in graph.node_ids() {
        node::lower(&mut l, id)?;
        for &output in &ready_at[id.index()] {
            l.mark_ready(output);
        }
    }
    l.finish(step_name, linkage)
}
