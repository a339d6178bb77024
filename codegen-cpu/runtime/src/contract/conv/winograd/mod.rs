//! Winograd F(4×4, 3×3) convolution (points 0, ±1/2, ±2; channel sums in blocks: see
//! `transform` and `product` for why) for 3×3 filters with stride 1 and dilation 1 (any
//! padding): the forward pass and the input gradient (a 3×3 stride-1 convolution of `dy`
//! with the rotated, channel-swapped filter and the complementary padding). The run is cut
//! into work items of up to `MAX_BLOCK_TILES` 4×4 output tiles and 64 output channels; per
//! item, on the worker that claimed it: its block of the filter becomes `U = G g G^T` (36
//! points per channel pair, packed for the product kernels), its tiles' 6×6 source patches
//! become `V = B^T d B`, the 36 products `M_p = V_p U_p` run on register-blocked kernels,
//! and `Y = A^T M A` writes the 4×4 outputs. 36 multiply-adds per channel pair and tile
//! instead of 144.
//!
//! Rounding differs from direct convolution: the transforms scale values by up to 8 (A)
//! and 17/4 (B) and cancel, so the error bound is stated relative to the absolute products
//! (see `codegen-cpu/tests/contract_conv_winograd.rs`). A NaN source element makes NaN
//! every output of every tile whose patch holds it and that reads it through a non-zero
//! coefficient (all outputs that read it, and possibly others of those tiles).
//!
//! Files: `plan` (eligibility, blocking, scratch layout), `transform` (the 1-D transforms),
//! `filter` and `tiles` (the 2-D transforms over memory), `product` (the micro-kernels),
//! `run` (the workers and their items). It does not do the filter gradient (im2col does),
//! nor the fused epilogue (bias, activation), which runs after the convolution as before.

mod filter;
mod plan;
mod product;
mod run;
mod tiles;
mod transform;

pub(crate) use plan::WinogradPlan;
pub(crate) use product::ProductKernel;
pub(crate) use run::{RunTensors, run};
