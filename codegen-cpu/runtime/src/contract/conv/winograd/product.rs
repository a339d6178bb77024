//! The 36 products of one work item, `M_p = V_p · U_p` for every point `p`: its transformed
//! tiles (`rows x src_c`, rows 36 points apart) times its block of the transformed filter
//! (`src_c x panel` packed panels), into its products (`rows x width`, rows 36 points
//! apart). Register-blocked micro-kernels: 6 rows × 64 columns or 12 rows × 32 columns of
//! accumulators (24 512-bit registers), the filter panel streamed a row per step and the
//! tile values broadcast. Two implementations with one contract: AVX-512 intrinsics, and
//! portable loops (for hosts without AVX-512 and for tests).
//!
//! Sums over the source channels run in two levels: a kernel call sums at most
//! [`SUM_BLOCK`] channels from zero in its registers and only then adds that partial sum
//! to the stored products. A single running sum over hundreds of channels rounds several
//! times worse, and `A^T` amplifies exactly this error (a numpy simulation of a 384-channel
//! layer against float64, sequential FMA sums: relative rms 2.0e-6 in one run, 9.8e-7 in
//! blocks of 64); the extra load, add and store of the accumulators every 64 steps costs
//! little next to the 64 × 24 FMAs between them.
//!
//! It does not transform anything and does not split work between threads.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_storeu_ps,
};

use super::plan::{POINTS, WinogradPlan};

/// Source channels one micro-kernel call sums before adding to the stored products.
const SUM_BLOCK: usize = 64;

/// Where one item's operands are (layouts as in `plan`).
pub(super) struct ItemOperands {
    /// Transformed tiles: tile `t`, point `p` at `v + (t * 36 + p) * src_c`.
    pub v: *const f32,
    /// The item's transformed filter block for source channels `ks`: point `p`, panel `j`
    /// at `u + (p * item_panels + j) * k_block * panel`, row-major `ks.len() x panel`.
    pub u: *const f32,
    /// The source channels of this filter block.
    pub ks: std::ops::Range<usize>,
    /// Panels of the item.
    pub panels: usize,
    /// Rows (tiles) to compute, a multiple of the plan's micro-rows.
    pub rows: usize,
    /// Products: tile `t`, point `p`, panel `j` at `m + (t * 36 + p) * width + j * panel`.
    pub m: *mut f32,
    /// Elements per product row (`item_panels * panel`).
    pub width: usize,
}

/// Which product kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProductKernel {
    /// AVX-512 intrinsics (only where the host has AVX-512F).
    Avx512,
    /// Plain loops.
    Portable,
}

impl ProductKernel {
    /// The fastest kernel this host runs, `None` when it only has the portable one.
    pub fn fast() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Self::Avx512);
        }
        None
    }
}

/// Runs the item's 36 products with the portable kernels.
///
/// # Safety
/// `ops` addresses the item's operands of `plan` as documented on [`ItemOperands`], all in
/// bounds; `m` is writable and overlaps nothing else.
#[inline(always)]
pub(super) unsafe fn products_portable(plan: &WinogradPlan, ops: &ItemOperands) {
    // SAFETY: forwarded; each kernel matches its panel width.
    unsafe {
        if plan.panel == 64 {
            products_with(plan, ops, |k, a, b, c, acc| {
                micro_portable::<6, 64>(k, a, b, c, acc)
            });
        } else {
            products_with(plan, ops, |k, a, b, c, acc| {
                micro_portable::<12, 32>(k, a, b, c, acc)
            });
        }
    }
}

/// Runs the item's 36 products with the AVX-512 kernels.
///
/// # Safety
/// As [`products_portable`], and the host has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn products_avx512(plan: &WinogradPlan, ops: &ItemOperands) {
    // SAFETY: forwarded; the host has AVX-512F; each kernel matches its panel width.
    unsafe {
        if plan.panel == 64 {
            products_with(plan, ops, |k, a, b, c, acc| {
                micro_avx512::<6, 4>(k, a, b, c, acc)
            });
        } else {
            products_with(plan, ops, |k, a, b, c, acc| {
                micro_avx512::<12, 2>(k, a, b, c, acc)
            });
        }
    }
}

/// Point by point, panel by panel (so one filter panel serves all rows while in cache),
/// micro-tile by micro-tile.
///
/// # Safety
/// As [`products_portable`]; `micro` is a micro-kernel matching the plan's panel and
/// micro-rows: `micro(k, (a, lda), b, (c, ldc), accumulate)` sets (or with `accumulate`,
/// adds to) `C[rows x panel]` `A[rows x k] · B[k x panel]`, `B` packed row-major `panel`
/// wide, `C` with row stride `ldc`. The products of the first filter block's first
/// [`SUM_BLOCK`] channels are set, all later ones added.
#[inline(always)]
unsafe fn products_with(
    plan: &WinogradPlan,
    ops: &ItemOperands,
    micro: impl Fn(usize, (*const f32, usize), *const f32, (*mut f32, usize), bool),
) {
    let (src_c, panel, k) = (plan.src[2], plan.panel, ops.ks.len());
    let (lda, ldc, accumulate) = (POINTS * src_c, POINTS * ops.width, ops.ks.start > 0);
    for p in 0..POINTS {
        // SAFETY: every pointer below addresses the documented block of its operand.
        unsafe {
            let (a, c) = (
                ops.v.add(p * src_c + ops.ks.start),
                ops.m.add(p * ops.width),
            );
            for j in 0..ops.panels {
                let b = ops.u.add((p * plan.item_panels + j) * plan.k_block * panel);
                for r in (0..ops.rows).step_by(plan.micro_rows) {
                    let tile = (c.add(r * ldc + j * panel), ldc);
                    for k0 in (0..k).step_by(SUM_BLOCK) {
                        let (rows, later) = ((k - k0).min(SUM_BLOCK), accumulate || k0 > 0);
                        let b = b.add(k0 * panel);
                        micro(rows, (a.add(r * lda + k0), lda), b, tile, later);
                    }
                }
            }
        }
    }
}

/// Portable micro-kernel: `C[R x N] = A[R x k] · B[k x N]`, or `+=` with `accumulate`
/// (the product summed from zero first, then added).
///
/// # Safety
/// `a` rows `0..R` columns `0..k`, `b` rows `0..k` columns `0..N`, `c` rows `0..R`
/// columns `0..N` are in bounds; `c` overlaps neither.
#[inline(always)]
unsafe fn micro_portable<const R: usize, const N: usize>(
    k: usize,
    (a, lda): (*const f32, usize),
    b: *const f32,
    (c, ldc): (*mut f32, usize),
    accumulate: bool,
) {
    let mut acc = [[0.0f32; N]; R];
    for step in 0..k {
        // SAFETY: the caller's contract.
        let row = unsafe { b.add(step * N).cast::<[f32; N]>().read_unaligned() };
        for (r, sums) in acc.iter_mut().enumerate() {
            // SAFETY: the caller's contract.
            let value = unsafe { *a.add(r * lda + step) };
            for (sum, x) in sums.iter_mut().zip(row) {
                *sum += value * x;
            }
        }
    }
    for (r, sums) in acc.iter_mut().enumerate() {
        let row = c.wrapping_add(r * ldc).cast::<[f32; N]>();
        if accumulate {
            // SAFETY: the caller's contract.
            let stored = unsafe { row.read_unaligned() };
            for (sum, old) in sums.iter_mut().zip(stored) {
                *sum += old;
            }
        }
        // SAFETY: the caller's contract.
        unsafe { row.write_unaligned(*sums) };
    }
}

/// AVX-512 micro-kernel: `R` rows by `V` 16-lane vectors, as [`micro_portable`].
///
/// # Safety
/// As [`micro_portable`] with `N = 16 * V`; the host has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn micro_avx512<const R: usize, const V: usize>(
    k: usize,
    (a, lda): (*const f32, usize),
    b: *const f32,
    (c, ldc): (*mut f32, usize),
    accumulate: bool,
) {
    let mut acc: [[__m512; V]; R] = [[_mm512_setzero_ps(); V]; R];
    for step in 0..k {
        // SAFETY (loads): the caller's contract.
        let row: [__m512; V] =
            std::array::from_fn(|v| unsafe { _mm512_loadu_ps(b.add(step * 16 * V + 16 * v)) });
        for (r, sums) in acc.iter_mut().enumerate() {
            let value = _mm512_set1_ps(unsafe { *a.add(r * lda + step) });
            for (sum, x) in sums.iter_mut().zip(row) {
                *sum = _mm512_fmadd_ps(value, x, *sum);
            }
        }
    }
    for (r, sums) in acc.iter().enumerate() {
        for (v, sum) in sums.iter().enumerate() {
            let at = c.wrapping_add(r * ldc + 16 * v);
            // SAFETY (both): the caller's contract.
            let total = if accumulate {
                _mm512_add_ps(*sum, unsafe { _mm512_loadu_ps(at) })
            } else {
                *sum
            };
            unsafe { _mm512_storeu_ps(at, total) };
        }
    }
}
