//! The worker pool behind `kiln_parallel_for`: a few persistent threads (one fewer than the
//! host's cores; the calling thread works too) that run the chunks of one kernel at a time.
//! A caller that finds the pool busy (another thread's step) runs its chunks itself.
//!
//! A step runs its kernels back to back, so a worker that has just finished a chunk spins
//! for a short while (`WORKER_SPIN`) watching for the next kernel before it sleeps on a
//! condition variable, and the caller spins while the last chunks finish: most kernels then
//! start and end without a system call. Sleepers are counted, so nobody signals a
//! condition variable that nobody waits on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The type of a kernel function (what `kiln_parallel_for` calls): chunk `chunk` of its
/// work on the buffer table `table`.
pub type KernelFn = unsafe extern "C" fn(table: *const u8, chunk: u64);

/// How long an idle worker watches for the next kernel before it sleeps: long enough to
/// cover the short serial kernels between two parallel ones, short because on a loaded
/// host a spinning thread takes CPU time from its own process's other threads (the
/// scheduler shares time per process group). Measured on the 2-core host (MLP step): idle,
/// 50 and 200 us give the same step time; under load, 200 us tended to be slower (noisy).
const WORKER_SPIN: Duration = Duration::from_micros(50);
/// How long the caller waits for the other threads' last chunks before it sleeps.
const CALLER_SPIN: Duration = Duration::from_micros(50);

/// One kernel's chunks being handed out.
#[derive(Clone, Copy)]
struct Job {
    kernel: KernelFn,
    /// The kernel's table pointer, as an integer so the job can cross threads.
    table: usize,
    n_chunks: u64,
    next: u64,
}

/// What the mutex guards: the current job and who sleeps.
struct Shared {
    job: Option<Job>,
    sleeping_workers: usize,
    caller_sleeping: bool,
}

struct Pool {
    shared: Mutex<Shared>,
    /// Workers sleep here for a new job.
    work: Condvar,
    /// The caller sleeps here for the job's last chunk.
    finished: Condvar,
    /// Bumped (under the mutex) whenever a job is published; spinning workers watch it.
    epoch: AtomicU64,
    /// Chunks of the current job not yet finished; the caller watches it.
    remaining: AtomicU64,
    /// Held by the one caller that owns the pool during a `kiln_parallel_for`.
    entry: Mutex<()>,
    n_workers: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let n_workers = thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_sub(1);
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            shared: Mutex::new(Shared {
                job: None,
                sleeping_workers: 0,
                caller_sleeping: false,
            }),
            work: Condvar::new(),
            finished: Condvar::new(),
            epoch: AtomicU64::new(0),
            remaining: AtomicU64::new(0),
            entry: Mutex::new(()),
            n_workers,
        }));
        for i in 0..n_workers {
            // A worker that cannot be spawned just leaves more chunks to the caller.
            let _ = thread::Builder::new()
                .name(format!("kiln-worker-{i}"))
                .spawn(move || pool.worker());
        }
        pool
    })
}

/// Spin until `done()` holds or `budget` has passed; returns whether it holds.
fn spin_until(budget: Duration, done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if done() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= budget {
            return done();
        }
    }
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the next chunk of the current job, if any.
    fn take(&self) -> Option<(KernelFn, usize, u64)> {
        let mut shared = self.lock();
        let j = shared.job.as_mut()?;
        (j.next < j.n_chunks).then(|| {
            j.next += 1;
            (j.kernel, j.table, j.next - 1)
        })
    }

    /// Run chunks of the current job until none is left to take.
    fn run_chunks(&self) {
        while let Some((kernel, table, chunk)) = self.take() {
            // SAFETY: `kernel` and `table` come from `kiln_parallel_for`, whose caller (the
            // compiled step) guarantees they stay valid until every chunk has finished; the
            // caller does not return before `remaining` reaches zero.
            unsafe { kernel(table as *const u8, chunk) };
            if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                let shared = self.lock();
                if shared.caller_sleeping {
                    self.finished.notify_one();
                }
            }
        }
    }

    fn worker(&self) {
        let mut seen = 0;
        loop {
            let fresh = || self.epoch.load(Ordering::Acquire) != seen;
            if !spin_until(WORKER_SPIN, fresh) {
                let mut shared = self.lock();
                while self.epoch.load(Ordering::Acquire) == seen {
                    shared.sleeping_workers += 1;
                    shared = self.work.wait(shared).unwrap_or_else(|e| e.into_inner());
                    shared.sleeping_workers -= 1;
                }
            }
            seen = self.epoch.load(Ordering::Acquire);
            self.run_chunks();
        }
    }

    /// Publish a job; the caller must hold `entry` and the previous job must be finished.
    fn publish(&self, job: Job) {
        let mut shared = self.lock();
        shared.job = Some(job);
        self.remaining.store(job.n_chunks, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::Release);
        if shared.sleeping_workers > 0 {
            self.work.notify_all();
        }
    }

    /// Wait until every chunk of the current job has finished.
    fn wait_finished(&self) {
        let done = || self.remaining.load(Ordering::Acquire) == 0;
        if spin_until(CALLER_SPIN, done) {
            return;
        }
        let mut shared = self.lock();
        while !done() {
            shared.caller_sleeping = true;
            shared = self
                .finished
                .wait(shared)
                .unwrap_or_else(|e| e.into_inner());
        }
        shared.caller_sleeping = false;
    }
}

/// Calls of [`kiln_parallel_for`] with more than one chunk since the process started.
static SPLIT_CALLS: AtomicU64 = AtomicU64::new(0);

/// How many times work was split into chunks for the pool ([`kiln_parallel_for`] or
/// [`for_each_chunk`] with more than one chunk) since the process started: tests use it to
/// check that a small graph never reaches the pool.
pub fn split_calls() -> u64 {
    SPLIT_CALLS.load(Ordering::Relaxed)
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
    if n_chunks > 1 {
        SPLIT_CALLS.fetch_add(1, Ordering::Relaxed);
    }
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
    let Ok(_entry) = pool.entry.try_lock() else {
        return serial();
    };
    pool.publish(Job {
        kernel,
        table: table as usize,
        n_chunks,
        next: 0,
    });
    pool.run_chunks();
    pool.wait_finished();
}

/// Run `f(chunk)` for every `chunk < n_chunks` on the pool's threads and the calling thread
/// (as [`kiln_parallel_for`] does for compiled kernels); returns when all have finished.
/// `f` must not panic: a panic cannot cross the pool's C-ABI calls and aborts the process.
pub fn for_each_chunk(n_chunks: u64, f: &(dyn Fn(u64) + Sync)) {
    /// Calls the closure whose reference `table` points to.
    unsafe extern "C" fn trampoline(table: *const u8, chunk: u64) {
        // SAFETY: `table` is the address of the `&dyn Fn` below, alive until every chunk
        // has finished (`kiln_parallel_for` returns only then).
        let f = unsafe { *table.cast::<&(dyn Fn(u64) + Sync)>() };
        f(chunk);
    }
    let table: *const &(dyn Fn(u64) + Sync) = &f;
    // SAFETY: `trampoline` only reads the closure reference at `table`, which outlives the
    // call; `f` is `Sync`, so chunks may run it on several threads at once.
    unsafe { kiln_parallel_for(trampoline, table.cast(), n_chunks) };
}
