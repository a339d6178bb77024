//! [`op_name`]: the text-form name of every op, used in errors and by the printer.

use crate::op::Op;

/// The text-form name of an op (used in errors and by the printer).
pub fn op_name(op: &Op) -> String {
    match op {
        Op::Input { .. } => "input".into(),
        Op::Param { .. } => "param".into(),
        Op::Const(_) => "const".into(),
        Op::Unary(u) => u.name().into(),
        Op::Binary(b) => b.name().into(),
        Op::Select => "select".into(),
        Op::Reduce { op, .. } => format!("reduce.{}", op.name()),
        Op::MatMul { .. } => "matmul".into(),
        Op::Conv2d(_) => "conv2d".into(),
        Op::Conv2dBackpropInput { .. } => "conv2d_backprop_input".into(),
        Op::Conv2dBackpropFilter { .. } => "conv2d_backprop_filter".into(),
        Op::DepthwiseConv2d(_) => "depthwise_conv2d".into(),
        Op::DepthwiseConv2dBackpropInput { .. } => "depthwise_conv2d_backprop_input".into(),
        Op::DepthwiseConv2dBackpropFilter { .. } => "depthwise_conv2d_backprop_filter".into(),
        Op::Pool2d(_) => "pool2d".into(),
        Op::Pool2dGrad(_) => "pool2d_grad".into(),
        Op::Reshape(_) => "reshape".into(),
        Op::Transpose(_) => "transpose".into(),
        Op::Broadcast(_) => "broadcast".into(),
        Op::StopGradient => "stop_gradient".into(),
        Op::Slice { .. } => "slice".into(),
        Op::Concat { .. } => "concat".into(),
        Op::Pad { .. } => "pad".into(),
        Op::Gather => "gather".into(),
        Op::ScatterAdd { .. } => "scatter_add".into(),
        Op::RandomUniform(_) => "random_uniform".into(),
        Op::Fused(f) => f.name().into(),
        Op::Extract { .. } => "extract".into(),
    }
}
