//! JIT compilation: the shared lowering into a `cranelift_jit::JITModule`, with the
//! runtime and contraction symbols registered, finalised into an [`Executable`].

use std::mem::ManuallyDrop;

use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, default_libcall_names};
use ir::{Graph, MemoryPlan};

use crate::abi::{PARALLEL_FOR_SYMBOL, StepFn};
use crate::error::{CodegenError, Result};
use crate::module::{host_isa, lower_graph};
use crate::parallel::kiln_parallel_for;
use crate::runtime::Executable;

/// Owns the JIT's code memory for as long as the [`Executable`] lives.
pub(crate) struct JitCode(ManuallyDrop<JITModule>);

impl Drop for JitCode {
    fn drop(&mut self) {
        // SAFETY: the only pointers into this memory are held by the `Executable` that owns
        // this value and is being dropped.
        unsafe { ManuallyDrop::take(&mut self.0).free_memory() };
    }
}

/// Compile `graph` under `plan` to machine code for this host.
pub fn compile(graph: &Graph, plan: &MemoryPlan) -> Result<Executable> {
    let isa = host_isa(false)?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    builder.symbol(PARALLEL_FOR_SYMBOL, kiln_parallel_for as *const u8);
    for (name, ptr) in crate::lower::contraction::symbols() {
        builder.symbol(name, ptr);
    }
    let mut module = JITModule::new(builder);
    let lowered = lower_graph(&mut module, graph, plan, "kiln_step", Linkage::Export)?;
    module
        .finalize_definitions()
        .map_err(|e| CodegenError::Cranelift(format!("{e:?}")))?;
    let code = module.get_finalized_function(lowered.step);
    // SAFETY: `step` was defined with the `StepFn` signature by `lower_graph`.
    let step: StepFn = unsafe { std::mem::transmute::<*const u8, StepFn>(code) };
    Executable::new(
        JitCode(ManuallyDrop::new(module)),
        step,
        lowered.scratch_len,
        graph,
        plan,
    )
}
