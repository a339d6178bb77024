//! [`ModelCheckpoint`]: save the model at the end of every epoch, or only when a monitored
//! quantity improved, to a path that may hold the epoch number.

use std::path::PathBuf;

use crate::builder::builder_setters;
use crate::callbacks::monitor::{Mode, Monitor, monitor_setters};
use crate::callbacks::{Callback, Logs, Training};
use crate::error::Result;

/// Saves the model with [`crate::Sequential::save`] after each epoch to `filepath`, where
/// `{epoch}` becomes the 1-based epoch number (as in Keras). With `save_best_only`, saves
/// only when `monitor` improved on the best value so far.
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    filepath: String,
    monitor: Monitor,
    save_best_only: bool,
    verbose: bool,
    best: f32,
    saved: Vec<PathBuf>,
}

impl ModelCheckpoint {
    /// Save every epoch to `filepath` (`{epoch}` is replaced); Keras' defaults otherwise:
    /// monitor `val_loss`, mode auto, not best-only.
    pub fn new(filepath: impl Into<String>) -> Self {
        ModelCheckpoint {
            filepath: filepath.into(),
            monitor: Monitor::new("val_loss", Mode::Auto, 0.0),
            save_best_only: false,
            verbose: false,
            best: f32::INFINITY,
            saved: Vec::new(),
        }
    }

    monitor_setters!(monitor, mode);

    builder_setters! {
        /// Save only epochs that improve the monitored quantity.
        save_best_only(save_best_only: bool);
        /// Whether to print each save.
        verbose(verbose: bool);
    }

    /// The files written during the last `fit`, in order.
    pub fn saved(&self) -> &[PathBuf] {
        &self.saved
    }

    /// The path for epoch `epoch` (0-based).
    pub fn path_for(&self, epoch: usize) -> PathBuf {
        PathBuf::from(self.filepath.replace("{epoch}", &(epoch + 1).to_string()))
    }
}

impl Callback for ModelCheckpoint {
    fn rank_zero_only(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, _training: &mut Training<'_>) -> Result<()> {
        self.best = self.monitor.worst();
        self.saved.clear();
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        if self.save_best_only {
            let current = self.monitor.value(logs, "ModelCheckpoint")?;
            if !self.monitor.improves(current, self.best) {
                return Ok(());
            }
            self.best = current;
        }
        let path = self.path_for(epoch);
        training.model().save(&path)?;
        if self.verbose {
            training.print(&format!(
                "Epoch {}: saving model to {}",
                epoch + 1,
                path.display()
            ));
        }
        self.saved.push(path);
        Ok(())
    }
}
