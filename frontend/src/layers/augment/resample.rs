//! Image resampling from existing IR ops, as TensorFlow's `ImageProjectiveTransformV3`
//! computes it (what Keras' geometric augmentation layers call): per output pixel a source
//! coordinate (an affine map of the output grid, one map per example), the fill mode's
//! mapping of coordinates outside the image, and nearest or bilinear interpolation, whose
//! pixel reads are `gather`s of the image's `[n·h·w, c]` rows. A read outside the image is
//! a row of zeros (or `fill_value` in constant mode). The gradient with respect to the
//! image is `gather`'s (`scatter_add`). It does NOT draw random numbers (the layers do).

use ir::{BinaryOp, Graph, NodeId, Op, Shape, Tensor, UnaryOp};

use crate::error::Result;
use crate::layers::Interpolation;
use crate::layers::augment::options::{FillMode, TransformOptions};

/// A batch of images `[n, h, w, c]` and its pixel rows `[n·h·w, c]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Image {
    /// The rows every read gathers from.
    table: NodeId,
    /// `[n, h, w, c]`.
    pub dims: [usize; 4],
}

impl Image {
    /// The image `x` (`[n, h, w, c]`, checked by the layer).
    pub fn new(g: &mut Graph, x: NodeId) -> Result<Self> {
        let d = g.shape(x).dims();
        let dims = [d[0], d[1], d[2], d[3]];
        let table = g.reshape(x, [dims[0] * dims[1] * dims[2], dims[3]])?;
        Ok(Image { table, dims })
    }
}

/// `a op b`.
pub(super) fn bin(g: &mut Graph, op: BinaryOp, a: NodeId, b: NodeId) -> Result<NodeId> {
    Ok(g.binary(op, a, b)?)
}

/// `a op k` for a constant `k`.
pub(super) fn bin_k(g: &mut Graph, op: BinaryOp, a: NodeId, k: f32) -> Result<NodeId> {
    let k = g.scalar(k);
    bin(g, op, a, k)
}

/// `cond ? a : b`.
pub(super) fn select(g: &mut Graph, cond: NodeId, a: NodeId, b: NodeId) -> Result<NodeId> {
    Ok(g.add(Op::Select, &[cond, a, b])?)
}

/// `x` broadcast to `dims` (itself when it has that shape already).
fn broadcast(g: &mut Graph, x: NodeId, dims: [usize; 3]) -> Result<NodeId> {
    let full = Shape::from(dims);
    if g.shape(x) == &full {
        return Ok(x);
    }
    Ok(g.add(Op::Broadcast(full), &[x])?)
}

/// The constant `0, 1, .., len - 1` laid along `axis` of a rank-3 shape of ones.
pub(super) fn grid(g: &mut Graph, len: usize, axis: usize) -> NodeId {
    let mut dims = [1, 1, 1];
    dims[axis] = len;
    let values = (0..len).map(|i| i as f32).collect();
    g.constant(Tensor::new(dims.as_slice(), values).expect("len values"))
}

/// Where [`read`]'s coordinates may point.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reads {
    /// Always inside the image (no check is built).
    Inside,
    /// Anywhere; a point outside the image reads this value.
    Fill(f32),
}

/// The pixels of `image` at integer coordinates `y` (rows) and `x` (columns), nodes that
/// broadcast to `[n, oh, ow]`: `[n, oh, ow, c]`.
pub(super) fn read(
    g: &mut Graph,
    image: Image,
    (y, x): (NodeId, NodeId),
    out: [usize; 2],
    reads: Reads,
) -> Result<NodeId> {
    let [n, h, w, _] = image.dims;
    let base = Tensor::new(
        [n, 1, 1].as_slice(),
        (0..n).map(|b| (b * h * w) as f32).collect(),
    )
    .expect("n values");
    let base = g.constant(base);
    let row = bin_k(g, BinaryOp::Mul, y, w as f32)?;
    let offset = bin(g, BinaryOp::Add, row, x)?;
    let ids = bin(g, BinaryOp::Add, base, offset)?;
    let ids = broadcast(g, ids, [n, out[0], out[1]])?;
    let Reads::Fill(fill) = reads else {
        return Ok(g.add(Op::Gather, &[image.table, ids])?);
    };
    let mut inside = None;
    for (coord, len) in [(y, h), (x, w)] {
        let low = bin_k(g, BinaryOp::Ge, coord, 0.0)?;
        let high = bin_k(g, BinaryOp::Le, coord, (len - 1) as f32)?;
        let both = bin(g, BinaryOp::Mul, low, high)?;
        inside = Some(match inside {
            None => both,
            Some(prev) => bin(g, BinaryOp::Mul, prev, both)?,
        });
    }
    let inside = broadcast(g, inside.expect("two axes"), [n, out[0], out[1]])?;
    let outside = g.scalar(-1.0);
    let ids = select(g, inside, ids, outside)?;
    let pixels = g.add(Op::Gather, &[image.table, ids])?;
    if fill == 0.0 {
        return Ok(pixels);
    }
    let inside = g.reshape(inside, [n, out[0], out[1], 1])?;
    let fill = g.scalar(fill);
    select(g, inside, pixels, fill)
}

/// One example's affine map of output pixel `(x, y)` to its source point
/// `(xx·x + xy·y + x0, yx·x + yy·y + y0)`, each coefficient a `[n, 1, 1]` node; `None`
/// stands for 1 on the diagonal (`xx`, `yy`) and 0 off it (`xy`, `yx`). This is the first
/// two rows of Keras' projective transforms (`[a0 a1 a2 b0 b1 b2 0 0]`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Affine {
    pub xx: Option<NodeId>,
    pub xy: Option<NodeId>,
    pub x0: NodeId,
    pub yx: Option<NodeId>,
    pub yy: Option<NodeId>,
    pub y0: NodeId,
}

/// `(c1·p + c2·q) + c0` with absent coefficients as described on [`Affine`].
fn row(
    g: &mut Graph,
    (diag, p): (Option<NodeId>, NodeId),
    (off, q): (Option<NodeId>, NodeId),
    c0: NodeId,
) -> Result<NodeId> {
    let mut sum = match diag {
        Some(c) => bin(g, BinaryOp::Mul, c, p)?,
        None => p,
    };
    if let Some(c) = off {
        let term = bin(g, BinaryOp::Mul, c, q)?;
        sum = bin(g, BinaryOp::Add, sum, term)?;
    }
    bin(g, BinaryOp::Add, sum, c0)
}

/// `image` (`[n, h, w, c]`) resampled through `map`, fill mode and interpolation as in
/// `options`: `[n, h, w, c]`.
pub(super) fn transform(
    g: &mut Graph,
    x: NodeId,
    map: Affine,
    options: &TransformOptions,
) -> Result<NodeId> {
    let image = Image::new(g, x)?;
    let [_, h, w, _] = image.dims;
    let gx = grid(g, w, 2);
    let gy = grid(g, h, 1);
    let sx = row(g, (map.xx, gx), (map.xy, gy), map.x0)?;
    let sy = row(g, (map.yy, gy), (map.yx, gx), map.y0)?;
    let sx = map_coordinate(g, sx, w, options.fill_mode)?;
    let sy = map_coordinate(g, sy, h, options.fill_mode)?;
    // Only constant mode reads outside; the other modes' bilinear reads there weigh 0.
    let fill = match options.fill_mode {
        FillMode::Constant => options.fill_value,
        _ => 0.0,
    };
    match options.interpolation {
        Interpolation::Nearest => {
            let ry = round_half_away(g, sy)?;
            let rx = round_half_away(g, sx)?;
            let reads = match options.fill_mode {
                FillMode::Constant => Reads::Fill(fill),
                _ => Reads::Inside,
            };
            read(g, image, (ry, rx), [h, w], reads)
        }
        Interpolation::Bilinear => bilinear(g, image, (sy, sx), fill),
    }
}

/// `std::round`: halves away from zero, as `sign(c)·floor(|c| + 0.5)`.
fn round_half_away(g: &mut Graph, c: NodeId) -> Result<NodeId> {
    let sign = g.unary(UnaryOp::Sign, c)?;
    let abs = g.unary(UnaryOp::Abs, c)?;
    let half = bin_k(g, BinaryOp::Add, abs, 0.5)?;
    let floor = g.unary(UnaryOp::Floor, half)?;
    bin(g, BinaryOp::Mul, sign, floor)
}

/// TensorFlow's bilinear interpolation at real coordinates `(y, x)` (`[n, h, w]`): the four
/// neighbours `floor` and `floor + 1` per axis, blended along x, then along y.
fn bilinear(g: &mut Graph, image: Image, (y, x): (NodeId, NodeId), fill: f32) -> Result<NodeId> {
    let [n, h, w, _] = image.dims;
    let y = broadcast(g, y, [n, h, w])?;
    let x = broadcast(g, x, [n, h, w])?;
    let y0 = g.unary(UnaryOp::Floor, y)?;
    let x0 = g.unary(UnaryOp::Floor, x)?;
    let y1 = bin_k(g, BinaryOp::Add, y0, 1.0)?;
    let x1 = bin_k(g, BinaryOp::Add, x0, 1.0)?;
    let weight = |g: &mut Graph, a: NodeId, b: NodeId| -> Result<NodeId> {
        let d = bin(g, BinaryOp::Sub, a, b)?;
        Ok(g.reshape(d, [n, h, w, 1])?)
    };
    let (wx0, wx1) = (weight(g, x1, x)?, weight(g, x, x0)?);
    let (wy0, wy1) = (weight(g, y1, y)?, weight(g, y, y0)?);
    let mut rows = Vec::with_capacity(2);
    for yi in [y0, y1] {
        let left = read(g, image, (yi, x0), [h, w], Reads::Fill(fill))?;
        let right = read(g, image, (yi, x1), [h, w], Reads::Fill(fill))?;
        let left = bin(g, BinaryOp::Mul, wx0, left)?;
        let right = bin(g, BinaryOp::Mul, wx1, right)?;
        rows.push(bin(g, BinaryOp::Add, left, right)?);
    }
    let top = bin(g, BinaryOp::Mul, wy0, rows[0])?;
    let bottom = bin(g, BinaryOp::Mul, wy1, rows[1])?;
    bin(g, BinaryOp::Add, top, bottom)
}

/// TensorFlow's `MapCoordinate` for a coordinate `c` along an axis of `len` pixels: where a
/// point outside `[0, len - 1]` reads from, clamped into the image (constant mode leaves
/// it outside, to read the fill value).
fn map_coordinate(g: &mut Graph, c: NodeId, len: usize, mode: FillMode) -> Result<NodeId> {
    let last = (len - 1) as f32;
    let mapped = match mode {
        FillMode::Constant => return Ok(c),
        FillMode::Nearest => c,
        _ if len <= 1 => c,
        FillMode::Reflect => reflect(g, c, len)?,
        FillMode::Wrap => wrap(g, c, len)?,
    };
    let low = bin_k(g, BinaryOp::Max, mapped, 0.0)?;
    bin_k(g, BinaryOp::Min, low, last)
}

/// `c < 0 ? below : (c > len - 1 ? above : c)`.
fn by_side(g: &mut Graph, c: NodeId, len: usize, below: NodeId, above: NodeId) -> Result<NodeId> {
    let over = bin_k(g, BinaryOp::Gt, c, (len - 1) as f32)?;
    let inner = select(g, over, above, c)?;
    let under = bin_k(g, BinaryOp::Lt, c, 0.0)?;
    select(g, under, below, inner)
}

/// `k · floor(a / d)` for a non-negative `a` (C++'s integer truncation of `a / d`).
fn multiple(g: &mut Graph, a: NodeId, d: f32, k: f32) -> Result<NodeId> {
    let q = bin_k(g, BinaryOp::Div, a, d)?;
    let q = g.unary(UnaryOp::Floor, q)?;
    bin_k(g, BinaryOp::Mul, q, k)
}

/// Reflect `[abcd]` to `[dcba|abcd|dcba]` (TensorFlow's `FILL_REFLECT`, `len > 1`).
fn reflect(g: &mut Graph, c: NodeId, len: usize) -> Result<NodeId> {
    let (len, sz2) = (len as f32, 2.0 * len as f32);
    // Below zero: t = sz2·trunc(-c / sz2) + c; t < -len ? t + sz2 : -t - 1.
    let neg = g.unary(UnaryOp::Neg, c)?;
    let m = multiple(g, neg, sz2, sz2)?;
    let t = bin(g, BinaryOp::Add, m, c)?;
    let far = bin_k(g, BinaryOp::Lt, t, -len)?;
    let shifted = bin_k(g, BinaryOp::Add, t, sz2)?;
    let neg_t = g.unary(UnaryOp::Neg, t)?;
    let mirrored = bin_k(g, BinaryOp::Sub, neg_t, 1.0)?;
    let below = select(g, far, shifted, mirrored)?;
    // Above len - 1: t = c - sz2·trunc(c / sz2); t >= len ? sz2 - t - 1 : t.
    let m = multiple(g, c, sz2, sz2)?;
    let t = bin(g, BinaryOp::Sub, c, m)?;
    let far = bin_k(g, BinaryOp::Ge, t, len)?;
    let sz2_node = g.scalar(sz2);
    let back = bin(g, BinaryOp::Sub, sz2_node, t)?;
    let back = bin_k(g, BinaryOp::Sub, back, 1.0)?;
    let above = select(g, far, back, t)?;
    by_side(g, c, len as usize, below, above)
}

/// Wrap `[abcd]` to `[abcd|abcd|abcd]` (TensorFlow's `FILL_WRAP`, `len > 1`).
fn wrap(g: &mut Graph, c: NodeId, len: usize) -> Result<NodeId> {
    let (lenf, sz) = (len as f32, (len - 1) as f32);
    // Below zero: c + len·(trunc(-c / sz) + 1).
    let neg = g.unary(UnaryOp::Neg, c)?;
    let m = multiple(g, neg, sz, lenf)?;
    let m = bin_k(g, BinaryOp::Add, m, lenf)?;
    let below = bin(g, BinaryOp::Add, c, m)?;
    // Above len - 1: c - len·trunc(c / sz).
    let m = multiple(g, c, sz, lenf)?;
    let above = bin(g, BinaryOp::Sub, c, m)?;
    by_side(g, c, len, below, above)
}
