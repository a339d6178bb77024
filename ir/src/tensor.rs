//! A dense row-major f32 tensor value: constants in graphs, interpreter values, test data.

use crate::shape::Shape;

/// A dense row-major f32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The shape; `data.len() == shape.numel()`.
    pub shape: Shape,
    /// Elements in row-major order.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor from a shape and matching data; `None` when the lengths disagree.
    pub fn new(shape: impl Into<Shape>, data: Vec<f32>) -> Option<Self> {
        let shape = shape.into();
        (shape.numel() == data.len()).then_some(Tensor { shape, data })
    }

    /// A rank-0 tensor.
    pub fn scalar(value: f32) -> Self {
        Tensor {
            shape: Shape::scalar(),
            data: vec![value],
        }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let data = vec![0.0; shape.numel()];
        Tensor { shape, data }
    }

    /// A tensor filled with `value`.
    pub fn full(shape: impl Into<Shape>, value: f32) -> Self {
        let shape = shape.into();
        let data = vec![value; shape.numel()];
        Tensor { shape, data }
    }
}
