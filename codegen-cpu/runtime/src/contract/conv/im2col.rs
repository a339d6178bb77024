//! The im2col matrix of a block of output rows: the input pixels each output pixel's taps
//! read, copied into the scratch (zeros for padding) in row ranges on the worker pool, or
//! the input itself when it already is its own im2col matrix.

use std::ptr;

use super::args::Conv2dArgs;
use crate::contract::conv_geometry::{Conv2dGeometry, Conv2dSizes};
use crate::parallel::kiln_parallel_for;

/// The im2col matrix of rows `r0 .. r0+count` (row stride `depth`): the input itself when
/// direct, else filled into the scratch (in [`im2col_chunks`] row ranges, on the worker pool
/// when `args.threads > 1` and the block is big enough to pay for it).
///
/// # Safety
/// `conv2d_raw`'s contract; `sizes` from `g`.
pub(super) unsafe fn im2col_block(
    g: &Conv2dGeometry,
    sizes: &Conv2dSizes,
    args: &Conv2dArgs,
    r0: usize,
    count: usize,
) -> *mut f32 {
    if g.is_direct() {
        // SAFETY: row r0 of the `rows x in_c` input is in bounds.
        return unsafe { args.x.add(r0 * g.in_c) };
    }
    if sizes.depth == 0 {
        return args.scratch; // an empty matrix: never dereferenced
    }
    let job = Im2colJob {
        g,
        args,
        depth: sizes.depth,
        r0,
        count,
        chunk_rows: count.div_ceil(im2col_chunks(count, sizes.depth, args.threads)),
    };
    let n_chunks = count.div_ceil(job.chunk_rows);
    // SAFETY: chunks fill disjoint scratch rows of this block; `job` outlives the call.
    unsafe { kiln_parallel_for(im2col_chunk, (&raw const job).cast(), n_chunks as u64) };
    args.scratch
}

/// Fewest elements an im2col chunk is given: below this, handing rows to another thread
/// costs more than copying them.
const IM2COL_MIN_CHUNK_ELEMS: usize = 16 * 1024;

/// How many row ranges to fill a `count x depth` im2col block in: one on one thread; else
/// up to two per thread (so a thread that starts late does not hold up the rest), fewer
/// when the block is small.
pub(super) fn im2col_chunks(count: usize, depth: usize, threads: usize) -> usize {
    if threads <= 1 {
        return 1;
    }
    let by_size = (count * depth / IM2COL_MIN_CHUNK_ELEMS).max(1);
    by_size.min(2 * threads).min(count.max(1))
}

/// One im2col block being filled: the rows `r0 .. r0+count`, `chunk_rows` per chunk.
struct Im2colJob<'a> {
    g: &'a Conv2dGeometry,
    args: &'a Conv2dArgs,
    depth: usize,
    r0: usize,
    count: usize,
    chunk_rows: usize,
}

/// Fills chunk `chunk` of the [`Im2colJob`] at `table`, one image-row segment (output
/// pixels of the same image and output row) at a time.
///
/// # Safety
/// `table` points to a live `Im2colJob` under `conv2d_raw`'s contract; no two concurrent
/// calls get the same chunk.
unsafe extern "C" fn im2col_chunk(table: *const u8, chunk: u64) {
    // SAFETY: the caller's contract.
    let job = unsafe { &*table.cast::<Im2colJob<'_>>() };
    let g = job.g;
    let first = chunk as usize * job.chunk_rows;
    let end = (first + job.chunk_rows).min(job.count);
    let mut local = first;
    while local < end {
        let row = job.r0 + local;
        let pixel = row % (g.out_h * g.out_w);
        let (oh, ow) = (pixel / g.out_w, pixel % g.out_w);
        let segment = Segment {
            image: row / (g.out_h * g.out_w),
            oh,
            ow,
            len: (g.out_w - ow).min(end - local),
            local,
        };
        // SAFETY: the segment's rows are rows of this chunk.
        unsafe {
            match g.in_c {
                1 => job.fill::<1>(&segment),
                2 => job.fill::<2>(&segment),
                3 => job.fill::<3>(&segment),
                4 => job.fill::<4>(&segment),
                _ => job.fill::<0>(&segment),
            }
        }
        local += segment.len;
    }
}

/// Consecutive output pixels `ow .. ow+len` of output row `oh` of image `image`, whose
/// im2col rows start at block row `local`.
struct Segment {
    image: usize,
    oh: usize,
    ow: usize,
    len: usize,
    local: usize,
}

impl Im2colJob<'_> {
    /// Fills the im2col rows of `segment` tap by tap (the row arithmetic done once per tap,
    /// not per pixel). `C` is the channel count when it is small (a fixed-length copy), or
    /// 0 for any other count.
    ///
    /// # Safety
    /// The segment's rows lie in this job's block, and only this call writes them.
    #[inline(always)]
    unsafe fn fill<const C: usize>(&self, segment: &Segment) {
        let (g, args, depth) = (self.g, self.args, self.depth);
        let in_c = if C == 0 { g.in_c } else { C };
        for kh in 0..g.kernel_h {
            let ih = (segment.oh * g.stride_h + kh * g.dilation_h).checked_sub(g.pad_top);
            let ih = ih.filter(|&ih| ih < g.in_h);
            let image_row = ih.map(|ih| (segment.image * g.in_h + ih) * g.in_w);
            for kw in 0..g.kernel_w {
                let column = (kh * g.kernel_w + kw) * in_c;
                for i in 0..segment.len {
                    let iw = ((segment.ow + i) * g.stride_w + kw * g.dilation_w)
                        .checked_sub(g.pad_left)
                        .filter(|&iw| iw < g.in_w);
                    // SAFETY: row `local + i` of the block is inside the scratch; an inside
                    // tap reads `in_c` in-bounds input elements.
                    unsafe {
                        let dst = args.scratch.add((segment.local + i) * depth + column);
                        match (image_row, iw) {
                            (Some(r), Some(iw)) => {
                                ptr::copy_nonoverlapping(args.x.add((r + iw) * in_c), dst, in_c)
                            }
                            _ => ptr::write_bytes(dst, 0, in_c),
                        }
                    }
                }
            }
        }
    }
}
