//! The tile transforms of one work item: source patches (6×6 pixels, zero outside the
//! image) to transformed tiles `V = B^T d B`, and products `M` back to 4×4 output pixels
//! `Y = A^T M A` (pixels past the destination's edge dropped). Channels are processed 16
//! at a time (then one at a time for the rest); NHWC keeps them contiguous.
//!
//! It does not compute the products and does not choose the tiles.

use std::ptr;

use super::plan::{ALPHA, POINTS, TILE, WinogradPlan};
use super::transform::{Lanes, input_1d, output_1d};

/// Channels transformed at once (one 512-bit vector).
const LANES: usize = 16;

/// Where one tile's 6×6 source patch lies: per patch row, the start of that source row
/// (`None` outside the image); per patch column, its offset in a row (`None` outside).
struct Patch {
    rows: [Option<*const f32>; ALPHA],
    columns: [Option<usize>; ALPHA],
}

impl Patch {
    /// The patch of tile `tile`.
    ///
    /// # Safety
    /// `src` holds the plan's source tensor; `tile < plan.tiles`.
    #[inline(always)]
    unsafe fn of(plan: &WinogradPlan, src: *const f32, tile: usize) -> Self {
        let [h, w, c] = plan.src;
        let (image, ti, tj) = plan.tile_coords(tile);
        // Tile coordinates and pads are below isize::MAX (validated geometry).
        let top = (ti * TILE) as isize - plan.pad[0];
        let left = (tj * TILE) as isize - plan.pad[1];
        let rows = std::array::from_fn(|r| {
            let ih = top + r as isize;
            // SAFETY: `ih` is a row of image `image`, inside the source.
            (0..h as isize)
                .contains(&ih)
                .then(|| unsafe { src.add(((image * h + ih as usize) * w) * c) })
        });
        let columns = std::array::from_fn(|s| {
            let iw = left + s as isize;
            (0..w as isize).contains(&iw).then(|| iw as usize * c)
        });
        Self { rows, columns }
    }
}

/// Transforms tiles `first .. first + count` into `v`: row `t` of point `p` at
/// `v + (p * block_rows + t) * src_c`. Rows `count .. block_rows` are zeroed.
///
/// # Safety
/// `src` holds the plan's source tensor; `v` holds `plan.tiles_len` writable elements;
/// `first + count <= plan.tiles` and `count <= plan.block_rows`.
#[inline(always)]
pub(super) unsafe fn transform_inputs(
    plan: &WinogradPlan,
    src: *const f32,
    first: usize,
    count: usize,
    v: *mut f32,
) {
    let c = plan.src[2];
    let point_stride = plan.block_rows * c;
    for t in 0..plan.block_rows {
        // SAFETY (whole body): row `t` of every point is inside `v`; patch reads are inside
        // the source (see `Patch::of`) at channels below `c`.
        unsafe {
            let row = v.add(t * c);
            if t >= count {
                for p in 0..POINTS {
                    ptr::write_bytes(row.add(p * point_stride), 0, c);
                }
                continue;
            }
            let patch = Patch::of(plan, src, first + t);
            let mut c0 = 0;
            while c0 + LANES <= c {
                input_tile::<LANES>(&patch, c0, row.add(c0), point_stride);
                c0 += LANES;
            }
            for ch in c0..c {
                input_tile::<1>(&patch, ch, row.add(ch), point_stride);
            }
        }
    }
}

/// `B^T d B` for channels `c0 .. c0 + L` of one patch; point `p` stored at `out + p*stride`.
///
/// # Safety
/// The patch's in-image pixels hold channels `c0 .. c0 + L`; every store is writable.
#[inline(always)]
unsafe fn input_tile<const L: usize>(patch: &Patch, c0: usize, out: *mut f32, stride: usize) {
    let mut rows = [[[0.0; L]; ALPHA]; ALPHA];
    for (r, transformed) in rows.iter_mut().enumerate() {
        let d: [Lanes<L>; ALPHA] =
            std::array::from_fn(|s| match (patch.rows[r], patch.columns[s]) {
                // SAFETY: an in-image pixel's channels `c0 .. c0 + L` (the caller's contract).
                (Some(row), Some(col)) => unsafe {
                    row.add(col + c0).cast::<Lanes<L>>().read_unaligned()
                },
                _ => [0.0; L],
            });
        *transformed = input_1d(&d);
    }
    for b in 0..ALPHA {
        let column = input_1d(&std::array::from_fn(|r| rows[r][b]));
        for (a, value) in column.iter().enumerate() {
            // SAFETY: the caller's contract.
            unsafe {
                out.add((a * ALPHA + b) * stride)
                    .cast::<Lanes<L>>()
                    .write_unaligned(*value)
            };
        }
    }
}

/// Where the products of one work item are and which destination channels they hold:
/// row `t` (tile `first + t`) of point `p` at `m + (p * block_rows + t) * width`, its
/// columns `0 .. channels.len()` being destination channels `channels`.
pub(super) struct Products {
    /// The products.
    pub m: *const f32,
    /// Elements per product row.
    pub width: usize,
    /// First tile.
    pub first: usize,
    /// Tiles.
    pub count: usize,
    /// Destination channels.
    pub channels: std::ops::Range<usize>,
}

/// Transforms the item's products into 4×4 destination pixels per tile (overwriting
/// `dst`'s pixels of those tiles in the item's channels).
///
/// # Safety
/// `dst` holds the plan's destination tensor, which nothing else touches in these
/// pixels and channels meanwhile; `products` describes readable products of this plan.
#[inline(always)]
pub(super) unsafe fn transform_outputs(plan: &WinogradPlan, products: &Products, dst: *mut f32) {
    let [h, w, c] = plan.dst;
    let point_stride = plan.block_rows * products.width;
    let channels = products.channels.len();
    for t in 0..products.count {
        let (image, ti, tj) = plan.tile_coords(products.first + t);
        let (oh, ow) = (ti * TILE, tj * TILE);
        let extent = [TILE.min(h - oh), TILE.min(w - ow)];
        let pixel = ((image * h + oh) * w + ow) * c + products.channels.start;
        // SAFETY (whole body): the caller's contract; tile pixels inside `extent` are
        // inside the destination, product rows and columns inside the item's products.
        unsafe {
            let (row, out) = (products.m.add(t * products.width), dst.add(pixel));
            let mut c0 = 0;
            while c0 + LANES <= channels {
                output_tile::<LANES>(row.add(c0), point_stride, out.add(c0), extent, [w * c, c]);
                c0 += LANES;
            }
            for ch in c0..channels {
                output_tile::<1>(row.add(ch), point_stride, out.add(ch), extent, [w * c, c]);
            }
        }
    }
}

/// `A^T M A` for `L` channels of one tile: products of point `p` at `m + p*stride`, output
/// pixel `(i, j)` (for `i < extent[0]`, `j < extent[1]`) at `out + i*steps[0] + j*steps[1]`.
///
/// # Safety
/// Every load and store named above is in bounds.
#[inline(always)]
unsafe fn output_tile<const L: usize>(
    m: *const f32,
    stride: usize,
    out: *mut f32,
    extent: [usize; 2],
    steps: [usize; 2],
) {
    let mut rows = [[[0.0; L]; TILE]; ALPHA];
    for (a, transformed) in rows.iter_mut().enumerate() {
        let products: [Lanes<L>; ALPHA] = std::array::from_fn(|b| {
            // SAFETY: the caller's contract.
            unsafe {
                m.add((a * ALPHA + b) * stride)
                    .cast::<Lanes<L>>()
                    .read_unaligned()
            }
        });
        *transformed = output_1d(&products);
    }
    for j in 0..extent[1] {
        let column = output_1d(&std::array::from_fn(|a| rows[a][j]));
        for (i, value) in column.iter().enumerate().take(extent[0]) {
            // SAFETY: the caller's contract.
            unsafe {
                out.add(i * steps[0] + j * steps[1])
                    .cast::<Lanes<L>>()
                    .write_unaligned(*value)
            };
        }
    }
}
