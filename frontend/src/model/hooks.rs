//! The hooks `fit` calls: the [`Callback`] trait (Keras' `keras.callbacks.Callback`: hooks at
//! the start and end of training, of each epoch and after each batch) and the [`Training`]
//! handle through which a hook reaches the model (weights, learning rate), prints, and asks
//! training to stop. The stock callbacks live in [`crate::callbacks`], above the model.

use crate::error::Result;
use crate::model::Model;
use crate::progress::{Logs, Progress};

/// What a callback may do during `fit`: reach the model, stop training, print.
#[derive(Debug)]
pub struct Training<'m> {
    model: &'m mut Model,
    progress: Progress,
    epochs: usize,
    steps: usize,
    stop: bool,
    rank: usize,
}

impl<'m> Training<'m> {
    pub(crate) fn new(
        model: &'m mut Model,
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
            rank: 0,
        }
    }

    pub(crate) fn set_rank(&mut self, rank: usize) {
        self.rank = rank;
    }

    /// This process's rank in distributed training (0 otherwise): a callback that writes
    /// files should write only on rank 0.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The model being trained.
    pub fn model(&mut self) -> &mut Model {
        self.model
    }

    /// The model being trained, read-only.
    pub fn model_ref(&self) -> &Model {
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
    /// Whether only rank 0 of a distributed `fit` runs this callback (those that write
    /// files: checkpoints, CSV logs, plots). The others run on every rank, seeing the same
    /// logs (averaged across ranks), so their decisions (stop, learning rate) agree.
    fn rank_zero_only(&self) -> bool {
        false
    }

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
