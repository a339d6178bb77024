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
use super::graph::forward::{FEATURES_INPUT, features_input};
use super::history::History;
use super::hooks::{Callback, Training};
use super::training::{LABELS_INPUT, LOSS_OUTPUT, Role, labels_input};
use crate::datasets::{Dataset, MultiDataset};
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
    /// A separate dataset of a model with several inputs or outputs.
    MultiData(&'a MultiDataset),
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

    /// Validate on `data`, for a model with several inputs or outputs.
    pub fn validation_multi(mut self, data: &'a MultiDataset) -> Self {
        self.validation = Validation::MultiData(data);
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

/// One tensor of a pass's examples: the graph input it feeds, its values row-major and its
/// per-example shape.
#[derive(Debug, Clone)]
pub(crate) struct Column<'a> {
    pub input: String,
    pub values: &'a [f32],
    pub shape: &'a [usize],
}

impl Column<'_> {
    /// Values per example.
    fn size(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A range of examples of a dataset: its feature columns, then its label columns.
#[derive(Debug, Clone)]
pub(crate) struct Rows<'a> {
    pub columns: Vec<Column<'a>>,
    /// How many of the columns are features (the rest are labels).
    pub features: usize,
    pub len: usize,
}

impl<'a> Rows<'a> {
    pub fn of(dataset: &'a Dataset) -> Self {
        let column = |input: &str, values, shape| Column {
            input: input.to_string(),
            values,
            shape,
        };
        Rows {
            columns: vec![
                column(FEATURES_INPUT, dataset.features(), dataset.feature_shape()),
                column(LABELS_INPUT, dataset.labels(), dataset.label_shape()),
            ],
            features: 1,
            len: dataset.len(),
        }
    }

    /// Every tensor of `dataset`: feature `k` feeds model input `k`, label `k` the head
    /// of model output `k` (the same graph input names as the step graphs').
    pub fn of_multi(dataset: &'a MultiDataset) -> Self {
        let (inputs, outputs) = (dataset.feature_count(), dataset.label_count());
        let features = (0..inputs).map(|k| Column {
            input: features_input(k, inputs),
            values: dataset.feature_values(k).expect("k < feature_count").0,
            shape: dataset.feature_shape(k).expect("k < feature_count"),
        });
        let labels = (0..outputs).map(|k| Column {
            input: labels_input(k, outputs),
            values: dataset.label_values(k).expect("k < label_count").0,
            shape: dataset.label_shape(k).expect("k < label_count"),
        });
        Rows {
            columns: features.chain(labels).collect(),
            features: inputs,
            len: dataset.len(),
        }
    }

    /// Examples `start..end`.
    pub fn range(&self, start: usize, end: usize) -> Rows<'a> {
        let columns = self.columns.iter().map(|c| {
            let size = c.size();
            Column {
                values: &c.values[start * size..end * size],
                ..c.clone()
            }
        });
        Rows {
            columns: columns.collect(),
            features: self.features,
            len: end - start,
        }
    }

    /// Each column's graph input and values.
    pub fn inputs(&self) -> Vec<(&str, &[f32])> {
        self.columns
            .iter()
            .map(|c| (c.input.as_str(), c.values))
            .collect()
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
    columns: Vec<Vec<f32>>,
}

impl Gather {
    /// Each column's graph input and values for examples `start..end` of `rows`, or for the
    /// examples `order[start..end]` when an order is given.
    fn batch<'s>(
        &'s mut self,
        rows: &'s Rows<'s>,
        order: Option<&[usize]>,
        start: usize,
        end: usize,
    ) -> Vec<(&'s str, &'s [f32])> {
        let Some(order) = order else {
            let r = rows.range(start, end);
            let columns = r.columns.into_iter().zip(&rows.columns);
            return columns.map(|(c, o)| (o.input.as_str(), c.values)).collect();
        };
        self.columns.resize_with(rows.columns.len(), Vec::new);
        for (buffer, column) in self.columns.iter_mut().zip(&rows.columns) {
            let size = column.size();
            buffer.clear();
            for &i in &order[start..end] {
                buffer.extend_from_slice(&column.values[i * size..(i + 1) * size]);
            }
        }
        let inputs = rows.columns.iter().map(|c| c.input.as_str());
        inputs.zip(self.columns.iter().map(Vec::as_slice)).collect()
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
    /// Check that the columns of `rows` match the model: one feature column per input with
    /// its shape, one label column per head with the label shape its loss takes, a
    /// non-empty pass, valid ids where a layer reads a feature as ids.
    pub(crate) fn check_rows(&self, rows: &Rows<'_>, what: &str) -> Result<()> {
        let inputs = self.input_shapes()?;
        let labels: Vec<ir::Shape> = match &self.training {
            Some(state) => state.label_shapes().to_vec(),
            None => self.output_shapes()?,
        };
        let (features, label_columns) = rows.columns.split_at(rows.features);
        let single = rows.columns.len() == 2;
        if features.len() != inputs.len() || label_columns.len() != labels.len() {
            let hint = if single { "; use a MultiDataset" } else { "" };
            return Err(self.model_error(format!(
                "takes {} features tensor(s) and {} labels tensor(s) but the {what} data holds {} and {}{hint}",
                inputs.len(),
                labels.len(),
                features.len(),
                label_columns.len(),
            )));
        }
        let features_of = features.iter().zip(&inputs).enumerate();
        let labels_of = label_columns.iter().zip(&labels).enumerate();
        let checks = (features_of.map(|(k, c)| (k, c, "features", "the model's input is")))
            .chain(labels_of.map(|(k, c)| (k, c, "labels", "the loss takes")));
        for (k, (column, shape), kind, wants) in checks {
            if column.shape != shape.dims() {
                let which = if single {
                    String::new()
                } else {
                    format!(" {k}")
                };
                return Err(self.model_error(format!(
                    "{what} {kind}{which} have shape {:?} per example but {wants} {shape}",
                    column.shape
                )));
            }
        }
        if rows.len == 0 {
            return Err(self.model_error(format!("{what} dataset is empty")));
        }
        features
            .iter()
            .enumerate()
            .try_for_each(|(k, c)| self.check_ids(k, c.values))
    }

    /// The loss and metric names a step reports, loss first, with how each combines over
    /// a pass.
    fn step_keys(&self) -> Vec<(String, Aggregation)> {
        match &self.training {
            Some(state) => state.reported(),
            None => vec![(LOSS_OUTPUT.to_string(), Aggregation::Mean)],
        }
    }

    /// Run `role`'s step on one batch of `n` examples (each graph input and its values)
    /// and add its values to `means`.
    fn run_step(
        &mut self,
        role: Role,
        inputs: &[(&str, &[f32])],
        n: usize,
        means: &mut Means,
    ) -> Result<()> {
        let outputs = self.runner(role, n)?.run(inputs)?;
        means.add(&outputs, n).map_err(|key| {
            self.model_error(format!("the compiled step returned no `{key}` output"))
        })
    }

    /// One pass of `role` over `rows` in order; the example-weighted mean of the loss and
    /// each metric, loss first.
    pub(crate) fn run_pass(
        &mut self,
        role: Role,
        rows: &Rows<'_>,
        batch_size: usize,
    ) -> Result<Logs> {
        check_batch_size(batch_size)?;
        let mut means = Means::new(self.step_keys());
        for (start, end) in batches(rows.len, batch_size) {
            let r = rows.range(start, end);
            self.run_step(role, &r.inputs(), end - start, &mut means)?;
        }
        Ok(means.logs())
    }

    /// The training rows and the validation rows, if any, checked: a split holds out the
    /// last part of `all`.
    fn split<'d>(
        &self,
        all: Rows<'d>,
        validation: Validation<'d>,
    ) -> Result<(Rows<'d>, Option<Rows<'d>>)> {
        let given = match validation {
            Validation::None => return Ok((all, None)),
            Validation::Data(data) => Rows::of(data),
            Validation::MultiData(data) => Rows::of_multi(data),
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
                let held_out = all.range(split_at, all.len);
                return Ok((all.range(0, split_at), Some(held_out)));
            }
        };
        self.check_rows(&given, "validation")?;
        Ok((all, Some(given)))
    }

    /// Train for `epochs` epochs of `batch_size` with Keras' defaults (shuffled, no
    /// validation, progress bar). See [`Model::fit_with`].
    pub fn fit(&mut self, dataset: &Dataset, epochs: usize, batch_size: usize) -> Result<History> {
        self.fit_with(dataset, FitOptions::new(epochs, batch_size))
    }

    /// Train with explicit [`FitOptions`]. Returns the per-epoch [`History`]: `loss`, each
    /// metric, and `val_loss`/`val_<metric>` when validating.
    ///
    /// A [`Dataset`] holds one features tensor and one labels tensor, for models with one
    /// input and one output; train others with [`Model::fit_multi`].
    pub fn fit_with(&mut self, dataset: &Dataset, options: FitOptions<'_>) -> Result<History> {
        self.fit_rows(Rows::of(dataset), options)
    }

    /// [`Model::fit_with`] for a model with several inputs or outputs: one features tensor
    /// per model input and one labels tensor per output, in order (Keras'
    /// `fit(x=[...], y=[...])`). The history holds `loss`, each output's `<output>_loss` and
    /// `<output>_<metric>` (see [`crate::model::OutputLosses`]), and their `val_` forms.
    pub fn fit_multi(&mut self, data: &MultiDataset, options: FitOptions<'_>) -> Result<History> {
        self.fit_rows(Rows::of_multi(data), options)
    }

    /// The epochs of `options` over `rows`.
    fn fit_rows<'d>(&mut self, all: Rows<'d>, options: FitOptions<'d>) -> Result<History> {
        self.training_state_mut()?;
        self.check_rows(&all, "training")?;
        let FitOptions {
            epochs,
            batch_size,
            shuffle,
            validation,
            verbose,
            mut callbacks,
        } = options;
        check_batch_size(batch_size)?;
        let (train, validation) = self.split(all, validation)?;
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
                let inputs = gather.batch(&train, order.as_deref(), start, end);
                training
                    .model()
                    .run_step(Role::Train, &inputs, end - start, &mut means)?;
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
            if let Some(validation) = &validation {
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
