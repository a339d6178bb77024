//! The filter transform `U = G g G^T` of one work item's destination channels, for one
//! block of source channels (`k_block` of them), written straight into the packed layout
//! the product kernels read: for point `p` and the item's panel `j`, a `k_block x panel`
//! row-major block at `((p * item_panels + j) * k_block) * panel`, destination channels
//! past the last padded with zeros. The forward pass reads the filter as `[kh][kw][src_c][dst_c]`; the input
//! gradient reads it rotated by 180° with its two channel axes swapped.
//!
//! It does not transform tiles and does not cache: each work item transforms its block.

use super::plan::{ALPHA, WinogradPlan};
use super::transform::{Lanes, filter_1d};

/// Destination channels transformed at once (one 512-bit vector).
const LANES: usize = 16;

/// Transforms panels `first_panel .. first_panel + panels` of the filter, source channels
/// `ks`, into `u` (row `k - ks.start`).
///
/// # Safety
/// `w` holds the plan's `9 * src_c * dst_c` filter elements; `u` holds `plan.filter_len`
/// writable elements; `panels <= plan.item_panels`, `first_panel + panels <= plan.panels`,
/// `ks.len() <= plan.k_block` and `ks.end <= src_c`.
#[inline(always)]
pub(super) unsafe fn transform_filter(
    plan: &WinogradPlan,
    w: *const f32,
    u: *mut f32,
    (first_panel, panels): (usize, usize),
    ks: std::ops::Range<usize>,
) {
    let (src_c, panel, rows) = (plan.src[2], plan.panel, plan.k_block);
    let point_stride = plan.item_panels * rows * panel;
    for j in 0..panels {
        for k in ks.clone() {
            if !plan.backprop && k + PREFETCH_ROWS < src_c {
                prefetch_row(plan, w, k + PREFETCH_ROWS, (first_panel + j) * panel);
            }
            for l0 in (0..panel).step_by(LANES) {
                let first = (first_panel + j) * panel + l0;
                // SAFETY: the caller's contract; `first + LANES <= panels * panel`.
                unsafe {
                    let g = load_taps(plan, w, k, first);
                    let out = u.add((j * rows + k - ks.start) * panel + l0);
                    store_points(&filter_2d(&g), out, point_stride);
                }
            }
        }
    }
}

/// Source channels the forward filter's rows are prefetched ahead of their transform: its
/// nine taps are nine streams 2 KiB to 2 MiB apart that the hardware prefetcher follows
/// too slowly. Measured on the Zen 4 host (one thread, CPU time, load 4-6), b1 14x14x512:
/// no prefetch 8.5-9.1 ms, 8 rows ahead into L1 7.0-7.2 ms, into L2 7.2-7.5 ms, 24 rows
/// ahead into L2 8.0-8.2 ms; b1 28x28x512: 15.3-15.8, 13.6-14.6, 14.1-15.5, 15.3-16.2 ms.
const PREFETCH_ROWS: usize = 8;

/// Prefetches source channel `k`'s forward-filter rows (all nine taps) for the panel's
/// destination channels from `first`.
#[inline(always)]
fn prefetch_row(plan: &WinogradPlan, w: *const f32, k: usize, first: usize) {
    let (src_c, dst_c) = (plan.src[2], plan.dst[2]);
    let end = (first + plan.panel).min(dst_c);
    for tap in 0..9 {
        let row = (tap * src_c + k) * dst_c;
        for n in (first..end).step_by(LANES) {
            // A prefetch reads nothing and cannot fault; the address is inside `w`.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `_mm_prefetch` only hints the cache (SSE is part of x86-64).
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    w.wrapping_add(row + n).cast(),
                );
            }
        }
    }
}

/// The 3×3 taps of source channel `k`, destination channels `first ..` (`LANES` of them,
/// zero past `dst_c`), as `g[kh][kw]` of the convolution being run.
///
/// # Safety
/// `w` holds the plan's filter.
#[inline(always)]
unsafe fn load_taps(
    plan: &WinogradPlan,
    w: *const f32,
    k: usize,
    first: usize,
) -> [[Lanes<LANES>; 3]; 3] {
    let (src_c, dst_c) = (plan.src[2], plan.dst[2]);
    let valid = dst_c.saturating_sub(first).min(LANES);
    let mut g = [[[0.0; LANES]; 3]; 3];
    for (kh, row) in g.iter_mut().enumerate() {
        for (kw, taps) in row.iter_mut().enumerate() {
            // Element (k, n) of tap (kh, kw): forward `[kh][kw][k][n]`; input gradient
            // `[2-kh][2-kw][n][k]` (its source channels are the forward's outputs).
            let (base, stride) = if plan.backprop {
                let tap = (2 - kh) * 3 + (2 - kw);
                (tap * dst_c * src_c + first * src_c + k, src_c)
            } else {
                ((kh * 3 + kw) * src_c * dst_c + k * dst_c + first, 1)
            };
            if stride == 1 && valid == LANES {
                // SAFETY: `first + LANES <= dst_c` and `k < src_c`: inside the filter.
                *taps = unsafe { w.add(base).cast::<Lanes<LANES>>().read_unaligned() };
                continue;
            }
            for (lane, value) in taps.iter_mut().enumerate().take(valid) {
                // SAFETY: `first + lane < dst_c` and `k < src_c`: inside the filter.
                *value = unsafe { *w.add(base + lane * stride) };
            }
        }
    }
    g
}

/// `G g G^T` for a 3×3 tap block, by columns: `u[b][a]` is point `(a, b)`.
#[inline(always)]
fn filter_2d<const L: usize>(g: &[[Lanes<L>; 3]; 3]) -> [[Lanes<L>; ALPHA]; ALPHA] {
    // Along kw for each kh, then along kh for each column (array literals: see `tiles`).
    let rows = [filter_1d(&g[0]), filter_1d(&g[1]), filter_1d(&g[2])];
    let column = |b: usize| filter_1d(&[rows[0][b], rows[1][b], rows[2][b]]);
    [
        column(0),
        column(1),
        column(2),
        column(3),
        column(4),
        column(5),
    ]
}

/// Stores the 36 points of one transformed block (by columns, as [`filter_2d`] returns
/// them), point `p = a*6 + b` at `out + p*stride`.
///
/// # Safety
/// Every `out + p*stride .. + L` is writable.
#[inline(always)]
unsafe fn store_points<const L: usize>(
    columns: &[[Lanes<L>; ALPHA]; ALPHA],
    out: *mut f32,
    stride: usize,
) {
    for (b, column) in columns.iter().enumerate() {
        for (a, value) in column.iter().enumerate() {
            // SAFETY: the caller's contract.
            unsafe {
                out.add((a * ALPHA + b) * stride)
                    .cast::<Lanes<L>>()
                    .write_unaligned(*value)
            };
        }
    }
}
