//! The CLIF text of a graph's functions: what the shared lowering hands Cranelift, before
//! Cranelift optimises, legalises and compiles it — for reading the generated code and for
//! snapshot tests (`tests/clif.rs`).

use cranelift_module::{Linkage, Module, default_libcall_names};
use cranelift_object::{ObjectBuilder, ObjectModule};
use ir::{Graph, MemoryPlan};

use crate::error::Result;
use crate::isa::target_isa;
use crate::jit::{STEP_SYMBOL, jit_module};
use crate::lowerer::ClifFunction;
use crate::module::{LowerOptions, lower_graph_with};

/// Lower `graph` under `plan` as [`compile`](crate::compile) does — the same lowering, the
/// same symbols — and return the CLIF of every function it defines: the kernels in
/// execution order, then the step function (`kiln_step`). Without ready hooks (as
/// [`compile`](crate::compile); [`compile_with_ready_hooks`](crate::compile_with_ready_hooks)
/// adds a `kiln_output_ready` call per output to the step function).
///
/// `target`: `None` lowers into this host's JIT module, exactly what `compile` runs;
/// `Some(triple)` into an object module for that target (its baseline features), whose
/// pointer type and default calling convention the signatures then show. Nothing else in
/// the CLIF depends on the target: the lowering picks no instruction by CPU feature (vectors
/// are always `f32x4`), and those choices are made later, when Cranelift compiles it. The
/// contraction kernels' thread count (`available_parallelism`) does enter the CLIF of large
/// matmuls (their chunk count) and of convolutions (an argument word).
pub fn clif(graph: &Graph, plan: &MemoryPlan, target: Option<&str>) -> Result<Vec<ClifFunction>> {
    let Some(triple) = target else {
        let mut module = jit_module()?;
        let lowered = lower(&mut module, graph, plan);
        // SAFETY: nothing was finalised, so no pointer into the module's memory exists.
        unsafe { module.free_memory() };
        return lowered;
    };
    let isa = target_isa(Some(triple), false)?;
    let builder = ObjectBuilder::new(isa, "kiln_clif.o", default_libcall_names())?;
    lower(&mut ObjectModule::new(builder), graph, plan)
}

/// The CLIF of `graph`'s functions, lowered into `module` under the JIT's step symbol.
fn lower<M: Module>(module: &mut M, graph: &Graph, plan: &MemoryPlan) -> Result<Vec<ClifFunction>> {
    let options = LowerOptions {
        keep_clif: true,
        ready_hooks: false,
    };
    let lowered = lower_graph_with(module, graph, plan, STEP_SYMBOL, Linkage::Export, options)?;
    Ok(lowered.clif)
}
