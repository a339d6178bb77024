//! Regression metrics, each the batch mean of a per-example error averaged over the
//! examples of an epoch: Keras' `mae`, `mse`, `msle` and `mape` (the same formulas as the
//! losses of those names).

use super::Metric;
use crate::losses::{
    absolute_error, absolute_percentage_error, per_element_mean, squared_error, squared_log_error,
};

per_element_mean! { Metric;
    /// Keras `"mae"`: mean absolute error.
    MeanAbsoluteError = "mae", absolute_error, Mean;
    /// Keras `"mse"`: mean squared error.
    MeanSquaredError = "mse", squared_error, Mean;
    /// Keras `"msle"`: mean squared logarithmic error.
    MeanSquaredLogarithmicError = "msle", squared_log_error, Mean;
    /// Keras `"mape"`: mean absolute percentage error.
    MeanAbsolutePercentageError = "mape", absolute_percentage_error, Mean;
}
