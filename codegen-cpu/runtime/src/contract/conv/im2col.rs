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

/// Fills chunk `chunk` of the [`Im2colJob`] at `table`.
///
/// # Safety
/// `table` points to a live `Im2colJob` under `conv2d_raw`'s contract; no two concurrent
/// calls get the same chunk.
unsafe extern "C" fn im2col_chunk(table: *const u8, chunk: u64) {
    // SAFETY: the caller's contract.
    let job = unsafe { &*table.cast::<Im2colJob<'_>>() };
    let (g, args, in_c) = (job.g, job.args, job.g.in_c);
    let first = chunk as usize * job.chunk_rows;
    for local in first..(first + job.chunk_rows).min(job.count) {
        // SAFETY: `local < count <= block_rows`, so the row is inside the scratch; taps
        // inside the input read `in_c` in-bounds elements.
        unsafe {
            let dst = args.scratch.add(local * job.depth);
            g.for_each_tap(job.r0 + local, |column, source| match source {
                Some(offset) => copy_channels(args.x.add(offset), dst.add(column), in_c),
                None => ptr::write_bytes(dst.add(column), 0, in_c),
            });
        }
    }
}

/// Copies one tap's `n` channels. Few-channel inputs (images: 1 or 3) copy with a fixed
/// length, which compiles to moves instead of a `memcpy` call per tap.
///
/// # Safety
/// `src` and `dst` address `n` valid, non-overlapping elements.
#[inline(always)]
unsafe fn copy_channels(src: *const f32, dst: *mut f32, n: usize) {
    // SAFETY: the caller's contract.
    unsafe {
        match n {
            1 => *dst = *src,
            2 => ptr::copy_nonoverlapping(src, dst, 2),
            3 => ptr::copy_nonoverlapping(src, dst, 3),
            4 => ptr::copy_nonoverlapping(src, dst, 4),
            _ => ptr::copy_nonoverlapping(src, dst, n),
        }
    }
}
