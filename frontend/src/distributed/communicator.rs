//! The interface between training and a transport: the [`Communicator`] trait (one rank's handle
//! on a group of processes, like an MPI communicator), [`PendingSum`] (a sum started without
//! waiting) and [`CommError`].
//!
//! This file owns the contract only. It does NOT implement a transport: the in-process
//! [`ThreadWorld`](super::ThreadWorld) (for tests) and the MPI binding (crate `kiln-mpi`, outside
//! the workspace) do.

use std::time::Instant;

/// Errors from a communicator: a transport failure, a peer that is gone, or ranks that disagree.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommError {
    /// The transport failed (an MPI error code and its text, a broken channel).
    #[error("communication failed: {0}")]
    Transport(String),
    /// A rank left the group (its process died or its handle was dropped) before a collective
    /// it had to join completed.
    #[error("rank {rank} is gone: {detail}")]
    PeerGone {
        /// The rank that left.
        rank: usize,
        /// What the transport knows about it.
        detail: String,
    },
    /// Ranks called a collective with buffers of different lengths, or different collectives
    /// in the same position of the call order.
    #[error("ranks disagree in a collective: {0}")]
    Mismatch(String),
    /// A rank number outside `0..world_size` (a broadcast root).
    #[error("rank {rank} is out of range for a world of {world_size}")]
    BadRank {
        /// The rank asked for.
        rank: usize,
        /// The number of ranks.
        world_size: usize,
    },
}

/// One rank's handle on a group of processes training one model together (MPI's communicator).
///
/// Every rank calls the collective methods in the same order with buffers of the same length.
/// Sums must give every rank the same bits (MPI's allreduce does: one reduction order for all
/// ranks), since every rank applies the same update and the replicas must stay identical.
pub trait Communicator: Send {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn world_size(&self) -> usize;
    /// Elementwise sum of `buffer` over all ranks, in place on every rank (MPI_Allreduce, SUM).
    ///
    /// # Errors
    /// [`CommError`] when the transport fails, a peer is gone or the lengths differ.
    fn all_reduce_sum(&self, buffer: &mut [f32]) -> Result<(), CommError>;
    /// Starts the same sum without waiting (MPI_Iallreduce, or a blocking allreduce on a helper
    /// thread); the returned handle's `wait` gives the summed buffer back.
    ///
    /// # Errors
    /// [`CommError`] when the sum cannot be started.
    fn start_all_reduce_sum(&self, buffer: Vec<f32>) -> Result<Box<dyn PendingSum>, CommError>;
    /// Copies `root`'s `buffer` to every rank (MPI_Bcast).
    ///
    /// # Errors
    /// [`CommError`] when the transport fails, a peer is gone, the lengths differ or `root` is
    /// not a rank.
    fn broadcast(&self, buffer: &mut [f32], root: usize) -> Result<(), CommError>;
    /// Every rank's `value`, indexed by rank (MPI_Allgather of one u64): used to check before
    /// training that all ranks have the same model (a fingerprint) and batch size.
    ///
    /// # Errors
    /// [`CommError`] when the transport fails or a peer is gone.
    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>, CommError>;
}

/// A sum started by [`Communicator::start_all_reduce_sum`].
pub trait PendingSum: Send {
    /// Blocks until the sum is complete and returns the buffer.
    ///
    /// # Errors
    /// [`CommError`] when the sum failed.
    fn wait(self: Box<Self>) -> Result<Vec<f32>, CommError>;

    /// Lets the transport move the sum on without blocking (`MPI_Test`: MPI progresses a
    /// non-blocking collective only inside MPI calls). Training calls it between the kernels
    /// of the backward pass. The default does nothing (a sum that moves on by itself).
    fn progress(&mut self) {}

    /// [`PendingSum::wait`], also saying when the sum had finished, if the transport knows
    /// (a sum run on another thread does); `None` means "no earlier than when `wait`
    /// returned". Used to measure how much of the sum was hidden behind the backward pass.
    ///
    /// # Errors
    /// [`CommError`] when the sum failed.
    fn wait_timed(self: Box<Self>) -> Result<(Vec<f32>, Option<Instant>), CommError> {
        self.wait().map(|buffer| (buffer, None))
    }
}

/// A sum that was complete when it was started (a world of one rank, or a transport that only
/// has blocking sums): `wait` returns the buffer at once, and `wait_timed` says it finished
/// when it was made.
#[derive(Debug)]
pub struct ReadySum {
    buffer: Vec<f32>,
    finished: Instant,
}

impl ReadySum {
    /// The summed `buffer`, finished now.
    #[must_use]
    pub fn new(buffer: Vec<f32>) -> Self {
        ReadySum {
            buffer,
            finished: Instant::now(),
        }
    }
}

impl PendingSum for ReadySum {
    fn wait(self: Box<Self>) -> Result<Vec<f32>, CommError> {
        Ok(self.buffer)
    }

    fn wait_timed(self: Box<Self>) -> Result<(Vec<f32>, Option<Instant>), CommError> {
        Ok((self.buffer, Some(self.finished)))
    }
}

impl From<CommError> for crate::error::Error {
    fn from(e: CommError) -> Self {
        crate::error::Error::Distributed(e.to_string())
    }
}
