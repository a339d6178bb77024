//! Runs a [`WinogradPlan`] on the worker pool: workers claim work items (tile block ×
//! destination-channel block, tile-block-major) one at a time from a shared counter, so a
//! descheduled thread holds up nobody. Each worker owns a slice of the scratch for its
//! filter block, transformed tiles and products, and keeps its transformed tiles while
//! consecutive items share their tile block. Transforming the filter per item, a block of
//! source channels at a time, keeps the transformed filter (4× the filter) in the L2
//! cache between its transform and its use instead of main memory; it costs about
//! `2 / block_tiles` of the item's products.
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
    let room = t.scratch_len / plan.worker_len().max(1);
    let workers = threads.max(1).min(room).min(plan.items).max(1);
    let job = ItemsJob {
        plan,
        kernel,
        src: t.src,
        w: t.w,
        dst: t.dst,
        scratch: t.scratch,
        next: AtomicUsize::new(0),
    };
    // SAFETY: each chunk is one worker with its own scratch slice; items write disjoint
    // destination pixels and channels; `job` outlives the call.
    unsafe { kiln_parallel_for(worker_chunk, (&raw const job).cast(), workers as u64) };
}

/// The work items of a run and the counter workers claim them from.
struct ItemsJob<'a> {
    plan: &'a WinogradPlan,
    kernel: ProductKernel,
    src: *const f32,
    w: *const f32,
    dst: *mut f32,
    /// Worker `i`'s scratch slice starts at `scratch + i * worker_len`.
    scratch: *mut f32,
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
    let slice = unsafe { job.scratch.add(chunk as usize * job.plan.worker_len()) };
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
/// the same tile block); per block of source channels, transform that block of the
/// item's filter and add its products; transform the products into the destination.
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
    // SAFETY: the filter block, the tiles and the products follow one another in the slice.
    let (u, v, m) = unsafe {
        let v = slice.add(plan.filter_len);
        (slice, v, v.add(plan.tiles_len))
    };
    let width = plan.item_panels * plan.panel;
    let mut tiles_of = None;
    loop {
        let item = job.next.fetch_add(1, Ordering::Relaxed);
        if item >= plan.items {
            return;
        }
        let (block, channel_block) = (item / plan.channel_blocks, item % plan.channel_blocks);
        let first = block * plan.block_tiles;
        let count = plan.block_tiles.min(plan.tiles - first);
        let first_panel = channel_block * plan.item_panels;
        let panels = plan.item_panels.min(plan.panels - first_panel);
        if tiles_of != Some(block) {
            // SAFETY: tiles first..first+count exist; `v` is this worker's.
            unsafe { transform_inputs(plan, job.src, first, count, v) };
            tiles_of = Some(block);
        }
        let rows = count.next_multiple_of(plan.micro_rows);
        let src_c = plan.src[2];
        for k0 in (0..src_c.max(1)).step_by(plan.k_block) {
            let ks = k0..(k0 + plan.k_block).min(src_c);
            // SAFETY: the item's panels and source channels exist; `u` is this worker's.
            unsafe { transform_filter(plan, job.w, u, (first_panel, panels), ks.clone()) };
            products(
                plan,
                &ItemOperands {
                    v,
                    u,
                    ks,
                    panels,
                    rows,
                    m,
                    width,
                },
            );
        }
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
