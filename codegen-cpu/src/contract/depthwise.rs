//! Depthwise 2-D convolution forward, backprop-input and backprop-filter as direct loops.
//!
//! Depthwise convolution has no shared contraction dimension across channels, so it is a
//! poor GEMM; each output pixel instead walks its window taps ([`Conv2dGeometry::for_each_tap`])
//! and runs a contiguous loop over the `in_c * multiplier` channels of the tap. The
//! geometry is a [`Conv2dGeometry`] with `out_c = in_c * multiplier`; the filter is
//! `[kernel_h, kernel_w, in_c, multiplier]` and output channel `ci * multiplier + mi`
//! reads input channel `ci`.

use super::conv::{ConvPass, KILN_INVALID_GEOMETRY, KILN_OK, KILN_SCRATCH_TOO_SMALL};
use super::conv_geometry::Conv2dGeometry;
use super::error::ContractError;

/// Arguments of the `kiln_depthwise_conv2d*` entry points: the 15 geometry words, the
/// multiplier, then the three tensor pointers, each pointer-sized.
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
    let w = [g.kernel_h, g.kernel_w, g.out_c].iter().try_fold(1usize, |a, &d| a.checked_mul(d));
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
pub unsafe fn depthwise_conv2d_raw(pass: ConvPass, args: &DepthwiseArgs) -> Result<(), ContractError> {
    let g = &args.geometry;
    let [nx, nw, ny] = depthwise_sizes(g, args.multiplier)?;
    let (c, m, cm) = (g.in_c, args.multiplier, g.out_c);
    let rows = g.batch * g.out_h * g.out_w;
    // SAFETY: every slice below spans exactly the validated element count of its tensor;
    // only the written one is made mutable, and the caller guarantees it is unaliased.
    unsafe {
        let view = |p: *mut f32, n: usize| if n == 0 { &[][..] } else { std::slice::from_raw_parts(p, n) };
        let view_mut = |p: *mut f32, n: usize| if n == 0 { &mut [][..] } else { std::slice::from_raw_parts_mut(p, n) };
        match pass {
            ConvPass::Forward => {
                let (x, w, y) = (view(args.x, nx), view(args.w, nw), view_mut(args.y, ny));
                y.fill(0.0);
                for row in 0..rows {
                    let y_row = &mut y[row * cm..(row + 1) * cm];
                    g.for_each_tap(row, |column, source| {
                        let Some(offset) = source else { return };
                        let w_tap = &w[column * m..column * m + cm];
                        for (ci, &xv) in x[offset..offset + c].iter().enumerate() {
                            for k in ci * m..(ci + 1) * m {
                                y_row[k] += xv * w_tap[k];
                            }
                        }
                    });
                }
            }
            ConvPass::BackpropInput => {
                let (dx, w, dy) = (view_mut(args.x, nx), view(args.w, nw), view(args.y, ny));
                dx.fill(0.0);
                for row in 0..rows {
                    let dy_row = &dy[row * cm..(row + 1) * cm];
                    g.for_each_tap(row, |column, source| {
                        let Some(offset) = source else { return };
                        let w_tap = &w[column * m..column * m + cm];
                        for (ci, d) in dx[offset..offset + c].iter_mut().enumerate() {
                            *d += (ci * m..(ci + 1) * m).map(|k| dy_row[k] * w_tap[k]).sum::<f32>();
                        }
                    });
                }
            }
            ConvPass::BackpropFilter => {
                let (x, dw, dy) = (view(args.x, nx), view_mut(args.w, nw), view(args.y, ny));
                dw.fill(0.0);
                for row in 0..rows {
                    let dy_row = &dy[row * cm..(row + 1) * cm];
                    g.for_each_tap(row, |column, source| {
                        let Some(offset) = source else { return };
                        let dw_tap = &mut dw[column * m..column * m + cm];
                        for (ci, &xv) in x[offset..offset + c].iter().enumerate() {
                            for k in ci * m..(ci + 1) * m {
                                dw_tap[k] += xv * dy_row[k];
                            }
                        }
                    });
                }
            }
        }
    }
    Ok(())
}

/// Checked depthwise convolution pass over slices: `x`, `w`, `y` are the input, filter and
/// output (or, per [`ConvPass`], their gradients); only the tensor the pass writes is
/// overwritten. Every length is checked against the geometry first.
pub fn depthwise_conv2d(
    pass: ConvPass,
    g: &Conv2dGeometry,
    multiplier: usize,
    x: &mut [f32],
    w: &mut [f32],
    y: &mut [f32],
) -> Result<(), ContractError> {
    let needed = depthwise_sizes(g, multiplier)?;
    let names = match pass {
        ConvPass::Forward => ["x", "w", "y"],
        ConvPass::BackpropInput => ["dx", "w", "dy"],
        ConvPass::BackpropFilter => ["x", "dw", "dy"],
    };
    for ((operand, needed), len) in names.into_iter().zip(needed).zip([x.len(), w.len(), y.len()]) {
        if len < needed {
            return Err(ContractError::OperandTooShort { operand, needed, len });
        }
    }
    let args = DepthwiseArgs { geometry: *g, multiplier, x: x.as_mut_ptr(), w: w.as_mut_ptr(), y: y.as_mut_ptr() };
    // SAFETY: lengths checked above; the three slices are distinct exclusive borrows.
    unsafe { depthwise_conv2d_raw(pass, &args) }
}
