//! [`PredictInput`]: what [`Model::predict`](crate::Model::predict) takes and what it gives
//! back for it — a [`Tensor`] gives a [`Tensor`], an ndarray array (any rank, any memory
//! order, owned or a view) gives an [`ndarray::ArrayD`] (with the `ndarray` feature).
//!
//! Arrays are copied once into a row-major tensor; the outputs are moved into the array
//! without a copy. This module does not run the model (that is `predict`).

use std::borrow::Cow;

use ir::Tensor;

use crate::error::Result;

/// Features [`Model::predict`](crate::Model::predict) accepts, and the type of its result.
pub trait PredictInput {
    /// What `predict` returns for this input: the same kind of value.
    type Output;

    /// The features as a tensor `[n, ...]` (borrowed when it already is one).
    fn to_tensor(&self) -> Result<Cow<'_, Tensor>>;

    /// The model's output tensor as [`PredictInput::Output`].
    fn from_tensor(output: Tensor) -> Result<Self::Output>;
}

impl PredictInput for Tensor {
    type Output = Tensor;

    fn to_tensor(&self) -> Result<Cow<'_, Tensor>> {
        Ok(Cow::Borrowed(self))
    }

    fn from_tensor(output: Tensor) -> Result<Tensor> {
        Ok(output)
    }
}

#[cfg(feature = "ndarray")]
impl<S, D> PredictInput for ndarray::ArrayBase<S, D>
where
    S: ndarray::Data<Elem = f32>,
    D: ndarray::Dimension,
{
    type Output = ndarray::ArrayD<f32>;

    fn to_tensor(&self) -> Result<Cow<'_, Tensor>> {
        // `iter` walks in logical (row-major) order whatever the memory layout.
        Ok(Cow::Owned(Tensor {
            shape: ir::Shape::new(self.shape().to_vec()),
            data: self.iter().copied().collect(),
        }))
    }

    fn from_tensor(output: Tensor) -> Result<ndarray::ArrayD<f32>> {
        ndarray::ArrayD::from_shape_vec(output.shape.dims(), output.data)
            .map_err(|e| crate::error::Error::DatasetShape(format!("predictions as an array: {e}")))
    }
}
