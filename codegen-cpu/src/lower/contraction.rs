//! Contractions (matmul, conv2d and its two gradients) as calls into the tuned kernels of
//! [`crate::contract`].

use cranelift_module::Module;
use ir::{NodeId, Shape};

use crate::abi::Loc;
use crate::error::{CodegenError, Result};
use crate::module::Lowerer;

/// Emit the call(s) computing node `id`'s contraction into the last of `locs`.
pub(crate) fn lower<M: Module>(l: &mut Lowerer<'_, M>, id: NodeId, locs: &[Loc], shapes: &[&Shape]) -> Result<()> {
    let _ = (locs, shapes);
    Err(CodegenError::Unsupported { node: id.to_string(), op: ir::infer::op_name(l.graph.op(id)), msg: "the contraction kernels are not linked in yet".into() })
}

/// The contraction symbols and their addresses, for the JIT.
pub(crate) fn symbols() -> Vec<(&'static str, *const u8)> {
    Vec::new()
}
