//! [`Feed`]: the batches of one `fit` or `evaluate`, one step at a time — from examples in
//! memory (in order or reshuffled every pass, continuing across epochs when `fit` is given
//! `steps_per_epoch`) or from a [`Generator`] (each item one batch, class weights applied
//! batch by batch) — and [`Rows`], the examples in memory as columns: one per graph input
//! (each model input's features, each head's labels, and the sample weights when given), so
//! gathering, shuffling and splitting treat every tensor alike.
//!
//! This module does not check shapes against a model nor run steps (that is `pass`).

use std::collections::BTreeMap;

use crate::datasets::{Dataset, Generator, MultiDataset};
use crate::distributed::{DistributedSampler, permutation};
use crate::error::Result;
use crate::model::data::example_weights;
use crate::model::graph::forward::{FEATURES_INPUT, features_input};
use crate::model::training::{LABELS_INPUT, SAMPLE_WEIGHT_INPUT, labels_input};

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

/// A range of examples: its feature columns, then its label columns, then (when weighted)
/// the sample-weight column.
#[derive(Debug, Clone)]
pub(crate) struct Rows<'a> {
    pub columns: Vec<Column<'a>>,
    /// How many of the columns are features.
    pub features: usize,
    /// How many of the columns are labels (after the features).
    pub labels: usize,
    pub len: usize,
}

impl<'a> Rows<'a> {
    /// All examples of `dataset` (one features and one labels column), weighted by
    /// `weights` (one per example) if given.
    pub fn of(dataset: &'a Dataset, weights: Option<&'a [f32]>) -> Self {
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
            labels: 1,
            len: dataset.len(),
        }
        .weighted(weights)
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
            labels: outputs,
            len: dataset.len(),
        }
    }

    /// These rows with `weights` (one per example) as their sample-weight column, replacing
    /// any they had; unweighted for `None`.
    pub fn weighted(mut self, weights: Option<&'a [f32]>) -> Self {
        self.columns.truncate(self.features + self.labels);
        self.columns.extend(weights.map(|values| Column {
            input: SAMPLE_WEIGHT_INPUT.to_string(),
            values,
            shape: &[],
        }));
        self
    }

    /// Whether the rows carry sample weights.
    pub fn is_weighted(&self) -> bool {
        self.columns.len() > self.features + self.labels
    }

    /// The values and per-example size of the only labels column; `None` for several.
    pub fn single_labels(&self) -> Option<(&'a [f32], usize)> {
        match &self.columns[self.features..self.features + self.labels] {
            [column] => Some((column.values, column.size())),
            _ => None,
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
            len: end - start,
            ..*self
        }
    }
}

/// One step's examples: each graph input and its values.
#[derive(Debug, Clone)]
pub(crate) struct StepBatch<'s> {
    pub inputs: Vec<(&'s str, &'s [f32])>,
    pub len: usize,
    /// The batch carries sample weights.
    pub weighted: bool,
    /// A batch from a generator, whose shapes the caller has yet to check.
    pub unchecked: Option<&'s Dataset>,
}

/// Buffers that gather one batch's examples when they are visited in a permuted order.
#[derive(Debug, Default)]
struct Gather {
    columns: Vec<Vec<f32>>,
}

impl Gather {
    /// The examples `order[start..end]` of `rows`, or `start..end` when no order is given.
    fn batch<'s>(
        &'s mut self,
        rows: &'s Rows<'s>,
        order: Option<&[usize]>,
        start: usize,
        end: usize,
    ) -> StepBatch<'s> {
        let Some(order) = order else {
            let r = rows.range(start, end);
            let inputs = rows.columns.iter().zip(r.columns);
            return StepBatch {
                inputs: inputs.map(|(o, c)| (o.input.as_str(), c.values)).collect(),
                len: end - start,
                weighted: rows.is_weighted(),
                unchecked: None,
            };
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
        StepBatch {
            inputs: inputs.zip(self.columns.iter().map(Vec::as_slice)).collect(),
            len: end - start,
            weighted: rows.is_weighted(),
            unchecked: None,
        }
    }
}

/// Where the batches come from.
#[derive(Debug)]
pub(crate) enum Feed<'d> {
    Memory(Memory<'d>),
    Stream(Stream<'d>),
}

/// Batches of examples in memory, pass after pass.
#[derive(Debug)]
pub(crate) struct Memory<'d> {
    rows: Rows<'d>,
    batch_size: usize,
    /// The model seed to reshuffle with before each pass; `None`: in order.
    shuffle_seed: Option<u64>,
    /// Number of the current pass (the epoch, unless `steps_per_epoch` cuts passes apart).
    pass: u64,
    /// This rank's share of every pass in distributed training.
    shard: Option<DistributedSampler>,
    order: Option<Vec<usize>>,
    next: usize,
    gather: Gather,
}

/// Batches from a generator, with their class weights.
#[derive(Debug)]
pub(crate) struct Stream<'d> {
    batches: Generator<'d>,
    class_weight: Option<BTreeMap<usize, f32>>,
    current: Option<(Dataset, Option<Vec<f32>>)>,
}

impl<'d> Feed<'d> {
    /// Batches of `batch_size` of `rows`, starting with pass `first_pass`, reshuffled before
    /// each pass by `shuffle_seed` if given.
    pub fn memory(
        rows: Rows<'d>,
        batch_size: usize,
        shuffle_seed: Option<u64>,
        first_pass: u64,
    ) -> Self {
        let mut memory = Memory {
            rows,
            batch_size,
            shuffle_seed,
            pass: first_pass,
            shard: None,
            order: None,
            next: 0,
            gather: Gather::default(),
        };
        memory.start_pass(first_pass);
        Feed::Memory(memory)
    }

    /// This rank's batches of `batch_size` (the per-rank batch) of `rows` in distributed
    /// training: each pass is the share `sampler` (built over `rows.len` examples) gives
    /// this rank.
    pub fn memory_shard(
        rows: Rows<'d>,
        batch_size: usize,
        first_pass: u64,
        sampler: DistributedSampler,
    ) -> Self {
        let mut feed = Feed::memory(rows, batch_size, None, first_pass);
        if let Feed::Memory(m) = &mut feed {
            m.shard = Some(sampler);
            m.start_pass(first_pass);
        }
        feed
    }

    /// The batches of `batches`, weighted by `class_weight` if given.
    pub fn stream(batches: Generator<'d>, class_weight: Option<BTreeMap<usize, f32>>) -> Self {
        Feed::Stream(Stream {
            batches,
            class_weight,
            current: None,
        })
    }

    /// Batches in one pass over the examples (`None` for a generator).
    pub fn steps_per_pass(&self) -> Option<usize> {
        match self {
            Feed::Memory(m) => Some(m.pass_len().div_ceil(m.batch_size)),
            Feed::Stream(_) => None,
        }
    }

    /// Start the current pass over in memory (validation, each epoch); nothing for a
    /// generator, which goes on.
    pub fn restart(&mut self) {
        if let Feed::Memory(m) = self {
            m.next = 0;
        }
    }

    /// The next batch; `None` when a generator has run out (memory never runs out: a new
    /// pass starts).
    pub fn next_batch(&mut self) -> Result<Option<StepBatch<'_>>> {
        match self {
            Feed::Memory(m) => Ok(Some(m.next_batch())),
            Feed::Stream(s) => s.next_batch(),
        }
    }
}

impl Memory<'_> {
    fn start_pass(&mut self, pass: u64) {
        self.pass = pass;
        self.next = 0;
        self.order = match &self.shard {
            Some(sampler) => Some(sampler.indices(pass)),
            None => self
                .shuffle_seed
                .map(|seed| permutation(self.rows.len, seed.wrapping_add(pass + 1))),
        };
    }

    /// Examples in one pass: all rows, or this rank's share of them.
    fn pass_len(&self) -> usize {
        match &self.shard {
            Some(sampler) => sampler.num_samples(),
            None => self.rows.len,
        }
    }

    fn next_batch(&mut self) -> StepBatch<'_> {
        let len = self.pass_len();
        if self.next >= len {
            self.start_pass(self.pass + 1);
        }
        let start = self.next;
        let end = (start + self.batch_size).min(len);
        self.next = end;
        self.gather
            .batch(&self.rows, self.order.as_deref(), start, end)
    }
}

impl Stream<'_> {
    fn next_batch(&mut self) -> Result<Option<StepBatch<'_>>> {
        let Some(batch) = self.batches.next() else {
            return Ok(None);
        };
        let batch = batch?;
        let weights = example_weights(
            batch.labels(),
            batch.label_size(),
            None,
            self.class_weight.as_ref(),
        )?;
        let (batch, weights) = self.current.insert((batch, weights));
        let mut inputs = vec![
            (FEATURES_INPUT, batch.features()),
            (LABELS_INPUT, batch.labels()),
        ];
        inputs.extend(weights.as_deref().map(|w| (SAMPLE_WEIGHT_INPUT, w)));
        Ok(Some(StepBatch {
            inputs,
            len: batch.len(),
            weighted: weights.is_some(),
            unchecked: Some(batch),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_batches_continue_into_the_next_pass() {
        let data = Dataset::new(
            (0..5).map(|i| i as f32).collect(),
            &[5, 1],
            vec![0.0; 5],
            &[5],
        )
        .unwrap();
        let weights = [1.0, 2.0, 3.0, 4.0, 5.0];
        let mut feed = Feed::memory(Rows::of(&data, Some(&weights)), 2, None, 0);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let b = feed.next_batch().unwrap().unwrap();
            seen.push((b.inputs[0].1.to_vec(), b.inputs[2].1.to_vec()));
        }
        assert_eq!(seen[2], (vec![4.0], vec![5.0]));
        assert_eq!(seen[3], (vec![0.0, 1.0], vec![1.0, 2.0]));
        let mut shuffled = Feed::memory(Rows::of(&data, Some(&weights)), 5, Some(1), 0);
        let b = shuffled.next_batch().unwrap().unwrap();
        let pairs: Vec<(f32, f32)> = b.inputs[0]
            .1
            .iter()
            .copied()
            .zip(b.inputs[2].1.iter().copied())
            .collect();
        assert!(pairs.iter().all(|&(x, w)| w == x + 1.0), "{pairs:?}");
    }
}
