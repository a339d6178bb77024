//! How a large matrix-vector product ([`Gemv`]) is shared among threads, so that the
//! weights still stream from memory in storage order:
//! - rows of `B` contiguous (`x·W`, Dense's forward): split by rows of `B` into a number of
//!   parts fixed by `k` alone ([`ROWS_PER_PART`], at most [`MAX_ROW_PARTS`]); each part
//!   streams whole rows into its own partial sums, which are added in part order, so the
//!   result does not depend on the thread count. Splitting by columns instead would give each
//!   thread a piece of every row: on the 2-core Zen 4 host, VGG16's fc1 (1x25088x4096) took
//!   42-44 ms split by columns on two threads against 31-33 ms split by rows (load average 6);
//! - columns contiguous (`x·Wᵀ`), or too few rows for two row parts: split by columns.
//!
//! Small products ([`SPLIT_MIN_FLOPS`]: a batch-1 MLP) never reach the pool.

use super::gemv::{Gemv, GemvIsa};
use crate::parallel::for_each_chunk;

/// Products of fewer flops (`2*k*n`) run on the calling thread: the size from which
/// generated code has always split matmuls into chunks for the pool (its
/// `SPLIT_MIN_FLOPS`), 4 MB of weights, about 40 us to stream on one core. The batch-1
/// MNIST MLP's largest product (1x784x300, 0.47 MFLOP) stays on one thread.
pub const SPLIT_MIN_FLOPS: usize = 2 << 20;

/// Rows of `B` per part of a row split: parts of at least 1024 rows keep each thread's
/// stream long (1024 rows of 4096 columns is 16 MB).
pub const ROWS_PER_PART: usize = 1024;

/// The most parts of a row split (and partial sums to add).
pub const MAX_ROW_PARTS: usize = 8;

/// Columns per thread below which a column split uses fewer threads.
const MIN_COLUMNS_PER_THREAD: usize = 64;

/// A product shared by the pool's threads: each part reads `x` and `B` and writes only its
/// own columns of `y` or its own partial sums.
struct Shared(Gemv);

// SAFETY: see above; the product's caller holds `y` exclusively for the call and every part
// writes memory no other part writes.
unsafe impl Sync for Shared {}

impl Shared {
    /// The product (a method, so that closures capture the `Sync` wrapper, not its field).
    fn product(&self) -> &Gemv {
        &self.0
    }
}

/// Run `gemv` on up to `threads` threads (the worker pool's) when it has at least
/// [`SPLIT_MIN_FLOPS`], else on the calling thread. Whether a product is split by rows
/// depends on its shape alone, so its bits do not depend on `threads`.
///
/// # Safety
/// As for [`Gemv::run`].
pub(super) unsafe fn run(gemv: &Gemv, threads: usize) {
    let isa = GemvIsa::detect();
    let large = 2usize.saturating_mul(gemv.k).saturating_mul(gemv.n) >= SPLIT_MIN_FLOPS;
    let row_parts = (gemv.k / ROWS_PER_PART).clamp(1, MAX_ROW_PARTS);
    // SAFETY (all three): the caller's contract; `isa` was detected on this CPU.
    unsafe {
        if large && gemv.has_contiguous_rows() && row_parts > 1 {
            split_rows(gemv, row_parts, threads, isa);
        } else if large && threads >= 2 {
            split_columns(gemv, threads, isa);
        } else {
            gemv.run(isa);
        }
    }
}

/// Rows split into `parts` partial sums, computed on up to `threads` threads, then added in
/// order into `y` with the product's `alpha` and `beta`.
///
/// # Safety
/// As for [`Gemv::run`].
unsafe fn split_rows(gemv: &Gemv, parts: usize, threads: usize, isa: GemvIsa) {
    let n = gemv.n;
    let mut partial = vec![0.0f32; parts * n];
    let base = partial.as_mut_ptr();
    let part = |p: usize| {
        let (l0, l1) = (p * gemv.k / parts, (p + 1) * gemv.k / parts);
        Gemv {
            y: base.wrapping_add(p * n),
            y_stride: 1,
            alpha: 1.0,
            beta: 0.0,
            ..gemv.rows(l0, l1)
        }
    };
    let shared: Vec<Shared> = (0..parts).map(|p| Shared(part(p))).collect();
    let run_part = |p: u64| {
        // SAFETY: part `p` reads its rows of `B` and writes only its own `n` partial sums.
        unsafe { shared[p as usize].product().run(isa) }
    };
    if threads >= 2 {
        for_each_chunk(parts as u64, &run_part);
    } else {
        (0..parts as u64).for_each(run_part);
    }
    for j in 0..n {
        let sum = (1..parts).fold(partial[j], |s, p| s + partial[p * n + j]);
        // SAFETY: `j < n`; the caller vouched for `y`.
        unsafe { gemv.write(j, sum) };
    }
}

/// Columns split evenly among up to `threads` threads.
///
/// # Safety
/// As for [`Gemv::run`].
unsafe fn split_columns(gemv: &Gemv, threads: usize, isa: GemvIsa) {
    let parts = threads.min(gemv.n / MIN_COLUMNS_PER_THREAD).max(1);
    let shared = Shared(*gemv);
    let run_part = |p: u64| {
        let (p, whole) = (p as usize, shared.product());
        let split = |p: usize| p * whole.n / parts;
        // SAFETY: the parts cover disjoint column ranges of the product.
        unsafe { whole.columns(split(p), split(p + 1)).run(isa) }
    };
    for_each_chunk(parts as u64, &run_part);
}
