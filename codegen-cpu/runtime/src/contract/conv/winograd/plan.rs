//! The shape of one Winograd F(4×4, 3×3) run, as plain checked arithmetic: which tensor is
//! read and which written (forward or input gradient), how the output is cut into 4×4
//! tiles, how tiles and output channels are grouped into work items, and where each buffer
//! sits in the scratch. It also says which geometries may run Winograd at all
//! ([`WinogradPlan::new`]) and which the automatic choice sends there
//! ([`WinogradPlan::gains`]).
//!
//! It computes no values and touches no memory.

use crate::contract::conv::args::ConvPass;
use crate::contract::conv_geometry::Conv2dGeometry;
use crate::contract::error::ContractError;

/// Output pixels per tile side (the `m` of F(m×m, 3×3)).
pub(super) const TILE: usize = 4;
/// Transformed tile side (`m + 2`).
pub(super) const ALPHA: usize = TILE + 2;
/// Points of a transformed tile: one batched product per point.
pub(super) const POINTS: usize = ALPHA * ALPHA;

// The constants below were measured on the 2-core Zen 4 host (AVX-512) with
// `codegen-cpu/runtime` forward passes of VGG16's layers, one thread, CPU time per call
// (load average 4-6 from other builds), each setting interleaved with the others.

/// Most tiles a work item takes. Each item transforms its block of the filter (reading a
/// 64-column slab of the filter from memory), so more tiles per item mean fewer passes over
/// the filter. Measured, b8 28x28x512->512: 24 tiles 137 ms, 96 tiles 107 ms, 216 tiles
/// 84 ms, 300 tiles 83 ms; b8 56x56x256: 96 tiles 96 ms, 216 tiles 86 ms.
const MAX_BLOCK_TILES: usize = 216;
/// Bytes of transformed tiles (`36 * 4 * src_c` per tile) a work item may take: bounds the
/// scratch for deep inputs (216 tiles of 512 channels are 15.9 MB per worker).
const BLOCK_TILES_BYTES: usize = 16 << 20;
/// Fewest tiles a work item takes when there are that many, however deep the input.
const MIN_BLOCK_TILES: usize = 24;
/// Most source channels whose filter block a work item transforms and multiplies at once
/// (more are done in blocks, the products accumulating): bounds the transformed filter
/// block per worker to `36 * 512 * 64` floats (4.7 MB). Measured, b8 28x28x512: blocks of
/// 64 channels 100 ms (the products reloaded per block), 256: 89 ms, 512: 84 ms.
const K_BLOCK: usize = 512;
/// Output channels of a work item (one 64-wide panel or two 32-wide ones). Measured over
/// VGG16's layers at batch 1 and 8: 32, 64 and 128 within 2% except b8 56x56x256 (128:
/// 7% slower).
const ITEM_CHANNELS: usize = 64;

/// Fewest destination channels the automatic choice sends to Winograd: with one, the
/// products fill 1 of 32 panel columns. Measured (forward): 8x28x28x32->1 1.1-1.2x im2col's
/// time, 1x224x224x64->1 1.55x; with 2 or more channels 0.55x or better.
const MIN_AUTO_DST_CHANNELS: usize = 2;
/// Fewest destination pixels (over the batch) the automatic choice sends to Winograd:
/// small images pay the filter transform for few tiles and compute padded tiles. Measured
/// (forward, Winograd / im2col time): 1x4x4x256 6.6x, 2x7x7x512 1.15x, 1x10x10x128 1.14x,
/// 1x12x12x512 0.91x, 1x12x12x256 0.80x, 1x14x14x512 0.72-0.95x, 1x16x16x64 0.62-0.70x.
/// Input channels need no minimum: 128x28x28x1->32 (MNIST's first layer) 0.77x,
/// 1x224x224x3->64 0.81-0.85x.
const MIN_AUTO_PIXELS: usize = 144;

/// One Winograd run: the source (`x`, or `dy` for the input gradient) is convolved into
/// the destination (`y`, or `dx`) with a 3×3 filter, `src[row + k - pad_top]` read for
/// destination row `row` and tap `k` (likewise for columns), zero outside the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WinogradPlan {
    /// Images.
    pub batch: usize,
    /// Source height, width and channels (the contracted dimension).
    pub src: [usize; 3],
    /// Destination height, width and channels.
    pub dst: [usize; 3],
    /// Source row/column of destination (0, 0)'s first tap, negated.
    pub pad: [isize; 2],
    /// Whether the filter is read rotated by 180° with its channel axes swapped (the input
    /// gradient), instead of as `[kh][kw][src_c][dst_c]`.
    pub backprop: bool,
    /// Tile rows and columns per image.
    pub tiles_hw: [usize; 2],
    /// Tiles over the batch.
    pub tiles: usize,
    /// Output channels per packed filter panel (32 or 64): the product kernel's width.
    pub panel: usize,
    /// Rows per product micro-tile (12 for 32-wide panels, 6 for 64-wide).
    pub micro_rows: usize,
    /// Panels covering the destination channels.
    pub panels: usize,
    /// Tiles per work item (the last item of a row of items may have fewer).
    pub block_tiles: usize,
    /// `block_tiles` rounded up to `micro_rows`: rows of an item's products.
    pub block_rows: usize,
    /// Panels per work item (its destination-channel block; the last may have fewer).
    pub item_panels: usize,
    /// Tile blocks.
    pub tile_blocks: usize,
    /// Destination-channel blocks.
    pub channel_blocks: usize,
    /// Work items: tile blocks times channel blocks, tile-block-major.
    pub items: usize,
    /// Source channels per filter block (the products accumulate over the blocks).
    pub k_block: usize,
    /// Elements of a worker's transformed filter block: `36 * k_block * item_panels *
    /// panel` (point `p`, panel `j`, source channel `k` of the block at `((p * item_panels
    /// + j) * k_block + k) * panel`).
    pub filter_len: usize,
    /// Elements of a worker's transformed tiles: `block_rows * 36 * src_c` (tile `t`,
    /// point `p` at `(t * 36 + p) * src_c`).
    pub tiles_len: usize,
    /// Elements of a worker's products: `block_rows * 36 * item_panels * panel` (tile `t`,
    /// point `p` at `(t * 36 + p) * item_panels * panel`).
    pub products_len: usize,
}

/// `a * b * ...`, or an overflow error.
fn product(dims: &[usize]) -> Result<usize, ContractError> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(ContractError::SizeOverflow { operand: "scratch" })
}

impl WinogradPlan {
    /// The plan of `pass` on `g`, or `None` when Winograd cannot run it: not a 3×3 filter
    /// with stride 1 and dilation 1, not the forward or input-gradient pass, or nothing to
    /// compute (no source channels, an empty result). `g` must
    /// be validated ([`Conv2dGeometry::sizes`]).
    pub fn new(g: &Conv2dGeometry, pass: ConvPass) -> Result<Option<Self>, ContractError> {
        let square_3x3 = (g.kernel_h, g.kernel_w) == (3, 3);
        let dense = (g.stride_h, g.stride_w, g.dilation_h, g.dilation_w) == (1, 1, 1, 1);
        if !square_3x3 || !dense {
            return Ok(None);
        }
        // Validated geometries keep pads and extents below isize::MAX.
        let (top, left) = (g.pad_top as isize, g.pad_left as isize);
        let (src, dst, pad, backprop) = match pass {
            ConvPass::Forward => (
                [g.in_h, g.in_w, g.in_c],
                [g.out_h, g.out_w, g.out_c],
                [top, left],
                false,
            ),
            // dx[i] = sum_k dy[i + k - (2 - pad)] * w[2 - k]: a convolution of dy with the
            // rotated filter and the complementary padding (negative: dy is cropped).
            ConvPass::BackpropInput => (
                [g.out_h, g.out_w, g.out_c],
                [g.in_h, g.in_w, g.in_c],
                [2 - top, 2 - left],
                true,
            ),
            ConvPass::BackpropFilter => return Ok(None),
        };
        let plan = Self::blocked(g.batch, src, dst, pad, backprop)?;
        // Nothing to contract or nothing to write: im2col's zero fill (or nothing) is all.
        Ok((plan.src[2] > 0 && plan.items > 0).then_some(plan))
    }

    /// Cuts the run into work items and lays out the scratch.
    fn blocked(
        batch: usize,
        src: [usize; 3],
        dst: [usize; 3],
        pad: [isize; 2],
        backprop: bool,
    ) -> Result<Self, ContractError> {
        let tiles_hw = [dst[0].div_ceil(TILE), dst[1].div_ceil(TILE)];
        let tiles = product(&[batch, tiles_hw[0], tiles_hw[1]])?;
        let (src_c, dst_c) = (src[2], dst[2]);
        let panel = if dst_c.div_ceil(32) % 2 == 0 { 64 } else { 32 };
        let micro_rows = if panel == 64 { 6 } else { 12 };
        let panels = dst_c.div_ceil(panel);
        let item_panels = (ITEM_CHANNELS / panel).min(panels).max(1);
        let channel_blocks = panels.div_ceil(item_panels);
        // Tiles per item: as many as fit the byte budget (within the limits), then evened
        // out over the blocks that takes.
        let fit = BLOCK_TILES_BYTES / (POINTS * 4 * src_c.max(1));
        let most = fit
            .clamp(MIN_BLOCK_TILES, MAX_BLOCK_TILES)
            .min(tiles)
            .max(1);
        let tile_blocks = tiles.div_ceil(most);
        let block_tiles = tiles.div_ceil(tile_blocks.max(1)).max(1);
        let block_rows = block_tiles.next_multiple_of(micro_rows);
        let width = item_panels * panel;
        let k_block = K_BLOCK.min(src_c).max(1);
        Ok(Self {
            batch,
            src,
            dst,
            pad,
            backprop,
            tiles_hw,
            tiles,
            panel,
            micro_rows,
            panels,
            block_tiles,
            block_rows,
            item_panels,
            tile_blocks,
            channel_blocks,
            items: product(&[tile_blocks, channel_blocks])?,
            k_block,
            filter_len: product(&[POINTS, k_block, width])?,
            tiles_len: product(&[block_rows, POINTS, src_c])?,
            products_len: product(&[block_rows, POINTS, width])?,
        })
    }

    /// Scratch elements one worker needs (its filter block, tiles and products).
    pub fn worker_len(&self) -> usize {
        // Each term fits (checked in `blocked`); their sum saturates, and a result near
        // `usize::MAX` is refused by the geometry's size check.
        self.filter_len
            .saturating_add(self.tiles_len)
            .saturating_add(self.products_len)
    }

    /// Scratch elements for `workers` workers (saturating, as [`Self::worker_len`]).
    pub fn scratch_len(&self, workers: usize) -> usize {
        self.worker_len().saturating_mul(workers.max(1))
    }

    /// Whether the automatic choice runs this plan with Winograd: enough destination
    /// channels and pixels that it beats im2col (thresholds measured, see their docs).
    pub fn gains(&self) -> bool {
        let pixels = self
            .batch
            .saturating_mul(self.dst[0])
            .saturating_mul(self.dst[1]);
        self.dst[2] >= MIN_AUTO_DST_CHANNELS && pixels >= MIN_AUTO_PIXELS
    }

    /// `(image, tile row, tile column)` of tile `tile` (an index into `tiles`).
    pub fn tile_coords(&self, tile: usize) -> (usize, usize, usize) {
        let per_image = self.tiles_hw[0] * self.tiles_hw[1];
        let (image, within) = (tile / per_image, tile % per_image);
        (image, within / self.tiles_hw[1], within % self.tiles_hw[1])
    }
}
