//! JIT compilation: the shared lowering into a `cranelift_jit::JITModule`, with the
//! runtime, ready-hook and contraction symbols registered, finalised into an [`Executable`].

use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, default_libcall_names};
use ir::{Graph, MemoryPlan};

use crate::abi::{PARALLEL_FOR_SYMBOL, StepFn};
use crate::error::{CodegenError, Result};
use crate::executable::Executable;
use crate::isa::host_isa;
use crate::module::{LowerOptions, lower_graph_with};
use crate::parallel::kiln_parallel_for;
use crate::ready::{OUTPUT_READY_SYMBOL, kiln_output_ready};

/// The name of the JIT's step function.
pub(crate) const STEP_SYMBOL: &str = "kiln_step";

/// Compile `graph` under `plan` to machine code for this host.
pub fn compile(graph: &Graph, plan: &MemoryPlan) -> Result<Executable> {
    compile_with(graph, plan, LowerOptions::default())
}

/// [`compile`], with a call of the ready hook after the kernel that finishes each output, so
/// that [`Executable::run_notifying`] hands every output to its listener while the rest of
/// the step still runs (the backward pass continues while a gradient is summed).
pub fn compile_with_ready_hooks(graph: &Graph, plan: &MemoryPlan) -> Result<Executable> {
    let options = LowerOptions {
        ready_hooks: true,
        ..LowerOptions::default()
    };
    compile_with(graph, plan, options)
}

fn compile_with(graph: &Graph, plan: &MemoryPlan, options: LowerOptions) -> Result<Executable> {
    let mut module = jit_module()?;
    let lowered = lower_graph_with(
        &mut module,
        graph,
        plan,
        STEP_SYMBOL,
        Linkage::Export,
        options,
    )?;
    module
        .finalize_definitions()
        .map_err(|e| CodegenError::Cranelift(format!("{e:?}")))?;
    let code = module.get_finalized_function(lowered.step);
    // SAFETY: `step` was defined with the `StepFn` signature by `lower_graph_with`.
    let step: StepFn = unsafe { std::mem::transmute::<*const u8, StepFn>(code) };
    let exe = Executable::new(module, step, lowered.scratch_len, graph, plan)?;
    Ok(exe.with_ready_hooks(options.ready_hooks))
}

/// An empty JIT module for this host (its native CPU features), with `kiln_parallel_for`
/// and the contraction kernels registered under their symbols.
pub(crate) fn jit_module() -> Result<JITModule> {
    let isa = host_isa(false)?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    builder.symbol(PARALLEL_FOR_SYMBOL, kiln_parallel_for as *const u8);
    builder.symbol(OUTPUT_READY_SYMBOL, kiln_output_ready as *const u8);
    for (name, ptr) in crate::lower::contraction::symbols() {
        builder.symbol(name, ptr);
    }
    Ok(JITModule::new(builder))
}
