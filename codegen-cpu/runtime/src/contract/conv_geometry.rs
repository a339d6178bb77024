//! The shape of a 2-D convolution as the kernels see it (NHWC input, HWIO filter, NHWC
//! output, resolved padding), its validation, and the element counts it implies.
//!
//! The convolution is lowered to a contraction over `rows = batch*out_h*out_w` output
//! pixels and `depth = kernel_h*kernel_w*in_c` taps: `y[rows x out_c] = cols[rows x depth] *
//! w[depth x out_c]`, where `cols` is the im2col matrix (column `(kh*kernel_w + kw)*in_c + ci`,
//! the HWIO filter's row order). 3×3 stride-1 geometries may run Winograd instead
//! (`conv/winograd/`); the scratch covers whichever runs.

use ir::Conv2dAttrs;

use super::conv::ConvPass;
use super::conv::winograd::WinogradPlan;
use super::error::ContractError;

/// Elements of im2col scratch the kernels aim for per block of output rows.
const BLOCK_TARGET_ELEMS: usize = 1 << 20;
/// Fewest output rows per block (the contraction gets inefficient below this).
const BLOCK_MIN_ROWS: usize = 256;

/// Geometry of a 2-D convolution with padding already resolved.
///
/// Every field is a `usize`, in declaration order, so generated code can fill it as 15
/// consecutive pointer-sized integers. Input taps outside `[0, in_h) x [0, in_w)` read zero;
/// the bottom/right padding is implied by `out_h`/`out_w`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Images in the batch (N).
    pub batch: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels (C_in).
    pub in_c: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Output channels (C_out).
    pub out_c: usize,
    /// Filter height.
    pub kernel_h: usize,
    /// Filter width.
    pub kernel_w: usize,
    /// Vertical stride (>= 1).
    pub stride_h: usize,
    /// Horizontal stride (>= 1).
    pub stride_w: usize,
    /// Vertical dilation (>= 1; 1 = dense).
    pub dilation_h: usize,
    /// Horizontal dilation (>= 1; 1 = dense).
    pub dilation_w: usize,
    /// Zero rows above the input.
    pub pad_top: usize,
    /// Zero columns left of the input.
    pub pad_left: usize,
}

/// Element counts of a validated geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dSizes {
    /// Elements of the input `x` (and of `dx`).
    pub x: usize,
    /// Elements of the filter `w` (and of `dw`).
    pub w: usize,
    /// Elements of the output `y` (and of `dy`).
    pub y: usize,
    /// Output pixels over the batch: rows of the contraction.
    pub rows: usize,
    /// Taps per output pixel: the contracted dimension.
    pub depth: usize,
    /// Output rows handled per block.
    pub block_rows: usize,
    /// Elements of scratch the kernels need at least: the im2col blocks (0 when the input
    /// is its own im2col matrix) or, for geometries Winograd can run, its transformed
    /// filter and one worker's tiles, whichever is larger. More lets Winograd use more
    /// threads ([`Conv2dGeometry::scratch_len_for`]).
    pub scratch: usize,
}

/// Product of `dims`, or an overflow error naming `what`.
fn product(what: &'static str, dims: &[usize]) -> Result<usize, ContractError> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(ContractError::SizeOverflow { operand: what })
}

impl Conv2dGeometry {
    /// Geometry of `attrs` applied to an `[batch, in_h, in_w, in_c]` input and an
    /// `[kernel_h, kernel_w, in_c, out_c]` filter, padding resolved by [`ir::Padding::resolve`].
    pub fn resolve(
        input: [usize; 4],
        filter: [usize; 4],
        attrs: &Conv2dAttrs,
    ) -> Result<Self, ContractError> {
        let [batch, in_h, in_w, in_c] = input;
        let [kernel_h, kernel_w, filter_c, out_c] = filter;
        if filter_c != in_c {
            return Err(ContractError::InvalidGeometry(format!(
                "filter {filter:?} expects {filter_c} input channels but input {input:?} has {in_c}"
            )));
        }
        let axis = |i: usize, size: usize, k: usize| {
            let window = attrs.dilation[i]
                .saturating_mul(k.saturating_sub(1))
                .saturating_add(1);
            attrs.padding.resolve(i, size, window, attrs.strides[i]).ok_or_else(|| {
                ContractError::InvalidGeometry(format!(
                    "window {window} (stride {}) does not fit input {input:?} axis {i} with {:?}",
                    attrs.strides[i], attrs.padding
                ))
            })
        };
        let (h, w) = (axis(0, in_h, kernel_h)?, axis(1, in_w, kernel_w)?);
        let geometry = Self {
            batch,
            in_h,
            in_w,
            in_c,
            out_h: h.out,
            out_w: w.out,
            out_c,
            kernel_h,
            kernel_w,
            stride_h: attrs.strides[0],
            stride_w: attrs.strides[1],
            dilation_h: attrs.dilation[0],
            dilation_w: attrs.dilation[1],
            pad_top: h.pad_before,
            pad_left: w.pad_before,
        };
        geometry.sizes()?;
        Ok(geometry)
    }

    /// Validates the geometry and returns its element counts.
    pub fn sizes(&self) -> Result<Conv2dSizes, ContractError> {
        let g = self;
        if g.stride_h == 0
            || g.stride_w == 0
            || g.dilation_h == 0
            || g.dilation_w == 0
            || g.kernel_h == 0
            || g.kernel_w == 0
        {
            return Err(ContractError::InvalidGeometry(format!(
                "strides, dilations and kernel sizes must be >= 1: {g:?}"
            )));
        }
        // Every tap coordinate `o*stride + k*dilation` must fit in isize.
        for (out, stride, kernel, dilation, pad) in [
            (g.out_h, g.stride_h, g.kernel_h, g.dilation_h, g.pad_top),
            (g.out_w, g.stride_w, g.kernel_w, g.dilation_w, g.pad_left),
        ] {
            let reach = out
                .saturating_mul(stride)
                .checked_add((kernel - 1).saturating_mul(dilation));
            if reach.is_none_or(|r| r > isize::MAX as usize) || pad > isize::MAX as usize {
                return Err(ContractError::InvalidGeometry(format!(
                    "tap coordinates overflow: {g:?}"
                )));
            }
        }
        let rows = product("y", &[g.batch, g.out_h, g.out_w])?;
        let depth = product("w", &[g.kernel_h, g.kernel_w, g.in_c])?;
        let block_rows = BLOCK_TARGET_ELEMS
            .checked_div(depth)
            .map_or(rows, |fit| fit.max(BLOCK_MIN_ROWS).min(rows));
        let im2col = if self.is_direct() {
            0
        } else {
            product("scratch", &[block_rows, depth])?
        };
        let scratch = im2col.max(self.winograd_scratch(1)?);
        let sizes = Conv2dSizes {
            x: product("x", &[g.batch, g.in_h, g.in_w, g.in_c])?,
            w: product("w", &[depth, g.out_c])?,
            y: product("y", &[rows, g.out_c])?,
            rows,
            depth,
            block_rows,
            scratch,
        };
        if [sizes.x, sizes.w, sizes.y, sizes.scratch]
            .iter()
            .any(|&n| n > isize::MAX as usize / 4)
        {
            return Err(ContractError::InvalidGeometry(format!(
                "operands exceed the address space: {g:?}"
            )));
        }
        Ok(sizes)
    }

    /// Elements of scratch the kernels need for this geometry (0 if it is invalid): the
    /// least that runs every pass ([`Conv2dSizes::scratch`]); Winograd then runs on one
    /// thread. [`Conv2dGeometry::scratch_len_for`] gives room for more.
    pub fn scratch_len(&self) -> usize {
        self.sizes().map_or(0, |s| s.scratch)
    }

    /// Elements of scratch that let every pass run on `threads` threads (0 if the geometry
    /// is invalid): [`Conv2dGeometry::scratch_len`], or for geometries Winograd can run,
    /// room for its transformed filter and `threads` workers' tiles (falling back to the
    /// minimum if that would not fit the address space).
    pub fn scratch_len_for(&self, threads: usize) -> usize {
        let Ok(sizes) = self.sizes() else {
            return 0;
        };
        match self.winograd_scratch(threads) {
            Ok(winograd) if winograd <= isize::MAX as usize / 4 => sizes.scratch.max(winograd),
            _ => sizes.scratch,
        }
    }

    /// Scratch Winograd needs for either pass it can run with `workers` workers (0 when
    /// it runs neither). The geometry's strides, dilations and pads are validated.
    fn winograd_scratch(&self, workers: usize) -> Result<usize, ContractError> {
        let mut most = 0;
        for pass in [ConvPass::Forward, ConvPass::BackpropInput] {
            if let Some(plan) = WinogradPlan::new(self, pass)? {
                most = most.max(plan.scratch_len(workers));
            }
        }
        Ok(most)
    }

    /// Whether the input, read as `rows x in_c`, already is the im2col matrix (1x1 filter,
    /// stride 1, no padding, same spatial size): then no scratch is used.
    pub fn is_direct(&self) -> bool {
        self.kernel_h == 1
            && self.kernel_w == 1
            && self.stride_h == 1
            && self.stride_w == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && self.out_h == self.in_h
            && self.out_w == self.in_w
    }
}

/// The output index `o` whose tap at `offset` (kernel index times dilation) reads input
/// index `i` along one axis (`o * stride + offset - pad == i`), if there is one.
#[inline(always)]
pub(crate) fn output_of(
    i: usize,
    n_out: usize,
    stride: usize,
    offset: usize,
    pad: usize,
) -> Option<usize> {
    let t = (i + pad).checked_sub(offset)?;
    (t % stride == 0 && t / stride < n_out).then_some(t / stride)
}
