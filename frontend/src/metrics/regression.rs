//! Regression metrics, each the batch mean of a per-example error averaged over the
//! examples of an epoch: Keras' `mae`, `mse`, `msle` and `mape` (the same formulas as the
//! losses of those names).

use ir::{Graph, NodeId};

use super::Metric;
use crate::error::Error;
use crate::losses::{self, LastAxis, Loss, batch_mean};

/// Keras `"mae"`: mean absolute error.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanAbsoluteError;

/// Keras `"mse"`: mean squared error.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanSquaredError;

/// Keras `"msle"`: mean squared logarithmic error.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanSquaredLogarithmicError;

/// Keras `"mape"`: mean absolute percentage error.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanAbsolutePercentageError;

impl Metric for MeanAbsoluteError {
    fn name(&self) -> &str {
        "mae"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        losses::MeanAbsoluteError.build(g, predictions, labels)
    }
}

impl Metric for MeanSquaredError {
    fn name(&self) -> &str {
        "mse"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        losses::MeanSquaredError.build(g, predictions, labels)
    }
}

impl Metric for MeanSquaredLogarithmicError {
    fn name(&self) -> &str {
        "msle"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        let per_element = losses::squared_log_error(g, self.name(), predictions, labels)?;
        batch_mean(g, per_element, LastAxis::Mean)
    }
}

impl Metric for MeanAbsolutePercentageError {
    fn name(&self) -> &str {
        "mape"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        let per_element = losses::absolute_percentage_error(g, self.name(), predictions, labels)?;
        batch_mean(g, per_element, LastAxis::Mean)
    }
}
