//! Training callbacks, Keras-style: the [`Callback`] trait (hooks at the start and end of
//! training, of each epoch and after each batch), the [`Logs`] they receive, the
//! [`Training`] handle through which they reach the model (weights, learning rate) and ask
//! training to stop, and the stock callbacks, one per file.
//!
//! Pass callbacks with `FitOptions::callback(...)`; pass `&mut callback` to read its state
//! after `fit` (every `&mut C` is a callback too). Hooks run in the order the callbacks
//! were given. An error from a hook ends `fit` with that error.
//!
//! ```
//! # fn main() -> kiln::Result<()> {
//! use kiln::callbacks::{EarlyStopping, TerminateOnNaN};
//! use kiln::prelude::*;
//! let mut early = EarlyStopping::new().monitor("loss").patience(2).restore_best_weights(true);
//! let options = FitOptions::new(20, 8).verbose(0).callback(&mut early).callback(TerminateOnNaN);
//! # let _ = options;
//! # Ok(())
//! # }
//! ```

mod early_stopping;
mod learning_rate_scheduler;
mod model_checkpoint;
mod monitor;
mod reduce_lr_on_plateau;
mod terminate_on_nan;

pub use early_stopping::EarlyStopping;
pub use learning_rate_scheduler::LearningRateScheduler;
pub use model_checkpoint::ModelCheckpoint;
pub use monitor::Mode;
pub use reduce_lr_on_plateau::ReduceLROnPlateau;
pub use terminate_on_nan::TerminateOnNaN;

use crate::error::Result;
use crate::model::Sequential;
use crate::progress::Progress;

/// Named values of a batch or an epoch, in order: `loss`, each metric, then `val_loss` and
/// `val_<metric>` when validating. After a batch they are the epoch's running means.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Logs {
    values: Vec<(String, f32)>,
}

impl Logs {
    /// The value of `key`, if logged.
    pub fn get(&self, key: &str) -> Option<f32> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// `(key, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f32)> {
        self.values.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|(k, _)| k.as_str())
    }

    /// Add `key` at the end.
    pub fn push(&mut self, key: impl Into<String>, value: f32) {
        self.values.push((key.into(), value));
    }
}

impl From<Vec<(String, f32)>> for Logs {
    fn from(values: Vec<(String, f32)>) -> Self {
        Logs { values }
    }
}

/// What a callback may do during `fit`: reach the model, stop training, print.
#[derive(Debug)]
pub struct Training<'m> {
    model: &'m mut Sequential,
    progress: Progress,
    epochs: usize,
    steps: usize,
    stop: bool,
}

impl<'m> Training<'m> {
    pub(crate) fn new(
        model: &'m mut Sequential,
        progress: Progress,
        epochs: usize,
        steps: usize,
    ) -> Self {
        Training {
            model,
            progress,
            epochs,
            steps,
            stop: false,
        }
    }

    /// The model being trained.
    pub fn model(&mut self) -> &mut Sequential {
        self.model
    }

    /// The model being trained, read-only.
    pub fn model_ref(&self) -> &Sequential {
        self.model
    }

    pub(crate) fn progress(&mut self) -> &mut Progress {
        &mut self.progress
    }

    /// Ask training to stop: after the current batch when asked from `on_batch_end`, else
    /// after the current epoch (Keras' `model.stop_training = True`).
    pub fn stop_training(&mut self) {
        self.stop = true;
    }

    /// Whether a callback asked training to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop
    }

    /// The number of epochs `fit` was asked for.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// Batches per epoch.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Print a line (above the progress bar when one is drawn).
    pub fn print(&self, text: &str) {
        self.progress.message(text);
    }
}

/// A training hook, Keras' `keras.callbacks.Callback`. Every method defaults to doing
/// nothing; `epoch` and `batch` are 0-based.
pub trait Callback {
    /// Before the first epoch.
    fn on_train_begin(&mut self, training: &mut Training<'_>) -> Result<()> {
        let _ = training;
        Ok(())
    }

    /// After the last epoch (or after training was stopped).
    fn on_train_end(&mut self, training: &mut Training<'_>) -> Result<()> {
        let _ = training;
        Ok(())
    }

    /// Before each epoch.
    fn on_epoch_begin(&mut self, epoch: usize, training: &mut Training<'_>) -> Result<()> {
        let _ = (epoch, training);
        Ok(())
    }

    /// After each epoch, with its values (including validation ones).
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        let _ = (epoch, logs, training);
        Ok(())
    }

    /// After each training batch, with the epoch's running means so far.
    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        let _ = (batch, logs, training);
        Ok(())
    }
}

impl<C: Callback + ?Sized> Callback for &mut C {
    fn on_train_begin(&mut self, training: &mut Training<'_>) -> Result<()> {
        (**self).on_train_begin(training)
    }

    fn on_train_end(&mut self, training: &mut Training<'_>) -> Result<()> {
        (**self).on_train_end(training)
    }

    fn on_epoch_begin(&mut self, epoch: usize, training: &mut Training<'_>) -> Result<()> {
        (**self).on_epoch_begin(epoch, training)
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        (**self).on_epoch_end(epoch, logs, training)
    }

    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        (**self).on_batch_end(batch, logs, training)
    }
}
