//! [`Model::fit`]: mini-batch training epochs with Keras' options (shuffle each epoch,
//! validation split or data, sample and class weights, `initial_epoch`, `steps_per_epoch`,
//! [`Verbosity`], callbacks) returning a [`History`]; the passes `evaluate` and validation
//! run.
//!
//! The data is anything [`TrainingData`]: a [`Dataset`](crate::datasets::Dataset), a [`MultiDataset`] (several inputs
//! or outputs), ndarray arrays, or a [`Generator`] of batches (which needs `steps_per_epoch`;
//! epochs continue where the last one stopped and training ends early, keeping what it did,
//! when the generator runs out). Batches are
//! `batch_size` examples; a smaller last batch is included (as in Keras) and runs on an
//! executable compiled for its size. Epoch values are means over the examples (each batch
//! weighted by its size); after each batch the callbacks and the progress bar see the
//! running means. Shuffling is a seeded permutation per pass, so the same model seed gives
//! the same training curve. A callback may stop training after any batch or epoch; the epoch
//! it stops in still ends (validated, recorded, `on_epoch_end`).
//!
//! Sample weights follow Keras 2: the loss of a batch is `sum(w_i · loss_i) / batch_size`;
//! with several outputs the weights apply to every output's loss (as in Keras).
//! `class_weight` multiplies each example's weight by its class's (class index, or argmax of
//! a one-hot row; models with one output only). Metrics stay unweighted (Keras' `metrics`, not `weighted_metrics`);
//! validation data is weighted by its own sample weights only, never by `class_weight`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

use super::Model;
use super::data::{DataSource, TrainingData, check_weights, example_weights};
use super::distributed::Ranks;
use super::feed::{Feed, Rows};
use super::history::History;
use super::hooks::{Callback, Training};
use super::pass::{Means, check_batch_size};
use super::training::Role;
use crate::datasets::{Generator, MultiDataset};
use crate::distributed::{Communicator, DistributedSampler};
use crate::error::{Error, Result};
use crate::metrics::Aggregation;
use crate::progress::{Logs, Progress, Verbosity};

/// Where validation values come from.
#[derive(Debug, Default)]
pub enum Validation<'a> {
    /// No validation.
    #[default]
    None,
    /// Hold out this fraction of the training data (and of its sample weights), taken from
    /// its end before shuffling (Keras' `validation_split`; in-memory data only).
    Split(f64),
    /// Separate data: a dataset or multi-dataset, arrays (optionally with sample weights) or
    /// a generator.
    Data(DataSource<'a>),
}

/// Options of [`Model::fit_with`]; defaults follow Keras: shuffle each epoch, no
/// validation, a progress bar ([`Verbosity::ProgressBar`]), no callbacks, no weights,
/// starting at epoch 0, one pass over the data per epoch.
pub struct FitOptions<'a> {
    /// The epoch to stop before: training runs epochs `initial_epoch..epochs` (Keras).
    pub epochs: usize,
    /// Examples per training step (a generator's batches keep their own size).
    pub batch_size: usize,
    /// Reshuffle the training examples before each epoch (seeded by the model's seed).
    pub shuffle: bool,
    /// Validation after each epoch.
    pub validation: Validation<'a>,
    /// Batches per validation (`None`: one pass over in-memory data, or a validation
    /// generator until it runs out).
    pub validation_steps: Option<usize>,
    /// What to print.
    pub verbose: Verbosity,
    /// Hooks run during training, in order.
    pub callbacks: Vec<Box<dyn Callback + 'a>>,
    /// One weight per training example (Keras' `sample_weight`; in-memory data only).
    pub sample_weight: Option<Vec<f32>>,
    /// A weight per class, multiplied into the examples' weights (Keras' `class_weight`;
    /// a class not in the map weighs 1).
    pub class_weight: Option<BTreeMap<usize, f32>>,
    /// The epoch to start at (Keras' `initial_epoch`): callbacks and the progress bar
    /// number epochs from it, and the shuffle of epoch `e` is the same as in a run from 0.
    pub initial_epoch: usize,
    /// Batches per epoch (Keras' `steps_per_epoch`): required for a generator; for
    /// in-memory data, batches continue across passes.
    pub steps_per_epoch: Option<usize>,
    /// Data-parallel training over these ranks ([`FitOptions::distributed`]).
    distributed: Option<Ranks<'a>>,
    /// The gradient bucket cap of distributed training ([`FitOptions::bucket_bytes`]).
    bucket_bytes: usize,
    /// An error met while building the options (invalid validation arrays), reported by
    /// `fit`.
    deferred: Option<Error>,
}

impl std::fmt::Debug for FitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("validation", &self.validation)
            .field("validation_steps", &self.validation_steps)
            .field("verbose", &self.verbose)
            .field("callbacks", &self.callbacks.len())
            .field("sample_weight", &self.sample_weight.as_ref().map(Vec::len))
            .field("class_weight", &self.class_weight)
            .field("initial_epoch", &self.initial_epoch)
            .field("steps_per_epoch", &self.steps_per_epoch)
            .field("distributed", &self.distributed)
            .field("bucket_bytes", &self.bucket_bytes)
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
            validation_steps: None,
            verbose: Verbosity::default(),
            callbacks: Vec::new(),
            sample_weight: None,
            class_weight: None,
            initial_epoch: 0,
            steps_per_epoch: None,
            distributed: None,
            bucket_bytes: crate::distributed::DEFAULT_BUCKET_BYTES,
            deferred: None,
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

    /// Validate on `data`: a `&Dataset`, a `&MultiDataset`, `(&x, &y)` or
    /// `(&x, &y, &sample_weight)` arrays, or a [`Generator`] (see
    /// [`FitOptions::validation_steps`]).
    pub fn validation_data(mut self, data: impl TrainingData<'a>) -> Self {
        match data.into_source() {
            Ok(source) => self.validation = Validation::Data(source),
            Err(e) => self.deferred = Some(e),
        }
        self
    }

    /// Validate on `data`, for a model with several inputs or outputs (the same as
    /// [`FitOptions::validation_data`]).
    pub fn validation_multi(self, data: &'a MultiDataset) -> Self {
        self.validation_data(data)
    }

    /// Validate on `steps` batches each epoch.
    pub fn validation_steps(mut self, steps: usize) -> Self {
        self.validation_steps = Some(steps);
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

    /// Weigh each training example's loss (one non-negative weight per example).
    pub fn sample_weight(mut self, weights: &[f32]) -> Self {
        self.sample_weight = Some(weights.to_vec());
        self
    }

    /// Weigh each class's examples: `(class, weight)` pairs, e.g. `[(0, 1.0), (1, 5.0)]`.
    pub fn class_weight(mut self, weights: impl IntoIterator<Item = (usize, f32)>) -> Self {
        self.class_weight = Some(weights.into_iter().collect());
        self
    }

    /// Start at epoch `epoch` (resuming an earlier run).
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = epoch;
        self
    }

    /// Run `steps` batches per epoch.
    pub fn steps_per_epoch(mut self, steps: usize) -> Self {
        self.steps_per_epoch = Some(steps);
        self
    }

    /// Train data-parallel with the other ranks of `comm` (every rank calls `fit` with the
    /// same model, data and options). `batch_size` is the global batch: each rank takes
    /// `batch_size / ranks` examples per step from its shard of every epoch (a
    /// [`DistributedSampler`](crate::distributed::DistributedSampler)); gradients are averaged
    /// across ranks before the update, so the ranks' weights stay identical. Before the first
    /// step the ranks check they agree (model, batch size, data size) and take rank 0's
    /// parameters. Only rank 0 prints and runs the callbacks that write files. In-memory
    /// data only. See the [`distributed`](crate::distributed) module.
    pub fn distributed(mut self, comm: &'a dyn Communicator) -> Self {
        self.distributed = Some(Ranks::new(comm, self.bucket_bytes));
        self
    }

    /// The size of the gradient buckets summed by one allreduce each in distributed training
    /// (default [`DEFAULT_BUCKET_BYTES`](crate::distributed::DEFAULT_BUCKET_BYTES), 25 MiB as
    /// PyTorch DDP), before or after [`FitOptions::distributed`]; no effect without it.
    pub fn bucket_bytes(mut self, bytes: usize) -> Self {
        self.bucket_bytes = bytes.max(4);
        if let Some(ranks) = &mut self.distributed {
            ranks.bucket_bytes = self.bucket_bytes;
        }
        self
    }
}

/// The options of one `fit` that the epoch loop reads.
#[derive(Debug, Clone, Copy)]
struct Schedule<'a> {
    epochs: usize,
    initial_epoch: usize,
    steps: usize,
    validation_steps: Option<usize>,
    verbose: Verbosity,
    ranks: Option<Ranks<'a>>,
}

/// Run `hook` on every callback, in order, stopping at the first error.
fn notify<'a>(
    callbacks: &mut [Box<dyn Callback + 'a>],
    mut hook: impl FnMut(&mut (dyn Callback + 'a)) -> Result<()>,
) -> Result<()> {
    callbacks.iter_mut().try_for_each(|c| hook(c.as_mut()))
}

/// The sample weights of `source` and of the options, at most one of them.
fn merge_weights<'a>(
    from_data: Option<Cow<'a, [f32]>>,
    from_options: Option<Vec<f32>>,
) -> Result<Option<Cow<'a, [f32]>>> {
    match (from_data, from_options) {
        (Some(_), Some(_)) => Err(Error::InvalidArgument {
            name: "sample_weight",
            msg: "given both with the data and in the fit options".into(),
        }),
        (data, options) => Ok(data.or(options.map(Cow::Owned))),
    }
}

/// The first `1 - fraction` of `len` examples for training, the rest for validation.
fn split_point(len: usize, fraction: f64) -> Result<usize> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::InvalidArgument {
            name: "validation_split",
            msg: format!("{fraction} is not in [0, 1)"),
        });
    }
    let split_at = (len as f64 * (1.0 - fraction)).floor() as usize;
    if split_at == 0 || split_at == len {
        return Err(Error::InvalidArgument {
            name: "validation_split",
            msg: format!("{fraction} of {len} examples leaves an empty part"),
        });
    }
    Ok(split_at)
}

/// This rank's exact share of `rows` (every example once over all ranks) in batches of
/// `local`: validation in distributed training.
fn shard_exact<'d>(rows: Rows<'d>, local: usize, ranks: Ranks<'_>) -> Feed<'d> {
    let (rank, world) = ranks.position();
    let sampler = DistributedSampler::new(rows.len, world, rank).exact();
    Feed::memory_shard(rows, local, 0, sampler)
}

/// What an epoch's training steps did.
struct EpochRun {
    logs: Logs,
    steps: usize,
    /// The generator ran out during the epoch.
    exhausted: bool,
}

impl Model {
    /// Train for `epochs` epochs of `batch_size` with Keras' defaults (shuffled, no
    /// validation, progress bar) on any [`TrainingData`]: a `&Dataset`, `(&x, &y)` ndarray
    /// arrays, ... See [`Model::fit_with`].
    pub fn fit<'a>(
        &mut self,
        data: impl TrainingData<'a>,
        epochs: usize,
        batch_size: usize,
    ) -> Result<History> {
        self.fit_with(data, FitOptions::new(epochs, batch_size))
    }

    /// Train with explicit [`FitOptions`]. Returns the per-epoch [`History`]: `loss`, each
    /// metric, and `val_loss`/`val_<metric>` when validating.
    ///
    /// A [`Dataset`](crate::datasets::Dataset), arrays or a generator hold one features tensor and one labels tensor,
    /// for models with one input and one output; train others on a [`MultiDataset`] (or
    /// with [`Model::fit_multi`]); a mismatch is an error saying so.
    pub fn fit_with<'a>(
        &mut self,
        data: impl TrainingData<'a>,
        mut options: FitOptions<'_>,
    ) -> Result<History> {
        self.training_state_mut()?;
        if let Some(e) = options.deferred.take() {
            return Err(e);
        }
        check_batch_size(options.batch_size)?;
        match data.into_source()? {
            DataSource::Batches(batches) => {
                self.require_generator_model()?;
                if options.distributed.is_some() {
                    return Err(Error::InvalidArgument {
                        name: "fit",
                        msg: "distributed training needs in-memory data (a generator cannot be sharded across ranks)".into(),
                    });
                }
                if options.sample_weight.is_some()
                    || matches!(options.validation, Validation::Split(_))
                {
                    return Err(Error::InvalidArgument {
                        name: "fit",
                        msg: "sample_weight and validation_split need in-memory data, not a generator".into(),
                    });
                }
                let feed = Feed::stream(batches, options.class_weight.clone());
                self.fit_feed(feed, None, options)
            }
            memory => {
                let (rows, from_data) = memory.rows().expect("in-memory data has rows");
                let from_data = from_data.map(Cow::Borrowed);
                let sample_weight = merge_weights(from_data, options.sample_weight.take())?;
                self.fit_memory(rows, sample_weight.as_deref(), options)
            }
        }
    }

    /// [`Model::fit_with`] for a model with several inputs or outputs: one features tensor
    /// per model input and one labels tensor per output, in order (Keras'
    /// `fit(x=[...], y=[...])`). The history holds `loss`, each output's `<output>_loss` and
    /// `<output>_<metric>` (see [`crate::model::OutputLosses`]), and their `val_` forms.
    pub fn fit_multi(&mut self, data: &MultiDataset, options: FitOptions<'_>) -> Result<History> {
        self.fit_with(data, options)
    }

    /// `fit` on the examples `all` in memory, weighted by `sample_weight` if given.
    fn fit_memory(
        &mut self,
        all: Rows<'_>,
        sample_weight: Option<&[f32]>,
        options: FitOptions<'_>,
    ) -> Result<History> {
        self.check_rows(&all, "training")?;
        if let Some(w) = sample_weight {
            check_weights(all.len, w)?;
        }
        let weights = match (&options.class_weight, all.single_labels()) {
            (None, _) => sample_weight.map(<[f32]>::to_vec),
            (Some(classes), Some((labels, label_size))) => {
                example_weights(labels, label_size, sample_weight, Some(classes))?
            }
            (Some(_), None) => {
                return Err(Error::InvalidArgument {
                    name: "class_weight",
                    msg: "is only supported for models with one output (as in Keras); use sample_weight".into(),
                });
            }
        };
        let len = all.len;
        let mut train = all.clone().weighted(weights.as_deref());
        let mut held_out = None;
        if let Validation::Split(fraction) = options.validation {
            let split_at = split_point(len, fraction)?;
            held_out = Some(all.weighted(sample_weight).range(split_at, len));
            train = train.range(0, split_at);
        }
        let shuffle = options.shuffle.then_some(self.seed);
        let first = options.initial_epoch as u64;
        let Some(ranks) = options.distributed else {
            let feed = Feed::memory(train, options.batch_size, shuffle, first);
            let held_out = held_out.map(|rows| Feed::memory(rows, options.batch_size, None, 0));
            return self.fit_feed(feed, held_out, options);
        };
        let local = ranks.local_batch(options.batch_size)?;
        self.join_ranks(ranks, options.batch_size, train.len, shuffle)?;
        let (rank, world) = ranks.position();
        let mut sampler = DistributedSampler::new(train.len, world, rank);
        if let Some(seed) = shuffle {
            sampler = sampler.shuffle(seed);
        }
        let feed = Feed::memory_shard(train, local, first, sampler);
        let held_out = held_out.map(|rows| shard_exact(rows, local, ranks));
        self.fit_feed(feed, held_out, options)
    }

    /// `fit` on `feed`, validating on `held_out` (a validation split) or on the options'
    /// validation data.
    fn fit_feed(
        &mut self,
        feed: Feed<'_>,
        held_out: Option<Feed<'_>>,
        options: FitOptions<'_>,
    ) -> Result<History> {
        let FitOptions {
            validation,
            callbacks,
            ..
        } = options;
        let mut validation_data = match validation {
            Validation::Data(source) => Some(source),
            _ => None,
        };
        let validation_feed = match &mut validation_data {
            Some(DataSource::Batches(batches)) => {
                self.require_generator_model()?;
                Some(Feed::stream(Generator::new(batches), None))
            }
            Some(source) => {
                let (rows, weights) = source.rows().expect("in-memory data has rows");
                self.check_rows(&rows, "validation")?;
                if let Some(w) = weights {
                    check_weights(rows.len, w)?;
                }
                let rows = rows.weighted(weights);
                Some(match options.distributed {
                    Some(ranks) => shard_exact(rows, ranks.local_batch(options.batch_size)?, ranks),
                    None => Feed::memory(rows, options.batch_size, None, 0),
                })
            }
            None => held_out,
        };
        let steps =
            options
                .steps_per_epoch
                .or(feed.steps_per_pass())
                .ok_or(Error::InvalidArgument {
                    name: "steps_per_epoch",
                    msg: "fit on a generator needs steps_per_epoch (the batches of one epoch)"
                        .into(),
                })?;
        let schedule = Schedule {
            epochs: options.epochs,
            initial_epoch: options.initial_epoch,
            steps,
            validation_steps: options.validation_steps,
            verbose: options.verbose,
            ranks: options.distributed,
        };
        self.train(feed, validation_feed, schedule, callbacks)
    }
}

impl Model {
    /// The epochs of `schedule` on `feed`, validating on `validation` after each.
    fn train<'c>(
        &mut self,
        mut feed: Feed<'_>,
        mut validation: Option<Feed<'_>>,
        mut schedule: Schedule<'_>,
        mut callbacks: Vec<Box<dyn Callback + 'c>>,
    ) -> Result<History> {
        let keys = self.step_keys();
        let rank = schedule.ranks.map_or(0, |r| r.comm.rank());
        if rank != 0 {
            schedule.verbose = Verbosity::Silent;
            callbacks.retain(|c| !c.rank_zero_only());
        }
        let progress = Progress::new(schedule.verbose, schedule.epochs, schedule.steps);
        let mut training = Training::new(self, progress, schedule.epochs, schedule.steps);
        training.set_rank(rank);
        let mut history = History::default();
        notify(&mut callbacks, |c| c.on_train_begin(&mut training))?;
        for epoch in schedule.initial_epoch..schedule.epochs {
            notify(&mut callbacks, |c| c.on_epoch_begin(epoch, &mut training))?;
            training.progress().epoch_begin(epoch);
            let started = Instant::now();
            let run = train_epoch(&mut training, &mut feed, &schedule, &keys, &mut callbacks)?;
            if run.steps == 0 {
                if history.epochs() == 0 {
                    return Err(Error::Generator(
                        "it ran out of batches before the first training step".into(),
                    ));
                }
                break;
            }
            let mut logs = run.logs;
            if let Some(ranks) = schedule.ranks {
                training.model().average_running_state(ranks.comm)?;
            }
            if let Some(validation) = validation.as_mut() {
                let model = training.model();
                let values = match schedule.ranks {
                    Some(ranks) => model.run_pass_ranks(
                        Role::Eval,
                        validation,
                        schedule.validation_steps,
                        ranks.comm,
                    )?,
                    None => model.run_pass(Role::Eval, validation, schedule.validation_steps)?,
                };
                for (key, value) in values.iter() {
                    logs.push(format!("val_{key}"), value);
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            training.progress().epoch_end(epoch, seconds, &logs);
            history.record(epoch, &logs, seconds);
            notify(&mut callbacks, |c| {
                c.on_epoch_end(epoch, &logs, &mut training)
            })?;
            if run.exhausted {
                training.print("Your input ran out of data; interrupting training.");
            }
            if training.stop_requested() || run.exhausted {
                break;
            }
        }
        notify(&mut callbacks, |c| c.on_train_end(&mut training))?;
        Ok(history)
    }
}

/// One epoch's training steps: up to `schedule.steps` batches of `feed`, with the progress
/// bar and `on_batch_end` after each.
fn train_epoch<'c>(
    training: &mut Training<'_>,
    feed: &mut Feed<'_>,
    schedule: &Schedule<'_>,
    keys: &[(String, Aggregation)],
    callbacks: &mut [Box<dyn Callback + 'c>],
) -> Result<EpochRun> {
    let mut means = Means::new(keys.to_vec());
    let mut steps = 0;
    while steps < schedule.steps {
        let Some(batch) = feed.next_batch()? else {
            return Ok(EpochRun {
                logs: means.logs(),
                steps,
                exhausted: true,
            });
        };
        match schedule.ranks {
            Some(ranks) => training.model().run_split_step(batch, &mut means, ranks)?,
            None => training.model().run_step(Role::Train, batch, &mut means)?,
        }
        let logs = means.logs();
        training.progress().batch_end(steps, &logs);
        notify(callbacks, |c| c.on_batch_end(steps, &logs, training))?;
        steps += 1;
        if training.stop_requested() {
            break;
        }
    }
    Ok(EpochRun {
        logs: means.logs(),
        steps,
        exhausted: false,
    })
}
