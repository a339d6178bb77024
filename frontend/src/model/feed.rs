//! [`Feed`]: the batches of one `fit` or `evaluate`, one step at a time — from examples in
//! memory (in order or reshuffled every pass, continuing across epochs when `fit` is given
//! `steps_per_epoch`) or from a [`Generator`] (each item one batch, class weights applied
//! batch by batch).
//!
//! A batch comes with its per-example weights when the data has any. This module does not
//! check shapes against a model nor run steps (that is `fit`).

use std::collections::BTreeMap;

use crate::datasets::{Dataset, Generator};
use crate::error::Result;
use crate::model::data::example_weights;

/// A range of examples of a dataset, with their weights if any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub features: &'a [f32],
    pub labels: &'a [f32],
    pub weights: Option<&'a [f32]>,
    pub feature_size: usize,
    pub label_size: usize,
    pub len: usize,
}

impl<'a> Rows<'a> {
    /// All examples of `dataset`, with `weights` (one per example) if given.
    pub fn of(dataset: &'a Dataset, weights: Option<&'a [f32]>) -> Self {
        Rows {
            features: dataset.features(),
            labels: dataset.labels(),
            weights,
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
            weights: self.weights.map(|w| &w[start..end]),
            len: end - start,
            ..*self
        }
    }
}

/// One step's examples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepBatch<'s> {
    pub features: &'s [f32],
    pub labels: &'s [f32],
    pub weights: Option<&'s [f32]>,
    pub len: usize,
    /// A batch from a generator, whose shapes the caller has yet to check.
    pub unchecked: Option<&'s Dataset>,
}

/// Buffers that gather one batch's examples when they are visited in a permuted order.
#[derive(Debug, Default)]
struct Gather {
    features: Vec<f32>,
    labels: Vec<f32>,
    weights: Vec<f32>,
}

impl Gather {
    /// The examples `order[start..end]` of `rows`, or `start..end` when no order is given.
    fn batch<'s>(
        &'s mut self,
        rows: Rows<'s>,
        order: Option<&[usize]>,
        start: usize,
        end: usize,
    ) -> StepBatch<'s> {
        let Some(order) = order else {
            let r = rows.range(start, end);
            return StepBatch {
                features: r.features,
                labels: r.labels,
                weights: r.weights,
                len: r.len,
                unchecked: None,
            };
        };
        self.features.clear();
        self.labels.clear();
        self.weights.clear();
        for &i in &order[start..end] {
            let r = rows.range(i, i + 1);
            self.features.extend_from_slice(r.features);
            self.labels.extend_from_slice(r.labels);
            self.weights.extend(r.weights.into_iter().flatten());
        }
        StepBatch {
            features: &self.features,
            labels: &self.labels,
            weights: rows.weights.map(|_| self.weights.as_slice()),
            len: end - start,
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
            order: None,
            next: 0,
            gather: Gather::default(),
        };
        memory.start_pass(first_pass);
        Feed::Memory(memory)
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
            Feed::Memory(m) => Some(m.rows.len.div_ceil(m.batch_size)),
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
        self.order = self
            .shuffle_seed
            .map(|seed| permutation(self.rows.len, seed.wrapping_add(pass + 1)));
    }

    fn next_batch(&mut self) -> StepBatch<'_> {
        if self.next >= self.rows.len {
            self.start_pass(self.pass + 1);
        }
        let start = self.next;
        let end = (start + self.batch_size).min(self.rows.len);
        self.next = end;
        self.gather
            .batch(self.rows, self.order.as_deref(), start, end)
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
        Ok(Some(StepBatch {
            features: batch.features(),
            labels: batch.labels(),
            weights: weights.as_deref(),
            len: batch.len(),
            unchecked: Some(batch),
        }))
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

#[cfg(test)]
mod tests {
    use super::*;

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
            seen.push((b.features.to_vec(), b.weights.unwrap().to_vec()));
        }
        assert_eq!(seen[2], (vec![4.0], vec![5.0]));
        assert_eq!(seen[3], (vec![0.0, 1.0], vec![1.0, 2.0]));
        let mut shuffled = Feed::memory(Rows::of(&data, Some(&weights)), 5, Some(1), 0);
        let b = shuffled.next_batch().unwrap().unwrap();
        let pairs: Vec<(f32, f32)> = b
            .features
            .iter()
            .copied()
            .zip(b.weights.unwrap().iter().copied())
            .collect();
        assert!(pairs.iter().all(|&(x, w)| w == x + 1.0), "{pairs:?}");
    }
}
