//! Starting and finishing MPI: [`init`] calls `MPI_Init_thread` asking for
//! `MPI_THREAD_MULTIPLE`, and [`Mpi`] calls `MPI_Finalize` when it and every [`MpiComm`] made
//! from it are gone. It does NOT launch processes (that is `mpirun`/`mpiexec`).

use std::sync::Arc;

use mpi::Threading;
use mpi::environment::Universe;

use crate::comm::{MpiComm, Overlap};
use crate::error::MpiError;

/// MPI, initialized in this process; finalized when this and every communicator made from it
/// are dropped (drop them on the thread that called [`init`], as MPI asks).
pub struct Mpi {
    universe: Arc<Universe>,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi").finish_non_exhaustive()
    }
}

/// Initializes MPI with `MPI_THREAD_MULTIPLE` (the overlapped sums call MPI from a helper
/// thread while training calls it from the main one).
///
/// # Errors
/// [`MpiError::AlreadyInitialized`] on a second call in one process;
/// [`MpiError::NoThreadMultiple`] when the library grants a lower threading level.
pub fn init() -> Result<Mpi, MpiError> {
    let (universe, granted) =
        mpi::initialize_with_threading(Threading::Multiple).ok_or(MpiError::AlreadyInitialized)?;
    if granted != Threading::Multiple {
        return Err(MpiError::NoThreadMultiple {
            granted: format!("{granted:?}"),
        });
    }
    Ok(Mpi {
        universe: Arc::new(universe),
    })
}

impl Mpi {
    /// A handle on every process of the job (a duplicate of `MPI_COMM_WORLD`, so the job's
    /// other MPI traffic cannot mix with training's), with the default [`Overlap`].
    ///
    /// Collective: every rank calls it, in the same order as its other collectives.
    ///
    /// # Errors
    /// When MPI fails to duplicate the communicator.
    pub fn world(&self) -> Result<MpiComm, MpiError> {
        self.world_with(Overlap::default())
    }

    /// [`Mpi::world`] with a chosen way of running the sums that training does not wait for.
    ///
    /// # Errors
    /// When MPI fails to duplicate the communicator.
    pub fn world_with(&self, overlap: Overlap) -> Result<MpiComm, MpiError> {
        Ok(MpiComm::new(Arc::clone(&self.universe), overlap)?)
    }

    /// The name of the host this process runs on (`MPI_Get_processor_name`).
    #[must_use]
    pub fn processor_name(&self) -> String {
        mpi::environment::processor_name().unwrap_or_else(|_| "unknown".into())
    }
}
