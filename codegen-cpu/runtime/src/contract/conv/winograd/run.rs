//! Runs a [`WinogradPlan`] on the worker pool: first the filter transform in ranges of
//! source channels, then the work items (tile block × destination-channel block), which
//! workers claim one at a time from a shared counter so a descheduled thread holds up
//! nobody. Each worker owns a slice of the scratch for its transformed tiles and products
//! and keeps its transformed tiles while consecutive items share their tile block.
//!
//! It does not choose between Winograd and im2col and does not validate sizes.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::filter::transform_filter;
use super::plan::WinogradPlan;
#[cfg(target_arch = "x86_64")]
use super::product::products_avx512;
use super::product::{ItemOperands, ProductKernel, products_portable};
use super::tiles::{Products, transform_inputs, transform_outputs};
use crate::parallel::kiln_parallel_for;

/// Fewest transformed-filter elements per filter chunk: below this, handing source
/// channels to another thread costs more than transforming them.
const FILTER_MIN_CHUNK_ELEMS: usize = 64 * 1024;

/// The tensors and scratch of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunTensors {
    /// The source (`x`, or `dy`).
    pub src: *const f32,
    /// The filter, `[3][3][in_c][out_c]`.
    pub w: *const f32,
    /// The destination (`y`, or `dx`), overwritten.
    pub dst: *mut f32,
    /// The scratch.
    pub scratch: *mut f32,
    /// Elements at `scratch` (at least `plan.scratch_len(1)`).
    pub scratch_len: usize,
}

/// Runs `plan` with `kernel` on up to `threads` threads (as many as have room in the
/// scratch).
///
/// # Safety
/// `t.src`, `t.w` hold the plan's source and filter; `t.dst` the destination, which
/// overlaps nothing else and which no other thread touches meanwhile; `t.scratch` holds
/// `t.scratch_len >= plan.scratch_len(1)` exclusively ours writable elements; `kernel`
/// runs on this host.
pub(crate) unsafe fn run(
    plan: &WinogradPlan,
    kernel: ProductKernel,
    t: RunTensors,
    threads: usize,
) {
    if plan.items == 0 {
        return;
    }
    let threads = threads.max(1);
    let filter_chunks = if threads == 1 {
        1
    } else {
        (plan.filter_len / FILTER_MIN_CHUNK_ELEMS)
            .clamp(1, 2 * threads)
            .min(plan.src[2].max(1))
    };
    let filter = FilterJob {
        plan,
        kernel,
        w: t.w,
        u: t.scratch,
        chunks: filter_chunks,
    };
    // SAFETY: chunks write disjoint source-channel rows of the transformed filter, at the
    // start of the scratch; `filter` outlives the call.
    unsafe {
        kiln_parallel_for(
            filter_chunk,
            (&raw const filter).cast(),
            filter_chunks as u64,
        )
    };
    let room = (t.scratch_len - plan.filter_len) / plan.worker_len().max(1);
    let workers = threads.min(room).min(plan.items).max(1);
    let items = ItemsJob {
        plan,
        kernel,
        src: t.src,
        // SAFETY: the transformed filter is the scratch's first `filter_len` elements.
        u: t.scratch,
        dst: t.dst,
        // SAFETY: the workers' slices follow it, `workers * worker_len` elements in all.
        workers: unsafe { t.scratch.add(plan.filter_len) },
        next: AtomicUsize::new(0),
    };
    // SAFETY: each chunk is one worker with its own scratch slice; items write disjoint
    // destination pixels and channels; `items` outlives the call.
    unsafe { kiln_parallel_for(worker_chunk, (&raw const items).cast(), workers as u64) };
}

/// The filter transform, cut into `chunks` ranges of source channels.
struct FilterJob<'a> {
    plan: &'a WinogradPlan,
    kernel: ProductKernel,
    w: *const f32,
    u: *mut f32,
    chunks: usize,
}

/// Transforms chunk `chunk`'s source channels of the [`FilterJob`] at `table`.
///
/// # Safety
/// `table` points to a live `FilterJob` under [`run`]'s contract; no two concurrent calls
/// get the same chunk.
unsafe extern "C" fn filter_chunk(table: *const u8, chunk: u64) {
    // SAFETY: the caller's contract.
    let job = unsafe { &*table.cast::<FilterJob<'_>>() };
    let src_c = job.plan.src[2];
    let k0 = chunk as usize * src_c / job.chunks;
    let k1 = (chunk as usize + 1) * src_c / job.chunks;
    // SAFETY: rows k0..k1 belong to this chunk alone; the kernel runs on this host.
    unsafe {
        match job.kernel {
            #[cfg(target_arch = "x86_64")]
            ProductKernel::Avx512 => filter_avx512(job.plan, job.w, job.u, k0, k1),
            _ => transform_filter(job.plan, job.w, job.u, k0, k1),
        }
    }
}

/// [`transform_filter`] compiled for AVX-512.
///
/// # Safety
/// As [`transform_filter`]; the host has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn filter_avx512(plan: &WinogradPlan, w: *const f32, u: *mut f32, k0: usize, k1: usize) {
    // SAFETY: forwarded.
    unsafe { transform_filter(plan, w, u, k0, k1) }
}

/// The work items of a run and the counter workers claim them from.
struct ItemsJob<'a> {
    plan: &'a WinogradPlan,
    kernel: ProductKernel,
    src: *const f32,
    u: *const f32,
    dst: *mut f32,
    /// Worker `i`'s scratch slice starts at `workers + i * worker_len`.
    workers: *mut f32,
    next: AtomicUsize,
}

/// Worker `chunk` of the [`ItemsJob`] at `table`: claims items until none is left.
///
/// # Safety
/// `table` points to a live `ItemsJob` under [`run`]'s contract; no two concurrent calls
/// get the same chunk; there is scratch for worker `chunk`.
unsafe extern "C" fn worker_chunk(table: *const u8, chunk: u64) {
    // SAFETY: the caller's contract.
    let job = unsafe { &*table.cast::<ItemsJob<'_>>() };
    // SAFETY: worker `chunk`'s slice of the scratch.
    let slice = unsafe { job.workers.add(chunk as usize * job.plan.worker_len()) };
    // SAFETY: the caller's contract; the kernel runs on this host.
    unsafe {
        match job.kernel {
            #[cfg(target_arch = "x86_64")]
            ProductKernel::Avx512 => worker_avx512(job, slice),
            _ => worker_loop(job, slice, |plan, ops| products_portable(plan, ops)),
        }
    }
}

/// [`worker_loop`] compiled for AVX-512, with the AVX-512 product kernels.
///
/// # Safety
/// As [`worker_loop`]; the host has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn worker_avx512(job: &ItemsJob<'_>, slice: *mut f32) {
    // SAFETY: forwarded; the host has AVX-512F.
    unsafe { worker_loop(job, slice, |plan, ops| products_avx512(plan, ops)) }
}

/// Claims and runs items: transform the item's tiles (unless this worker's last item had
/// the same tile block), run its products, transform them into the destination.
///
/// # Safety
/// `job` under [`run`]'s contract; `slice` is this worker's `worker_len` scratch elements;
/// `products` runs an item's products under `products_portable`'s contract.
#[inline(always)]
unsafe fn worker_loop(
    job: &ItemsJob<'_>,
    slice: *mut f32,
    products: impl Fn(&WinogradPlan, &ItemOperands),
) {
    let plan = job.plan;
    // SAFETY: the products follow the transformed tiles in the worker's slice.
    let (v, m) = (slice, unsafe { slice.add(plan.tiles_len) });
    let width = plan.item_panels * plan.panel;
    let mut transformed = None;
    loop {
        let item = job.next.fetch_add(1, Ordering::Relaxed);
        if item >= plan.items {
            return;
        }
        let (block, channel_block) = (item / plan.channel_blocks, item % plan.channel_blocks);
        let first = block * plan.block_tiles;
        let count = plan.block_tiles.min(plan.tiles - first);
        if transformed != Some(block) {
            // SAFETY: tiles first..first+count exist; `v` is this worker's.
            unsafe { transform_inputs(plan, job.src, first, count, v) };
            transformed = Some(block);
        }
        let first_panel = channel_block * plan.item_panels;
        let panels = plan.item_panels.min(plan.panels - first_panel);
        let ops = ItemOperands {
            v,
            u: job.u,
            first_panel,
            panels,
            m,
            width,
        };
        products(plan, &ops);
        let start = first_panel * plan.panel;
        let channels = start..(start + panels * plan.panel).min(plan.dst[2]);
        let out = Products {
            m,
            width,
            first,
            count,
            channels,
        };
        // SAFETY: this item's tiles and channels are written by this worker alone.
        unsafe { transform_outputs(plan, &out, job.dst) };
    }
}
