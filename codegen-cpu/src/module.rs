//! Lowering a whole graph into a Cranelift [`Module`], written once and used by both the
//! JIT ([`crate::jit`]) and object emission ([`crate::aot`]).
//!
//! Output: one function per kernel (local), one data object per constant (local), and the
//! step function (named by the caller) that runs the kernels in node order — directly, or
//! through `kiln_parallel_for` for kernels split into chunks. See [`crate::abi`]; the
//! state of one lowering is a [`Lowerer`], each node's kernels come from [`crate::node`].

use cranelift_module::{Linkage, Module};
use ir::{Graph, MemoryPlan};

use crate::abi;
use crate::error::Result;
use crate::lowerer::{LoweredStep, Lowerer};
use crate::node;

/// Lower `graph` under `plan` into `module`; the step function is called `step_name`.
pub(crate) fn lower_graph<M: Module>(
    module: &mut M,
    graph: &Graph,
    plan: &MemoryPlan,
    step_name: &str,
    linkage: Linkage,
) -> Result<LoweredStep> {
    lower_graph_keeping_clif(module, graph, plan, step_name, linkage, false)
}

/// [`lower_graph`], keeping each function's CLIF in [`LoweredStep::clif`] when `keep_clif`.
pub(crate) fn lower_graph_keeping_clif<M: Module>(
    module: &mut M,
    graph: &Graph,
    plan: &MemoryPlan,
    step_name: &str,
    linkage: Linkage,
    keep_clif: bool,
) -> Result<LoweredStep> {
    abi::check_plan(graph, plan)?;
    let mut l = Lowerer::new(module, graph, plan, step_name, keep_clif);
    l.define_consts()?;
    for id in graph.node_ids() {
        node::lower(&mut l, id)?;
    }
    l.finish(step_name, linkage)
}
