//! 2-D convolution forward, backprop-input and backprop-filter as blocked im2col + [`sgemm`],
//! and (`winograd/`) forward and backprop-input of 3×3 stride-1 filters as Winograd
//! F(4×4, 3×3), chosen per geometry by [`conv2d_raw`].
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
//! The files: `args` (the pass, the argument struct and the status codes), `c_abi` (the
//! `kiln_conv2d*` entry points), `passes` (the unsafe core, [`conv2d_raw`], and the three
//! passes), `im2col` and `col2im` (a block's im2col matrix, filled and scattered back),
//! `checked` (the safe wrappers over slices), `winograd` (its own module doc),
//! `filter_winograd` (the filter gradient of 3×3 stride-1 convolutions by Winograd
//! F(3×3, 2×2), taken where it applies).
//!
//! [`sgemm`]: super::sgemm::sgemm_raw
//! [`Conv2dSizes::block_rows`]: super::conv_geometry::Conv2dSizes::block_rows
//! [`Conv2dGeometry::scratch_len`]: super::conv_geometry::Conv2dGeometry::scratch_len
//! [`Conv2dGeometry::is_direct`]: super::conv_geometry::Conv2dGeometry::is_direct

mod args;
mod c_abi;
mod checked;
mod col2im;
mod filter_winograd;
mod im2col;
mod passes;
pub(crate) mod winograd;

pub use args::{
    Conv2dArgs, ConvAlgorithm, ConvPass, KILN_INVALID_GEOMETRY, KILN_OK, KILN_SCRATCH_TOO_SMALL,
};
pub use c_abi::{kiln_conv2d, kiln_conv2d_backprop_filter, kiln_conv2d_backprop_input};
pub use checked::{conv2d, conv2d_backprop_filter, conv2d_backprop_input, conv2d_using};
pub use passes::{conv2d_raw, conv2d_raw_using};
