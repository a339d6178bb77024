//! JIT compilation: the shared lowering into a `cranelift_jit::JITModule`, with the
//! runtime and contraction symbols registered, finalised into an [`Executable`].

use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, default_libcall_names};
use ir::{Graph, MemoryPlan};

use crate::abi::{PARALLEL_FOR_SYMBOL, StepFn};
use crate::error::{CodegenError, Result};
use crate::executable::Executable;
use crate::isa::host_isa;
use crate::module::lower_graph;
use crate::parallel::kiln_parallel_for;

/// The name of the JIT's step function.
pub(crate) const STEP_SYMBOL: &str = "kiln_step";

/// Compile `graph` under `plan` to machine code for this host.
pub fn compile(graph: &Graph, plan: &MemoryPlan) -> Result<Executable> {
    let mut module = jit_module()?;
    let lowered = lower_graph(&mut module, graph, plan, STEP_SYMBOL, Linkage::Export)?;
    module
        .finalize_definitions()
        .map_err(|e| CodegenError::Cranelift(format!("{e:?}")))?;
    let code = module.get_finalized_function(lowered.step);
    // SAFETY: `step` was defined with the `StepFn` signature by `lower_graph`.
    let step: StepFn = unsafe { std::mem::transmute::<*const u8, StepFn>(code) };
    Executable::new(module, step, lowered.scratch_len, graph, plan)
}

/// An empty JIT module for this host (its native CPU features), with `kiln_parallel_for`
/// and the contraction kernels registered under their symbols.
pub(crate) fn jit_module() -> Result<JITModule> {
    let isa = host_isa(false)?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    builder.symbol(PARALLEL_FOR_SYMBOL, kiln_parallel_for as *const u8);
    for (name, ptr) in crate::lower::contraction::symbols() {
        builder.symbol(name, ptr);
    }
    Ok(JITModule::new(builder))
}
