//! [`Sequential::fit`]: mini-batch training epochs with Keras' options (shuffle each epoch,
//! validation split or data, per-epoch progress line) returning a [`History`].
//!
//! Batches are `batch_size` examples; a smaller last batch is included (as in Keras) and
//! runs on an executable compiled for its size. Epoch values are means over the examples
//! (each batch weighted by its size). Shuffling is a seeded permutation per epoch, so the
//! same model seed gives the same training curve.

use std::time::Instant;

use crate::datasets::Dataset;
use crate::error::{Error, Result};
use crate::model::Sequential;
use crate::model::compile::{LOSS_OUTPUT, Role};
use crate::model::history::{History, epoch_line};
use crate::model::sequential::{FEATURES_INPUT, LABELS_INPUT};

/// Where validation values come from.
#[derive(Debug, Clone, Copy, Default)]
pub enum Validation<'a> {
    /// No validation.
    #[default]
    None,
    /// Hold out this fraction of the training data, taken from its end before shuffling
    /// (Keras' `validation_split`).
    Split(f64),
    /// A separate dataset.
    Data(&'a Dataset),
}

/// Options of [`Sequential::fit_with`]; defaults follow Keras: shuffle each epoch, no
/// validation, verbose.
#[derive(Debug, Clone, Copy)]
pub struct FitOptions<'a> {
    /// Number of passes over the training data.
    pub epochs: usize,
    /// Examples per training step.
    pub batch_size: usize,
    /// Reshuffle the training examples before each epoch (seeded by the model's seed).
    pub shuffle: bool,
    /// Validation after each epoch.
    pub validation: Validation<'a>,
    /// Print one line per epoch.
    pub verbose: bool,
}

impl<'a> FitOptions<'a> {
    /// `epochs` epochs of `batch_size` with the defaults.
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        FitOptions {
            epochs,
            batch_size,
            shuffle: true,
            validation: Validation::None,
            verbose: true,
        }
    }

    /// Whether to shuffle each epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Validate on the last `fraction` of the training data.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation = Validation::Split(fraction);
        self
    }

    /// Validate on `data`.
    pub fn validation_data(mut self, data: &'a Dataset) -> Self {
        self.validation = Validation::Data(data);
        self
    }

    /// Whether to print a line per epoch.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
}

/// A range of examples of a dataset, optionally visited in a given order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub features: &'a [f32],
    pub labels: &'a [f32],
    pub feature_size: usize,
    pub label_size: usize,
    pub len: usize,
}

impl<'a> Rows<'a> {
    pub fn of(dataset: &'a Dataset) -> Self {
        Rows {
            features: dataset.features(),
            labels: dataset.labels(),
            feature_size: dataset.feature_size(),
            label_size: dataset.label_size(),
            len: dataset.len(),
        }
    }

    /// Examples `start..end`.
    pub fn range(&self, start: usize, end: usize) -> Rows<'a> {
        Rows {
            features: &self.features[start * self.feature_size..end * self.feature_size],
            labels: &self.labels[start * self.label_size..end * self.label_size],
            len: end - start,
            ..*self
        }
    }
}

/// A seeded Fisher–Yates permutation of `0..n` from the counter-based generator.
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let stream =
        ir::random::mix32(seed as u32) ^ ir::random::mix32((seed >> 32) as u32 ^ 0x2545_f491);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let u = ir::random::uniform(stream, i as u32) as f64;
        let j = ((u * (i + 1) as f64) as usize).min(i);
        order.swap(i, j);
    }
    order
}

impl Sequential {
    /// Check that a dataset's example shapes match the model's input and output.
    pub(crate) fn check_dataset(&self, dataset: &Dataset, what: &str) -> Result<()> {
        let input = self.input_shape()?;
        let labels = match &self.compiled {
            Some(compiled) => compiled.label_shape.clone(),
            None => self.output_shape()?,
        };
        if dataset.feature_shape() != input.dims() {
            return Err(self.model_error(format!(
                "{what} features have shape {:?} per example but the model's input is {input}",
                dataset.feature_shape()
            )));
        }
        if dataset.label_shape() != labels.dims() {
            return Err(self.model_error(format!(
                "{what} labels have shape {:?} per example but the loss takes {labels}",
                dataset.label_shape()
            )));
        }
        if dataset.is_empty() {
            return Err(self.model_error(format!("{what} dataset is empty")));
        }
        Ok(())
    }

    /// One pass of `role` (train or eval) over `rows` in `order` (or in sequence); returns
    /// the example-weighted mean of the loss and each metric, loss first.
    pub(crate) fn run_pass(
        &mut self,
        role: Role,
        rows: Rows<'_>,
        order: Option<&[usize]>,
        batch_size: usize,
    ) -> Result<Vec<(String, f32)>> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                msg: "must be at least 1".into(),
            });
        }
        let mut keys = vec![LOSS_OUTPUT.to_string()];
        keys.extend(self.metric_names());
        let mut sums = vec![0f64; keys.len()];
        let (mut feature_buf, mut label_buf) = (Vec::new(), Vec::new());
        for start in (0..rows.len).step_by(batch_size) {
            let end = (start + batch_size).min(rows.len);
            let (features, labels): (&[f32], &[f32]) = match order {
                None => {
                    let r = rows.range(start, end);
                    (r.features, r.labels)
                }
                Some(order) => {
                    feature_buf.clear();
                    label_buf.clear();
                    for &i in &order[start..end] {
                        let r = rows.range(i, i + 1);
                        feature_buf.extend_from_slice(r.features);
                        label_buf.extend_from_slice(r.labels);
                    }
                    (&feature_buf, &label_buf)
                }
            };
            let outputs = self
                .runner(role, end - start)?
                .run(&[(FEATURES_INPUT, features), (LABELS_INPUT, labels)])?;
            for (key, sum) in keys.iter().zip(sums.iter_mut()) {
                let value = outputs
                    .iter()
                    .find(|(name, _)| name == key)
                    .map(|(_, t)| t.data[0])
                    .ok_or_else(|| {
                        self.model_error(format!("the compiled step returned no `{key}` output"))
                    })?;
                *sum += value as f64 * (end - start) as f64;
            }
        }
        Ok(keys
            .into_iter()
            .zip(sums)
            .map(|(k, s)| (k, (s / rows.len as f64) as f32))
            .collect())
    }

    /// Train for `epochs` epochs of `batch_size` with Keras' defaults (shuffled, no
    /// validation, a line per epoch). See [`Sequential::fit_with`].
    pub fn fit(&mut self, dataset: &Dataset, epochs: usize, batch_size: usize) -> Result<History> {
        self.fit_with(dataset, FitOptions::new(epochs, batch_size))
    }

    /// Train with explicit [`FitOptions`]. Returns the per-epoch [`History`]: `loss`, each
    /// metric, and `val_loss`/`val_<metric>` when validating.
    pub fn fit_with(&mut self, dataset: &Dataset, options: FitOptions<'_>) -> Result<History> {
        self.compiled_mut()?;
        self.check_dataset(dataset, "training")?;
        let all = Rows::of(dataset);
        let (train, validation) = match options.validation {
            Validation::None => (all, None),
            Validation::Data(data) => {
                self.check_dataset(data, "validation")?;
                (all, Some(Rows::of(data)))
            }
            Validation::Split(fraction) => {
                if !(0.0..1.0).contains(&fraction) {
                    return Err(Error::InvalidArgument {
                        name: "validation_split",
                        msg: format!("{fraction} is not in [0, 1)"),
                    });
                }
                let split_at = (all.len as f64 * (1.0 - fraction)).floor() as usize;
                if split_at == 0 || split_at == all.len {
                    return Err(Error::InvalidArgument {
                        name: "validation_split",
                        msg: format!("{fraction} of {} examples leaves an empty part", all.len),
                    });
                }
                (all.range(0, split_at), Some(all.range(split_at, all.len)))
            }
        };
        let mut history = History::default();
        for epoch in 0..options.epochs {
            let started = Instant::now();
            let order = options
                .shuffle
                .then(|| permutation(train.len, self.seed.wrapping_add(epoch as u64 + 1)));
            let mut values =
                self.run_pass(Role::Train, train, order.as_deref(), options.batch_size)?;
            if let Some(validation) = validation {
                let val = self.run_pass(Role::Eval, validation, None, options.batch_size)?;
                values.extend(val.into_iter().map(|(k, v)| (format!("val_{k}"), v)));
            }
            let seconds = started.elapsed().as_secs_f64();
            if options.verbose {
                println!("{}", epoch_line(epoch, options.epochs, seconds, &values));
            }
            history.record(&values, seconds);
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::permutation;

    #[test]
    fn permutation_is_a_seeded_shuffle() {
        let p = permutation(1000, 3);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(p, permutation(1000, 3));
        assert_ne!(p, permutation(1000, 4));
        assert_ne!(p, sorted);
    }
}
