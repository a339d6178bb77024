//! The two ways a started sum runs while training goes on: [`HelperThread`] (a thread doing
//! blocking `MPI_Allreduce`s in the order they were started; it notes when each finished) and
//! [`ImmediateSum`] (`MPI_Iallreduce`, moved on by `MPI_Test` whenever training calls
//! `progress` between backward kernels, then `MPI_Wait`). It does NOT pick between them ([`crate::Overlap`] does).

use std::os::raw::c_void;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use kiln::distributed::{CommError, PendingSum};
use mpi::ffi;

use crate::comm::RawComm;
use crate::error::{check, count};

type SumResult = Result<Vec<f32>, CommError>;

/// One sum for the helper thread and where to send its result (with when it finished).
struct Job {
    buffer: Vec<f32>,
    reply: mpsc::SyncSender<(SumResult, Instant)>,
}

/// A thread that runs blocking sums on its own communicator, first started first run: every
/// rank starts its sums in the same order, so the n-th sum of every rank is the same sum.
pub(crate) struct HelperThread {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl HelperThread {
    pub(crate) fn spawn(comm: RawComm) -> Result<Self, CommError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("kiln-mpi-allreduce".into())
            .spawn(move || run_jobs(&comm, &queue))
            .map_err(|e| CommError::Transport(format!("cannot start the allreduce thread: {e}")))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    pub(crate) fn start(&self, buffer: Vec<f32>) -> Result<Box<dyn PendingSum>, CommError> {
        let (reply, result) = mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(Job { buffer, reply }).ok())
            .ok_or_else(|| CommError::Transport("the allreduce thread has stopped".into()))?;
        Ok(Box::new(HelperSum { result }))
    }
}

/// The helper thread's loop: sums into a spare buffer (the previous job's input), so a step's
/// buckets cost no new allocations after the first step.
fn run_jobs(comm: &RawComm, queue: &mpsc::Receiver<Job>) {
    let mut spare: Vec<f32> = Vec::new();
    for Job { buffer, reply } in queue {
        spare.clear();
        spare.resize(buffer.len(), 0.0);
        let result = comm.all_reduce(&buffer, &mut spare);
        let finished = Instant::now();
        let summed = std::mem::replace(&mut spare, buffer);
        // A dropped PendingSum does not want its result; the sum was still run, in order.
        let _ = reply.send((result.map(|()| summed), finished));
    }
}

impl Drop for HelperThread {
    fn drop(&mut self) {
        // Closing the queue ends the loop after the sums already started.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A sum queued on the helper thread.
struct HelperSum {
    result: mpsc::Receiver<(SumResult, Instant)>,
}

impl PendingSum for HelperSum {
    fn wait(self: Box<Self>) -> SumResult {
        self.wait_timed().map(|(buffer, _)| buffer)
    }

    fn wait_timed(self: Box<Self>) -> Result<(Vec<f32>, Option<Instant>), CommError> {
        let (result, finished) = self
            .result
            .recv()
            .map_err(|_| CommError::Transport("the allreduce thread stopped mid-sum".into()))?;
        result.map(|buffer| (buffer, Some(finished)))
    }
}

/// An `MPI_Iallreduce` in flight; owns both buffers until it completes (a drop waits).
pub(crate) struct ImmediateSum {
    send: Vec<f32>,
    recv: Vec<f32>,
    request: ffi::MPI_Request,
    pending: bool,
    /// When `progress` (`MPI_Test`) first found the sum complete.
    finished: Option<Instant>,
    /// The first error `MPI_Test` reported, for `wait`.
    failed: Option<CommError>,
}

// SAFETY: MPI_THREAD_MULTIPLE (checked by `init`): a request may be completed on any thread,
// and the buffers it points into move with it (their heap storage does not move).
unsafe impl Send for ImmediateSum {}

impl ImmediateSum {
    pub(crate) fn start(comm: &RawComm, send: Vec<f32>) -> Result<Self, CommError> {
        let n = count(send.len())?;
        let mut sum = Self {
            recv: vec![0.0; send.len()],
            send,
            // SAFETY: reading MPI's predefined null request.
            request: unsafe { ffi::RSMPI_REQUEST_NULL },
            pending: false,
            finished: None,
            failed: None,
        };
        // SAFETY: both buffers hold `n` f32s on the heap and are owned by `sum`, which does
        // not free them before the request completes (`wait`, or `drop`).
        let rc = unsafe {
            ffi::MPI_Iallreduce(
                sum.send.as_ptr().cast::<c_void>(),
                sum.recv.as_mut_ptr().cast::<c_void>(),
                n,
                ffi::RSMPI_FLOAT,
                ffi::RSMPI_SUM,
                comm.raw(),
                &mut sum.request,
            )
        };
        check(rc, "MPI_Iallreduce")?;
        sum.pending = true;
        Ok(sum)
    }

    fn complete(&mut self) -> Result<(), CommError> {
        if !self.pending {
            return Ok(());
        }
        self.pending = false;
        // SAFETY: `request` is the live request started in `start`.
        let rc = unsafe { ffi::MPI_Wait(&mut self.request, ffi::RSMPI_STATUS_IGNORE) };
        check(rc, "MPI_Wait (MPI_Iallreduce)")
    }
}

impl PendingSum for ImmediateSum {
    fn wait(self: Box<Self>) -> SumResult {
        self.wait_timed().map(|(buffer, _)| buffer)
    }

    /// `MPI_Test`: Open MPI moves a non-blocking collective on only inside MPI calls, so
    /// training calls this between backward kernels.
    fn progress(&mut self) {
        if !self.pending || self.failed.is_some() {
            return;
        }
        let mut done = 0;
        // SAFETY: `request` is the live request started in `start`; a completed request is
        // set to MPI_REQUEST_NULL by MPI_Test, so `pending` is cleared with it.
        let rc = unsafe { ffi::MPI_Test(&mut self.request, &mut done, ffi::RSMPI_STATUS_IGNORE) };
        match check(rc, "MPI_Test (MPI_Iallreduce)") {
            Ok(()) if done != 0 => {
                self.pending = false;
                self.finished = Some(Instant::now());
            }
            Ok(()) => {}
            Err(e) => self.failed = Some(e),
        }
    }

    fn wait_timed(mut self: Box<Self>) -> Result<(Vec<f32>, Option<Instant>), CommError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.complete()?;
        Ok((std::mem::take(&mut self.recv), self.finished))
    }
}

impl Drop for ImmediateSum {
    fn drop(&mut self) {
        // MPI may still write into `recv`: never free it under a live request.
        let _ = self.complete();
    }
}
