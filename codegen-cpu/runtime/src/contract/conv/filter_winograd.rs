//! The filter gradient of a 3×3, stride-1, undilated convolution by Winograd F(3×3, 2×2):
//! `dw[kh, kw, ci, co] = Σ_pixels x[pixel + (kh, kw) - pad, ci] · dy[pixel, co]`.
//!
//! The output pixels are cut into 2×2 blocks. Per block, the 4×4 input patch it reads and
//! its 2×2 gradient are transformed (`V = Bᵀ d B`, `U = A g Aᵀ`, additions only), and the
//! block's 3×3 contribution would be `Gᵀ (U ⊙ V) G`. The output transform is linear, so
//! the blocks are summed in the transformed domain: 16 products `M_p = V_pᵀ U_p`
//! (`in_c × blocks` times `blocks × out_c`, one per transformed point, 16 multiply-adds per
//! channel pair and block instead of 36), and `dw = Gᵀ M G` once at the end. The matrices
//! are those of F(2, 3) exchanged (`A` from F(2,3)'s output transform, `G` as the output
//! transform, `Bᵀ` unchanged), the transposition that turns F(2, 3) into F(3, 2).
//!
//! Blocks are processed in chunks sized to the caller's scratch (the im2col scratch the
//! geometry already reserves): the chunk's `V` and `U`, then the 16 products accumulate
//! into `M` (one product per pool task, each single-threaded). Rounding differs from the
//! direct sum: every transform coefficient is ±1 or ±½, so the error stays within a small
//! multiple of `ε · Σ |x · dy|` per element (the tests state and check the bound). A NaN
//! in `x` or `dy` makes every tap of the channel pairs it meets NaN.
//!
//! Not done here: other filter sizes, strides or dilations (im2col serves them), and
//! channel counts below [`MIN_CHANNELS`] (too little work per product).

use super::args::Conv2dArgs;
use crate::contract::conv_geometry::Conv2dGeometry;
use crate::contract::isa::{IsaLoop, MulAdd, run_widest};
use crate::contract::sgemm::{SgemmArgs, sgemm_raw};
use crate::parallel::kiln_parallel_for;

/// Transformed points per block (4×4).
const POINTS: usize = 16;
/// Fewest input and output channels this path takes.
pub(super) const MIN_CHANNELS: usize = 16;
/// Fewest blocks per chunk: below this the products are too thin to pay for themselves.
const MIN_CHUNK_BLOCKS: usize = 64;
/// Blocks per transform task handed to the pool.
const TRANSFORM_TASK_BLOCKS: usize = 32;

/// How one filter gradient runs: the block grid and the scratch layout.
#[derive(Debug, Clone, Copy)]
pub(super) struct FilterPlan {
    /// Blocks per image row and column.
    blocks_h: usize,
    blocks_w: usize,
    /// Blocks over the batch.
    blocks: usize,
    /// Blocks per chunk.
    chunk: usize,
}

impl FilterPlan {
    /// The plan for `g` within `scratch_len` elements, if `g` takes this path.
    pub(super) fn new(g: &Conv2dGeometry, scratch_len: usize) -> Option<Self> {
        let eligible = g.kernel_h == 3
            && g.kernel_w == 3
            && [g.stride_h, g.stride_w, g.dilation_h, g.dilation_w] == [1; 4]
            && g.in_c >= MIN_CHANNELS
            && g.out_c >= MIN_CHANNELS
            && g.batch > 0
            && g.out_h > 0
            && g.out_w > 0;
        if !eligible {
            return None;
        }
        let (blocks_h, blocks_w) = (g.out_h.div_ceil(2), g.out_w.div_ceil(2));
        let blocks = g.batch.checked_mul(blocks_h)?.checked_mul(blocks_w)?;
        let fixed = zeros_len(g).checked_add(POINTS.checked_mul(g.in_c)?.checked_mul(g.out_c)?)?;
        let per_block = POINTS * (g.in_c + g.out_c);
        let chunk = (scratch_len.checked_sub(fixed)? / per_block).min(blocks);
        (chunk >= MIN_CHUNK_BLOCKS.min(blocks)).then_some(Self {
            blocks_h,
            blocks_w,
            blocks,
            chunk,
        })
    }
}

/// Zeros read for taps outside the input or the output (one tap's channels).
fn zeros_len(g: &Conv2dGeometry) -> usize {
    g.in_c.max(g.out_c)
}

/// The scratch regions: zeros, `M` (16 × in_c × out_c), `V` (16 × chunk × in_c), `U`
/// (16 × chunk × out_c).
#[derive(Clone, Copy)]
struct Regions {
    zeros: *mut f32,
    m: *mut f32,
    v: *mut f32,
    u: *mut f32,
}

/// `dw = conv_dw(x, dy)` by Winograd F(3×3, 2×2).
///
/// # Safety
/// `conv2d_raw`'s contract, with `plan` made by [`FilterPlan::new`] for this geometry and
/// `args.scratch_len`.
pub(super) unsafe fn backprop_filter(g: &Conv2dGeometry, plan: &FilterPlan, args: &Conv2dArgs) {
    let (ci, co) = (g.in_c, g.out_c);
    // SAFETY: the plan fits these regions into the scratch.
    let regions = unsafe {
        let zeros = args.scratch;
        std::ptr::write_bytes(zeros, 0, zeros_len(g));
        let m = zeros.add(zeros_len(g));
        let v = m.add(POINTS * ci * co);
        Regions {
            zeros,
            m,
            v,
            u: v.add(POINTS * plan.chunk * ci),
        }
    };
    for (index, first) in (0..plan.blocks).step_by(plan.chunk).enumerate() {
        let count = plan.chunk.min(plan.blocks - first);
        let job = ChunkJob {
            g,
            plan,
            args,
            regions,
            first,
            count,
            task_blocks: if args.threads > 1 {
                TRANSFORM_TASK_BLOCKS
            } else {
                count
            },
            accumulate: index > 0,
        };
        let tasks = count.div_ceil(job.task_blocks);
        let table = (&raw const job).cast();
        // SAFETY: transform tasks write disjoint blocks of V and U; product tasks write
        // disjoint M_p; `job` outlives both calls.
        unsafe {
            kiln_parallel_for(transform_task, table, tasks as u64);
            if args.threads > 1 {
                kiln_parallel_for(product_task, table, POINTS as u64);
            } else {
                (0..POINTS).for_each(|p| job.product(p));
            }
        }
    }
    // SAFETY: M holds the sums of every chunk; dw holds 9 × in_c × out_c elements.
    unsafe { output_transform(regions.m, args.w, ci, co) };
}

/// One chunk of blocks being transformed and multiplied.
struct ChunkJob<'a> {
    g: &'a Conv2dGeometry,
    plan: &'a FilterPlan,
    args: &'a Conv2dArgs,
    regions: Regions,
    first: usize,
    count: usize,
    /// Blocks per transform task.
    task_blocks: usize,
    /// Whether the products add to `M` (every chunk after the first).
    accumulate: bool,
}

/// Transforms the blocks of task `task` of the [`ChunkJob`] at `table`.
///
/// # Safety
/// `table` points to a live `ChunkJob` under [`backprop_filter`]'s contract.
unsafe extern "C" fn transform_task(table: *const u8, task: u64) {
    // SAFETY: the caller's contract.
    let job = unsafe { &*table.cast::<ChunkJob<'_>>() };
    let lo = task as usize * job.task_blocks;
    let blocks = lo..(lo + job.task_blocks).min(job.count);
    // SAFETY: every block of the range is `< count`, so its V and U rows are inside the
    // regions, and only this task writes them.
    unsafe { run_widest(TransformBlocks { job, blocks }) };
}

/// Some blocks of a chunk to transform, as an [`IsaLoop`].
struct TransformBlocks<'j, 'a> {
    job: &'j ChunkJob<'a>,
    blocks: std::ops::Range<usize>,
}

impl IsaLoop for TransformBlocks<'_, '_> {
    /// # Safety
    /// `transform_task`'s contract.
    #[inline(always)]
    unsafe fn run<F: MulAdd>(self) {
        for local in self.blocks {
            // SAFETY: forwarded.
            unsafe { self.job.transform_block(local) };
        }
    }
}

/// Runs product `p` of the [`ChunkJob`] at `table`.
///
/// # Safety
/// As [`transform_task`], after every transform task of the chunk has finished.
unsafe extern "C" fn product_task(table: *const u8, p: u64) {
    // SAFETY: the caller's contract.
    unsafe { (*table.cast::<ChunkJob<'_>>()).product(p as usize) };
}

impl ChunkJob<'_> {
    /// The 16 source addresses (row-major 4×4 patch) of block `block`'s input taps and the
    /// 4 of its gradient pixels (row-major 2×2), the zeros where a tap lies outside.
    fn sources(&self, block: usize) -> ([*const f32; 16], [*const f32; 4]) {
        let (g, a) = (self.g, self.args);
        let per_image = self.plan.blocks_h * self.plan.blocks_w;
        let (n, rest) = (block / per_image, block % per_image);
        let (oh0, ow0) = (
            2 * (rest / self.plan.blocks_w),
            2 * (rest % self.plan.blocks_w),
        );
        let zeros = self.regions.zeros.cast_const();
        let mut x = [zeros; 16];
        for (t, src) in x.iter_mut().enumerate() {
            let ih = (oh0 + t / 4).checked_sub(g.pad_top).filter(|&h| h < g.in_h);
            let iw = (ow0 + t % 4)
                .checked_sub(g.pad_left)
                .filter(|&w| w < g.in_w);
            if let (Some(ih), Some(iw)) = (ih, iw) {
                // SAFETY: (n, ih, iw) is a pixel of the input.
                *src = unsafe { a.x.add(((n * g.in_h + ih) * g.in_w + iw) * g.in_c) };
            }
        }
        let mut dy = [zeros; 4];
        for (t, src) in dy.iter_mut().enumerate() {
            let (oh, ow) = (oh0 + t / 2, ow0 + t % 2);
            if oh < g.out_h && ow < g.out_w {
                // SAFETY: (n, oh, ow) is a pixel of the output.
                *src = unsafe { a.y.add(((n * g.out_h + oh) * g.out_w + ow) * g.out_c) };
            }
        }
        (x, dy)
    }

    /// Writes `V[p][local][..]` and `U[p][local][..]` of block `first + local`.
    ///
    /// # Safety
    /// `local < count`; no other task writes this block's rows.
    #[inline(always)]
    unsafe fn transform_block(&self, local: usize) {
        let (ci, co) = (self.g.in_c, self.g.out_c);
        let (x, dy) = self.sources(self.first + local);
        let v = self.regions.v.wrapping_add(local * ci);
        let u = self.regions.u.wrapping_add(local * co);
        let (v_stride, u_stride) = (self.plan.chunk * ci, self.plan.chunk * co);
        // SAFETY: every source addresses a tap's channels; row `local` of every V_p
        // (U_p) holds `in_c` (`out_c`) elements.
        unsafe {
            transform_channels(&x, v, v_stride, ci, transform_input);
            transform_channels(&dy, u, u_stride, co, transform_gradient);
        }
    }

    /// `M_p (+)= V_pᵀ U_p` on one thread.
    fn product(&self, p: usize) {
        let (ci, co, chunk) = (self.g.in_c, self.g.out_c, self.plan.chunk);
        let args = SgemmArgs {
            m: ci,
            n: co,
            k: self.count,
            a: self.regions.v.wrapping_add(p * chunk * ci).cast_const(),
            a_row_stride: 1,
            a_col_stride: ci,
            b: self.regions.u.wrapping_add(p * chunk * co).cast_const(),
            b_row_stride: co,
            b_col_stride: 1,
            c: self.regions.m.wrapping_add(p * ci * co),
            c_row_stride: co,
            c_col_stride: 1,
            alpha: 1.0,
            beta: if self.accumulate { 1.0 } else { 0.0 },
            threads: 1,
        };
        // SAFETY: V_p, U_p and M_p lie in the scratch regions; M_p is this task's alone.
        unsafe { sgemm_raw(&args) }
    }
}

/// Channels transformed together (one AVX-512 register per value).
const LANES: usize = 16;

/// Transforms `channels` channels of the `S` sources into the 16 rows `out + p * stride`
/// with `transform` (one channel's `S` source values to its 16 points). Full groups of
/// [`LANES`] channels are read whole into a local array, transformed lane by lane (a loop
/// the compiler vectorises across lanes), then written; the rest one channel at a time.
///
/// # Safety
/// Every source addresses `channels` readable elements; every output row `channels`
/// writable ones, overlapping no source.
#[inline(always)]
unsafe fn transform_channels<const S: usize>(
    sources: &[*const f32; S],
    out: *mut f32,
    stride: usize,
    channels: usize,
    transform: impl Fn(&[f32; S]) -> [f32; POINTS],
) {
    let full = channels - channels % LANES;
    let mut values = [[0.0f32; LANES]; S];
    let mut points = [[0.0f32; LANES]; POINTS];
    for c in (0..full).step_by(LANES) {
        for (lanes, source) in values.iter_mut().zip(sources) {
            // SAFETY: channels c..c+LANES of every source are in bounds.
            *lanes = unsafe { std::ptr::read_unaligned(source.add(c).cast()) };
        }
        for l in 0..LANES {
            let one = transform(&std::array::from_fn(|t| values[t][l]));
            for (p, value) in one.into_iter().enumerate() {
                points[p][l] = value;
            }
        }
        for (p, lanes) in points.iter().enumerate() {
            // SAFETY: channels c..c+LANES of every output row are in bounds.
            unsafe { std::ptr::write_unaligned(out.add(p * stride + c).cast(), *lanes) };
        }
    }
    for c in full..channels {
        // SAFETY: channel c of every source and output row is in bounds.
        unsafe {
            let one = transform(&std::array::from_fn(|t| *sources[t].add(c)));
            for (p, value) in one.into_iter().enumerate() {
                *out.add(p * stride + c) = value;
            }
        }
    }
}

/// `Bᵀ d B` of a row-major 4×4 patch, with `Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`.
#[inline(always)]
fn transform_input(d: &[f32; 16]) -> [f32; POINTS] {
    let mut t = [0.0f32; 16];
    for c in 0..4 {
        let (d0, d1, d2, d3) = (d[c], d[4 + c], d[8 + c], d[12 + c]);
        t[c] = d0 - d2;
        t[4 + c] = d1 + d2;
        t[8 + c] = d2 - d1;
        t[12 + c] = d1 - d3;
    }
    let mut v = [0.0f32; POINTS];
    for r in 0..4 {
        let (t0, t1, t2, t3) = (t[4 * r], t[4 * r + 1], t[4 * r + 2], t[4 * r + 3]);
        v[4 * r] = t0 - t2;
        v[4 * r + 1] = t1 + t2;
        v[4 * r + 2] = t2 - t1;
        v[4 * r + 3] = t1 - t3;
    }
    v
}

/// `A g Aᵀ` of a row-major 2×2 gradient, with `A = [[1,0],[1,1],[1,-1],[0,-1]]`.
#[inline(always)]
fn transform_gradient(g: &[f32; 4]) -> [f32; POINTS] {
    let a = |x: f32, y: f32| [x, x + y, x - y, -y];
    let (top, bottom) = (a(g[0], g[1]), a(g[2], g[3]));
    let mut u = [0.0f32; POINTS];
    for c in 0..4 {
        let col = a(top[c], bottom[c]);
        for r in 0..4 {
            u[4 * r + c] = col[r];
        }
    }
    u
}

/// `dw[kh][kw][ci][co] = (Gᵀ M G)[kh][kw]` for every channel pair, with
/// `Gᵀ = [[1,½,½,0],[0,½,-½,0],[0,½,½,1]]`.
///
/// # Safety
/// `m` addresses `16 × ci × co` readable elements and `dw` `9 × ci × co` writable ones.
unsafe fn output_transform(m: *const f32, dw: *mut f32, ci: usize, co: usize) {
    let gt = |a: [f32; 4]| {
        [
            a[0] + 0.5 * (a[1] + a[2]),
            0.5 * (a[1] - a[2]),
            0.5 * (a[1] + a[2]) + a[3],
        ]
    };
    let pairs = ci * co;
    for pair in 0..pairs {
        // SAFETY: `p * pairs + pair < 16 * pairs`.
        let mm: [f32; 16] = std::array::from_fn(|p| unsafe { *m.add(p * pairs + pair) });
        let cols: [[f32; 3]; 4] =
            std::array::from_fn(|b| gt([mm[b], mm[4 + b], mm[8 + b], mm[12 + b]]));
        let taps: [[f32; 3]; 3] =
            std::array::from_fn(|kh| gt(std::array::from_fn(|b| cols[b][kh])));
        for (kh, row) in taps.iter().enumerate() {
            for (kw, &value) in row.iter().enumerate() {
                // SAFETY: `(kh*3 + kw) * pairs + pair < 9 * pairs`.
                unsafe { *dw.add((kh * 3 + kw) * pairs + pair) = value };
            }
        }
    }
}
