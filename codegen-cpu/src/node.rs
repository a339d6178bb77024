//! Per-node dispatch: which lowering each [`Op`] (primitive or fused) goes through, and
//! with which operands. Leaves, unmaterialised nodes and aliased reshapes emit nothing.

use cranelift_module::Module;
use ir::{FusedOp, Instr, NodeId, Op, Program, Shape};

use crate::abi::Loc;
use crate::error::{CodegenError, Result};
use crate::lower::{contraction, elementwise, indexing, movement, multi, pool, random, reduce};
use crate::lowerer::Lowerer;

/// What a node's kernels read and write: the locations of its operands followed by its
/// result's, its operands' shapes (a reshape copy's operand in the result's shape), and
/// the result's shape.
struct NodeIo<'g> {
    id: NodeId,
    locs: Vec<Loc>,
    shapes: Vec<&'g Shape>,
    out_shape: &'g Shape,
}

impl NodeIo<'_> {
    /// The number of operands.
    fn n(&self) -> usize {
        self.shapes.len()
    }

    /// Where the result goes.
    fn out(&self) -> Loc {
        *self.locs.last().expect("locs end with the result")
    }
}

/// Emit the kernels of node `id` (none for leaves and values that are never stored).
pub(crate) fn lower<M: Module>(l: &mut Lowerer<'_, M>, id: NodeId) -> Result<()> {
    if let Op::Fused(FusedOp::Multi(kernel)) = l.graph.op(id) {
        return match l.plan.of(id) {
            ir::Storage::Results => multi::lower(l, id, kernel),
            _ => Ok(()),
        };
    }
    let Some(io) = node_io(l, id)? else {
        return Ok(());
    };
    let op = l.graph.op(id);
    if let Some(program) = elementwise_program(op) {
        return elementwise_kernel(l, &io, &program);
    }
    match op {
        Op::Reduce { op: r, axes, .. } => {
            let identity = Program::identity();
            let red = reduce::Reduction {
                axes,
                body: &identity,
                domain: io.shapes[0],
                reductions: &[(*r, 0)],
                elements: &[],
            };
            reduction_kernel(l, &io, &red)
        }
        Op::Fused(FusedOp::Reduce {
            op: r,
            axes,
            input_shape,
            prologue,
            ..
        }) => {
            let red = reduce::Reduction {
                axes,
                body: prologue,
                domain: input_shape,
                reductions: &[(*r, prologue.instrs.len() - 1)],
                elements: &[],
            };
            reduction_kernel(l, &io, &red)
        }
        Op::Transpose(_) | Op::Slice { .. } | Op::Concat { .. } | Op::Pad { .. } => {
            movement_kernel(l, &io, op)
        }
        Op::Gather | Op::ScatterAdd { .. } => indexing_kernel(l, &io, op),
        Op::RandomUniform(shape) => l.kernel(id, &io.locs, &[], |k, b, _| {
            random::lower(k, b[0], b[1], shape.numel())
        }),
        Op::Pool2d(_) | Op::Pool2dGrad(_) | Op::Fused(FusedOp::Pool2d { .. }) => {
            pool_kernels(l, &io, op)
        }
        Op::MatMul { .. }
        | Op::Conv2d(_)
        | Op::Conv2dBackpropInput { .. }
        | Op::Conv2dBackpropFilter { .. }
        | Op::DepthwiseConv2d(_)
        | Op::DepthwiseConv2dBackpropInput { .. }
        | Op::DepthwiseConv2dBackpropFilter { .. }
        | Op::Fused(
            FusedOp::MatMul { .. } | FusedOp::Conv2d { .. } | FusedOp::DepthwiseConv2d { .. },
        ) => contraction_kernels(l, &io, op),
        other => Err(no_lowering(id, other)),
    }
}

/// The operands and result of node `id`, or `None` when it emits nothing: a leaf, a value
/// never stored, or a reshape that aliases its operand.
fn node_io<'g, M: Module>(l: &Lowerer<'g, M>, id: NodeId) -> Result<Option<NodeIo<'g>>> {
    let graph = l.graph;
    let op = graph.op(id);
    if matches!(
        op,
        Op::Input { .. } | Op::Param { .. } | Op::Const(_) | Op::Extract { .. }
    ) {
        return Ok(None);
    }
    let Some(out) = crate::abi::resolve(graph, l.plan, id)? else {
        return Ok(None);
    };
    let operands = graph.operands(id);
    let mut locs = operands
        .iter()
        .map(|&o| l.loc(o, id))
        .collect::<Result<Vec<_>>>()?;
    if matches!(op, Op::Reshape(_)) && locs[0] == out {
        return Ok(None);
    }
    let out_shape = graph.shape(id);
    // A reshape copy reads its operand's contiguous elements in the result's shape.
    let shapes: Vec<&Shape> = match op {
        Op::Reshape(_) => vec![out_shape],
        _ => operands.iter().map(|&o| graph.shape(o)).collect(),
    };
    locs.push(out);
    Ok(Some(NodeIo {
        id,
        locs,
        shapes,
        out_shape,
    }))
}

/// The error for an op no lowering handles.
fn no_lowering(id: NodeId, op: &Op) -> CodegenError {
    CodegenError::Unsupported {
        node: id.to_string(),
        op: ir::infer::op_name(op),
        msg: "no lowering".into(),
    }
}

/// The elementwise program of an op computed by the elementwise emitter: one-op programs
/// for unary, binary and select ops, the identity for broadcasts, reshape copies and
/// `stop_gradient` (which the pipeline normally removes), and a
/// fused elementwise node's own program; `None` for every other op.
fn elementwise_program(op: &Op) -> Option<Program> {
    let single_op_program = |instr: Instr, arity: usize| Program {
        instrs: (0..arity).map(Instr::Input).chain([instr]).collect(),
    };
    match op {
        Op::Unary(u) => Some(single_op_program(Instr::Unary(*u, 0), 1)),
        Op::Binary(b) => Some(single_op_program(Instr::Binary(*b, 0, 1), 2)),
        Op::Select => Some(single_op_program(Instr::Select(0, 1, 2), 3)),
        Op::Broadcast(_) | Op::Reshape(_) | Op::StopGradient => Some(Program::identity()),
        Op::Fused(FusedOp::Elementwise(p)) => Some(p.clone()),
        _ => None,
    }
}

/// One elementwise kernel running `program` over the node's operands into its result.
fn elementwise_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    io: &NodeIo,
    program: &Program,
) -> Result<()> {
    let n = io.n();
    l.kernel(io.id, &io.locs, &[], |k, b, _| {
        let ins: Vec<_> = (0..n).map(|j| (b[j], io.shapes[j])).collect();
        elementwise::lower(k, program, &ins, b[n], io.out_shape);
    })
}

/// One reduction kernel (a primitive reduction, or a fused one with its prologue) over the
/// node's operands into its result.
fn reduction_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    io: &NodeIo,
    red: &reduce::Reduction,
) -> Result<()> {
    let n = io.n();
    l.kernel(io.id, &io.locs, &[], |k, b, _| {
        let ins: Vec<_> = (0..n).map(|j| (b[j], io.shapes[j])).collect();
        let out = reduce::Outputs {
            reduced: &[b[n]],
            elements: &[],
        };
        reduce::lower(k, red, &ins, &out);
    })
}

/// One data-movement kernel: transpose, slice, concat or pad.
fn movement_kernel<M: Module>(l: &mut Lowerer<'_, M>, io: &NodeIo, op: &Op) -> Result<()> {
    let (shapes, out_shape, n) = (&io.shapes, io.out_shape, io.n());
    match op {
        Op::Transpose(perm) => l.kernel(io.id, &io.locs, &[], |k, b, _| {
            movement::transpose(k, perm, b[0], shapes[0], b[1], out_shape)
        }),
        Op::Slice { starts, .. } => l.kernel(io.id, &io.locs, &[], |k, b, _| {
            movement::slice(k, starts, b[0], shapes[0], b[1], out_shape)
        }),
        Op::Concat { axis } => l.kernel(io.id, &io.locs, &[], |k, b, _| {
            let ins: Vec<_> = (0..n).map(|j| (b[j], shapes[j])).collect();
            movement::concat(k, *axis, &ins, b[n], out_shape);
        }),
        Op::Pad { before, value, .. } => l.kernel(io.id, &io.locs, &[], |k, b, _| {
            movement::pad(k, before, *value, b[0], shapes[0], b[1], out_shape)
        }),
        other => Err(no_lowering(io.id, other)),
    }
}

/// One indexing kernel: `gather` (operands table, ids) or `scatter_add` (ids, updates).
fn indexing_kernel<M: Module>(l: &mut Lowerer<'_, M>, io: &NodeIo, op: &Op) -> Result<()> {
    let table = match op {
        Op::Gather => io.shapes[0],
        _ => io.out_shape,
    };
    let ids = match op {
        Op::Gather => io.shapes[1],
        _ => io.shapes[0],
    };
    let sizes = (
        table.dims()[0],
        table.dims()[1..].iter().product(),
        ids.numel(),
    );
    let gather = matches!(op, Op::Gather);
    l.kernel(io.id, &io.locs, &[], |k, b, _| {
        if gather {
            indexing::gather(k, b[0], b[1], b[2], sizes);
        } else {
            indexing::scatter_add(k, b[0], b[1], b[2], sizes);
        }
    })
}

/// The kernels of a pooling node: the forward window or its gradient, and a fused pool's
/// epilogue (a second kernel, in place over the result).
fn pool_kernels<M: Module>(l: &mut Lowerer<'_, M>, io: &NodeIo, op: &Op) -> Result<()> {
    let shapes = &io.shapes;
    match op {
        Op::Pool2d(attrs) => l.kernel(io.id, &io.locs, &[], |k, b, _| {
            pool::forward(k, attrs, b[0], shapes[0], b[1])
        }),
        Op::Pool2dGrad(attrs) => l.kernel(io.id, &io.locs, &[], |k, b, _| {
            pool::backward(k, attrs, b[0], shapes[0], b[1], b[2])
        }),
        Op::Fused(FusedOp::Pool2d { attrs, epilogue }) => {
            let pool_locs = [io.locs[0], io.out()];
            l.kernel(io.id, &pool_locs, &[], |k, b, _| {
                pool::forward(k, attrs, b[0], shapes[0], b[1])
            })?;
            epilogue_kernel(l, io, epilogue, 1)
        }
        other => Err(no_lowering(io.id, other)),
    }
}

/// The kernels of a contraction node: the contraction (with a rank-2 fused matmul's
/// epilogue inside it), then the epilogue of any other fused contraction as a second
/// kernel over the result.
fn contraction_kernels<M: Module>(l: &mut Lowerer<'_, M>, io: &NodeIo, op: &Op) -> Result<()> {
    match op {
        Op::Fused(FusedOp::MatMul { .. }) if contraction::epilogue_in_kernel(io.out_shape) => {
            contraction::lower(l, io.id, &io.locs, &io.shapes)
        }
        Op::Fused(
            FusedOp::MatMul { epilogue, .. }
            | FusedOp::Conv2d { epilogue, .. }
            | FusedOp::DepthwiseConv2d { epilogue, .. },
        ) => {
            let locs = [io.locs[0], io.locs[1], io.out()];
            contraction::lower(l, io.id, &locs, &io.shapes[..2])?;
            epilogue_kernel(l, io, epilogue, 2)
        }
        _ => contraction::lower(l, io.id, &io.locs, &io.shapes),
    }
}

/// Run `epilogue` in place over the node's result: program input 0 is the result, input
/// `i >= 1` is operand `first_extra + i - 1`.
fn epilogue_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    io: &NodeIo,
    epilogue: &Program,
    first_extra: usize,
) -> Result<()> {
    if epilogue.is_identity() {
        return Ok(());
    }
    let (locs, out_shape, out) = (&io.locs, io.out_shape, io.out());
    let mut ep_locs = vec![out];
    ep_locs.extend_from_slice(&locs[first_extra..locs.len() - 1]);
    ep_locs.push(out);
    let extra_shapes = &io.shapes[first_extra..];
    l.kernel(io.id, &ep_locs, &[], |k, b, _| {
        let mut ins = vec![(b[0], out_shape)];
        ins.extend(extra_shapes.iter().enumerate().map(|(j, &s)| (b[j + 1], s)));
        let result = b[b.len() - 1];
        elementwise::lower(k, epilogue, &ins, result, out_shape);
    })
}
