//! The scatter-add of a block's im2col-shaped gradient (`dcols`, in the scratch) back
//! into the input's gradient `dx`, in ranges of input rows on the worker pool.

use super::args::Conv2dArgs;
use super::im2col::im2col_chunks;
use crate::contract::conv_geometry::{Conv2dGeometry, Conv2dSizes, output_of};
use crate::parallel::kiln_parallel_for;

/// Adds the block's `dcols` (rows `r0 .. r0+count`, in the scratch) into `dx`. Chunks own
/// ranges of input image rows and gather every tap that lands there, so no two chunks
/// write the same element (on the worker pool when `args.threads > 1` and the block is
/// big enough, as for im2col).
///
/// # Safety
/// `conv2d_raw`'s contract; `sizes` from `g`; the scratch holds the block's `dcols`.
pub(super) unsafe fn col2im_block(
    g: &Conv2dGeometry,
    sizes: &Conv2dSizes,
    args: &Conv2dArgs,
    r0: usize,
    count: usize,
) {
    if count == 0 || sizes.depth == 0 {
        return;
    }
    // The input image rows the block's first and last output rows can reach.
    let image_row = |r: usize| (r / (g.out_h * g.out_w), r / g.out_w % g.out_h);
    let ((n0, oh0), (n1, oh1)) = (image_row(r0), image_row(r0 + count - 1));
    let first = n0 * g.in_h + (oh0 * g.stride_h).saturating_sub(g.pad_top).min(g.in_h);
    let reach = oh1 * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1;
    let end = n1 * g.in_h + reach.saturating_sub(g.pad_top).min(g.in_h);
    let units = end.saturating_sub(first);
    let chunks = im2col_chunks(count, sizes.depth, args.threads).min(units);
    if chunks == 0 {
        return;
    }
    let job = Col2imJob {
        g,
        args,
        depth: sizes.depth,
        r0,
        count,
        first,
        units,
        chunks,
    };
    // SAFETY: chunks write disjoint input rows of dx; `job` outlives the call.
    unsafe { kiln_parallel_for(col2im_chunk, (&raw const job).cast(), chunks as u64) };
}

/// One col2im block being gathered: input image rows `first .. first+units` (indices into
/// `batch*in_h`), cut into `chunks` ranges.
struct Col2imJob<'a> {
    g: &'a Conv2dGeometry,
    args: &'a Conv2dArgs,
    depth: usize,
    r0: usize,
    count: usize,
    first: usize,
    units: usize,
    chunks: usize,
}

/// Gathers chunk `chunk` of the [`Col2imJob`] at `table`.
///
/// # Safety
/// `table` points to a live `Col2imJob` under `conv2d_raw`'s contract; no two concurrent
/// calls get the same chunk.
unsafe extern "C" fn col2im_chunk(table: *const u8, chunk: u64) {
    // SAFETY: the caller's contract.
    let job = unsafe { &*table.cast::<Col2imJob<'_>>() };
    let (g, chunk) = (job.g, chunk as usize);
    let lo = job.first + chunk * job.units / job.chunks;
    let hi = job.first + (chunk + 1) * job.units / job.chunks;
    for unit in lo..hi {
        let (n, ih) = (unit / g.in_h, unit % g.in_h);
        for kh in 0..g.kernel_h {
            let Some(oh) = output_of(ih, g.out_h, g.stride_h, kh * g.dilation_h, g.pad_top) else {
                continue;
            };
            for iw in 0..g.in_w {
                for kw in 0..g.kernel_w {
                    let Some(ow) =
                        output_of(iw, g.out_w, g.stride_w, kw * g.dilation_w, g.pad_left)
                    else {
                        continue;
                    };
                    let r = (n * g.out_h + oh) * g.out_w + ow;
                    if r < job.r0 || r >= job.r0 + job.count {
                        continue;
                    }
                    // SAFETY: row `r - r0` of the block's dcols and input pixel (n, ih, iw)
                    // are in bounds; only this chunk writes input row `unit`.
                    unsafe {
                        let src = job
                            .args
                            .scratch
                            .add((r - job.r0) * job.depth + (kh * g.kernel_w + kw) * g.in_c);
                        let dst = job.args.x.add(((n * g.in_h + ih) * g.in_w + iw) * g.in_c);
                        for c in 0..g.in_c {
                            *dst.add(c) += *src.add(c);
                        }
                    }
                }
            }
        }
    }
}
