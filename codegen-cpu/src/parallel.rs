//! The worker pool behind `kiln_parallel_for`: a few persistent threads (one fewer than the
//! host's cores; the calling thread works too) that run the chunks of one kernel at a time.
//! A caller that finds the pool busy (another thread's step) runs its chunks itself.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;

use crate::abi::KernelFn;

/// One kernel's chunks being handed out.
#[derive(Clone, Copy)]
struct Job {
    kernel: KernelFn,
    /// The kernel's table pointer, as an integer so the job can cross threads.
    table: usize,
    n_chunks: u64,
    next: u64,
    remaining: u64,
}

struct Pool {
    job: Mutex<Option<Job>>,
    work: Condvar,
    finished: Condvar,
    entry: Mutex<()>,
    n_workers: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let n_workers = thread::available_parallelism().map_or(1, |n| n.get()).saturating_sub(1);
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            job: Mutex::new(None),
            work: Condvar::new(),
            finished: Condvar::new(),
            entry: Mutex::new(()),
            n_workers,
        }));
        for i in 0..n_workers {
            // A worker that cannot be spawned just leaves more chunks to the caller.
            let _ = thread::Builder::new().name(format!("kiln-worker-{i}")).spawn(move || pool.worker());
        }
        pool
    })
}

impl Pool {
    /// Take the next chunk of the current job, if any.
    fn take(job: &mut Option<Job>) -> Option<(KernelFn, usize, u64)> {
        let j = job.as_mut()?;
        (j.next < j.n_chunks).then(|| {
            j.next += 1;
            (j.kernel, j.table, j.next - 1)
        })
    }

    fn run_chunks<'a>(&'a self, mut guard: MutexGuard<'a, Option<Job>>) -> MutexGuard<'a, Option<Job>> {
        while let Some((kernel, table, chunk)) = Self::take(&mut guard) {
            drop(guard);
            // SAFETY: `kernel` and `table` come from `kiln_parallel_for`, whose caller (the
            // compiled step) guarantees they stay valid until every chunk has finished.
            unsafe { kernel(table as *const u8, chunk) };
            guard = self.job.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(j) = guard.as_mut() {
                j.remaining -= 1;
                if j.remaining == 0 {
                    self.finished.notify_all();
                }
            }
        }
        guard
    }

    fn worker(&self) {
        let mut guard = self.job.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            guard = self.run_chunks(guard);
            guard = self.work.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Run `kernel(table, chunk)` for every `chunk < n_chunks`, on the pool's threads and the
/// calling thread; returns when all have finished. Called by compiled steps (JIT: by
/// registered address; objects: by this unmangled symbol, from this crate as a library).
///
/// # Safety
/// `kernel` must be a kernel function of a live compiled step and `table` its valid
/// buffer table; chunks must write disjoint memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_parallel_for(kernel: KernelFn, table: *const u8, n_chunks: u64) {
    let pool = pool();
    let serial = || {
        for chunk in 0..n_chunks {
            // SAFETY: the caller's contract.
            unsafe { kernel(table, chunk) };
        }
    };
    if pool.n_workers == 0 || n_chunks <= 1 {
        return serial();
    }
    let Ok(_entry) = pool.entry.try_lock() else { return serial() };
    let mut guard = pool.job.lock().unwrap_or_else(|e| e.into_inner());
    *guard = Some(Job { kernel, table: table as usize, n_chunks, next: 0, remaining: n_chunks });
    pool.work.notify_all();
    guard = pool.run_chunks(guard);
    while guard.as_ref().is_some_and(|j| j.remaining > 0) {
        guard = pool.finished.wait(guard).unwrap_or_else(|e| e.into_inner());
    }
    *guard = None;
}
