//! Tuned contraction kernels that Cranelift-emitted code calls by symbol: `sgemm` and the
//! three 2-D convolution passes lowered onto it, plus direct-loop depthwise convolution.
//!
//! Cranelift's x86-64 backend only has 128-bit vectors, so contractions run here, on the
//! `gemm` crate's runtime-detected AVX-512/AVX2 microkernels, instead of in generated code.
//! Every kernel has three faces: a `#[repr(C)]` argument struct with a C-ABI `kiln_*`
//! function (listed by [`symbols`] for JIT registration, `no_mangle` for AOT linking), an
//! unsafe Rust core (`*_raw`) with a documented safety contract, and a safe wrapper over
//! slices that checks every length and stride first and returns [`ContractError`].

pub mod conv;
pub mod conv_geometry;
pub mod depthwise;
mod depthwise_loops;
pub mod error;
pub mod gemv;
mod gemv_simd;
mod gemv_split;
mod isa;
pub mod sgemm;
pub mod view;

pub use conv::{
    Conv2dArgs, ConvAlgorithm, ConvPass, KILN_INVALID_GEOMETRY, KILN_OK, KILN_SCRATCH_TOO_SMALL,
    conv2d, conv2d_backprop_filter, conv2d_backprop_input, conv2d_raw, conv2d_raw_using,
    conv2d_using, kiln_conv2d, kiln_conv2d_backprop_filter, kiln_conv2d_backprop_input,
};
pub use conv_geometry::{Conv2dGeometry, Conv2dSizes};
pub use depthwise::{
    DepthwiseArgs, depthwise_conv2d, depthwise_conv2d_raw, depthwise_sizes, kiln_depthwise_conv2d,
    kiln_depthwise_conv2d_backprop_filter, kiln_depthwise_conv2d_backprop_input,
};
pub use error::ContractError;
pub use gemv::{Gemv, GemvIsa};
pub use sgemm::{PARALLEL_MIN_FLOPS, SgemmArgs, kiln_sgemm, sgemm, sgemm_raw};
pub use view::{MatMut, MatRef};

/// Every C-ABI kernel symbol with its address, for `JITBuilder::symbol` registration.
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    vec![
        ("kiln_sgemm", kiln_sgemm as *const u8),
        ("kiln_conv2d", kiln_conv2d as *const u8),
        (
            "kiln_conv2d_backprop_input",
            kiln_conv2d_backprop_input as *const u8,
        ),
        (
            "kiln_conv2d_backprop_filter",
            kiln_conv2d_backprop_filter as *const u8,
        ),
        ("kiln_depthwise_conv2d", kiln_depthwise_conv2d as *const u8),
        (
            "kiln_depthwise_conv2d_backprop_input",
            kiln_depthwise_conv2d_backprop_input as *const u8,
        ),
        (
            "kiln_depthwise_conv2d_backprop_filter",
            kiln_depthwise_conv2d_backprop_filter as *const u8,
        ),
    ]
}
