//! The reference interpreter: it *defines* what every op means. Backends and passes are
//! tested against it.
//!
//! Plain loops over dense row-major f32 tensors, written to be obviously correct rather than
//! fast. Every op reads its operands through one strided index walker (`index`); the scalar
//! semantics come from [`crate::UnaryOp::eval`], [`crate::BinaryOp::eval`] and
//! [`crate::Program::eval`]; the windowed ops share one window walker (`window`), so the
//! backprops are exact adjoints of their forward ops; fused ops reuse the primitive code.

mod contraction;
mod depthwise;
mod elementwise;
mod fused;
mod index;
mod indexing;
mod movement;
mod multi;
mod pool;
mod reduce;
mod window;

use std::collections::HashMap;

use crate::error::{IrError, Result};
use crate::fused::FusedOp;
use crate::graph::{Graph, NodeId};
use crate::infer::{infer_shape, op_name};
use crate::multi::MultiKernel;
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Values of the graph's `Input` and `Param` nodes, by name.
pub type Bindings = HashMap<String, Tensor>;

/// What one execution of a graph produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The graph's named outputs, in the graph's order.
    pub outputs: Vec<(String, Tensor)>,
    /// The new value of each updated parameter, by parameter name, in the graph's order.
    pub updates: Vec<(String, Tensor)>,
}

/// The value of every node, indexed by [`NodeId::index`].
///
/// Fails with [`IrError::Interp`], naming the node and the shapes, when an `Input` or
/// `Param` has no binding or a binding of the wrong shape.
pub fn eval(graph: &Graph, bindings: &Bindings) -> Result<Vec<Tensor>> {
    let mut values: Vec<Tensor> = Vec::with_capacity(graph.len());
    // The results of each multi-result kernel, read by its `extract` nodes.
    let mut kernel_results: HashMap<NodeId, Vec<Tensor>> = HashMap::new();
    for id in graph.node_ids() {
        let node = graph.node(id);
        let value = match &node.op {
            Op::Input { name, shape } | Op::Param { name, shape } => {
                bound_value(id, &node.op, name, shape, bindings)?
            }
            Op::Fused(FusedOp::Multi(kernel)) => {
                let args: Vec<&Tensor> = graph
                    .operands(id)
                    .iter()
                    .map(|o| &values[o.index()])
                    .collect();
                let results = eval_multi(kernel, &args)
                    .map_err(|e| IrError::Interp(format!("node {id} (fused.multi): {e}")))?;
                kernel_results.insert(id, results);
                Tensor::zeros(MultiKernel::node_shape())
            }
            Op::Extract { index, .. } => {
                let kernel = graph.operands(id)[0];
                kernel_results
                    .get(&kernel)
                    .and_then(|r| r.get(*index))
                    .cloned()
                    .ok_or_else(|| {
                        IrError::Interp(format!("node {id} extracts a missing result {index}"))
                    })?
            }
            op => {
                let args: Vec<&Tensor> = graph
                    .operands(id)
                    .iter()
                    .map(|o| &values[o.index()])
                    .collect();
                eval_op(op, &args)
                    .map_err(|e| IrError::Interp(format!("node {id} ({}): {e}", op_name(op))))?
            }
        };
        if value.shape != node.shape {
            return Err(IrError::Interp(format!(
                "node {id} ({}): computed shape {} but the graph says {}",
                op_name(&node.op),
                value.shape,
                node.shape
            )));
        }
        values.push(value);
    }
    Ok(values)
}

/// The graph's named outputs and the new values of its updated parameters.
pub fn run(graph: &Graph, bindings: &Bindings) -> Result<Evaluation> {
    let values = eval(graph, bindings)?;
    let outputs = graph
        .outputs
        .iter()
        .map(|(name, id)| (name.clone(), values[id.index()].clone()))
        .collect();
    let updates = graph
        .updates
        .iter()
        .map(|&(param, value)| {
            let name = match graph.op(param) {
                Op::Param { name, .. } => name.clone(),
                other => {
                    return Err(IrError::Interp(format!(
                        "update target {param} is a {}, not a param",
                        op_name(other)
                    )));
                }
            };
            Ok((name, values[value.index()].clone()))
        })
        .collect::<Result<_>>()?;
    Ok(Evaluation { outputs, updates })
}

/// The value of one op applied to `args` (its operands in order). Leaves other than
/// `Const` have no value without bindings and are an error, as are operands whose shapes do
/// not fit the op (the error names the op and the shapes). A `fused.multi` node's own value
/// is empty (see [`eval_multi`] for its results); an `extract` has no value apart from its
/// kernel and is an error here.
pub fn eval_op(op: &Op, args: &[&Tensor]) -> Result<Tensor> {
    if let Some(bad) = args.iter().find(|t| t.data.len() != t.shape.numel()) {
        return Err(IrError::Interp(format!(
            "operand of shape {} holds {} values",
            bad.shape,
            bad.data.len()
        )));
    }
    let shapes: Vec<&Shape> = args.iter().map(|t| &t.shape).collect();
    let out = infer_shape(op, &shapes)?;
    let value = match op {
        Op::Input { name, .. } | Op::Param { name, .. } => {
            return Err(IrError::Interp(format!(
                "`{name}` is a leaf whose value comes from the bindings"
            )));
        }
        Op::Const(t) => t.clone(),
        Op::Unary(u) => elementwise::map_broadcast(&out, args, |v| u.eval(v[0])),
        Op::Binary(b) => elementwise::map_broadcast(&out, args, |v| b.eval(v[0], v[1])),
        Op::Select => {
            elementwise::map_broadcast(&out, args, |v| elementwise::select(v[0], v[1], v[2]))
        }
        Op::Reduce { op, axes, .. } => reduce::reduce(args[0], *op, axes, &out),
        Op::MatMul {
            transpose_a,
            transpose_b,
        } => contraction::matmul(args[0], args[1], *transpose_a, *transpose_b, &out),
        Op::Conv2d(attrs) => contraction::conv2d(args[0], args[1], attrs, &out),
        Op::Conv2dBackpropInput { attrs, input_shape } => {
            contraction::conv2d_backprop_input(args[0], args[1], attrs, input_shape)
        }
        Op::Conv2dBackpropFilter {
            attrs,
            filter_shape,
        } => contraction::conv2d_backprop_filter(args[0], args[1], attrs, filter_shape),
        Op::DepthwiseConv2d(attrs) => depthwise::depthwise_conv2d(args[0], args[1], attrs, &out),
        Op::DepthwiseConv2dBackpropInput { attrs, input_shape } => {
            depthwise::depthwise_conv2d_backprop_input(args[0], args[1], attrs, input_shape)
        }
        Op::DepthwiseConv2dBackpropFilter {
            attrs,
            filter_shape,
        } => depthwise::depthwise_conv2d_backprop_filter(args[0], args[1], attrs, filter_shape),
        Op::Pool2d(attrs) => pool::pool2d(args[0], attrs, &out),
        Op::Pool2dGrad(attrs) => pool::pool2d_grad(args[0], args[1], attrs),
        Op::Reshape(_) => movement::reshape(args[0], &out),
        Op::Transpose(perm) => movement::transpose(args[0], perm, &out),
        Op::Broadcast(_) => movement::broadcast(args[0], &out),
        Op::StopGradient => args[0].clone(),
        Op::Slice { starts, .. } => movement::slice(args[0], starts, &out),
        Op::Concat { axis } => movement::concat(args, *axis, &out),
        Op::Pad { before, value, .. } => movement::pad(args[0], before, *value, &out),
        Op::Gather => indexing::gather(args[0], args[1], &out),
        Op::ScatterAdd { .. } => indexing::scatter_add(args[0], args[1], &out),
        Op::RandomUniform(shape) => elementwise::random_uniform(shape, args[0]),
        Op::Fused(FusedOp::Multi(_)) => Tensor::zeros(out),
        Op::Fused(f) => fused::eval_fused(f, args, &out),
        Op::Extract { .. } => {
            return Err(IrError::Interp(
                "an extract's value is its kernel's result (see eval_multi)".into(),
            ));
        }
    };
    Ok(value)
}

/// Every result of the multi-result kernel `kernel` on its operands `args`, in result order.
/// Fails like [`eval_op`] when the operands do not fit the kernel.
pub fn eval_multi(kernel: &MultiKernel, args: &[&Tensor]) -> Result<Vec<Tensor>> {
    let op = Op::Fused(FusedOp::Multi(kernel.clone()));
    eval_op(&op, args)?;
    Ok(multi::eval_multi(kernel, args))
}

/// The bound value of leaf `id` called `name`, checked against its declared `shape`.
fn bound_value(
    id: NodeId,
    op: &Op,
    name: &str,
    shape: &Shape,
    bindings: &Bindings,
) -> Result<Tensor> {
    let kind = op_name(op);
    let value = bindings.get(name).ok_or_else(|| {
        IrError::Interp(format!(
            "node {id} ({kind} `{name}` of shape {shape}) has no binding"
        ))
    })?;
    if &value.shape != shape || value.data.len() != shape.numel() {
        return Err(IrError::Interp(format!(
            "node {id} ({kind} `{name}`) expects shape {shape} but is bound to shape {} with {} values",
            value.shape,
            value.data.len()
        )));
    }
    Ok(value.clone())
}
