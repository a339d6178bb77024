//! Shapes of the contractions: matmul, dense and depthwise convolutions, and the
//! convolutions' gradients with respect to input and filter.

use super::name::op_name;
use super::operands::{expect_forward_output, expect_operands};
use crate::op::{Conv2dAttrs, Op};
use crate::shape::Shape;

/// Contractions (matmul, the convolutions and their backprops), all with two operands.
pub(super) fn contraction_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
    expect_operands(shapes, 2)?;
    let (a, b) = (shapes[0], shapes[1]);
    match op {
        Op::MatMul {
            transpose_a,
            transpose_b,
        } => matmul_shape(a, b, *transpose_a, *transpose_b),
        Op::Conv2d(attrs) => conv2d_shape(a, b, attrs),
        Op::DepthwiseConv2d(attrs) => depthwise_conv2d_shape(a, b, attrs),
        Op::Conv2dBackpropInput { attrs, input_shape } => {
            backprop_input_shape(conv2d_shape, attrs, input_shape, a, b)
        }
        Op::Conv2dBackpropFilter {
            attrs,
            filter_shape,
        } => backprop_filter_shape(conv2d_shape, attrs, filter_shape, a, b),
        Op::DepthwiseConv2dBackpropInput { attrs, input_shape } => {
            backprop_input_shape(depthwise_conv2d_shape, attrs, input_shape, a, b)
        }
        Op::DepthwiseConv2dBackpropFilter {
            attrs,
            filter_shape,
        } => backprop_filter_shape(depthwise_conv2d_shape, attrs, filter_shape, a, b),
        other => unreachable!("{} is not a contraction", op_name(other)),
    }
}

/// The shape rule of a forward convolution: its result from input, filter and attributes.
type ForwardConvShape = fn(&Shape, &Shape, &Conv2dAttrs) -> Result<Shape, String>;

/// A convolution's gradient with respect to its input (operands `dy`, filter): the given
/// `input_shape`, once `dy` is checked against the forward result.
fn backprop_input_shape(
    forward: ForwardConvShape,
    attrs: &Conv2dAttrs,
    input_shape: &Shape,
    dy: &Shape,
    filter: &Shape,
) -> Result<Shape, String> {
    expect_forward_output(&forward(input_shape, filter, attrs)?, dy)?;
    Ok(input_shape.clone())
}

/// A convolution's gradient with respect to its filter (operands input, `dy`): the given
/// `filter_shape`, once `dy` is checked against the forward result.
fn backprop_filter_shape(
    forward: ForwardConvShape,
    attrs: &Conv2dAttrs,
    filter_shape: &Shape,
    input: &Shape,
    dy: &Shape,
) -> Result<Shape, String> {
    expect_forward_output(&forward(input, filter_shape, attrs)?, dy)?;
    Ok(filter_shape.clone())
}

/// Result shape of a (batched, optionally transposed) matmul.
pub fn matmul_shape(a: &Shape, b: &Shape, ta: bool, tb: bool) -> Result<Shape, String> {
    if a.rank() < 2 || b.rank() < 2 || a.rank() != b.rank() {
        return Err("operands must have equal rank >= 2".into());
    }
    let r = a.rank();
    if a.0[..r - 2] != b.0[..r - 2] {
        return Err("batch axes differ".into());
    }
    let (m, ka) = if ta {
        (a.0[r - 1], a.0[r - 2])
    } else {
        (a.0[r - 2], a.0[r - 1])
    };
    let (kb, n) = if tb {
        (b.0[r - 1], b.0[r - 2])
    } else {
        (b.0[r - 2], b.0[r - 1])
    };
    if ka != kb {
        return Err(format!("contraction sizes differ: {ka} vs {kb}"));
    }
    let mut dims = a.0[..r - 2].to_vec();
    dims.extend([m, n]);
    Ok(Shape(dims))
}

/// Result shape of a convolution.
pub fn conv2d_shape(x: &Shape, w: &Shape, attrs: &Conv2dAttrs) -> Result<Shape, String> {
    if x.rank() != 4 || w.rank() != 4 {
        return Err("input must be [n, h, w, c] and filter [kh, kw, c, o]".into());
    }
    if x.0[3] != w.0[2] {
        return Err(format!(
            "input has {} channels but the filter expects {}",
            x.0[3], w.0[2]
        ));
    }
    if attrs.dilation.contains(&0) {
        return Err("dilation must be >= 1".into());
    }
    let mut out = [0; 2];
    for (axis, out_dim) in out.iter_mut().enumerate() {
        let window = w.0[axis]
            .checked_sub(1)
            .and_then(|k| k.checked_mul(attrs.dilation[axis]))
            .map(|k| k + 1);
        *out_dim = window
            .and_then(|window| {
                attrs
                    .padding
                    .resolve(axis, x.0[1 + axis], window, attrs.strides[axis])
            })
            .ok_or_else(|| {
                format!(
                    "the {}x{} filter does not fit the {}x{} input",
                    w.0[0], w.0[1], x.0[1], x.0[2]
                )
            })?
            .out;
    }
    Ok(Shape(vec![x.0[0], out[0], out[1], w.0[3]]))
}

/// Result shape of a depthwise convolution: input `[n, h, w, c]`, filter `[kh, kw, c, m]`,
/// result `[n, oh, ow, c * m]`.
pub fn depthwise_conv2d_shape(x: &Shape, w: &Shape, attrs: &Conv2dAttrs) -> Result<Shape, String> {
    if x.rank() != 4 || w.rank() != 4 {
        return Err("input must be [n, h, w, c] and filter [kh, kw, c, multiplier]".into());
    }
    let out_channels = w.0[2]
        .checked_mul(w.0[3])
        .ok_or("the filter's channel count overflows")?;
    let mut out = conv2d_shape(x, &Shape(vec![w.0[0], w.0[1], w.0[2], out_channels]), attrs)?;
    out.0[3] = out_channels;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Padding;

    #[test]
    fn conv_same_stride_two_on_odd_input() {
        let attrs = Conv2dAttrs {
            strides: [2, 2],
            dilation: [1, 1],
            padding: Padding::Same,
        };
        let s = conv2d_shape(
            &Shape::from([1, 7, 7, 3]),
            &Shape::from([3, 3, 3, 8]),
            &attrs,
        )
        .unwrap();
        assert_eq!(s, Shape::from([1, 4, 4, 8]));
    }
}
