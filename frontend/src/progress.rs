//! What `fit` reports: the named values of a batch or an epoch ([`Logs`]) and what it prints,
//! as Keras' `verbose` modes: [`Verbosity::Silent`] (0),
//! [`Verbosity::ProgressBar`] (1: a per-batch bar with batches done, loss and metrics,
//! replaced by the epoch line when the epoch ends) and [`Verbosity::EpochLine`] (2: one
//! line per epoch, `Epoch 1/10 - 3.2s - loss: 0.2345 - accuracy: 0.9312 - val_loss: ...`).
//!
//! The bar is drawn on standard output and only when it is a terminal; otherwise mode 1
//! prints the epoch lines alone, like mode 2.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// How much `fit` prints. Converts from Keras' integers (`0`, `1`, `2`; larger means
/// `2`) and from a `bool` (`true` is `1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Nothing.
    Silent,
    /// A progress bar per epoch, then the epoch line (Keras' default).
    #[default]
    ProgressBar,
    /// One line per epoch.
    EpochLine,
}

impl From<u8> for Verbosity {
    fn from(level: u8) -> Self {
        match level {
            0 => Verbosity::Silent,
            1 => Verbosity::ProgressBar,
            _ => Verbosity::EpochLine,
        }
    }
}

impl From<bool> for Verbosity {
    fn from(verbose: bool) -> Self {
        if verbose {
            Verbosity::ProgressBar
        } else {
            Verbosity::Silent
        }
    }
}

/// The printer of one `fit` call.
#[derive(Debug)]
pub(crate) struct Progress {
    verbosity: Verbosity,
    epochs: usize,
    steps: usize,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A printer for `epochs` epochs of `steps` batches each.
    pub fn new(verbosity: Verbosity, epochs: usize, steps: usize) -> Self {
        Progress {
            verbosity,
            epochs,
            steps,
            bar: None,
        }
    }

    /// Start epoch `epoch` (0-based): a fresh bar in mode 1 on a terminal.
    pub fn epoch_begin(&mut self, epoch: usize) {
        if self.verbosity != Verbosity::ProgressBar {
            return;
        }
        let bar =
            ProgressBar::with_draw_target(Some(self.steps as u64), ProgressDrawTarget::stdout());
        if bar.is_hidden() {
            return;
        }
        let style = ProgressStyle::with_template("{prefix} {pos}/{len} [{bar:30}] {elapsed}{msg}")
            .expect("the template is valid")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("Epoch {}/{}", epoch + 1, self.epochs));
        self.bar = Some(bar);
    }

    /// Batch `batch` (0-based) of the epoch is done; `logs` hold the epoch's running means.
    pub fn batch_end(&mut self, batch: usize, logs: &Logs) {
        if let Some(bar) = &self.bar {
            bar.set_message(values_text(logs));
            bar.set_position(batch as u64 + 1);
        }
    }

    /// Epoch `epoch` ended after `seconds` with `logs`: clear the bar, print the line.
    pub fn epoch_end(&mut self, epoch: usize, seconds: f64, logs: &Logs) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.verbosity != Verbosity::Silent {
            println!("{}", epoch_line(epoch, self.epochs, seconds, logs));
        }
    }

    /// Print a callback's message above the bar (or as a plain line).
    pub fn message(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

/// ` - loss: 0.2345 - accuracy: 0.9312`.
fn values_text(logs: &Logs) -> String {
    logs.iter()
        .map(|(key, value)| format!(" - {key}: {value:.4}"))
        .collect()
}

/// Keras' per-epoch line: `Epoch 1/10 - 3.2s - loss: 0.2345 - accuracy: 0.9312`.
pub(crate) fn epoch_line(epoch: usize, epochs: usize, seconds: f64, logs: &Logs) -> String {
    format!(
        "Epoch {}/{epochs} - {seconds:.1}s{}",
        epoch + 1,
        values_text(logs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_line_reads_like_keras() {
        let logs = Logs::from(vec![
            ("loss".to_string(), 0.23454),
            ("accuracy".to_string(), 0.93125),
            ("val_loss".to_string(), 0.3),
        ]);
        assert_eq!(
            epoch_line(0, 10, 3.21, &logs),
            "Epoch 1/10 - 3.2s - loss: 0.2345 - accuracy: 0.9312 - val_loss: 0.3000"
        );
    }

    #[test]
    fn verbosity_follows_keras_integers() {
        assert_eq!(Verbosity::from(0), Verbosity::Silent);
        assert_eq!(Verbosity::from(1), Verbosity::ProgressBar);
        assert_eq!(Verbosity::from(2), Verbosity::EpochLine);
        assert_eq!(Verbosity::from(false), Verbosity::Silent);
        assert_eq!(Verbosity::default(), Verbosity::ProgressBar);
    }
}
