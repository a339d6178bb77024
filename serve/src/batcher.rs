//! Dynamic micro-batching: requests (already checked) wait in a bounded queue; a worker
//! thread takes the first, gathers more until the batch holds [`ServeConfig::max_batch`]
//! instances or [`ServeConfig::max_wait`] has passed, runs one `predict` and answers each
//! request with its own rows. Requests that queue while a batch runs join the next batch at
//! once. If a combined batch fails (which checked requests should never make it do), each
//! request is run alone, so one cannot fail another; a panic in `predict` is caught and
//! answered as an error, and the worker keeps serving.
//!
//! It does NOT parse or check requests (`api.rs` does) and knows nothing of HTTP.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

use kiln::{Model, Shape, Tensor};
use tokio::sync::oneshot;

use crate::config::ServeConfig;

/// The answer to one request: its predictions, one after another, or why there are none.
pub(crate) type Answer = Result<Vec<f32>, Failure>;

/// Why a request got no predictions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The model refused the instances (for example token ids out of an `Embedding`'s range).
    Rejected(String),
    /// `predict` panicked (caught; the worker goes on).
    Panicked,
}

/// One request waiting for a batch: `count` examples, their values one after another.
struct Job {
    values: Vec<f32>,
    count: usize,
    reply: oneshot::Sender<Answer>,
}

/// Counters of what the workers ran.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Requests answered.
    pub(crate) requests: AtomicU64,
    /// `predict` calls.
    pub(crate) batches: AtomicU64,
    /// Instances predicted.
    pub(crate) instances: AtomicU64,
}

/// Why a request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// The queue holds `queue_capacity` requests.
    Full,
    /// The workers have stopped.
    Closed,
}

/// The queue into the worker threads.
pub(crate) struct Batcher {
    queue: SyncSender<Job>,
    pub(crate) stats: Arc<Stats>,
}

/// What a worker needs: the model, the batching options and the per-example lengths.
struct Worker {
    model: Arc<Model>,
    input_dims: Vec<usize>,
    output_len: usize,
    config: ServeConfig,
    stats: Arc<Stats>,
}

impl Batcher {
    /// Starts `config.workers` threads predicting with `model`, whose per-example input
    /// shape is `input_dims` and output length `output_len`.
    pub(crate) fn start(
        model: Arc<Model>,
        input_dims: Vec<usize>,
        output_len: usize,
        config: &ServeConfig,
    ) -> Batcher {
        let (queue, jobs) = sync_channel(config.queue_capacity);
        let jobs = Arc::new(Mutex::new(jobs));
        let stats = Arc::new(Stats::default());
        let worker = Arc::new(Worker {
            model,
            input_dims,
            output_len,
            config: config.clone(),
            stats: Arc::clone(&stats),
        });
        for k in 0..config.workers {
            let (worker, jobs) = (Arc::clone(&worker), Arc::clone(&jobs));
            thread::Builder::new()
                .name(format!("kiln-serve-batch-{k}"))
                .spawn(move || worker.serve(&jobs))
                .expect("spawning a batch worker thread");
        }
        Batcher { queue, stats }
    }

    /// Queues `count` examples (`values` one after another); the receiver gets the answer.
    pub(crate) fn submit(
        &self,
        values: Vec<f32>,
        count: usize,
    ) -> Result<oneshot::Receiver<Answer>, QueueError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            values,
            count,
            reply,
        };
        match self.queue.try_send(job) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => Err(QueueError::Full),
            Err(TrySendError::Disconnected(_)) => Err(QueueError::Closed),
        }
    }
}

impl Worker {
    /// Runs batches until every sender of `jobs` is gone.
    fn serve(&self, jobs: &Mutex<Receiver<Job>>) {
        let mut carried = None;
        loop {
            let batch = {
                let jobs = jobs.lock().unwrap_or_else(PoisonError::into_inner);
                self.gather(&jobs, &mut carried)
            };
            if batch.is_empty() {
                return;
            }
            self.run(batch);
        }
    }

    /// The next batch: `carried` (a request that did not fit the last batch) or the next
    /// queued request, then more until the batch is full or the wait is over. A request
    /// that would overfill the batch is carried to the next. Empty when the queue closed.
    fn gather(&self, jobs: &Receiver<Job>, carried: &mut Option<Job>) -> Vec<Job> {
        let Some(first) = carried.take().or_else(|| jobs.recv().ok()) else {
            return Vec::new();
        };
        let deadline = Instant::now() + self.config.max_wait;
        let mut total = first.count;
        let mut batch = vec![first];
        while total < self.config.max_batch {
            let wait = deadline.saturating_duration_since(Instant::now());
            let job = match jobs.recv_timeout(wait) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            };
            if total + job.count > self.config.max_batch {
                *carried = Some(job);
                break;
            }
            total += job.count;
            batch.push(job);
        }
        batch
    }

    /// Predicts `batch` in one call and answers each request; on failure, each alone.
    fn run(&self, mut batch: Vec<Job>) {
        if batch.len() == 1 {
            let job = batch.pop().expect("one job");
            let answer = self.predict(job.values, job.count);
            self.answer(job.reply, answer);
            return;
        }
        let total: usize = batch.iter().map(|job| job.count).sum();
        let mut values = Vec::with_capacity(batch.iter().map(|job| job.values.len()).sum());
        for job in &batch {
            values.extend_from_slice(&job.values);
        }
        match self.predict(values, total) {
            Ok(values) => {
                let mut rest = values.as_slice();
                for job in batch {
                    let (own, after) = rest.split_at(job.count * self.output_len);
                    rest = after;
                    self.answer(job.reply, Ok(own.to_vec()));
                }
            }
            Err(_) => {
                for job in batch {
                    let answer = self.predict(job.values, job.count);
                    self.answer(job.reply, answer);
                }
            }
        }
    }

    fn answer(&self, reply: oneshot::Sender<Answer>, answer: Answer) {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        // The client may have gone; nothing is owed to it then.
        let _ = reply.send(answer);
    }

    /// The model's outputs for `count` examples, or why there are none (a panic included).
    fn predict(&self, values: Vec<f32>, count: usize) -> Answer {
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .instances
            .fetch_add(count as u64, Ordering::Relaxed);
        let mut dims = vec![count];
        dims.extend_from_slice(&self.input_dims);
        let len = values.len();
        let x = Tensor::new(Shape::new(dims), values)
            .ok_or_else(|| Failure::Rejected(format!("{len} values for {count} instances")))?;
        let run = catch_unwind(AssertUnwindSafe(|| {
            self.model.predict(&x, self.config.max_batch)
        }));
        match run {
            Ok(Ok(y)) => Ok(y.data),
            Ok(Err(e)) => Err(Failure::Rejected(e.to_string())),
            Err(_) => Err(Failure::Panicked),
        }
    }
}
