//! 2-D convolution forward, backprop-input and backprop-filter as blocked im2col + [`sgemm`].
//!
//! Output rows (`batch*out_h*out_w` pixels) are processed in blocks of
//! [`Conv2dSizes::block_rows`]: a block's im2col matrix lives in caller-provided scratch
//! (size from [`Conv2dGeometry::scratch_len`]), so no kernel allocates. Per block:
//! - forward:         `y[blk] = cols[blk] * w`
//! - backprop-input:  `dcols[blk] = dy[blk] * w^T`, then scatter-add `dcols` into `dx`
//! - backprop-filter: `dw += cols[blk]^T * dy[blk]`
//!
//! When the input already is its own im2col matrix ([`Conv2dGeometry::is_direct`]) the
//! contraction reads/writes it in place.
//!
//! [`sgemm`]: super::sgemm::sgemm_raw

use std::ptr;

use super::conv_geometry::{Conv2dGeometry, Conv2dSizes, output_of};
use super::error::ContractError;
use super::sgemm::{SgemmArgs, sgemm_raw};
use crate::parallel::kiln_parallel_for;

/// Which of the three convolution computations to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPass {
    /// `y = conv(x, w)`: reads `x`, `w`; writes `y`.
    Forward,
    /// `dx = d conv / dx (dy, w)`: reads `y` (as `dy`), `w`; writes `x` (as `dx`).
    BackpropInput,
    /// `dw = d conv / dw (x, dy)`: reads `x`, `y` (as `dy`); writes `w` (as `dw`).
    BackpropFilter,
}

/// Arguments of [`kiln_conv2d`], [`kiln_conv2d_backprop_input`] and
/// [`kiln_conv2d_backprop_filter`], laid out for callers in generated code: the 15
/// geometry words, then the pointers and counts below, each pointer-sized.
///
/// Which tensor is written depends on the pass (see [`ConvPass`]); the others are only read.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Conv2dArgs {
    /// Shape of the convolution.
    pub geometry: Conv2dGeometry,
    /// Input `[batch, in_h, in_w, in_c]` (or its gradient `dx`).
    pub x: *mut f32,
    /// Filter `[kernel_h, kernel_w, in_c, out_c]` (or its gradient `dw`).
    pub w: *mut f32,
    /// Output `[batch, out_h, out_w, out_c]` (or its gradient `dy`).
    pub y: *mut f32,
    /// Scratch of at least [`Conv2dGeometry::scratch_len`] elements (may be null if that is 0).
    pub scratch: *mut f32,
    /// Elements available at `scratch`.
    pub scratch_len: usize,
    /// Threads for the contraction (see [`SgemmArgs::threads`]).
    pub threads: usize,
}

/// Status returned by the C-ABI convolution entry points: success.
pub const KILN_OK: i32 = 0;
/// Status: the geometry is invalid (zero stride, dilation or kernel size; overflow).
pub const KILN_INVALID_GEOMETRY: i32 = 1;
/// Status: `scratch_len` is below [`Conv2dGeometry::scratch_len`].
pub const KILN_SCRATCH_TOO_SMALL: i32 = 2;

/// C-ABI forward convolution; returns a `KILN_*` status and touches nothing unless `KILN_OK`.
///
/// # Safety
/// `p` points to a valid [`Conv2dArgs`] satisfying [`conv2d_raw`]'s contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_conv2d(p: *const Conv2dArgs) -> i32 {
    // SAFETY: forwarded caller contract.
    unsafe { status(conv2d_raw(ConvPass::Forward, &*p)) }
}

/// C-ABI convolution backprop to the input; returns a `KILN_*` status.
///
/// # Safety
/// `p` points to a valid [`Conv2dArgs`] satisfying [`conv2d_raw`]'s contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_conv2d_backprop_input(p: *const Conv2dArgs) -> i32 {
    // SAFETY: forwarded caller contract.
    unsafe { status(conv2d_raw(ConvPass::BackpropInput, &*p)) }
}

/// C-ABI convolution backprop to the filter; returns a `KILN_*` status.
///
/// # Safety
/// `p` points to a valid [`Conv2dArgs`] satisfying [`conv2d_raw`]'s contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_conv2d_backprop_filter(p: *const Conv2dArgs) -> i32 {
    // SAFETY: forwarded caller contract.
    unsafe { status(conv2d_raw(ConvPass::BackpropFilter, &*p)) }
}

fn status(result: Result<(), ContractError>) -> i32 {
    match result {
        Ok(()) => KILN_OK,
        Err(ContractError::OperandTooShort { .. }) => KILN_SCRATCH_TOO_SMALL,
        Err(_) => KILN_INVALID_GEOMETRY,
    }
}

/// Runs `pass`. Validates the geometry and the scratch length (returning an error and
/// touching nothing if either is wrong); everything else is the caller's contract.
///
/// # Safety
/// - `x`, `w`, `y` point to `Conv2dSizes::{x, w, y}` valid elements each (dense NHWC, HWIO,
///   NHWC), `scratch` to `scratch_len` writable elements (a pointer to zero elements may be
///   null);
/// - the tensor the pass writes overlaps none of the others nor the scratch, and no other
///   thread accesses it or the scratch during the call.
pub unsafe fn conv2d_raw(pass: ConvPass, args: &Conv2dArgs) -> Result<(), ContractError> {
    let g = &args.geometry;
    let sizes = g.sizes()?;
    if args.scratch_len < sizes.scratch {
        return Err(ContractError::OperandTooShort {
            operand: "scratch",
            needed: sizes.scratch,
            len: args.scratch_len,
        });
    }
    // SAFETY (all three): forwarded caller contract; sizes were validated above.
    unsafe {
        match pass {
            ConvPass::Forward => forward(g, &sizes, args),
            ConvPass::BackpropInput => backprop_input(g, &sizes, args),
            ConvPass::BackpropFilter => backprop_filter(g, &sizes, args),
        }
    }
    Ok(())
}

/// The output-row blocks: `(first_row, row_count)`.
fn blocks(sizes: &Conv2dSizes) -> impl Iterator<Item = (usize, usize)> {
    let step = sizes.block_rows.max(1);
    (0..sizes.rows)
        .step_by(step)
        .map(move |r0| (r0, step.min(sizes.rows - r0)))
}

/// The im2col matrix of rows `r0 .. r0+count` (row stride `depth`): the input itself when
/// direct, else filled into the scratch (in [`im2col_chunks`] row ranges, on the worker pool
/// when `args.threads > 1` and the block is big enough to pay for it).
///
/// # Safety
/// `conv2d_raw`'s contract; `sizes` from `g`.
unsafe fn im2col_block(
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
fn im2col_chunks(count: usize, depth: usize, threads: usize) -> usize {
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

/// Runs `c = alpha*a*b + beta*c` on dense/strided operands (`(ptr, row_stride, col_stride)`).
///
/// # Safety
/// `sgemm_raw`'s contract.
unsafe fn contract(
    (m, n, k): (usize, usize, usize),
    a: (*const f32, usize, usize),
    b: (*const f32, usize, usize),
    c: (*mut f32, usize, usize),
    beta: f32,
    threads: usize,
) {
    let args = SgemmArgs {
        m,
        n,
        k,
        a: a.0,
        a_row_stride: a.1,
        a_col_stride: a.2,
        b: b.0,
        b_row_stride: b.1,
        b_col_stride: b.2,
        c: c.0,
        c_row_stride: c.1,
        c_col_stride: c.2,
        alpha: 1.0,
        beta,
        threads,
    };
    // SAFETY: forwarded.
    unsafe { sgemm_raw(&args) }
}

/// # Safety
/// `conv2d_raw`'s contract.
unsafe fn forward(g: &Conv2dGeometry, sizes: &Conv2dSizes, args: &Conv2dArgs) {
    let (depth, out_c) = (sizes.depth, g.out_c);
    for (r0, count) in blocks(sizes) {
        // SAFETY: every pointer below addresses rows r0..r0+count of its validated tensor.
        unsafe {
            let cols = im2col_block(g, sizes, args, r0, count);
            contract(
                (count, out_c, depth),
                (cols, depth, 1),
                (args.w, out_c, 1),
                (args.y.add(r0 * out_c), out_c, 1),
                0.0,
                args.threads,
            );
        }
    }
}

/// # Safety
/// `conv2d_raw`'s contract.
unsafe fn backprop_input(g: &Conv2dGeometry, sizes: &Conv2dSizes, args: &Conv2dArgs) {
    let (depth, out_c) = (sizes.depth, g.out_c);
    let direct = g.is_direct();
    if !direct && sizes.x > 0 {
        // SAFETY: dx holds `sizes.x` writable elements.
        unsafe { ptr::write_bytes(args.x, 0, sizes.x) };
    }
    for (r0, count) in blocks(sizes) {
        // SAFETY: every pointer below addresses rows r0..r0+count of its validated tensor.
        unsafe {
            let dcols = if direct {
                args.x.add(r0 * g.in_c)
            } else {
                args.scratch
            };
            // w is depth x out_c row-major; w^T is out_c x depth with strides (1, out_c).
            contract(
                (count, depth, out_c),
                (args.y.add(r0 * out_c), out_c, 1),
                (args.w, 1, out_c),
                (dcols, depth, 1),
                0.0,
                args.threads,
            );
            if !direct {
                col2im_block(g, sizes, args, r0, count);
            }
        }
    }
}

/// Adds the block's `dcols` (rows `r0 .. r0+count`, in the scratch) into `dx`. Chunks own
/// ranges of input image rows and gather every tap that lands there, so no two chunks
/// write the same element (on the worker pool when `args.threads > 1` and the block is
/// big enough, as for im2col).
///
/// # Safety
/// `conv2d_raw`'s contract; `sizes` from `g`; the scratch holds the block's `dcols`.
unsafe fn col2im_block(
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

/// # Safety
/// `conv2d_raw`'s contract.
unsafe fn backprop_filter(g: &Conv2dGeometry, sizes: &Conv2dSizes, args: &Conv2dArgs) {
    let (depth, out_c) = (sizes.depth, g.out_c);
    if sizes.rows == 0 {
        if sizes.w > 0 {
            // SAFETY: dw holds `sizes.w` writable elements.
            unsafe { ptr::write_bytes(args.w, 0, sizes.w) };
        }
        return;
    }
    for (block, (r0, count)) in blocks(sizes).enumerate() {
        // SAFETY: every pointer below addresses rows r0..r0+count of its validated tensor.
        unsafe {
            let cols = im2col_block(g, sizes, args, r0, count);
            // cols is count x depth row-major; cols^T is depth x count with strides (1, depth).
            contract(
                (depth, out_c, count),
                (cols, 1, depth),
                (args.y.add(r0 * out_c), out_c, 1),
                (args.w, out_c, 1),
                if block == 0 { 0.0 } else { 1.0 },
                args.threads,
            );
        }
    }
}

/// Checked forward convolution: `y = conv(x, w)`.
pub fn conv2d(
    g: &Conv2dGeometry,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    checked(
        ConvPass::Forward,
        g,
        [
            (x.as_ptr().cast_mut(), x.len()),
            (w.as_ptr().cast_mut(), w.len()),
            (y.as_mut_ptr(), y.len()),
        ],
        scratch,
        threads,
    )
}

/// Checked backprop to the input: `dx = conv^T(dy, w)` (overwrites `dx`).
pub fn conv2d_backprop_input(
    g: &Conv2dGeometry,
    dy: &[f32],
    w: &[f32],
    dx: &mut [f32],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    checked(
        ConvPass::BackpropInput,
        g,
        [
            (dx.as_mut_ptr(), dx.len()),
            (w.as_ptr().cast_mut(), w.len()),
            (dy.as_ptr().cast_mut(), dy.len()),
        ],
        scratch,
        threads,
    )
}

/// Checked backprop to the filter: `dw = sum over pixels of x-patch (outer) dy` (overwrites `dw`).
pub fn conv2d_backprop_filter(
    g: &Conv2dGeometry,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    checked(
        ConvPass::BackpropFilter,
        g,
        [
            (x.as_ptr().cast_mut(), x.len()),
            (dw.as_mut_ptr(), dw.len()),
            (dy.as_ptr().cast_mut(), dy.len()),
        ],
        scratch,
        threads,
    )
}

/// Checks every slice length against the geometry, then runs the pass. `tensors` are
/// `(ptr, len)` for `x`, `w`, `y` (or their gradients) and come from distinct borrows, the
/// written one unique.
fn checked(
    pass: ConvPass,
    g: &Conv2dGeometry,
    tensors: [(*mut f32, usize); 3],
    scratch: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    let sizes = g.sizes()?;
    let names = match pass {
        ConvPass::Forward => ["x", "w", "y"],
        ConvPass::BackpropInput => ["dx", "w", "dy"],
        ConvPass::BackpropFilter => ["x", "dw", "dy"],
    };
    for ((_, len), (name, needed)) in tensors
        .iter()
        .zip(names.into_iter().zip([sizes.x, sizes.w, sizes.y]))
    {
        if *len < needed {
            return Err(ContractError::OperandTooShort {
                operand: name,
                needed,
                len: *len,
            });
        }
    }
    let [x, w, y] = tensors.map(|(p, _)| p);
    let args = Conv2dArgs {
        geometry: *g,
        x,
        w,
        y,
        scratch: scratch.as_mut_ptr(),
        scratch_len: scratch.len(),
        threads,
    };
    // SAFETY: lengths checked above; the written tensor is a unique borrow distinct from the
    // others and from `scratch`; the read-only ones are never written by this pass.
    unsafe { conv2d_raw(pass, &args) }
}
