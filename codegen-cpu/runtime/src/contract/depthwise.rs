//! Depthwise 2-D convolution forward, backprop-input and backprop-filter as direct loops
//! (in the sibling module `depthwise_loops`), split over the worker pool.
//!
//! Depthwise convolution has no shared contraction dimension across channels, so it is a
//! poor GEMM; each output pixel instead walks its window taps and runs a contiguous,
//! vectorised loop over the `in_c * multiplier` channels of the tap. The
//! geometry is a [`Conv2dGeometry`] with `out_c = in_c * multiplier`; the filter is
//! `[kernel_h, kernel_w, in_c, multiplier]` and output channel `ci * multiplier + mi`
//! reads input channel `ci`.

use super::conv::{ConvPass, KILN_INVALID_GEOMETRY, KILN_OK, KILN_SCRATCH_TOO_SMALL};
use super::conv_geometry::Conv2dGeometry;
use super::depthwise_loops::{DepthwiseJob, FilterUnits, run_units};
use super::error::ContractError;
use crate::parallel::kiln_parallel_for;

/// Arguments of the `kiln_depthwise_conv2d*` entry points: the 15 geometry words, the
/// multiplier, the three tensor pointers and the thread count, each pointer-sized.
///
/// Which tensor is written depends on the pass (see [`ConvPass`]); the others are only read.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DepthwiseArgs {
    /// Shape of the convolution; `out_c` must be `in_c * multiplier`.
    pub geometry: Conv2dGeometry,
    /// Filters per input channel.
    pub multiplier: usize,
    /// Input `[batch, in_h, in_w, in_c]` (or its gradient `dx`).
    pub x: *mut f32,
    /// Filter `[kernel_h, kernel_w, in_c, multiplier]` (or its gradient `dw`).
    pub w: *mut f32,
    /// Output `[batch, out_h, out_w, in_c * multiplier]` (or its gradient `dy`).
    pub y: *mut f32,
    /// Threads to split the pass over (on the worker pool); 1 runs it on the caller.
    pub threads: usize,
}

/// Element counts of a depthwise geometry: `(x, w, y)`, after validating it.
pub fn depthwise_sizes(g: &Conv2dGeometry, multiplier: usize) -> Result<[usize; 3], ContractError> {
    let sizes = g.sizes()?;
    if g.in_c.checked_mul(multiplier) != Some(g.out_c) {
        return Err(ContractError::InvalidGeometry(format!(
            "depthwise output channels {} are not in_c {} * multiplier {multiplier}",
            g.out_c, g.in_c
        )));
    }
    let w = [g.kernel_h, g.kernel_w, g.out_c]
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d));
    let w = w.ok_or(ContractError::SizeOverflow { operand: "w" })?;
    Ok([sizes.x, w, sizes.y])
}

macro_rules! entry_point {
    ($(#[$doc:meta])* $name:ident, $pass:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `p` points to a valid [`DepthwiseArgs`] satisfying [`depthwise_conv2d_raw`]'s contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(p: *const DepthwiseArgs) -> i32 {
            // SAFETY: forwarded caller contract.
            match unsafe { depthwise_conv2d_raw($pass, &*p) } {
                Ok(()) => KILN_OK,
                Err(ContractError::OperandTooShort { .. }) => KILN_SCRATCH_TOO_SMALL,
                Err(_) => KILN_INVALID_GEOMETRY,
            }
        }
    };
}

entry_point!(
    /// C-ABI depthwise forward convolution; returns a `KILN_*` status.
    kiln_depthwise_conv2d,
    ConvPass::Forward
);
entry_point!(
    /// C-ABI depthwise convolution backprop to the input; returns a `KILN_*` status.
    kiln_depthwise_conv2d_backprop_input,
    ConvPass::BackpropInput
);
entry_point!(
    /// C-ABI depthwise convolution backprop to the filter; returns a `KILN_*` status.
    kiln_depthwise_conv2d_backprop_filter,
    ConvPass::BackpropFilter
);

/// Runs `pass`, overwriting the tensor it writes. Validates the geometry (returning an error
/// and touching nothing if it is wrong); everything else is the caller's contract.
///
/// # Safety
/// `x`, `w`, `y` point to the element counts [`depthwise_sizes`] gives, valid for reads;
/// the tensor the pass writes is valid for writes, overlaps none of the others, and no
/// other thread accesses it during the call.
pub unsafe fn depthwise_conv2d_raw(
    pass: ConvPass,
    args: &DepthwiseArgs,
) -> Result<(), ContractError> {
    let g = &args.geometry;
    let sizes = depthwise_sizes(g, args.multiplier)?;
    let threads = args.threads.max(1);
    let job = DepthwiseJob {
        pass,
        g,
        multiplier: args.multiplier,
        x: args.x,
        w: args.w,
        y: args.y,
        sizes,
        filter_units: FilterUnits::new(g, threads),
    };
    let units = job.units();
    let chunks = if threads <= 1 || job.work() < PARALLEL_MIN_WORK {
        1
    } else {
        units.min(2 * threads)
    };
    if chunks <= 1 {
        // SAFETY: the caller's contract; this thread runs every unit.
        unsafe { run_units(&job, 0..units) };
        return Ok(());
    }
    let split = SplitJob {
        job: &job,
        units,
        chunks,
    };
    // SAFETY: chunks run disjoint unit ranges, which write disjoint elements; `split`
    // outlives the call, which returns when every chunk has finished.
    unsafe { kiln_parallel_for(split_chunk, (&raw const split).cast(), chunks as u64) };
    Ok(())
}

/// Fewest multiply-adds a pass must have to be split over the worker pool: below this,
/// handing work to another thread costs more than doing it.
const PARALLEL_MIN_WORK: usize = 64 * 1024;

/// A pass cut into `chunks` contiguous ranges of its `units`.
struct SplitJob<'a> {
    job: &'a DepthwiseJob<'a>,
    units: usize,
    chunks: usize,
}

/// Runs chunk `chunk` of the [`SplitJob`] at `table`.
///
/// # Safety
/// `table` points to a live `SplitJob` under `depthwise_conv2d_raw`'s contract; no two
/// concurrent calls get the same chunk.
unsafe extern "C" fn split_chunk(table: *const u8, chunk: u64) {
    // SAFETY: the caller's contract.
    let split = unsafe { &*table.cast::<SplitJob<'_>>() };
    let chunk = chunk as usize;
    let (lo, hi) = (
        chunk * split.units / split.chunks,
        (chunk + 1) * split.units / split.chunks,
    );
    // SAFETY: unit ranges of distinct chunks are disjoint.
    unsafe { run_units(split.job, lo..hi) };
}

/// Checked depthwise convolution pass over slices: `x`, `w`, `y` are the input, filter and
/// output (or, per [`ConvPass`], their gradients); only the tensor the pass writes is
/// overwritten. Every length is checked against the geometry first. `threads` as in
/// [`DepthwiseArgs::threads`].
pub fn depthwise_conv2d(
    pass: ConvPass,
    g: &Conv2dGeometry,
    multiplier: usize,
    x: &mut [f32],
    w: &mut [f32],
    y: &mut [f32],
    threads: usize,
) -> Result<(), ContractError> {
    let needed = depthwise_sizes(g, multiplier)?;
    let names = match pass {
        ConvPass::Forward => ["x", "w", "y"],
        ConvPass::BackpropInput => ["dx", "w", "dy"],
        ConvPass::BackpropFilter => ["x", "dw", "dy"],
    };
    for ((operand, needed), len) in names
        .into_iter()
        .zip(needed)
        .zip([x.len(), w.len(), y.len()])
    {
        if len < needed {
            return Err(ContractError::OperandTooShort {
                operand,
                needed,
                len,
            });
        }
    }
    let args = DepthwiseArgs {
        geometry: *g,
        multiplier,
        x: x.as_mut_ptr(),
        w: w.as_mut_ptr(),
        y: y.as_mut_ptr(),
        threads,
    };
    // SAFETY: lengths checked above; the three slices are distinct exclusive borrows.
    unsafe { depthwise_conv2d_raw(pass, &args) }
}
