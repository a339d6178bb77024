//! [`MpiComm`]: [`Communicator`] over an MPI communicator — sums, broadcasts and gathers as MPI
//! collectives on a private duplicate of `MPI_COMM_WORLD` whose errors come back as
//! [`CommError`]s (not MPI's default abort). It does NOT choose buckets or when to wait: training
//! (`kiln::distributed`) does.

use std::os::raw::{c_int, c_void};
use std::sync::Arc;

use kiln::distributed::{CommError, Communicator, PendingSum, ReadySum};
use mpi::environment::Universe;
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::{Communicator as _, SimpleCommunicator};

use crate::error::{check, count};
use crate::pending::{HelperThread, ImmediateSum};

/// How [`Communicator::start_all_reduce_sum`] runs a sum that training does not wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlap {
    /// A blocking `MPI_Allreduce` on a helper thread with its own communicator: the sum
    /// progresses while training computes, whatever the MPI library's progress rules.
    #[default]
    HelperThread,
    /// `MPI_Iallreduce`, waited for with `MPI_Wait`. Open MPI moves most of such a sum's data
    /// only inside MPI calls, so it overlaps little with compiled code that makes none.
    Immediate,
    /// No overlap: the sum runs to completion when it is started (the baseline).
    Blocking,
}

/// A duplicated MPI communicator that returns errors instead of aborting; freed on drop
/// (before MPI is finalized: it holds the universe).
pub(crate) struct RawComm {
    comm: SimpleCommunicator,
    _universe: Arc<Universe>,
}

// SAFETY: MPI was initialized with MPI_THREAD_MULTIPLE (`init` checks), so a communicator may
// be used from any thread; each `RawComm` is used by one thread at a time (`&mut`-free calls
// are still only made by its owner: the main thread or the helper thread).
unsafe impl Send for RawComm {}

impl RawComm {
    fn duplicate_world(universe: Arc<Universe>) -> Result<Self, CommError> {
        let comm = SimpleCommunicator::world().duplicate();
        // SAFETY: `comm` is a live communicator; ERRORS_RETURN is MPI's predefined handler.
        let rc = unsafe { ffi::MPI_Comm_set_errhandler(comm.as_raw(), ffi::RSMPI_ERRORS_RETURN) };
        check(rc, "MPI_Comm_set_errhandler")?;
        Ok(Self {
            comm,
            _universe: universe,
        })
    }

    pub(crate) fn raw(&self) -> ffi::MPI_Comm {
        self.comm.as_raw()
    }

    /// Blocking `MPI_Allreduce` (SUM) of `send` into `recv` (same length).
    pub(crate) fn all_reduce(&self, send: &[f32], recv: &mut [f32]) -> Result<(), CommError> {
        debug_assert_eq!(send.len(), recv.len());
        let n = count(send.len())?;
        // SAFETY: both buffers hold `n` f32s and outlive the blocking call.
        let rc = unsafe {
            ffi::MPI_Allreduce(
                send.as_ptr().cast::<c_void>(),
                recv.as_mut_ptr().cast::<c_void>(),
                n,
                ffi::RSMPI_FLOAT,
                ffi::RSMPI_SUM,
                self.raw(),
            )
        };
        check(rc, "MPI_Allreduce")
    }
}

/// One rank's handle on the processes of an MPI job, for `kiln::distributed` training.
///
/// Made by [`crate::Mpi::world`]. Sums are `MPI_Allreduce` (one reduction order for all ranks,
/// so every rank gets the same bits); sums that are started without waiting run as
/// [`Overlap`] says.
pub struct MpiComm {
    comm: RawComm,
    rank: usize,
    size: usize,
    overlap: Overlap,
    helper: Option<HelperThread>,
}

impl std::fmt::Debug for MpiComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiComm")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .field("overlap", &self.overlap)
            .finish_non_exhaustive()
    }
}

impl MpiComm {
    /// Duplicates `MPI_COMM_WORLD` (twice with [`Overlap::HelperThread`]: one for the helper).
    /// Collective: every rank calls it in the same order.
    pub(crate) fn new(universe: Arc<Universe>, overlap: Overlap) -> Result<Self, CommError> {
        let comm = RawComm::duplicate_world(Arc::clone(&universe))?;
        let rank = usize::try_from(comm.comm.rank()).unwrap_or(0);
        let size = usize::try_from(comm.comm.size()).unwrap_or(1);
        let helper = match overlap {
            Overlap::HelperThread => {
                Some(HelperThread::spawn(RawComm::duplicate_world(universe)?)?)
            }
            Overlap::Immediate | Overlap::Blocking => None,
        };
        Ok(Self {
            comm,
            rank,
            size,
            overlap,
            helper,
        })
    }

    /// How this handle runs the sums that are started without waiting.
    #[must_use]
    pub fn overlap(&self) -> Overlap {
        self.overlap
    }
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&self, buffer: &mut [f32]) -> Result<(), CommError> {
        let send = buffer.to_vec();
        self.comm.all_reduce(&send, buffer)
    }

    fn start_all_reduce_sum(&self, buffer: Vec<f32>) -> Result<Box<dyn PendingSum>, CommError> {
        match (&self.helper, self.overlap) {
            (Some(helper), _) => helper.start(buffer),
            (None, Overlap::Immediate) => Ok(Box::new(ImmediateSum::start(&self.comm, buffer)?)),
            (None, _) => {
                let mut buffer = buffer;
                self.all_reduce_sum(&mut buffer)?;
                Ok(Box::new(ReadySum::new(buffer)))
            }
        }
    }

    fn broadcast(&self, buffer: &mut [f32], root: usize) -> Result<(), CommError> {
        if root >= self.size {
            return Err(CommError::BadRank {
                rank: root,
                world_size: self.size,
            });
        }
        let n = count(buffer.len())?;
        let root = c_int::try_from(root).map_err(|e| CommError::Transport(e.to_string()))?;
        // SAFETY: `buffer` holds `n` f32s for the whole blocking call.
        let rc = unsafe {
            ffi::MPI_Bcast(
                buffer.as_mut_ptr().cast::<c_void>(),
                n,
                ffi::RSMPI_FLOAT,
                root,
                self.comm.raw(),
            )
        };
        check(rc, "MPI_Bcast")
    }

    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>, CommError> {
        let mut all = vec![0u64; self.size];
        // SAFETY: one u64 sent, `size` u64s received, both live for the blocking call.
        let rc = unsafe {
            ffi::MPI_Allgather(
                std::ptr::from_ref(&value).cast::<c_void>(),
                1,
                ffi::RSMPI_UINT64_T,
                all.as_mut_ptr().cast::<c_void>(),
                1,
                ffi::RSMPI_UINT64_T,
                self.comm.raw(),
            )
        };
        check(rc, "MPI_Allgather")?;
        Ok(all)
    }
}
