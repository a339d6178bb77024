//! WGSL generation: one [`Kernel`] per computed node of a fused, memory-planned graph.
//!
//! Templates, not a function per op: `elementwise` (every flat per-element kernel: fused
//! programs, unary/binary/select, the movement ops as strided reads, concat, pad, random),
//! `gemm` (one tiled register-blocked matrix-product template; matmul and the three
//! convolutions are loaders into it), `window` (pooling, its gradient, depthwise
//! convolutions), `reduce` (workgroup tree reductions with a prologue) and `multi`
//! (multi-result kernels: elementwise and reducing loops side by side in one dispatch),
//! `indexing` (gather and scatter-add). The scalar
//! semantics come from the op table in `scalar`. Every template writes into a `module::Module`
//! (bindings, helpers, declarations); this file only dispatches each node to its template.

mod elementwise;
mod gemm;
mod indexing;
pub(crate) mod layout;
mod module;
mod multi;
mod reduce;
pub(crate) mod scalar;
mod window;

use ir::{FusedOp, Graph, MemoryPlan, NodeId, Op, Program, Storage};

use crate::error::{GpuError, Result};
use crate::kernel::Kernel;
use module::Module;

/// The kernels that compute `graph` under `plan`, in execution order. Leaves, aliases
/// (views), `extract`s (their multi-result kernel writes them) and nodes the plan never
/// materialises get no kernel; a multi-result kernel is one kernel (see
/// [`generate_within`] for devices that bind few buffers).
pub fn generate(graph: &Graph, plan: &MemoryPlan) -> Result<Vec<Kernel>> {
    generate_within(graph, plan, usize::MAX)
}

/// [`generate`] for a device that binds at most `max_bindings` storage buffers per kernel:
/// a multi-result kernel binding more is split into several kernels, its loops in order.
pub fn generate_within(
    graph: &Graph,
    plan: &MemoryPlan,
    max_bindings: usize,
) -> Result<Vec<Kernel>> {
    if plan.storage.len() != graph.len() {
        return Err(GpuError::Plan {
            node: "plan".into(),
            msg: format!(
                "has {} storages for {} nodes",
                plan.storage.len(),
                graph.len()
            ),
        });
    }
    let mut kernels = Vec::new();
    for id in graph.node_ids() {
        if matches!(
            graph.op(id),
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) | Op::Extract { .. }
        ) || matches!(plan.of(id), Storage::None | Storage::Alias(_))
        {
            continue;
        }
        if let Op::Fused(FusedOp::Multi(kernel)) = graph.op(id) {
            for group in multi::loop_groups(graph, plan, id, kernel, max_bindings)? {
                let mut m = Module::for_results(graph, plan, id);
                let (main, workgroups) = multi::multi(&mut m, kernel, &group)?;
                kernels.push(m.finish(&main, workgroups));
            }
            continue;
        }
        kernels.push(node_kernel(graph, plan, id)?);
    }
    Ok(kernels)
}

/// The kernel of one computed node.
fn node_kernel(graph: &Graph, plan: &MemoryPlan, id: NodeId) -> Result<Kernel> {
    let mut m = Module::new(graph, plan, id)?;
    let op = graph.op(id);
    let one = |instr| Program { instrs: instr };
    use ir::Instr::{Binary, Input, Select, Unary};
    let (main, workgroups) = match op {
        Op::Unary(u) => elementwise::program(&mut m, &one(vec![Input(0), Unary(*u, 0)]))?,
        Op::Binary(b) => {
            elementwise::program(&mut m, &one(vec![Input(0), Input(1), Binary(*b, 0, 1)]))?
        }
        Op::Select => elementwise::program(
            &mut m,
            &one(vec![Input(0), Input(1), Input(2), Select(0, 1, 2)]),
        )?,
        Op::Fused(FusedOp::Elementwise(p)) => elementwise::program(&mut m, p)?,
        Op::Reshape(_)
        | Op::Transpose(_)
        | Op::Broadcast(_)
        | Op::StopGradient
        | Op::Slice { .. } => elementwise::movement(&mut m)?,
        Op::Concat { axis } => elementwise::concat(&mut m, *axis)?,
        Op::Pad { before, value, .. } => elementwise::pad(&mut m, before, *value)?,
        Op::RandomUniform(_) => elementwise::random(&mut m)?,
        Op::Gather => indexing::gather(&mut m)?,
        Op::ScatterAdd { .. } => indexing::scatter_add(&mut m)?,
        Op::MatMul {
            transpose_a,
            transpose_b,
        } => gemm::matmul(&mut m, *transpose_a, *transpose_b, &Program::identity())?,
        Op::Fused(FusedOp::MatMul {
            transpose_a,
            transpose_b,
            epilogue,
        }) => gemm::matmul(&mut m, *transpose_a, *transpose_b, epilogue)?,
        Op::Conv2d(attrs) => gemm::conv2d(&mut m, attrs, &Program::identity())?,
        Op::Fused(FusedOp::Conv2d { attrs, epilogue }) => gemm::conv2d(&mut m, attrs, epilogue)?,
        Op::Conv2dBackpropInput { attrs, .. } => gemm::conv2d_backprop_input(&mut m, attrs)?,
        Op::Conv2dBackpropFilter { attrs, .. } => gemm::conv2d_backprop_filter(&mut m, attrs)?,
        Op::DepthwiseConv2d(attrs) => window::depthwise(&mut m, attrs, &Program::identity())?,
        Op::Fused(FusedOp::DepthwiseConv2d { attrs, epilogue }) => {
            window::depthwise(&mut m, attrs, epilogue)?
        }
        Op::DepthwiseConv2dBackpropInput { attrs, .. } => {
            window::depthwise_backprop_input(&mut m, attrs)?
        }
        Op::DepthwiseConv2dBackpropFilter { attrs, .. } => {
            window::depthwise_backprop_filter(&mut m, attrs)?
        }
        Op::Pool2d(attrs) => window::pool(&mut m, attrs, &Program::identity())?,
        Op::Fused(FusedOp::Pool2d { attrs, epilogue }) => window::pool(&mut m, attrs, epilogue)?,
        Op::Pool2dGrad(attrs) => window::pool_grad(&mut m, attrs)?,
        Op::Reduce { op, axes, .. } => {
            let input_shape = graph.shape(graph.operands(id)[0]).clone();
            reduce::reduce(&mut m, *op, axes, &input_shape, &Program::identity())?
        }
        Op::Fused(FusedOp::Reduce {
            op,
            axes,
            input_shape,
            prologue,
            ..
        }) => reduce::reduce(&mut m, *op, axes, input_shape, prologue)?,
        Op::Input { .. }
        | Op::Param { .. }
        | Op::Const(_)
        | Op::Extract { .. }
        | Op::Fused(FusedOp::Multi(_)) => {
            return Err(m.unsupported(
                "a leaf, an extract or a multi-result kernel is not one node kernel",
            ));
        }
    };
    Ok(m.finish(&main, workgroups))
}
