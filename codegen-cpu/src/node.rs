//! Per-node dispatch: which lowering each [`Op`] (primitive or fused) goes through, and
//! with which operands. Leaves, unmaterialised nodes and aliased reshapes emit nothing.

use cranelift_module::Module;
use ir::{FusedOp, Instr, NodeId, Op, Program, Shape};

use crate::error::{CodegenError, Result};
use crate::lower::{contraction, elementwise, movement, pool, random, reduce};
use crate::lowerer::Lowerer;

/// Emit the kernels of node `id` (none for leaves and values that are never stored).
pub(crate) fn lower<M: Module>(l: &mut Lowerer<'_, M>, id: NodeId) -> Result<()> {
    let graph = l.graph;
    let op = graph.op(id);
    if matches!(op, Op::Input { .. } | Op::Param { .. } | Op::Const(_)) {
        return Ok(());
    }
    let Some(out) = crate::abi::resolve(graph, l.plan, id)? else {
        return Ok(());
    };
    let operands = graph.operands(id);
    let mut locs = operands
        .iter()
        .map(|&o| l.loc(o, id))
        .collect::<Result<Vec<_>>>()?;
    if matches!(op, Op::Reshape(_)) && locs[0] == out {
        return Ok(());
    }
    let out_shape = graph.shape(id);
    // A reshape copy reads its operand's contiguous elements in the result's shape.
    let shapes: Vec<&Shape> = match op {
        Op::Reshape(_) => vec![out_shape],
        _ => operands.iter().map(|&o| graph.shape(o)).collect(),
    };
    locs.push(out);
    let n = operands.len();
    let single_op_program = |instr: Instr, arity: usize| Program {
        instrs: (0..arity).map(Instr::Input).chain([instr]).collect(),
    };
    let program = match op {
        Op::Unary(u) => Some(single_op_program(Instr::Unary(*u, 0), 1)),
        Op::Binary(b) => Some(single_op_program(Instr::Binary(*b, 0, 1), 2)),
        Op::Select => Some(single_op_program(Instr::Select(0, 1, 2), 3)),
        Op::Broadcast(_) | Op::Reshape(_) => Some(Program::identity()),
        Op::Fused(FusedOp::Elementwise(p)) => Some(p.clone()),
        _ => None,
    };
    if let Some(p) = program {
        return l.kernel(id, &locs, &[], |k, b, _| {
            let ins: Vec<_> = (0..n).map(|j| (b[j], shapes[j])).collect();
            elementwise::lower(k, &p, &ins, b[n], out_shape);
        });
    }
    match op {
        Op::Reduce { op: r, axes, .. } => {
            let identity = Program::identity();
            let red = reduce::Reduction {
                op: *r,
                axes,
                prologue: &identity,
                input_shape: shapes[0],
            };
            l.kernel(id, &locs, &[], |k, b, _| {
                reduce::lower(k, &red, &[(b[0], shapes[0])], b[1])
            })
        }
        Op::Fused(FusedOp::Reduce {
            op: r,
            axes,
            input_shape,
            prologue,
            ..
        }) => {
            let red = reduce::Reduction {
                op: *r,
                axes,
                prologue,
                input_shape,
            };
            l.kernel(id, &locs, &[], |k, b, _| {
                let ins: Vec<_> = (0..n).map(|j| (b[j], shapes[j])).collect();
                reduce::lower(k, &red, &ins, b[n]);
            })
        }
        Op::Transpose(perm) => l.kernel(id, &locs, &[], |k, b, _| {
            movement::transpose(k, perm, b[0], shapes[0], b[1], out_shape)
        }),
        Op::Slice { starts, .. } => l.kernel(id, &locs, &[], |k, b, _| {
            movement::slice(k, starts, b[0], shapes[0], b[1], out_shape)
        }),
        Op::Concat { axis } => l.kernel(id, &locs, &[], |k, b, _| {
            let ins: Vec<_> = (0..n).map(|j| (b[j], shapes[j])).collect();
            movement::concat(k, *axis, &ins, b[n], out_shape);
        }),
        Op::Pad { before, value, .. } => l.kernel(id, &locs, &[], |k, b, _| {
            movement::pad(k, before, *value, b[0], shapes[0], b[1], out_shape)
        }),
        Op::RandomUniform(shape) => l.kernel(id, &locs, &[], |k, b, _| {
            random::lower(k, b[0], b[1], shape.numel())
        }),
        Op::Pool2d(attrs) => l.kernel(id, &locs, &[], |k, b, _| {
            pool::forward(k, attrs, b[0], shapes[0], b[1])
        }),
        Op::Pool2dGrad(attrs) => l.kernel(id, &locs, &[], |k, b, _| {
            pool::backward(k, attrs, b[0], shapes[0], b[1], b[2])
        }),
        Op::Fused(FusedOp::Pool2d { attrs, epilogue }) => {
            let pool_locs = [locs[0], out];
            l.kernel(id, &pool_locs, &[], |k, b, _| {
                pool::forward(k, attrs, b[0], shapes[0], b[1])
            })?;
            epilogue_kernel(l, id, epilogue, &locs, &shapes, 1)
        }
        Op::MatMul { .. }
        | Op::Conv2d(_)
        | Op::Conv2dBackpropInput { .. }
        | Op::Conv2dBackpropFilter { .. }
        | Op::DepthwiseConv2d(_)
        | Op::DepthwiseConv2dBackpropInput { .. }
        | Op::DepthwiseConv2dBackpropFilter { .. } => contraction::lower(l, id, &locs, &shapes),
        Op::Fused(FusedOp::MatMul { .. }) if contraction::epilogue_in_kernel(out_shape) => {
            contraction::lower(l, id, &locs, &shapes)
        }
        Op::Fused(
            FusedOp::MatMul { epilogue, .. }
            | FusedOp::Conv2d { epilogue, .. }
            | FusedOp::DepthwiseConv2d { epilogue, .. },
        ) => {
            contraction::lower(l, id, &[locs[0], locs[1], out], &shapes[..2])?;
            epilogue_kernel(l, id, epilogue, &locs, &shapes, 2)
        }
        other => Err(CodegenError::Unsupported {
            node: id.to_string(),
            op: ir::infer::op_name(other),
            msg: "no lowering".into(),
        }),
    }
}

/// Run `epilogue` in place over node `id`'s result: program input 0 is the result, input
/// `i >= 1` is operand `first_extra + i - 1`. `locs` ends with the result's location.
fn epilogue_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    epilogue: &Program,
    locs: &[crate::abi::Loc],
    shapes: &[&Shape],
    first_extra: usize,
) -> Result<()> {
    if epilogue.is_identity() {
        return Ok(());
    }
    let out_shape = l.graph.shape(id);
    let out = *locs.last().expect("locs end with the result");
    let mut ep_locs = vec![out];
    ep_locs.extend_from_slice(&locs[first_extra..locs.len() - 1]);
    ep_locs.push(out);
    let extra_shapes = &shapes[first_extra..];
    l.kernel(id, &ep_locs, &[], |k, b, _| {
        let mut ins = vec![(b[0], out_shape)];
        ins.extend(extra_shapes.iter().enumerate().map(|(j, &s)| (b[j + 1], s)));
        let result = b[b.len() - 1];
        elementwise::lower(k, epilogue, &ins, result, out_shape);
    })
}
