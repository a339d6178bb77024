//! Ahead-of-time compilation: the shared lowering into a `cranelift_object::ObjectModule`
//! (position independent, the step exported under the caller's symbol). The object imports
//! `kiln_parallel_for` and the contraction kernels (`kiln_sgemm`, `kiln_conv2d*`), unmangled
//! symbols of this crate built as a library. Like the JIT, the code uses this host's CPU
//! features (AVX, FMA, ...), so it runs on machines that have them.

use cranelift_module::{Linkage, default_libcall_names};
use cranelift_object::{ObjectBuilder, ObjectModule};
use ir::{Graph, MemoryPlan};

use crate::error::{CodegenError, Result};
use crate::module::{host_isa, lower_graph};

/// Compile `graph` under `plan` into the bytes of a relocatable object file for this host
/// whose exported function `symbol` is the step (see [`crate::abi`] for its signature).
pub fn emit_object(graph: &Graph, plan: &MemoryPlan, symbol: &str) -> Result<Vec<u8>> {
    let isa = host_isa(true)?;
    let builder = ObjectBuilder::new(isa, format!("{symbol}.o"), default_libcall_names())?;
    let mut module = ObjectModule::new(builder);
    lower_graph(&mut module, graph, plan, symbol, Linkage::Export)?;
    module.finish().emit().map_err(|e| CodegenError::Cranelift(e.to_string()))
}
