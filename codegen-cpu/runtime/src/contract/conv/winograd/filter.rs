//! The filter transform `U = G g G^T` of every (source channel, destination channel) pair,
//! written straight into the packed layout the product kernels read: for point `p` and
//! panel `j`, a `src_c x panel` row-major block at `((p * panels + j) * src_c) * panel`,
//! destination channels past the last padded with zeros. The forward pass reads the filter
//! as `[kh][kw][src_c][dst_c]`; the input gradient reads it rotated by 180° with its two
//! channel axes swapped. Runs in ranges of source channels.
//!
//! It does not transform tiles and does not cache: the transform is redone per call.

use super::plan::{ALPHA, POINTS, WinogradPlan};
use super::transform::{Lanes, filter_1d};

/// Destination channels transformed at once (one 512-bit vector).
const LANES: usize = 16;

/// Transforms the filter for source channels `k0 .. k1` into `u`.
///
/// # Safety
/// `w` holds the plan's `9 * src_c * dst_c` filter elements; `u` holds `filter_len`
/// writable elements, of which this call writes only rows `k0 .. k1` of every block;
/// `k1 <= src_c`.
#[inline(always)]
pub(super) unsafe fn transform_filter(
    plan: &WinogradPlan,
    w: *const f32,
    u: *mut f32,
    k0: usize,
    k1: usize,
) {
    let (src_c, panel) = (plan.src[2], plan.panel);
    for k in k0..k1 {
        for j in 0..plan.panels {
            for l0 in (0..panel).step_by(LANES) {
                let first = j * panel + l0;
                // SAFETY: the caller's contract; `first + LANES <= panels * panel`.
                unsafe {
                    let g = load_taps(plan, w, k, first);
                    let out = u.add((j * src_c + k) * panel + l0);
                    store_points(&filter_2d(&g), out, plan.panels * src_c * panel);
                }
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

/// `G g G^T` for a 3×3 tap block: `u[a][b]`.
#[inline(always)]
fn filter_2d<const L: usize>(g: &[[Lanes<L>; 3]; 3]) -> [[Lanes<L>; ALPHA]; ALPHA] {
    // Along kw for each kh: rows[kh][b].
    let rows = [filter_1d(&g[0]), filter_1d(&g[1]), filter_1d(&g[2])];
    let mut u = [[[0.0; L]; ALPHA]; ALPHA];
    for b in 0..ALPHA {
        let column = filter_1d(&[rows[0][b], rows[1][b], rows[2][b]]);
        for a in 0..ALPHA {
            u[a][b] = column[a];
        }
    }
    u
}

/// Stores the 36 points of one transformed block, point `p = a*6 + b` at `out + p*stride`.
///
/// # Safety
/// Every `out + p*stride .. + L` is writable.
#[inline(always)]
unsafe fn store_points<const L: usize>(
    u: &[[Lanes<L>; ALPHA]; ALPHA],
    out: *mut f32,
    stride: usize,
) {
    for p in 0..POINTS {
        // SAFETY: the caller's contract.
        unsafe {
            out.add(p * stride)
                .cast::<Lanes<L>>()
                .write_unaligned(u[p / ALPHA][p % ALPHA])
        };
    }
}
