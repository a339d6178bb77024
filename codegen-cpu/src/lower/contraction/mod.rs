//! Contractions (matmul, conv2d and its two gradients) as calls into the tuned kernels of
//! [`crate::contract`]: the kernel function fills the kernel's `#[repr(C)]` argument struct
//! in a stack slot — the static fields copied from a template built here at compile time,
//! the pointer fields stored at run time — and calls the `kiln_*` symbol. Batched matmuls
//! loop over the batch, one `kiln_sgemm` call per matrix; large products are split into one
//! chunk per thread (rows or columns of `C`), each chunk running its part of a fused
//! epilogue right after its product. Convolution geometries are
//! validated at compile time, so the kernels' status codes are always `KILN_OK`.
//!
//! This module dispatches a node to its family; the files below it:
//! - `args`: the argument structs in generated code (template words, stack slot, pointer
//!   stores, the fill-and-call kernel) and the kernels' thread count;
//! - `matmul`: the matmul kernels and their `kiln_sgemm` calls, with `product` (one
//!   product's sizes and strides), `split` (the chunks per thread) and `epilogue` (a
//!   chunk's part of the fused epilogue);
//! - `conv`: the dense and depthwise convolution calls, with `geometry` (their checked
//!   geometries);
//! - `error`: the lowering errors.

mod args;
mod conv;
mod epilogue;
mod error;
mod geometry;
mod matmul;
mod product;
mod split;

use cranelift_module::Module;
use ir::{FusedOp, NodeId, Op, Shape};

use self::conv::{conv_kernel, depthwise_kernel};
use self::error::not_a_contraction;
use self::matmul::{matmul_kernel, matmul_with_epilogue};
use crate::abi::Loc;
use crate::error::Result;
use crate::lowerer::Lowerer;

/// The contraction symbols and their addresses, for the JIT.
pub(crate) fn symbols() -> Vec<(&'static str, *const u8)> {
    crate::contract::symbols()
}

/// Whether a fused matmul with result shape `out` runs its epilogue inside its own kernel
/// (rank-2 results; batched ones get a separate epilogue kernel).
pub(crate) fn epilogue_in_kernel(out: &Shape) -> bool {
    out.rank() == 2
}

/// Emit node `id`'s contraction, reading `locs[0]`, `locs[1]` and writing the last of
/// `locs`; `shapes` are the operands' shapes. A fused matmul whose epilogue runs in its
/// kernel ([`epilogue_in_kernel`]) gets all its operands, the epilogue's extra ones after
/// the first two.
pub(crate) fn lower<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    locs: &[Loc],
    shapes: &[&Shape],
) -> Result<()> {
    let graph = l.graph;
    let op = graph.op(id);
    if let Op::Fused(FusedOp::MatMul {
        transpose_a,
        transpose_b,
        epilogue,
    }) = op
        && epilogue_in_kernel(graph.shape(id))
    {
        let transposes = (*transpose_a, *transpose_b);
        return matmul_with_epilogue(l, id, transposes, epilogue, locs, shapes);
    }
    let (locs, shapes) = (
        [locs[0], locs[1], locs[locs.len() - 1]],
        [shapes[0], shapes[1]],
    );
    match op {
        Op::MatMul {
            transpose_a,
            transpose_b,
        }
        | Op::Fused(FusedOp::MatMul {
            transpose_a,
            transpose_b,
            ..
        }) => matmul_kernel(l, id, (*transpose_a, *transpose_b), &locs, shapes),
        Op::Conv2d(_)
        | Op::Fused(FusedOp::Conv2d { .. })
        | Op::Conv2dBackpropInput { .. }
        | Op::Conv2dBackpropFilter { .. } => conv_kernel(l, id, op, &locs, shapes),
        Op::DepthwiseConv2d(_)
        | Op::Fused(FusedOp::DepthwiseConv2d { .. })
        | Op::DepthwiseConv2dBackpropInput { .. }
        | Op::DepthwiseConv2dBackpropFilter { .. } => depthwise_kernel(l, id, op, &locs, shapes),
        other => Err(not_a_contraction(id, other)),
    }
}
