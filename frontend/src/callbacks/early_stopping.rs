//! [`EarlyStopping`]: stop when a monitored quantity has stopped improving, optionally
//! restoring the weights of the best epoch when training ends (Keras 3 semantics).

use std::collections::BTreeMap;

use ir::Tensor;

use crate::builder::builder_setters;
use crate::callbacks::monitor::{Mode, Monitor, monitor_setters};
use crate::callbacks::{Callback, Logs, Training};
use crate::error::Result;

/// Stops training once `monitor` has not improved by more than `min_delta` for `patience`
/// epochs. With `restore_best_weights`, the layers' weights of the best epoch are put back
/// when training ends (stopped early or not).
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    baseline: Option<f32>,
    restore_best_weights: bool,
    verbose: bool,
    wait: usize,
    best: f32,
    best_epoch: Option<usize>,
    best_weights: Option<BTreeMap<String, Tensor>>,
    stopped_epoch: Option<usize>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self::new()
    }
}

impl EarlyStopping {
    /// Keras' defaults: monitor `val_loss`, `min_delta` 0, `patience` 0, mode auto, no
    /// baseline, no weight restoring.
    pub fn new() -> Self {
        EarlyStopping {
            monitor: Monitor::new("val_loss", Mode::Auto, 0.0),
            patience: 0,
            baseline: None,
            restore_best_weights: false,
            verbose: false,
            wait: 0,
            best: f32::INFINITY,
            best_epoch: None,
            best_weights: None,
            stopped_epoch: None,
        }
    }

    monitor_setters!(monitor, min_delta, mode);

    builder_setters! {
        /// Epochs without improvement before stopping.
        patience(patience: usize);
        /// A value the quantity must improve on for the patience count to restart.
        baseline(baseline: f32) => Some;
        /// Whether to put back the best epoch's layer weights when training ends.
        restore_best_weights(restore_best_weights: bool);
        /// Whether to print when stopping and restoring.
        verbose(verbose: bool);
    }

    /// The epoch (0-based) at whose end training was stopped, if it was.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The epoch (0-based) with the best monitored value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The best monitored value so far.
    pub fn best(&self) -> Option<f32> {
        self.best_epoch.map(|_| self.best)
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, _training: &mut Training<'_>) -> Result<()> {
        self.wait = 0;
        self.best = self.monitor.worst();
        self.best_epoch = None;
        self.best_weights = None;
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        let current = self.monitor.value(logs, "EarlyStopping")?;
        if self.restore_best_weights && self.best_weights.is_none() {
            // Until something improves, the first epoch's weights are the best.
            self.best_weights = Some(training.model_ref().layer_weights()?);
            self.best_epoch = Some(epoch);
        }
        self.wait += 1;
        if self.monitor.improves(current, self.best) {
            self.best = current;
            self.best_epoch = Some(epoch);
            if self.restore_best_weights {
                self.best_weights = Some(training.model_ref().layer_weights()?);
            }
            if self
                .baseline
                .is_none_or(|b| self.monitor.improves(current, b))
            {
                self.wait = 0;
            }
            return Ok(());
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = Some(epoch);
            training.stop_training();
        }
        Ok(())
    }

    fn on_train_end(&mut self, training: &mut Training<'_>) -> Result<()> {
        if let (true, Some(epoch)) = (self.verbose, self.stopped_epoch) {
            training.print(&format!("Epoch {}: early stopping", epoch + 1));
        }
        if let (true, Some(weights)) = (self.restore_best_weights, &self.best_weights) {
            if self.verbose {
                let best = self.best_epoch.expect("set with the weights") + 1;
                training.print(&format!(
                    "Restoring model weights from the end of the best epoch: {best}."
                ));
            }
            training.model().set_weights(weights)?;
        }
        Ok(())
    }
}
