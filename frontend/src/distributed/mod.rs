//! Data-parallel training across processes, DDP-style: the [`Communicator`] a transport
//! implements, an in-process [`ThreadWorld`], the [`DistributedSampler`] that gives each rank its
//! shard of every epoch, and the [`Buckets`] the gradients are summed in.
//!
//! This module holds the vocabulary only; `fit` and `evaluate` use it through
//! `FitOptions::distributed`. It does NOT hold MPI (crate `kiln-mpi`, outside the workspace,
//! implements [`Communicator`] with it) and does not compile or run models.

mod buckets;
mod communicator;
mod sampler;
mod thread_world;

pub use buckets::{Buckets, DEFAULT_BUCKET_BYTES};
pub use communicator::{CommError, Communicator, PendingSum, ReadySum};
pub use sampler::{DistributedSampler, permutation};
pub use thread_world::{ThreadComm, ThreadWorld};
