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
/// (`None` outside the image); per patch column, its offset in a row (`None` outside);
/// whether all of it is inside.
struct Patch {
    rows: [Option<*const f32>; ALPHA],
    columns: [Option<usize>; ALPHA],
    interior: bool,
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
        let rows: [Option<*const f32>; ALPHA] = std::array::from_fn(|r| {
            let ih = top + r as isize;
            // SAFETY: `ih` is a row of image `image`, inside the source.
            (0..h as isize)
                .contains(&ih)
                .then(|| unsafe { src.add(((image * h + ih as usize) * w) * c) })
        });
        let columns: [Option<usize>; ALPHA] = std::array::from_fn(|s| {
            let iw = left + s as isize;
            (0..w as isize).contains(&iw).then(|| iw as usize * c)
        });
        let interior = rows.iter().all(Option::is_some) && columns.iter().all(Option::is_some);
        Self {
            rows,
            columns,
            interior,
        }
    }

    /// Channels `c0 .. c0 + L` of patch pixel `(r, s)` (zeros outside the image); with
    /// `INTERIOR`, the patch is known to lie inside.
    ///
    /// # Safety
    /// The patch's in-image pixels hold channels `c0 .. c0 + L`; `INTERIOR` only if
    /// `self.interior`.
    #[inline(always)]
    unsafe fn load<const L: usize, const INTERIOR: bool>(
        &self,
        r: usize,
        s: usize,
        c0: usize,
    ) -> Lanes<L> {
        let (row, column) = if INTERIOR {
            // SAFETY: an interior patch has every row and column.
            unsafe {
                (
                    self.rows[r].unwrap_unchecked(),
                    self.columns[s].unwrap_unchecked(),
                )
            }
        } else {
            match (self.rows[r], self.columns[s]) {
                (Some(row), Some(column)) => (row, column),
                _ => return [0.0; L],
            }
        };
        // SAFETY: an in-image pixel's channels `c0 .. c0 + L` (the caller's contract).
        unsafe { row.add(column + c0).cast::<Lanes<L>>().read_unaligned() }
    }
}

/// Transforms tiles `first .. first + count` into `v`: tile `t`, point `p` at
/// `v + (t * 36 + p) * src_c`. The rows up to the next multiple of `micro_rows` are zeroed
/// (the product kernels read them).
///
/// # Safety
/// `src` holds the plan's source tensor; `v` holds `plan.tiles_len` writable elements;
/// `first + count <= plan.tiles` and `count <= plan.block_tiles`.
#[inline(always)]
pub(super) unsafe fn transform_inputs(
    plan: &WinogradPlan,
    src: *const f32,
    first: usize,
    count: usize,
    v: *mut f32,
) {
    let c = plan.src[2];
    let tile_len = POINTS * c;
    for t in 0..count {
        // SAFETY (whole body): tile `t` is inside `v`; patch reads are inside the source
        // (see `Patch::of`) at channels below `c`.
        unsafe {
            let tile = v.add(t * tile_len);
            let patch = Patch::of(plan, src, first + t);
            let mut c0 = 0;
            while c0 + LANES <= c {
                input_tile::<LANES>(&patch, c0, tile.add(c0), c);
                c0 += LANES;
            }
            for ch in c0..c {
                input_tile::<1>(&patch, ch, tile.add(ch), c);
            }
        }
    }
    let padded = count.next_multiple_of(plan.micro_rows);
    // SAFETY: rows below `padded <= block_rows` are inside `v`.
    unsafe { ptr::write_bytes(v.add(count * tile_len), 0, (padded - count) * tile_len) };
}

/// `B^T d B` for channels `c0 .. c0 + L` of one patch; point `p` stored at `out + p*stride`.
///
/// # Safety
/// The patch's in-image pixels hold channels `c0 .. c0 + L`; every store is writable.
#[inline(always)]
unsafe fn input_tile<const L: usize>(patch: &Patch, c0: usize, out: *mut f32, stride: usize) {
    // SAFETY: forwarded; `INTERIOR` matches the patch.
    unsafe {
        if patch.interior {
            input_tile_with::<L, true>(patch, c0, out, stride);
        } else {
            input_tile_with::<L, false>(patch, c0, out, stride);
        }
    }
}

/// [`input_tile`] with the patch known to be interior (or not).
///
/// # Safety
/// As [`input_tile`]; `INTERIOR` only if `patch.interior`.
#[inline(always)]
unsafe fn input_tile_with<const L: usize, const INTERIOR: bool>(
    patch: &Patch,
    c0: usize,
    out: *mut f32,
    stride: usize,
) {
    // Along each patch row, then along each column: rows[r][b]. (Array literals: a
    // zero-filled array overwritten in a loop costs a memset, and `from_fn` stays an
    // out-of-line closure.)
    // SAFETY: the caller's contract.
    let row = |r: usize| unsafe {
        input_1d(&[
            patch.load::<L, INTERIOR>(r, 0, c0),
            patch.load::<L, INTERIOR>(r, 1, c0),
            patch.load::<L, INTERIOR>(r, 2, c0),
            patch.load::<L, INTERIOR>(r, 3, c0),
            patch.load::<L, INTERIOR>(r, 4, c0),
            patch.load::<L, INTERIOR>(r, 5, c0),
        ])
    };
    let rows = [row(0), row(1), row(2), row(3), row(4), row(5)];
    for b in 0..ALPHA {
        let column = input_1d(&column_of(&rows, b));
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

/// Column `j` of six transformed rows (an array literal: see `input_tile_with`).
#[inline(always)]
fn column_of<const L: usize, const N: usize>(
    rows: &[[Lanes<L>; N]; ALPHA],
    j: usize,
) -> [Lanes<L>; ALPHA] {
    [
        rows[0][j], rows[1][j], rows[2][j], rows[3][j], rows[4][j], rows[5][j],
    ]
}

/// Where the products of one work item are and which destination channels they hold:
/// tile `t` (tile `first + t` of the run), point `p` at `m + (t * 36 + p) * width`, its
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
    let channels = products.channels.len();
    for t in 0..products.count {
        let (image, ti, tj) = plan.tile_coords(products.first + t);
        let (oh, ow) = (ti * TILE, tj * TILE);
        let extent = [TILE.min(h - oh), TILE.min(w - ow)];
        let pixel = ((image * h + oh) * w + ow) * c + products.channels.start;
        let steps = [w * c, c];
        // SAFETY (whole body): the caller's contract; tile pixels inside `extent` are
        // inside the destination, product rows and columns inside the item's products.
        unsafe {
            let (tile, out) = (products.m.add(t * POINTS * products.width), dst.add(pixel));
            let mut c0 = 0;
            while c0 + LANES <= channels {
                output_tile::<LANES>(tile.add(c0), products.width, out.add(c0), extent, steps);
                c0 += LANES;
            }
            for ch in c0..channels {
                output_tile::<1>(tile.add(ch), products.width, out.add(ch), extent, steps);
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
    // Along each row of points, then along each column: rows[a][j] (array literals, as
    // in `input_tile_with`).
    // SAFETY: the caller's contract.
    let point = |p: usize| unsafe { m.add(p * stride).cast::<Lanes<L>>().read_unaligned() };
    let row = |a: usize| {
        let first = a * ALPHA;
        output_1d(&[
            point(first),
            point(first + 1),
            point(first + 2),
            point(first + 3),
            point(first + 4),
            point(first + 5),
        ])
    };
    let rows = [row(0), row(1), row(2), row(3), row(4), row(5)];
    for j in 0..extent[1] {
        let column = output_1d(&column_of(&rows, j));
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
