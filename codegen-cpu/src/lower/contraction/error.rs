//! The errors of contraction lowering: an op that is not a contraction, and a contraction
//! whose operands the kernels cannot take.

use cranelift_module::Module;
use ir::{NodeId, Op};

use crate::error::CodegenError;
use crate::lowerer::Lowerer;

/// The error for an op that is not a contraction.
pub(super) fn not_a_contraction(id: NodeId, op: &Op) -> CodegenError {
    CodegenError::Unsupported {
        node: id.to_string(),
        op: ir::infer::op_name(op),
        msg: "not a contraction".into(),
    }
}

/// The error for a contraction whose operands the kernels cannot take.
pub(super) fn unsupported<M: Module>(l: &Lowerer<'_, M>, id: NodeId, msg: &str) -> CodegenError {
    CodegenError::Unsupported {
        node: id.to_string(),
        op: ir::infer::op_name(l.graph.op(id)),
        msg: msg.into(),
    }
}
