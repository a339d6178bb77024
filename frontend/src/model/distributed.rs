//! What `fit` and `evaluate` do differently when a [`Communicator`] joins several ranks
//! (DDP-style data parallelism): the check that every rank holds the same model, batch size and
//! data size; rank 0's parameters broadcast to all; a train step through the split
//! gradient/update executables (`training::split`); BatchNormalization's moving statistics
//! averaged; pass values (loss, metrics) combined over the ranks; a distributed `evaluate`.
//!
//! This file does NOT pick shards (`distributed::DistributedSampler`, used by `feed`) nor run
//! the epoch loop (`fit`).

use ir::Tensor;

use super::Model;
use super::data::{DataSource, TrainingData, check_weights};
use super::evaluate::Evaluation;
use super::feed::{Feed, StepBatch};
use super::pass::{Means, check_batch_size};
use super::training::{Role, StepTimings};
use crate::distributed::{Communicator, DEFAULT_BUCKET_BYTES, DistributedSampler};
use crate::error::{Error, Result};

/// The distributed part of a `fit`: the ranks and the gradient bucket size.
#[derive(Clone, Copy)]
pub(crate) struct Ranks<'a> {
    pub comm: &'a dyn Communicator,
    pub bucket_bytes: usize,
}

impl std::fmt::Debug for Ranks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ranks")
            .field("rank", &self.comm.rank())
            .field("world_size", &self.comm.world_size())
            .field("bucket_bytes", &self.bucket_bytes)
            .finish()
    }
}

impl<'a> Ranks<'a> {
    /// `comm`, summing gradients in buckets of about `bucket_bytes`.
    pub fn new(comm: &'a dyn Communicator, bucket_bytes: usize) -> Self {
        Ranks { comm, bucket_bytes }
    }

    /// `(rank, world size)`.
    pub fn position(&self) -> (usize, usize) {
        (self.comm.rank(), self.comm.world_size())
    }

    /// The per-rank batch of a global `batch_size`: an error unless the world size divides
    /// it.
    pub fn local_batch(&self, batch_size: usize) -> Result<usize> {
        let world = self.comm.world_size();
        if !batch_size.is_multiple_of(world) {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                msg: format!(
                    "the global batch {batch_size} is not divisible by the {world} ranks (each rank takes batch_size / ranks examples per step)"
                ),
            });
        }
        Ok(batch_size / world)
    }

    /// Checks that every rank agrees on each `(what, value)`: gathers them all, and on any
    /// difference fails on every rank, naming the ranks and their values.
    pub fn check_agree(&self, items: &[(&str, u64)]) -> Result<()> {
        let mut problems = Vec::new();
        for (what, value) in items {
            let all = self.comm.all_gather_u64(*value)?;
            if all.iter().any(|v| *v != all[0]) {
                let differ: Vec<String> = all
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != all[0])
                    .map(|(r, v)| format!("rank {r} has {v}"))
                    .collect();
                problems.push(format!(
                    "{what} differs: rank 0 has {}, {}",
                    all[0],
                    differ.join(", ")
                ));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(Error::Distributed(format!(
            "ranks disagree before training (rank {} of {}): {}",
            self.comm.rank(),
            self.comm.world_size(),
            problems.join("; ")
        )))
    }
}

/// 64-bit FNV-1a, stable across processes and builds (std's hasher is not promised to be).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

impl Model {
    /// Where the time of this model's distributed train steps went on this rank (gradient
    /// step, starting and waiting for the allreduces, update), summed since `compile`;
    /// `None` before any distributed step.
    pub fn step_timings(&self) -> Option<StepTimings> {
        self.training.as_ref()?.step_timings()
    }

    /// A fingerprint of what must be equal on every rank: each layer's class and config, the
    /// connections, every parameter's name and shape (weights and optimizer state), the
    /// optimizer's config and the reported loss and metrics.
    pub(crate) fn replica_fingerprint(&mut self) -> Result<u64> {
        let mut h = Fnv::new();
        for (k, layer) in self.layers().iter().enumerate() {
            h.add(layer.class_name().as_bytes());
            h.add(layer.config().to_string().as_bytes());
            h.add(format!("{:?}", self.inbound_ports(k)).as_bytes());
        }
        let state = self.training_state_mut()?;
        for (name, shape) in state.param_shapes() {
            h.add(name.as_bytes());
            h.add(format!("{shape}").as_bytes());
        }
        h.add(state.optimizer().config().to_string().as_bytes());
        for (name, _) in state.reported() {
            h.add(name.as_bytes());
        }
        Ok(h.0)
    }

    /// Before training on `ranks`: every rank must have the same model, global batch size,
    /// number of training examples and shuffle seed; then rank 0's parameters (weights and optimizer state)
    /// are copied to every rank.
    pub(crate) fn join_ranks(
        &mut self,
        ranks: Ranks<'_>,
        batch_size: usize,
        examples: usize,
        shuffle: Option<u64>,
    ) -> Result<()> {
        let fingerprint = self.replica_fingerprint()?;
        // The shards are cut from one global shuffle: every rank must draw the same one.
        let shuffle = shuffle.map_or(0, |seed| seed.wrapping_add(1));
        ranks.check_agree(&[
            (
                "the model (architecture, parameter shapes, optimizer, loss and metrics)",
                fingerprint,
            ),
            ("the global batch size", batch_size as u64),
            ("the number of training examples", examples as u64),
            ("the shuffle (0: none, else the model seed + 1)", shuffle),
        ])?;
        self.broadcast_parameters(ranks.comm)
    }

    /// Rank 0's parameter store (by name: weights and optimizer state) on every rank.
    fn broadcast_parameters(&mut self, comm: &dyn Communicator) -> Result<()> {
        let state = self.training_state_mut()?;
        let store: Vec<(String, Tensor)> = state
            .synced_store()?
            .iter()
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        let mut buffer: Vec<f32> = store
            .iter()
            .flat_map(|(_, t)| t.data.iter().copied())
            .collect();
        comm.broadcast(&mut buffer, 0)?;
        let mut offset = 0;
        let values = store.into_iter().map(|(name, mut t)| {
            let n = t.data.len();
            t.data.copy_from_slice(&buffer[offset..offset + n]);
            offset += n;
            (name, t)
        });
        let values: Vec<(String, Tensor)> = values.collect();
        self.training_state_mut()?.restore(values)
    }

    /// One distributed train step on this rank's `batch`: gradients, their average over the
    /// ranks, the update; adds the values combined over the ranks to `means` (as one batch of
    /// `world · len` examples, so every rank's logs are the global ones).
    pub(crate) fn run_split_step(
        &mut self,
        batch: StepBatch<'_>,
        means: &mut Means,
        ranks: Ranks<'_>,
    ) -> Result<()> {
        let n = batch.len;
        let (graph, seed) = (&self.graph, self.seed);
        let state = self
            .training
            .as_mut()
            .expect("fit checked the model is compiled");
        state.prepare_split(graph, seed, n, batch.weighted)?;
        let values = state.split_step(&batch.inputs, ranks.comm, ranks.bucket_bytes)?;
        means
            .add(&values, n * ranks.comm.world_size())
            .map_err(|key| {
                self.model_error(format!("the compiled step returned no `{key}` output"))
            })
    }

    /// BatchNormalization's moving statistics averaged over the ranks (at the end of each
    /// epoch: a moving average is linear in its batch statistics, so averaging once per epoch
    /// gives what averaging after every step would, without a collective per step).
    pub(crate) fn average_running_state(&mut self, comm: &dyn Communicator) -> Result<()> {
        self.training_state_mut()?.average_running_state(comm)
    }

    /// A pass of `role` over this rank's `feed` (`steps` batches, or the whole shard), its
    /// sums combined over the ranks: the values over the data of all ranks together.
    pub(crate) fn run_pass_ranks(
        &mut self,
        role: Role,
        feed: &mut Feed<'_>,
        steps: Option<usize>,
        comm: &dyn Communicator,
    ) -> Result<crate::progress::Logs> {
        let mut means = self.pass_means(role, feed, steps)?;
        means.reduce(comm)?;
        means.ensure_examples()?;
        Ok(means.logs())
    }

    /// [`Model::evaluate`] over every rank's share of `data` (an exact partition: each
    /// example counts once), in per-rank batches of `batch_size / ranks`: every rank gets
    /// the loss and metrics of the whole data, as one process evaluating all of it (with
    /// fewer examples than ranks, the ranks without one add nothing). In-memory data only (a
    /// generator cannot be sharded).
    ///
    /// # Errors
    /// As [`Model::evaluate`]; [`Error::InvalidArgument`] when the ranks do not divide
    /// `batch_size` or for a generator; [`Error::Distributed`] when ranks disagree or the
    /// communicator fails.
    pub fn evaluate_distributed<'a>(
        &mut self,
        data: impl TrainingData<'a>,
        batch_size: usize,
        comm: &dyn Communicator,
    ) -> Result<Evaluation> {
        self.training_state_mut()?;
        check_batch_size(batch_size)?;
        let ranks = Ranks::new(comm, DEFAULT_BUCKET_BYTES);
        let local = ranks.local_batch(batch_size)?;
        let source = data.into_source()?;
        if matches!(source, DataSource::Batches(_)) {
            return Err(Error::InvalidArgument {
                name: "evaluate_distributed",
                msg: "needs in-memory data (a generator cannot be sharded across ranks)".into(),
            });
        }
        let (rows, weights) = source.rows().expect("in-memory data has rows");
        self.check_rows(&rows, "evaluation")?;
        if let Some(w) = weights {
            check_weights(rows.len, w)?;
        }
        let fingerprint = self.replica_fingerprint()?;
        ranks.check_agree(&[
            (
                "the model (architecture, parameter shapes, optimizer, loss and metrics)",
                fingerprint,
            ),
            ("the global batch size", batch_size as u64),
            ("the number of evaluation examples", rows.len as u64),
        ])?;
        let (rank, world) = ranks.position();
        // With fewer examples than ranks, some ranks evaluate none and add zero sums.
        let sampler = DistributedSampler::new(rows.len, world, rank).exact();
        let mut feed = Feed::memory_shard(rows.weighted(weights), local, 0, sampler);
        let values = self.run_pass_ranks(Role::Eval, &mut feed, None, comm)?;
        Ok(Evaluation::from_logs(&values))
    }
}

/// Sums of f64 sent through an f32 allreduce as two f32 each (the value rounded, and what
/// rounding left), which keeps about 48 bits of each.
pub(crate) fn reduce_f64(values: &mut [f64], comm: &dyn Communicator) -> Result<()> {
    let mut buffer = Vec::with_capacity(values.len() * 2);
    for &v in values.iter() {
        let hi = v as f32;
        buffer.push(hi);
        buffer.push((v - f64::from(hi)) as f32);
    }
    comm.all_reduce_sum(&mut buffer)?;
    for (v, pair) in values.iter_mut().zip(buffer.chunks_exact(2)) {
        *v = f64::from(pair[0]) + f64::from(pair[1]);
    }
    Ok(())
}
