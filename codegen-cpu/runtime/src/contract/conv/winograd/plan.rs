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

/// Tile rows a work item aims for. Each item reads its whole block of transformed filter,
/// so more tiles per item means fewer passes over it (for 512x512 channels the block is
/// 36*512*nb floats) at the cost of scratch (`36*tiles*(in_c + nb)` floats per worker).
/// Measured on the 2-core Zen 4 host (see `benches/benches/conv.rs`): TODO.
const TARGET_BLOCK_TILES: usize = 96;
/// Widest output-channel block of a work item (a multiple of both panel widths).
/// Measured: TODO.
const MAX_ITEM_CHANNELS: usize = 128;
/// Fewest work items a run is cut into when the output channels allow it (so two threads
/// share small images, e.g. 14x14 at batch 1).
const MIN_ITEMS: usize = 8;

/// Fewest input and output channels the automatic choice sends to Winograd. Measured: TODO.
const MIN_AUTO_CHANNELS: usize = 16;
/// Fewest output tiles (over the batch) the automatic choice sends to Winograd. Measured: TODO.
const MIN_AUTO_TILES: usize = 4;

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
    /// Tiles per work item.
    pub block_tiles: usize,
    /// `block_tiles` rounded up to `micro_rows`: rows of the transformed tiles per point.
    pub block_rows: usize,
    /// Panels per work item (its destination-channel block).
    pub item_panels: usize,
    /// Destination-channel blocks.
    pub channel_blocks: usize,
    /// Work items: tile blocks times channel blocks.
    pub items: usize,
    /// Elements of the transformed filter: `36 * panels * src_c * panel`.
    pub filter_len: usize,
    /// Elements of a worker's transformed input tiles: `36 * block_rows * src_c`.
    pub tiles_len: usize,
    /// Elements of a worker's products: `36 * block_rows * item_panels * panel`.
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
    /// with stride 1 and dilation 1, or not the forward or input-gradient pass. `g` must
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
        Self::blocked(g.batch, src, dst, pad, backprop).map(Some)
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
        let dst_c = dst[2];
        let panel = if dst_c.div_ceil(32) % 2 == 0 { 64 } else { 32 };
        let micro_rows = if panel == 64 { 6 } else { 12 };
        let panels = dst_c.div_ceil(panel);
        let block_tiles = TARGET_BLOCK_TILES.min(tiles).max(1);
        let block_rows = block_tiles.next_multiple_of(micro_rows);
        let tile_blocks = tiles.div_ceil(block_tiles);
        // Channel blocks: at most MAX_ITEM_CHANNELS wide, and enough of them (while panels
        // last) that the run has MIN_ITEMS items.
        let by_width = panels.div_ceil(MAX_ITEM_CHANNELS / panel);
        let by_items = MIN_ITEMS.div_ceil(tile_blocks.max(1));
        let channel_blocks = by_width.max(by_items).min(panels).max(1);
        let item_panels = panels.div_ceil(channel_blocks).max(1);
        let channel_blocks = panels.div_ceil(item_panels);
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
            channel_blocks,
            items: product(&[tile_blocks, channel_blocks])?,
            filter_len: product(&[POINTS, panels, src[2], panel])?,
            tiles_len: product(&[POINTS, block_rows, src[2]])?,
            products_len: product(&[POINTS, block_rows, item_panels, panel])?,
        })
    }

    /// Scratch elements one worker needs (its transformed tiles and products).
    pub fn worker_len(&self) -> usize {
        // Both terms fit (checked in `blocked`); their sum is checked here.
        self.tiles_len.saturating_add(self.products_len)
    }

    /// Scratch elements for the transformed filter and `workers` workers (saturating: a
    /// result near `usize::MAX` is refused by the geometry's size check).
    pub fn scratch_len(&self, workers: usize) -> usize {
        self.worker_len()
            .saturating_mul(workers.max(1))
            .saturating_add(self.filter_len)
    }

    /// Whether the automatic choice runs this plan with Winograd: enough channels on both
    /// sides and enough tiles that the transforms pay for themselves (thresholds measured,
    /// see their docs).
    pub fn gains(&self) -> bool {
        self.src[2] >= MIN_AUTO_CHANNELS
            && self.dst[2] >= MIN_AUTO_CHANNELS
            && self.tiles >= MIN_AUTO_TILES
    }

    /// `(image, tile row, tile column)` of tile `tile` (an index into `tiles`).
    pub fn tile_coords(&self, tile: usize) -> (usize, usize, usize) {
        let per_image = self.tiles_hw[0] * self.tiles_hw[1];
        let (image, within) = (tile / per_image, tile % per_image);
        (image, within / self.tiles_hw[1], within % self.tiles_hw[1])
    }
}
