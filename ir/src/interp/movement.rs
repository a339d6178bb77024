//! Data movement: reshape, transpose, broadcast, slice, concat and pad. Each is a strided
//! [`View`] of the operand (read side) or of the result (write side) walked by the shared
//! index walker.

use super::index::{View, gather, scatter};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// The same elements under the shape `out`.
pub(crate) fn reshape(x: &Tensor, out: &Shape) -> Tensor {
    Tensor {
        shape: out.clone(),
        data: x.data.clone(),
    }
}

/// Result axis `i` is operand axis `perm[i]`.
pub(crate) fn transpose(x: &Tensor, perm: &[usize], out: &Shape) -> Tensor {
    let own = x.shape.strides();
    let view = View {
        offset: 0,
        strides: perm.iter().map(|&p| own[p]).collect(),
    };
    Tensor {
        shape: out.clone(),
        data: gather(&x.data, out.dims(), &view),
    }
}

/// Numpy broadcast of `x` to `out`.
pub(crate) fn broadcast(x: &Tensor, out: &Shape) -> Tensor {
    let view = View::broadcast(&x.shape, out);
    Tensor {
        shape: out.clone(),
        data: gather(&x.data, out.dims(), &view),
    }
}

/// The box of `x` starting at `starts` with the extent of `out`.
pub(crate) fn slice(x: &Tensor, starts: &[usize], out: &Shape) -> Tensor {
    let mut view = View::contiguous(&x.shape);
    view.offset = starts
        .iter()
        .zip(&view.strides)
        .map(|(s, stride)| s * stride)
        .sum();
    Tensor {
        shape: out.clone(),
        data: gather(&x.data, out.dims(), &view),
    }
}

/// `parts` joined along `axis` into `out`.
pub(crate) fn concat(parts: &[&Tensor], axis: usize, out: &Shape) -> Tensor {
    let mut data = vec![0.0; out.numel()];
    let mut view = View::contiguous(out);
    for part in parts {
        scatter(&part.data, part.shape.dims(), &mut data, &view);
        view.offset += part.shape.0[axis] * view.strides[axis];
    }
    Tensor {
        shape: out.clone(),
        data,
    }
}

/// `x` surrounded by `before` elements per axis (and the rest of `out`) filled with `value`.
pub(crate) fn pad(x: &Tensor, before: &[usize], value: f32, out: &Shape) -> Tensor {
    let mut data = vec![value; out.numel()];
    let mut view = View::contiguous(out);
    view.offset = before
        .iter()
        .zip(&view.strides)
        .map(|(b, stride)| b * stride)
        .sum();
    scatter(&x.data, x.shape.dims(), &mut data, &view);
    Tensor {
        shape: out.clone(),
        data,
    }
}
