//! The service's options: micro-batching (largest batch, longest wait, worker threads) and
//! the limits that protect it (queue length, body size, instances per request). It does NOT
//! read them from a command line: the `serve` example does.

use std::time::Duration;

use crate::error::ServeError;

/// How the service batches requests and what it accepts.
///
/// ```
/// use kiln_serve::ServeConfig;
/// let config = ServeConfig {
///     max_batch: 64,
///     ..ServeConfig::default()
/// };
/// assert!(config.check().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The most examples one `predict` call runs: queued requests are gathered into one
    /// batch up to this many instances (default 32).
    pub max_batch: usize,
    /// How long a batch waits for more requests after its first one arrived, unless it is
    /// full sooner (default 0: a free worker takes what is queued and runs it). Requests
    /// that queue while a batch runs join the next one without waiting, so under load
    /// batches form by themselves; a wait only adds latency when requests are few (on the
    /// CPU: see the load test in README), but may pay where one call costs much more than
    /// one more example.
    pub max_wait: Duration,
    /// Threads that run batches, each gathering the next batch while others predict
    /// (default 1: the model's kernels already use the cores).
    pub workers: usize,
    /// Requests that may wait for a batch; past it the service answers 503 (default 1024).
    pub queue_capacity: usize,
    /// The largest request body in bytes; past it 413 (default 4 MiB).
    pub max_body_bytes: usize,
    /// The most instances one request may hold; past it 413 (default 256).
    pub max_instances: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_batch: 32,
            max_wait: Duration::ZERO,
            workers: 1,
            queue_capacity: 1024,
            max_body_bytes: 4 << 20,
            max_instances: 256,
        }
    }
}

impl ServeConfig {
    /// An error naming the first option that is zero and may not be.
    pub fn check(&self) -> Result<(), ServeError> {
        let counts = [
            ("max_batch", self.max_batch),
            ("workers", self.workers),
            ("queue_capacity", self.queue_capacity),
            ("max_body_bytes", self.max_body_bytes),
            ("max_instances", self.max_instances),
        ];
        match counts.iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => Err(ServeError::Config(format!("{name} must be at least 1"))),
            None => Ok(()),
        }
    }
}
