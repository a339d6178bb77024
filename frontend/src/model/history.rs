//! [`History`]: what `fit` returns — per-epoch loss, metrics and validation values.

use std::collections::BTreeMap;

use crate::progress::Logs;

/// Per-epoch training record, like Keras' `History.history`: a series per key (`loss`,
/// each metric name, and `val_`-prefixed ones when validating), one value per epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Series by key, in epoch order.
    pub history: BTreeMap<String, Vec<f32>>,
    /// Wall-clock seconds of each epoch (training and validation).
    pub epoch_seconds: Vec<f64>,
    /// The number of each recorded epoch (Keras' `History.epoch`): `initial_epoch..`.
    pub epoch: Vec<usize>,
}

impl History {
    /// The series for `key` (`"loss"`, `"accuracy"`, `"val_loss"`, ...).
    pub fn get(&self, key: &str) -> Option<&[f32]> {
        self.history.get(key).map(Vec::as_slice)
    }

    /// Number of epochs recorded.
    pub fn epochs(&self) -> usize {
        self.epoch_seconds.len()
    }

    /// Append epoch `epoch`'s values in the given order.
    pub(crate) fn record(&mut self, epoch: usize, logs: &Logs, seconds: f64) {
        self.epoch.push(epoch);
        for (key, value) in logs.iter() {
            self.history.entry(key.to_string()).or_default().push(value);
        }
        self.epoch_seconds.push(seconds);
    }
}
