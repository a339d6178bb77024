//! The convolution kernels' types: which pass to run ([`ConvPass`]) and with which
//! algorithm ([`ConvAlgorithm`]), the `#[repr(C)]`
//! argument struct of the C-ABI entry points ([`Conv2dArgs`]) and their `KILN_*` status
//! codes.

use crate::contract::conv_geometry::Conv2dGeometry;

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

/// Which algorithm runs a convolution pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvAlgorithm {
    /// Winograd where its plan gains (3×3, stride 1, dilation 1, enough channels and
    /// tiles; forward and input gradient) and the host has its fast product kernels
    /// (AVX-512), and for the filter gradient of 3×3 stride-1 filters with at least 16
    /// channels in and out (Winograd F(3×3, 2×2)); im2col otherwise. What compiled code
    /// runs.
    #[default]
    Auto,
    /// Blocked im2col and `sgemm`, for every geometry and pass (the filter gradient too).
    Im2col,
    /// Winograd F(4×4, 3×3) with the host's fastest product kernels; a geometry or pass it
    /// cannot run (not 3×3 stride-1 dilation-1; the filter gradient) is an error.
    Winograd,
    /// Winograd with the portable product kernels, as [`ConvAlgorithm::Winograd`] (for
    /// tests that cover them on any host).
    WinogradPortable,
}

/// Arguments of [`kiln_conv2d`], [`kiln_conv2d_backprop_input`] and
/// [`kiln_conv2d_backprop_filter`], laid out for callers in generated code: the 15
/// geometry words, then the pointers and counts below, each pointer-sized.
///
/// Which tensor is written depends on the pass (see [`ConvPass`]); the others are only read.
///
/// [`kiln_conv2d`]: super::c_abi::kiln_conv2d
/// [`kiln_conv2d_backprop_input`]: super::c_abi::kiln_conv2d_backprop_input
/// [`kiln_conv2d_backprop_filter`]: super::c_abi::kiln_conv2d_backprop_filter
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
    ///
    /// [`SgemmArgs::threads`]: crate::contract::sgemm::SgemmArgs::threads
    pub threads: usize,
}

/// Status returned by the C-ABI convolution entry points: success.
pub const KILN_OK: i32 = 0;
/// Status: the geometry is invalid (zero stride, dilation or kernel size; overflow).
pub const KILN_INVALID_GEOMETRY: i32 = 1;
/// Status: `scratch_len` is below [`Conv2dGeometry::scratch_len`].
pub const KILN_SCRATCH_TOO_SMALL: i32 = 2;
