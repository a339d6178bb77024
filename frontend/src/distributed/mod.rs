//! Data-parallel training across processes, DDP-style: the [`Communicator`] a transport
//! implements, an in-process [`ThreadWorld`], the [`DistributedSampler`] that gives each rank its
//! shard of every epoch, the [`Buckets`] the gradients are summed in, and [`InFlight`], the
//! sums of one step started while its backward pass runs.
//!
//! Every rank builds the same model and calls `fit` with the same data and options plus
//! [`FitOptions::distributed`](crate::model::FitOptions::distributed); `batch_size` is the
//! global batch (each rank takes `batch_size / ranks` per step). Here two ranks are threads:
//!
//! ```
//! use kiln::distributed::{Communicator, ThreadWorld};
//! use kiln::losses::SoftmaxCrossEntropyWithLogits;
//! use kiln::metrics::Accuracy;
//! use kiln::optimizers::SGD;
//! use kiln::prelude::*;
//!
//! let data = Dataset::new(vec![0.5; 8 * 2], &[8, 2], vec![1.0, 0.0].repeat(8), &[8, 2])?;
//! let weights: Vec<_> = std::thread::scope(|s| {
//!     let ranks: Vec<_> = ThreadWorld::new(2)
//!         .into_iter()
//!         .map(|comm| {
//!             let data = &data;
//!             s.spawn(move || -> kiln::Result<_> {
//!                 let mut model = sequential![Input::new([2]), Dense::new(2)];
//!                 model.compile(SGD::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
//!                 let options = FitOptions::new(2, 4).verbose(false).distributed(&comm);
//!                 model.fit_with(data, options)?;
//!                 model.weights()
//!             })
//!         })
//!         .collect();
//!     ranks.into_iter().map(|r| r.join().unwrap()).collect()
//! });
//! assert_eq!(weights[0].as_ref().unwrap(), weights[1].as_ref().unwrap());
//! # Ok::<(), kiln::Error>(())
//! ```
//!
//! This module holds the vocabulary only; `fit` and `evaluate` use it through
//! `FitOptions::distributed`. It does NOT hold MPI (crate `kiln-mpi`, outside the workspace,
//! implements [`Communicator`] with it) and does not compile or run models.

mod buckets;
mod communicator;
mod in_flight;
mod sampler;
mod thread_world;

pub use buckets::{Buckets, DEFAULT_BUCKET_BYTES};
pub use communicator::{CommError, Communicator, PendingSum, ReadySum};
pub use in_flight::{BucketLayout, InFlight, Reduced};
pub use sampler::{DistributedSampler, permutation};
pub use thread_world::{ThreadComm, ThreadWorld};
