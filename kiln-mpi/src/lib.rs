//! Kiln's data-parallel training over MPI: [`MpiComm`] implements
//! [`kiln::distributed::Communicator`] for the processes of an MPI job (Open MPI or MPICH,
//! through the `mpi` crate, rsmpi).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kiln::distributed::Communicator;
//!
//! let mpi = kiln_mpi::init()?; // MPI_Init_thread(MPI_THREAD_MULTIPLE); finalized on drop
//! let world = mpi.world()?; // this process's handle on every rank of the job
//! let mut grads = vec![world.rank() as f32; 4];
//! world.all_reduce_sum(&mut grads)?;
//! // hand `world` to training: FitOptions::new(epochs, global_batch).distributed(...)
//! # Ok(()) }
//! ```
//!
//! Run with `mpirun -np 2 target/release/examples/mnist_mlp_mpi` (docs/distributed.md). The crate
//! is outside the root workspace: it needs an MPI library and libclang to build, which README's
//! commands do not. It owns the transport only: what is summed when (buckets, overlap with the
//! backward pass, the distributed sampler) is `kiln::distributed`'s.

mod comm;
mod env;
mod error;
mod pending;

pub use comm::{MpiComm, Overlap};
pub use env::{Mpi, init};
pub use error::MpiError;
