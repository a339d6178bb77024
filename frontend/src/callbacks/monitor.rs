//! [`Mode`] and the monitored-quantity logic shared by the callbacks that watch one logged
//! value for improvement (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint).

use crate::callbacks::Logs;
use crate::error::{Error, Result};

/// Whether the monitored quantity should fall or rise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `Max` for names containing `acc` or `auc` (accuracy-like), `Min` otherwise.
    #[default]
    Auto,
    /// Lower is better (losses).
    Min,
    /// Higher is better (accuracies).
    Max,
}

/// The public `monitor`, `mode` and `min_delta` setters of a callback whose [`Monitor`] is
/// its `monitor` field: `monitor_setters!(monitor, mode, min_delta)` inside its `impl` block
/// generates the named ones.
macro_rules! monitor_setters {
    ($($setter:ident),+) => {
        $($crate::callbacks::monitor::monitor_setters!(@ $setter);)+
    };
    (@monitor) => {
        $crate::builder::builder_setters! {
            /// The logged quantity to watch.
            monitor(monitor.key: &str) => String::from;
        }
    };
    (@mode) => {
        $crate::builder::builder_setters! {
            /// Whether the quantity should fall or rise.
            mode(monitor.mode: $crate::callbacks::monitor::Mode);
        }
    };
    (@min_delta) => {
        $crate::builder::builder_setters! {
            /// The smallest change that counts as an improvement.
            min_delta(monitor.min_delta: f32);
        }
    };
}

pub(crate) use monitor_setters;

/// One logged quantity and what counts as an improvement of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Monitor {
    /// The log key (`val_loss`, `accuracy`, ...).
    pub key: String,
    /// Whether it should fall or rise.
    pub mode: Mode,
    /// An improvement must beat the best by more than this (its sign is ignored, as in
    /// Keras).
    pub min_delta: f32,
}

impl Monitor {
    /// Watch `key` in `mode` with margin `min_delta`.
    pub fn new(key: &str, mode: Mode, min_delta: f32) -> Self {
        Monitor {
            key: key.to_string(),
            mode,
            min_delta,
        }
    }

    fn higher_is_better(&self) -> bool {
        match self.mode {
            Mode::Max => true,
            Mode::Min => false,
            Mode::Auto => self.key.contains("acc") || self.key.contains("auc"),
        }
    }

    /// The starting "best": worse than any value.
    pub fn worst(&self) -> f32 {
        if self.higher_is_better() {
            f32::NEG_INFINITY
        } else {
            f32::INFINITY
        }
    }

    /// Whether `current` improves on `best` by more than `min_delta`.
    pub fn improves(&self, current: f32, best: f32) -> bool {
        let margin = self.min_delta.abs();
        if self.higher_is_better() {
            current - margin > best
        } else {
            current + margin < best
        }
    }

    /// The monitored value in `logs`; `callback` names the caller in the error when the
    /// key is not logged (e.g. `val_loss` without validation data).
    pub fn value(&self, logs: &Logs, callback: &str) -> Result<f32> {
        logs.get(&self.key).ok_or_else(|| Error::InvalidArgument {
            name: "monitor",
            msg: format!(
                "{callback} monitors `{}`, which is not logged (logged: {})",
                self.key,
                logs.keys().collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_mode_follows_the_name_and_min_delta_is_a_margin() {
        let loss = Monitor::new("val_loss", Mode::Auto, 0.1);
        assert!(loss.improves(0.5, 0.7) && !loss.improves(0.65, 0.7));
        assert_eq!(loss.worst(), f32::INFINITY);
        let accuracy = Monitor::new("val_accuracy", Mode::Auto, -0.1);
        assert!(accuracy.improves(0.9, 0.7) && !accuracy.improves(0.75, 0.7));
        assert_eq!(accuracy.worst(), f32::NEG_INFINITY);
        assert!(Monitor::new("loss", Mode::Max, 0.0).improves(2.0, 1.0));
        assert!(!Monitor::new("loss", Mode::Min, 0.0).improves(1.0, 1.0));
    }

    #[test]
    fn a_missing_key_is_an_error_listing_what_is_logged() {
        let logs = Logs::from(vec![("loss".to_string(), 1.0)]);
        let err = Monitor::new("val_loss", Mode::Auto, 0.0)
            .value(&logs, "EarlyStopping")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`val_loss`") && err.contains("logged: loss"),
            "{err}"
        );
    }
}
