//! [`LearningRateScheduler`]: set the learning rate before each epoch from a schedule.

use std::fmt;

use crate::callbacks::{Callback, Training};
use crate::error::Result;

/// A schedule: `(epoch, current learning rate) -> learning rate for this epoch`.
type Schedule<'a> = Box<dyn FnMut(usize, f32) -> f32 + 'a>;

/// Keras' `LearningRateScheduler(schedule, verbose)`: before each epoch (0-based) it calls
/// `schedule(epoch, current_learning_rate)` and makes the result the optimizer's learning
/// rate for that epoch. A result that is not finite or is negative ends `fit` with an error
/// naming `learning_rate`.
///
/// ```
/// use kiln::callbacks::LearningRateScheduler;
/// // Keep 1e-3 for the first epoch, then halve the rate every epoch.
/// let halve = LearningRateScheduler::new(|epoch, lr| if epoch == 0 { lr } else { lr * 0.5 });
/// # let _ = halve;
/// ```
pub struct LearningRateScheduler<'a> {
    schedule: Schedule<'a>,
    verbose: bool,
}

impl<'a> LearningRateScheduler<'a> {
    /// A scheduler applying `schedule(epoch, current_learning_rate)` before each epoch.
    pub fn new(schedule: impl FnMut(usize, f32) -> f32 + 'a) -> Self {
        LearningRateScheduler {
            schedule: Box::new(schedule),
            verbose: false,
        }
    }

    /// Print the learning rate chosen for each epoch (Keras' `verbose=1`).
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
}

impl fmt::Debug for LearningRateScheduler<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LearningRateScheduler")
            .field("verbose", &self.verbose)
            .finish_non_exhaustive()
    }
}

impl Callback for LearningRateScheduler<'_> {
    fn on_epoch_begin(&mut self, epoch: usize, training: &mut Training<'_>) -> Result<()> {
        let current = training.model_ref().learning_rate()?;
        let next = (self.schedule)(epoch, current);
        training.model().set_learning_rate(next)?;
        if self.verbose {
            training.print(&format!(
                "Epoch {}: LearningRateScheduler setting learning rate to {next}.",
                epoch + 1
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::LearningRateScheduler;
    use crate::losses::MeanSquaredError;
    use crate::metrics::Accuracy;
    use crate::optimizers::SGD;
    use crate::prelude::*;

    /// `x → Dense(1)` compiled with SGD at `learning_rate`, and 8 examples of `y = 2x`.
    fn line_fit(learning_rate: f32) -> (Sequential, Dataset) {
        let mut model = Sequential::of([Input::new([1]).into(), Dense::new(1).into()]);
        model
            .compile(
                SGD::default().learning_rate(learning_rate),
                MeanSquaredError,
                [] as [Accuracy; 0],
            )
            .unwrap();
        let x: Vec<f32> = (0..8).map(|i| i as f32 / 8.0).collect();
        let y: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
        (model, Dataset::new(x, &[8, 1], y, &[8, 1]).unwrap())
    }

    #[test]
    fn the_schedule_sees_each_epoch_and_the_current_rate_and_sets_the_next() {
        let (mut model, data) = line_fit(0.1);
        let mut seen = Vec::new();
        let scheduler = LearningRateScheduler::new(|epoch, lr| {
            seen.push((epoch, lr));
            if epoch == 0 { lr } else { lr * 0.5 }
        });
        model
            .fit_with(&data, FitOptions::new(3, 4).verbose(0).callback(scheduler))
            .unwrap();
        assert_eq!(seen, [(0, 0.1), (1, 0.1), (2, 0.05)]);
        assert_eq!(model.learning_rate().unwrap(), 0.025);
    }

    #[test]
    fn a_zero_rate_from_the_schedule_freezes_the_weights() {
        let (mut model, data) = line_fit(0.1);
        let before = model.layer_weights().unwrap();
        let freeze = LearningRateScheduler::new(|_, _| 0.0);
        model
            .fit_with(&data, FitOptions::new(2, 4).verbose(0).callback(freeze))
            .unwrap();
        assert_eq!(model.layer_weights().unwrap(), before);
    }

    #[test]
    fn a_negative_rate_from_the_schedule_is_an_error_naming_learning_rate() {
        let (mut model, data) = line_fit(0.1);
        let negative = LearningRateScheduler::new(|_, _| -1.0);
        let err = model
            .fit_with(&data, FitOptions::new(1, 4).verbose(0).callback(negative))
            .unwrap_err();
        assert!(err.to_string().contains("learning_rate"), "{err}");
    }
}
