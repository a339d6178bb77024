//! [`TerminateOnNaN`]: stop training as soon as the loss is NaN or infinite.

use crate::callbacks::{Callback, Logs, Training};
use crate::error::Result;
use crate::model::LOSS_OUTPUT;

/// Stops training after the first batch whose running loss is NaN or infinite (Keras'
/// `TerminateOnNaN`), printing which batch it was. The epoch still ends (its values are
/// recorded) and `fit` returns normally.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminateOnNaN;

impl Callback for TerminateOnNaN {
    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        if logs.get(LOSS_OUTPUT).is_some_and(|loss| !loss.is_finite()) {
            training.print(&format!(
                "Batch {batch}: Invalid loss, terminating training"
            ));
            training.stop_training();
        }
        Ok(())
    }
}
