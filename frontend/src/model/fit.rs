//! [`Model::fit`]: mini-batch training epochs with Keras' options (shuffle each epoch,
//! validation split or data, [`Verbosity`], callbacks) returning a [`History`].
//!
//! Batches are `batch_size` examples; a smaller last batch is included (as in Keras) and
//! runs on an executable compiled for its size. Epoch values are means over the examples
//! (each batch weighted by its size); after each batch the callbacks and the progress bar
//! see the running means. Shuffling is a seeded permutation per epoch, so the same model
//! seed gives the same training curve. A callback may stop training after any batch or
//! epoch; the epoch it stops in still ends (validated, recorded, `on_epoch_end`).

use std::time::Instant;

use ir::Tensor;

use super::Model;
use super::graph::forward::FEATURES_INPUT;
use super::history::History;
use super::hooks::{Callback, Training};
use super::training::{LABELS_INPUT, LOSS_OUTPUT, Role};
use crate::datasets::Dataset;
use crate::error::{Error, Result};
use crate::metrics::Aggregation;
use crate::progress::{Logs, Progress, Verbosity};

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

/// Options of [`Model::fit_with`]; defaults follow Keras: shuffle each epoch, no
/// validation, a progress bar ([`Verbosity::ProgressBar`]), no callbacks.
pub struct FitOptions<'a> {
    /// Number of passes over the training data.
    pub epochs: usize,
    /// Examples per training step.
    pub batch_size: usize,
    /// Reshuffle the training examples before each epoch (seeded by the model's seed).
    pub shuffle: bool,
    /// Validation after each epoch.
    pub validation: Validation<'a>,
    /// What to print.
    pub verbose: Verbosity,
    /// Hooks run during training, in order.
    pub callbacks: Vec<Box<dyn Callback + 'a>>,
}

impl std::fmt::Debug for FitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("validation", &self.validation)
            .field("verbose", &self.verbose)
            .field("callbacks", &self.callbacks.len())
            .finish()
    }
}

impl<'a> FitOptions<'a> {
    /// `epochs` epochs of `batch_size` with the defaults.
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        FitOptions {
            epochs,
            batch_size,
            shuffle: true,
            validation: Validation::None,
            verbose: Verbosity::default(),
            callbacks: Vec::new(),
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

    /// What to print: Keras' `0` (nothing), `1` (progress bar) or `2` (a line per epoch),
    /// a [`Verbosity`], or a `bool` (`true` is `1`).
    pub fn verbose(mut self, verbose: impl Into<Verbosity>) -> Self {
        self.verbose = verbose.into();
        self
    }

    /// Add a callback; pass `&mut callback` to read its state after `fit`.
    pub fn callback(mut self, callback: impl Callback + 'a) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Add several callbacks, in order.
    pub fn callbacks(
        mut self,
        callbacks: impl IntoIterator<Item = Box<dyn Callback + 'a>>,
    ) -> Self {
        self.callbacks.extend(callbacks);
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

/// The `(start, end)` example ranges of the batches of `len` examples.
fn batches(len: usize, batch_size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len)
        .step_by(batch_size)
        .map(move |start| (start, (start + batch_size).min(len)))
}

/// Buffers that gather one batch's examples when they are visited in a permuted order.
#[derive(Debug, Default)]
struct Gather {
    features: Vec<f32>,
    labels: Vec<f32>,
}

impl Gather {
    /// The features and labels of examples `start..end` of `rows`, or of the examples
    /// `order[start..end]` when an order is given.
    fn batch<'s>(
        &'s mut self,
        rows: Rows<'s>,
        order: Option<&[usize]>,
        start: usize,
        end: usize,
    ) -> (&'s [f32], &'s [f32]) {
        let Some(order) = order else {
            let r = rows.range(start, end);
            return (r.features, r.labels);
        };
        self.features.clear();
        self.labels.clear();
        for &i in &order[start..end] {
            let r = rows.range(i, i + 1);
            self.features.extend_from_slice(r.features);
            self.labels.extend_from_slice(r.labels);
        }
        (&self.features, &self.labels)
    }
}

/// The running values of the loss and each metric over a pass: example-weighted means, or
/// for summed metrics the element-wise sums of their batch counts ([`Aggregation`]).
#[derive(Debug)]
struct Means {
    keys: Vec<String>,
    aggregations: Vec<Aggregation>,
    sums: Vec<Vec<f64>>,
    examples: usize,
}

impl Means {
    fn new(keys: Vec<(String, Aggregation)>) -> Self {
        let (keys, aggregations): (Vec<String>, Vec<Aggregation>) = keys.into_iter().unzip();
        Means {
            sums: vec![Vec::new(); keys.len()],
            keys,
            aggregations,
            examples: 0,
        }
    }

    /// Add one batch of `n` examples; `Err(key)` names a missing output.
    fn add(&mut self, outputs: &[(String, Tensor)], n: usize) -> Result<(), String> {
        for ((key, aggregation), sums) in self
            .keys
            .iter()
            .zip(&self.aggregations)
            .zip(self.sums.iter_mut())
        {
            let value = outputs
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, t)| t.data.as_slice())
                .ok_or_else(|| key.clone())?;
            let weight = match aggregation {
                Aggregation::Mean => n as f64,
                Aggregation::Sum(_) => 1.0,
            };
            sums.resize(value.len().max(sums.len()), 0.0);
            for (sum, &x) in sums.iter_mut().zip(value) {
                *sum += f64::from(x) * weight;
            }
        }
        self.examples += n;
        Ok(())
    }

    /// The values so far.
    fn logs(&self) -> Logs {
        let examples = self.examples.max(1) as f64;
        self.keys
            .iter()
            .zip(&self.aggregations)
            .zip(&self.sums)
            .map(|((k, aggregation), s)| {
                let value = match aggregation {
                    Aggregation::Mean => s.first().copied().unwrap_or(0.0) / examples,
                    Aggregation::Sum(result) => result(s),
                };
                (k.clone(), value as f32)
            })
            .collect::<Vec<_>>()
            .into()
    }
}

fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::InvalidArgument {
            name: "batch_size",
            msg: "must be at least 1".into(),
        });
    }
    Ok(())
}

/// Run `hook` on every callback, in order, stopping at the first error.
fn notify<'a>(
    callbacks: &mut [Box<dyn Callback + 'a>],
    mut hook: impl FnMut(&mut (dyn Callback + 'a)) -> Result<()>,
) -> Result<()> {
    callbacks.iter_mut().try_for_each(|c| hook(c.as_mut()))
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

impl Model {
    /// Check that a dataset's example shapes match the model's input and output, and its
    /// features hold valid ids where a layer reads them as ids.
    pub(crate) fn check_dataset(&self, dataset: &Dataset, what: &str) -> Result<()> {
        let input = self.input_shape()?;
        let labels = match &self.training {
            Some(state) => state.label_shape().clone(),
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
        self.check_ids(0, dataset.features())
    }

    /// The loss and metric names a step reports, loss first, with how each combines over
    /// a pass.
    fn step_keys(&self) -> Vec<(String, Aggregation)> {
        let mut keys = vec![(LOSS_OUTPUT.to_string(), Aggregation::Mean)];
        if let Some(state) = &self.training {
            keys.extend(
                state
                    .metric_names()
                    .into_iter()
                    .zip(state.metric_aggregations()),
            );
        }
        keys
    }

    /// Run `role`'s step on one batch of `n` examples and add its values to `means`.
    fn run_step(
        &mut self,
        role: Role,
        features: &[f32],
        labels: &[f32],
        n: usize,
        means: &mut Means,
    ) -> Result<()> {
        let outputs = self
            .runner(role, n)?
            .run(&[(FEATURES_INPUT, features), (LABELS_INPUT, labels)])?;
        means.add(&outputs, n).map_err(|key| {
            self.model_error(format!("the compiled step returned no `{key}` output"))
        })
    }

    /// One pass of `role` over `rows` in order; the example-weighted mean of the loss and
    /// each metric, loss first.
    pub(crate) fn run_pass(
        &mut self,
        role: Role,
        rows: Rows<'_>,
        batch_size: usize,
    ) -> Result<Logs> {
        check_batch_size(batch_size)?;
        let mut means = Means::new(self.step_keys());
        for (start, end) in batches(rows.len, batch_size) {
            let r = rows.range(start, end);
            self.run_step(role, r.features, r.labels, end - start, &mut means)?;
        }
        Ok(means.logs())
    }

    /// The training rows and the validation rows, if any.
    fn split<'d>(
        &self,
        dataset: &'d Dataset,
        validation: Validation<'d>,
    ) -> Result<(Rows<'d>, Option<Rows<'d>>)> {
        let all = Rows::of(dataset);
        match validation {
            Validation::None => Ok((all, None)),
            Validation::Data(data) => {
                self.check_dataset(data, "validation")?;
                Ok((all, Some(Rows::of(data))))
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
                Ok((all.range(0, split_at), Some(all.range(split_at, all.len))))
            }
        }
    }

    /// Train for `epochs` epochs of `batch_size` with Keras' defaults (shuffled, no
    /// validation, progress bar). See [`Model::fit_with`].
    pub fn fit(&mut self, dataset: &Dataset, epochs: usize, batch_size: usize) -> Result<History> {
        self.fit_with(dataset, FitOptions::new(epochs, batch_size))
    }

    /// Train with explicit [`FitOptions`]. Returns the per-epoch [`History`]: `loss`, each
    /// metric, and `val_loss`/`val_<metric>` when validating.
    ///
    /// A [`Dataset`] holds one features tensor and one labels tensor, so only models with
    /// one input and one output can be trained; others get an error saying so.
    pub fn fit_with(&mut self, dataset: &Dataset, options: FitOptions<'_>) -> Result<History> {
        self.graph.require_single_io("fit")?;
        self.training_state_mut()?;
        self.check_dataset(dataset, "training")?;
        let FitOptions {
            epochs,
            batch_size,
            shuffle,
            validation,
            verbose,
            mut callbacks,
        } = options;
        check_batch_size(batch_size)?;
        let (train, validation) = self.split(dataset, validation)?;
        let keys = self.step_keys();
        let seed = self.seed;
        let steps = train.len.div_ceil(batch_size);
        let progress = Progress::new(verbose, epochs, steps);
        let mut training = Training::new(self, progress, epochs, steps);
        let mut history = History::default();
        let mut gather = Gather::default();
        notify(&mut callbacks, |c| c.on_train_begin(&mut training))?;
        for epoch in 0..epochs {
            notify(&mut callbacks, |c| c.on_epoch_begin(epoch, &mut training))?;
            training.progress().epoch_begin(epoch);
            let started = Instant::now();
            let order =
                shuffle.then(|| permutation(train.len, seed.wrapping_add(epoch as u64 + 1)));
            let mut means = Means::new(keys.clone());
            for (batch, (start, end)) in batches(train.len, batch_size).enumerate() {
                let (features, labels) = gather.batch(train, order.as_deref(), start, end);
                training.model().run_step(
                    Role::Train,
                    features,
                    labels,
                    end - start,
                    &mut means,
                )?;
                let logs = means.logs();
                training.progress().batch_end(batch, &logs);
                notify(&mut callbacks, |c| {
                    c.on_batch_end(batch, &logs, &mut training)
                })?;
                if training.stop_requested() {
                    break;
                }
            }
            let mut logs = means.logs();
            if let Some(validation) = validation {
                let values = training
                    .model()
                    .run_pass(Role::Eval, validation, batch_size)?;
                for (key, value) in values.iter() {
                    logs.push(format!("val_{key}"), value);
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            training.progress().epoch_end(epoch, seconds, &logs);
            history.record(&logs, seconds);
            notify(&mut callbacks, |c| {
                c.on_epoch_end(epoch, &logs, &mut training)
            })?;
            if training.stop_requested() {
                break;
            }
        }
        notify(&mut callbacks, |c| c.on_train_end(&mut training))?;
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
