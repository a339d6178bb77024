//! [`InFlight`]: the gradient allreduce of one distributed step, overlapped with the backward
//! pass that produces it (DDP's overlap).
//!
//! The compiled gradient step hands each output over as soon as its kernel has run (ready
//! hooks, `Runner::run_notifying`). [`InFlight::ready`] copies a gradient into its bucket's
//! buffer and starts the bucket's sum the moment its last tensor is in, while backward goes
//! on computing earlier layers' gradients; every hand-over also lets the sums already in flight
//! progress ([`PendingSum::progress`]). The step's reported values (loss, metrics) ride at the
//! end of the last bucket (in the order they arrive, the same on every rank: one graph), so
//! the logs need no collective of their own. [`InFlight::finish`] waits for the sums in start
//! order and measures how long sums were in flight and how much of that passed while the
//! gradient step was computing (before it returned, outside these hand-overs: the time hidden
//! behind backward; a blocking transport sums inside the hand-over and hides nothing).
//!
//! Every rank's step hands the outputs over in the same order (the same compiled graph), so
//! the n-th sum started is the same bucket on every rank. This file does NOT average or unpack
//! the sums (the split step does) and does not compile or run anything.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Buckets, CommError, Communicator, PendingSum};

/// Where a step's outputs go: the bucket plan and, per gradient name, its bucket and offset.
#[derive(Debug, Clone)]
pub struct BucketLayout {
    buckets: Buckets,
    /// Gradient output name → (bucket, offset in its buffer).
    places: HashMap<String, (usize, usize)>,
    /// Gradient outputs per bucket.
    counts: Vec<usize>,
}

impl BucketLayout {
    /// The layout of `buckets`, whose tensor `i` arrives as output `names[i]`.
    #[must_use]
    pub fn new(buckets: Buckets, names: &[String]) -> Self {
        let mut counts = vec![0; buckets.len()];
        let places = names
            .iter()
            .cloned()
            .zip(buckets.places())
            .inspect(|(_, (b, _))| counts[*b] += 1)
            .collect();
        BucketLayout {
            buckets,
            places,
            counts,
        }
    }

    /// The bucket plan.
    #[must_use]
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// Where gradient output `name` lies: its bucket and offset in that bucket's buffer.
    #[must_use]
    pub fn place(&self, name: &str) -> Option<(usize, usize)> {
        self.places.get(name).copied()
    }

    /// Number of sums per step: the buckets, or one for the values alone without gradients.
    fn sums(&self) -> usize {
        self.buckets.len().max(1)
    }
}

/// The sums of one step, filled and started as its outputs arrive.
pub struct InFlight<'a> {
    comm: &'a dyn Communicator,
    layout: &'a BucketLayout,
    /// Names of the reported values expected in the last bucket.
    values: &'a [String],
    buffers: Vec<Vec<f32>>,
    /// Tensors still to arrive, per bucket.
    missing: Vec<usize>,
    /// The reported values in the last bucket: name, offset, length.
    tail: Vec<(String, usize, usize)>,
    pending: Vec<Option<Box<dyn PendingSum>>>,
    started: Vec<Option<Instant>>,
    error: Option<CommError>,
    bytes: u64,
    in_hooks: Duration,
    /// Hook time while a sum was in flight: the step was not computing then, so it hid nothing.
    in_hooks_summing: Duration,
}

/// A step's sums, done: the summed buffers and what the overlap achieved.
#[derive(Debug)]
pub struct Reduced {
    /// Per bucket, the summed buffer (the last one ends with the reported values).
    pub buffers: Vec<Vec<f32>>,
    /// The reported values in the last buffer: name, offset, length.
    pub tail: Vec<(String, usize, usize)>,
    /// Bytes this rank sent into the sums.
    pub bytes: u64,
    /// Time spent in [`InFlight::ready`] (copying and starting), inside the gradient step.
    pub in_hooks: Duration,
    /// Time during which at least one sum was in flight (from a start to its completion).
    pub in_flight: Duration,
    /// The part of `in_flight` while the gradient step computed (before it returned, less
    /// the time in [`InFlight::ready`]): hidden behind the rest of backward.
    pub hidden: Duration,
}

impl<'a> InFlight<'a> {
    /// Empty buffers for one step over `comm` laid out by `layout`, expecting the reported
    /// `values` in the last bucket; the buffers are taken from `spare` (the previous step's,
    /// [`Reduced::buffers`]) where it has them, so a step allocates nothing once warm.
    #[must_use]
    pub fn new(
        comm: &'a dyn Communicator,
        layout: &'a BucketLayout,
        values: &'a [String],
        mut spare: Vec<Vec<f32>>,
    ) -> Self {
        let sums = layout.sums();
        let mut missing: Vec<usize> = (0..sums)
            .map(|b| layout.counts.get(b).copied().unwrap_or(0))
            .collect();
        missing[sums - 1] += values.len();
        InFlight {
            comm,
            layout,
            values,
            buffers: (0..sums)
                .map(|b| {
                    let len = if b < layout.buckets.len() {
                        layout.buckets.bucket_len(b)
                    } else {
                        0
                    };
                    let mut buffer = spare.pop().unwrap_or_default();
                    buffer.clear();
                    buffer.resize(len, 0.0);
                    buffer
                })
                .collect(),
            missing,
            tail: Vec::new(),
            pending: (0..sums).map(|_| None).collect(),
            started: vec![None; sums],
            error: None,
            bytes: 0,
            in_hooks: Duration::ZERO,
            in_hooks_summing: Duration::ZERO,
        }
    }

    /// Output `name` of the gradient step is final with `data`: copy it into its bucket,
    /// start the bucket's sum once complete, and let the sums in flight progress. Outputs that
    /// are neither gradients nor reported values are ignored; after a failure, everything is.
    pub fn ready(&mut self, name: &str, data: &[f32]) {
        if self.error.is_some() {
            return;
        }
        let t0 = Instant::now();
        let bucket = if let Some(&(b, offset)) = self.layout.places.get(name) {
            self.buffers[b][offset..offset + data.len()].copy_from_slice(data);
            Some(b)
        } else if self.values.iter().any(|v| v == name) {
            let last = self.buffers.len() - 1;
            let offset = self.buffers[last].len();
            self.buffers[last].extend_from_slice(data);
            self.tail.push((name.to_string(), offset, data.len()));
            Some(last)
        } else {
            None
        };
        if let Some(b) = bucket {
            self.missing[b] -= 1;
            if self.missing[b] == 0 {
                self.start(b);
            }
        }
        self.pending.iter_mut().flatten().for_each(|p| p.progress());
        let spent = t0.elapsed();
        self.in_hooks += spent;
        if self.pending.iter().any(Option::is_some) {
            self.in_hooks_summing += spent;
        }
    }

    /// Starts bucket `b`'s sum (recording a failure for [`InFlight::finish`]).
    fn start(&mut self, b: usize) {
        let buffer = std::mem::take(&mut self.buffers[b]);
        self.bytes += 4 * buffer.len() as u64;
        self.started[b] = Some(Instant::now());
        match self.comm.start_all_reduce_sum(buffer) {
            Ok(pending) => self.pending[b] = Some(pending),
            Err(e) => self.error = Some(e),
        }
    }

    /// Waits for every sum, in start order (the order every rank started them in), given that
    /// the gradient step returned at `step_end`.
    ///
    /// # Errors
    /// A failed sum, or an expected output the step never handed over (then no rank can
    /// complete this step's sums: an error names the bucket).
    pub fn finish(mut self, step_end: Instant) -> Result<Reduced, CommError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(b) = self.missing.iter().position(|&m| m > 0) {
            return Err(CommError::Mismatch(format!(
                "bucket {b} of the gradient step is missing {} of its tensors",
                self.missing[b]
            )));
        }
        let mut order: Vec<usize> = (0..self.pending.len()).collect();
        order.sort_by_key(|&b| self.started[b]);
        let mut buffers = vec![Vec::new(); self.pending.len()];
        let mut spans = Vec::with_capacity(order.len());
        for b in order {
            let pending = self.pending[b].take().expect("every bucket was started");
            let (buffer, done) = pending.wait_timed()?;
            let done = done.unwrap_or_else(Instant::now);
            spans.push((self.started[b].expect("started"), done));
            buffers[b] = buffer;
        }
        Ok(Reduced {
            buffers,
            tail: self.tail,
            bytes: self.bytes,
            in_hooks: self.in_hooks,
            in_flight: covered(&mut spans, None),
            hidden: covered(&mut spans, Some(step_end)).saturating_sub(self.in_hooks_summing),
        })
    }
}

/// The length of the union of `spans` (start, end), cut off at `until` when given.
fn covered(spans: &mut [(Instant, Instant)], until: Option<Instant>) -> Duration {
    spans.sort();
    let mut total = Duration::ZERO;
    let mut reach: Option<Instant> = None;
    for &(start, end) in spans.iter() {
        let end = until.map_or(end, |u| end.min(u));
        let start = reach.map_or(start, |r| start.max(r));
        if end > start {
            total += end - start;
            reach = Some(end);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::ThreadWorld;

    #[test]
    fn covered_merges_overlapping_spans_and_cuts_at_the_limit() {
        let t = Instant::now();
        let at = |ms: u64| t + Duration::from_millis(ms);
        let mut spans = vec![(at(5), at(7)), (at(1), at(3)), (at(2), at(4))];
        assert_eq!(covered(&mut spans, None), Duration::from_millis(5));
        assert_eq!(covered(&mut spans, Some(at(6))), Duration::from_millis(4));
        assert_eq!(covered(&mut spans, Some(at(0))), Duration::ZERO);
    }

    #[test]
    fn a_bucket_starts_when_its_last_tensor_arrives_and_values_ride_last() {
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        // c alone in bucket 0, then b and a in bucket 1.
        let layout = BucketLayout::new(Buckets::new(&[2, 1, 3], 3 * 4), &names);
        let values = vec!["loss".to_string()];
        let world = ThreadWorld::new(1);
        let mut step = InFlight::new(&world[0], &layout, &values, vec![vec![7.0; 9]]);
        step.ready("c", &[1.0, 2.0, 3.0]);
        assert!(step.pending[0].is_some() && step.pending[1].is_none());
        step.ready("ignored", &[9.0]);
        step.ready("a", &[4.0, 5.0]);
        step.ready("loss", &[0.5]);
        assert!(step.pending[1].is_none(), "b is still missing");
        step.ready("b", &[6.0]);
        let done = step.finish(Instant::now()).unwrap();
        assert_eq!(
            done.buffers,
            vec![vec![1.0, 2.0, 3.0], vec![6.0, 4.0, 5.0, 0.5]]
        );
        assert_eq!(done.tail, vec![("loss".to_string(), 3, 1)]);
        assert_eq!(done.bytes, 4 * 7);
    }

    #[test]
    fn a_tensor_never_handed_over_is_an_error_naming_its_bucket() {
        let names = vec!["a".to_string()];
        let layout = BucketLayout::new(Buckets::new(&[2], 64), &names);
        let world = ThreadWorld::new(1);
        let step = InFlight::new(&world[0], &layout, &[], Vec::new());
        let err = step.finish(Instant::now()).unwrap_err().to_string();
        assert!(err.contains("bucket 0"), "{err}");
    }
}
