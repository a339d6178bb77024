//! The loops of the three depthwise convolution passes over one range of work units, written
//! so that the channel loops (contiguous in NHWC) vectorise: each output block accumulates
//! in a fixed-size array of lanes that stays in registers, and the whole unit loop is
//! compiled once per instruction set (AVX-512, AVX2 + FMA, baseline) and picked at run time.
//!
//! Work units, chosen so that no two units write the same element:
//! - forward: one output image row `(n, oh)`, all its pixels and channels;
//! - backprop-input: one input image row `(n, ih)`, gathered from the output taps that read it;
//! - backprop-filter: one block of output channels over a range of filter rows, summed over
//!   every pixel of the batch (see [`FilterUnits`]).

use std::ops::Range;

use super::conv::ConvPass;
use super::conv_geometry::{Conv2dGeometry, output_of};
use super::isa::{IsaLoop, MulAdd, run_widest};

/// Channels one forward / backprop-input accumulator covers (8 AVX2 registers).
const WIDE: usize = 64;
/// Channels one backprop-filter accumulator covers; it keeps two (even and odd pixels).
const NARROW: usize = 32;

/// One depthwise pass over read-only inputs and a written output, as raw pointers: the
/// pointers are shared by the threads running different units, and each unit writes only
/// its own elements.
pub(super) struct DepthwiseJob<'a> {
    /// Which pass.
    pub pass: ConvPass,
    /// The geometry (`out_c = in_c * multiplier`).
    pub g: &'a Conv2dGeometry,
    /// Filters per input channel.
    pub multiplier: usize,
    /// Input (read, or written as `dx`).
    pub x: *mut f32,
    /// Filter (read, or written as `dw`).
    pub w: *mut f32,
    /// Output (written, or read as `dy`).
    pub y: *mut f32,
    /// Element counts of `x`, `w`, `y`.
    pub sizes: [usize; 3],
    /// How backprop-filter work is cut into units.
    pub filter_units: FilterUnits,
}

/// Backprop-filter units: `blocks` blocks of [`NARROW`] output channels, each over
/// `kh_parts` ranges of filter rows (more than one only when there are too few blocks to
/// keep every thread busy). Unit `u` is block `u / kh_parts`, part `u % kh_parts`.
#[derive(Debug, Clone, Copy)]
pub(super) struct FilterUnits {
    blocks: usize,
    kh_parts: usize,
}

impl FilterUnits {
    /// The split of a geometry with `out_c` channels for `threads` threads.
    pub fn new(g: &Conv2dGeometry, threads: usize) -> Self {
        let blocks = g.out_c.div_ceil(NARROW);
        let kh_parts = if blocks < 2 * threads { g.kernel_h } else { 1 };
        Self { blocks, kh_parts }
    }
}

impl DepthwiseJob<'_> {
    /// How many independent units the pass has.
    pub fn units(&self) -> usize {
        let g = self.g;
        match self.pass {
            ConvPass::Forward => g.batch * g.out_h,
            ConvPass::BackpropInput => g.batch * g.in_h,
            ConvPass::BackpropFilter => self.filter_units.blocks * self.filter_units.kh_parts,
        }
    }

    /// Multiply-adds of the whole pass (for deciding whether to split it).
    pub fn work(&self) -> usize {
        let g = self.g;
        g.batch * g.out_h * g.out_w * g.kernel_h * g.kernel_w * g.out_c
    }
}

/// Runs units `units` of `job` with the widest instruction set the host has.
///
/// # Safety
/// The pointers of `job` address its `sizes` elements; no other thread writes what these
/// units read or touches what they write.
pub(super) unsafe fn run_units(job: &DepthwiseJob<'_>, units: Range<usize>) {
    // SAFETY: forwarded.
    unsafe { run_widest(Units { job, units }) }
}

/// A range of units of one job, as an [`IsaLoop`].
struct Units<'j, 'a> {
    job: &'j DepthwiseJob<'a>,
    units: Range<usize>,
}

impl IsaLoop for Units<'_, '_> {
    /// # Safety
    /// [`run_units`]'s contract.
    #[inline(always)]
    unsafe fn run<F: MulAdd>(self) {
        // SAFETY: forwarded.
        unsafe { units_any::<F>(self.job, self.units) }
    }
}

/// # Safety
/// [`run_units`]'s contract.
#[inline(always)]
unsafe fn units_any<F: MulAdd>(job: &DepthwiseJob<'_>, units: Range<usize>) {
    let [nx, nw, ny] = job.sizes;
    let view = |p: *mut f32, n: usize| {
        if n == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(p.cast_const(), n) }
        }
    };
    // SAFETY (each arm): the read tensors are only read by every thread; each unit's
    // written region is disjoint from every other unit's (see the module doc).
    unsafe {
        match job.pass {
            ConvPass::Forward => {
                let (x, w) = (view(job.x, nx), view(job.w, nw));
                for unit in units {
                    forward_row::<F>(job, x, w, unit);
                }
            }
            ConvPass::BackpropInput => {
                let (w, dy) = (view(job.w, nw), view(job.y, ny));
                for unit in units {
                    backprop_input_row::<F>(job, w, dy, unit);
                }
            }
            ConvPass::BackpropFilter => {
                let (x, dy) = (view(job.x, nx), view(job.y, ny));
                for unit in units {
                    backprop_filter_unit::<F>(job, x, dy, unit);
                }
            }
        }
    }
}

/// The outputs `o` whose taps `i = o * stride + offset - pad` fall inside `0..n_in`.
#[inline(always)]
fn outputs_reading(
    n_in: usize,
    n_out: usize,
    stride: usize,
    offset: usize,
    pad: usize,
) -> Range<usize> {
    let lo = pad.saturating_sub(offset).div_ceil(stride);
    let hi = if n_in + pad > offset {
        ((n_in + pad - offset - 1) / stride + 1).min(n_out)
    } else {
        0
    };
    lo.min(hi)..hi
}

/// `acc[i] += xs[(c0 + i) / m] * other[c0 + i]` for `i < acc.len()`: output channel `k`
/// of a depthwise tap reads input channel `k / m`.
#[inline(always)]
fn tap<F: MulAdd>(acc: &mut [f32], xs: &[f32], other: &[f32], c0: usize, m: usize) {
    let other = &other[c0..c0 + acc.len()];
    if m == 1 {
        let xs = &xs[c0..c0 + acc.len()];
        for ((a, &xv), &ov) in acc.iter_mut().zip(xs).zip(other) {
            *a = F::mul_add(*a, xv, ov);
        }
    } else {
        for (i, (a, &ov)) in acc.iter_mut().zip(other).enumerate() {
            *a = F::mul_add(*a, xs[(c0 + i) / m], ov);
        }
    }
}

/// Runs `block(acc)` for each block of [`WIDE`] channels of `0..n` (and the shorter tail)
/// on a zeroed accumulator, then stores it at `out[c0 ..]`. A macro rather than a closure:
/// a closure is a function of its own, compiled without the caller's instruction set.
macro_rules! wide_blocks {
    ($n:expr, $out:expr, |$c0:ident, $acc:ident| $body:block) => {{
        let n = $n;
        let mut $c0 = 0;
        while $c0 < n {
            let width = WIDE.min(n - $c0);
            let mut full = [0.0f32; WIDE];
            if width == WIDE {
                let $acc: &mut [f32; WIDE] = &mut full;
                $body
            } else {
                let $acc: &mut [f32] = &mut full[..width];
                $body
            }
            $out[$c0..$c0 + width].copy_from_slice(&full[..width]);
            $c0 += width;
        }
    }};
}

/// Forward over output row `unit = n * out_h + oh`: every pixel's every channel.
///
/// # Safety
/// [`run_units`]'s contract; `unit < batch * out_h`.
#[inline(always)]
unsafe fn forward_row<F: MulAdd>(job: &DepthwiseJob<'_>, x: &[f32], w: &[f32], unit: usize) {
    let (g, m, cm) = (job.g, job.multiplier, job.g.out_c);
    let (n, oh) = (unit / g.out_h, unit % g.out_h);
    // SAFETY: output row `unit` is `out_w * cm` elements only this unit writes.
    let y = unsafe { std::slice::from_raw_parts_mut(job.y.add(unit * g.out_w * cm), g.out_w * cm) };
    for ow in 0..g.out_w {
        let y_pixel = &mut y[ow * cm..(ow + 1) * cm];
        wide_blocks!(cm, y_pixel, |c0, acc| {
            for kh in 0..g.kernel_h {
                let Some(ih) = (oh * g.stride_h + kh * g.dilation_h)
                    .checked_sub(g.pad_top)
                    .filter(|&i| i < g.in_h)
                else {
                    continue;
                };
                for kw in 0..g.kernel_w {
                    let Some(iw) = (ow * g.stride_w + kw * g.dilation_w)
                        .checked_sub(g.pad_left)
                        .filter(|&i| i < g.in_w)
                    else {
                        continue;
                    };
                    let at = ((n * g.in_h + ih) * g.in_w + iw) * g.in_c;
                    let w_at = (kh * g.kernel_w + kw) * cm;
                    tap::<F>(
                        &mut acc[..],
                        &x[at..at + g.in_c],
                        &w[w_at..w_at + cm],
                        c0,
                        m,
                    );
                }
            }
        });
    }
}

/// Backprop-input over input row `unit = n * in_h + ih`: each input element gathers
/// `dy * w` over the output taps that read it.
///
/// # Safety
/// [`run_units`]'s contract; `unit < batch * in_h`.
#[inline(always)]
unsafe fn backprop_input_row<F: MulAdd>(
    job: &DepthwiseJob<'_>,
    w: &[f32],
    dy: &[f32],
    unit: usize,
) {
    let (g, m, c, cm) = (job.g, job.multiplier, job.g.in_c, job.g.out_c);
    let (n, ih) = (unit / g.in_h, unit % g.in_h);
    // SAFETY: input row `unit` is `in_w * c` elements only this unit writes.
    let dx = unsafe { std::slice::from_raw_parts_mut(job.x.add(unit * g.in_w * c), g.in_w * c) };
    for iw in 0..g.in_w {
        let dx_pixel = &mut dx[iw * c..(iw + 1) * c];
        wide_blocks!(c, dx_pixel, |c0, acc| {
            for kh in 0..g.kernel_h {
                let Some(oh) = output_of(ih, g.out_h, g.stride_h, kh * g.dilation_h, g.pad_top)
                else {
                    continue;
                };
                for kw in 0..g.kernel_w {
                    let Some(ow) =
                        output_of(iw, g.out_w, g.stride_w, kw * g.dilation_w, g.pad_left)
                    else {
                        continue;
                    };
                    let at = ((n * g.out_h + oh) * g.out_w + ow) * cm;
                    let (dy_pixel, w_tap) =
                        (&dy[at..at + cm], &w[(kh * g.kernel_w + kw) * cm..][..cm]);
                    if m == 1 {
                        tap::<F>(&mut acc[..], dy_pixel, w_tap, c0, 1);
                    } else {
                        for (i, a) in acc.iter_mut().enumerate() {
                            for k in (c0 + i) * m..(c0 + i + 1) * m {
                                *a = F::mul_add(*a, dy_pixel[k], w_tap[k]);
                            }
                        }
                    }
                }
            }
        });
    }
}

/// Backprop-filter for one [`FilterUnits`] unit: `dw[kh, kw, block]` for its filter rows,
/// summed over every output pixel of the batch. Pixels are visited row by row (each row's
/// input and gradient slices stay in cache across the taps), alternating two accumulators
/// so consecutive pixels' multiply-adds do not wait on each other.
///
/// # Safety
/// [`run_units`]'s contract; `unit < blocks * kh_parts`.
#[inline(always)]
unsafe fn backprop_filter_unit<F: MulAdd>(
    job: &DepthwiseJob<'_>,
    x: &[f32],
    dy: &[f32],
    unit: usize,
) {
    let (g, m, c, cm) = (job.g, job.multiplier, job.g.in_c, job.g.out_c);
    let FilterUnits { kh_parts, .. } = job.filter_units;
    let (block, part) = (unit / kh_parts, unit % kh_parts);
    let c0 = block * NARROW;
    let width = NARROW.min(cm - c0);
    let khs = if kh_parts == 1 {
        0..g.kernel_h
    } else {
        part..part + 1
    };
    // This unit's sums `dw[kh, kw, c0 .. c0 + width]`, zeroed, then accumulated row by row.
    let sum_at = |kh: usize, kw: usize| {
        // SAFETY: the region is inside dw and written by this unit only; callers hold one
        // such borrow at a time.
        unsafe {
            std::slice::from_raw_parts_mut(job.w.add((kh * g.kernel_w + kw) * cm + c0), width)
        }
    };
    for kh in khs.clone() {
        for kw in 0..g.kernel_w {
            sum_at(kh, kw).fill(0.0);
        }
    }
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            for kh in khs.clone() {
                let Some(ih) = (oh * g.stride_h + kh * g.dilation_h)
                    .checked_sub(g.pad_top)
                    .filter(|&i| i < g.in_h)
                else {
                    continue;
                };
                let x_row = &x[(n * g.in_h + ih) * g.in_w * c..][..g.in_w * c];
                let dy_row = &dy[(n * g.out_h + oh) * g.out_w * cm..][..g.out_w * cm];
                for kw in 0..g.kernel_w {
                    let offset = (kw * g.dilation_w) as isize;
                    let ows =
                        outputs_reading(g.in_w, g.out_w, g.stride_w, kw * g.dilation_w, g.pad_left);
                    let sum = sum_at(kh, kw);
                    let mut even = [0.0f32; NARROW];
                    let mut odd = [0.0f32; NARROW];
                    let row = Row {
                        x: x_row,
                        dy: dy_row,
                        c,
                        cm,
                        c0,
                        m,
                        stride: g.stride_w,
                        offset: offset - g.pad_left as isize,
                    };
                    // A full block sweeps with constant-length accumulators.
                    if width == NARROW {
                        sweep::<F, NARROW>(&row, ows, &mut even, &mut odd);
                    } else {
                        sweep::<F, 0>(&row, ows, &mut even[..width], &mut odd[..width]);
                    }
                    for ((s, e), o) in sum.iter_mut().zip(even.iter()).zip(odd.iter()) {
                        *s += e + o;
                    }
                }
            }
        }
    }
}

/// One output row's gradient and the input row one filter row reads, for [`sweep`]:
/// output pixel `ow` reads input pixel `ow * stride + offset`.
struct Row<'a> {
    x: &'a [f32],
    dy: &'a [f32],
    c: usize,
    cm: usize,
    c0: usize,
    m: usize,
    stride: usize,
    offset: isize,
}

/// Accumulates `x * dy` over output pixels `ows` of `row` into `even` and `odd` (alternate
/// pixels). `LEN` is the accumulators' length when constant (0: use the slices' length).
#[inline(always)]
fn sweep<F: MulAdd, const LEN: usize>(
    row: &Row<'_>,
    ows: Range<usize>,
    even: &mut [f32],
    odd: &mut [f32],
) {
    let (even, odd) = if LEN > 0 {
        (&mut even[..LEN], &mut odd[..LEN])
    } else {
        (even, odd)
    };
    let x_at = |ow: usize| (ow * row.stride).wrapping_add_signed(row.offset) * row.c;
    let mut ow = ows.start;
    while ow + 1 < ows.end {
        let (xa, xb) = (x_at(ow), x_at(ow + 1));
        tap::<F>(
            even,
            &row.x[xa..xa + row.c],
            &row.dy[ow * row.cm..(ow + 1) * row.cm],
            row.c0,
            row.m,
        );
        tap::<F>(
            odd,
            &row.x[xb..xb + row.c],
            &row.dy[(ow + 1) * row.cm..(ow + 2) * row.cm],
            row.c0,
            row.m,
        );
        ow += 2;
    }
    if ow < ows.end {
        let xa = x_at(ow);
        tap::<F>(
            even,
            &row.x[xa..xa + row.c],
            &row.dy[ow * row.cm..(ow + 1) * row.cm],
            row.c0,
            row.m,
        );
    }
}
