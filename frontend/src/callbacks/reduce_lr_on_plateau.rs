//! [`ReduceLROnPlateau`]: multiply the optimizer's learning rate by a factor when a
//! monitored quantity has stopped improving (Keras semantics, including cooldown and a
//! floor). The rate is the `optimizer/learning_rate` param, changed between epochs
//! without recompiling. An optimizer whose rate is a schedule has no such param: as in
//! Keras, reducing it is an error that ends `fit` (see `Model::set_learning_rate`).

use crate::builder::builder_setters;
use crate::callbacks::monitor::{Mode, Monitor, monitor_setters};
use crate::callbacks::{Callback, Logs, Training};
use crate::error::{Error, Result};

/// Reduces the learning rate to `max(lr * factor, min_lr)` once `monitor` has not improved
/// by more than `min_delta` for `patience` epochs, then waits `cooldown` epochs before
/// counting again.
#[derive(Debug, Clone)]
pub struct ReduceLROnPlateau {
    monitor: Monitor,
    factor: f32,
    patience: usize,
    cooldown: usize,
    min_lr: f32,
    verbose: bool,
    wait: usize,
    cooldown_left: usize,
    best: f32,
    reductions: Vec<(usize, f32)>,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        Self::new()
    }
}

impl ReduceLROnPlateau {
    /// Keras' defaults: monitor `val_loss`, `factor` 0.1, `patience` 10, mode auto,
    /// `min_delta` 1e-4, `cooldown` 0, `min_lr` 0.
    pub fn new() -> Self {
        ReduceLROnPlateau {
            monitor: Monitor::new("val_loss", Mode::Auto, 1e-4),
            factor: 0.1,
            patience: 10,
            cooldown: 0,
            min_lr: 0.0,
            verbose: false,
            wait: 0,
            cooldown_left: 0,
            best: f32::INFINITY,
            reductions: Vec::new(),
        }
    }

    monitor_setters!(monitor, mode, min_delta);

    builder_setters! {
        /// The factor the learning rate is multiplied by; must be in `[0, 1)` (checked when
        /// training begins).
        factor(factor: f32);
        /// Epochs without improvement before reducing.
        patience(patience: usize);
        /// Epochs to wait after a reduction before counting non-improving epochs again.
        cooldown(cooldown: usize);
        /// The learning rate is never reduced below this.
        min_lr(min_lr: f32);
        /// Whether to print each reduction.
        verbose(verbose: bool);
    }

    /// Every reduction of the last `fit`: `(epoch, new learning rate)`, epochs 0-based.
    pub fn reductions(&self) -> &[(usize, f32)] {
        &self.reductions
    }
}

impl Callback for ReduceLROnPlateau {
    fn on_train_begin(&mut self, _training: &mut Training<'_>) -> Result<()> {
        if !(0.0..1.0).contains(&self.factor) {
            return Err(Error::InvalidArgument {
                name: "factor",
                msg: format!(
                    "ReduceLROnPlateau's factor must be in [0, 1), got {}",
                    self.factor
                ),
            });
        }
        if !self.min_lr.is_finite() || self.min_lr < 0.0 {
            return Err(Error::InvalidArgument {
                name: "min_lr",
                msg: format!("must be finite and >= 0, got {}", self.min_lr),
            });
        }
        self.wait = 0;
        self.cooldown_left = 0;
        self.best = self.monitor.worst();
        self.reductions.clear();
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        let current = self.monitor.value(logs, "ReduceLROnPlateau")?;
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if self.monitor.improves(current, self.best) {
            self.best = current;
            self.wait = 0;
            return Ok(());
        }
        if self.cooldown_left > 0 {
            return Ok(());
        }
        self.wait += 1;
        if self.wait < self.patience {
            return Ok(());
        }
        let old = training.model_ref().learning_rate()?;
        if old > self.min_lr {
            let new = (old * self.factor).max(self.min_lr);
            training.model().set_learning_rate(new)?;
            self.reductions.push((epoch, new));
            if self.verbose {
                training.print(&format!(
                    "Epoch {}: ReduceLROnPlateau reducing learning rate to {new}.",
                    epoch + 1
                ));
            }
            self.cooldown_left = self.cooldown;
            self.wait = 0;
        }
        Ok(())
    }
}
