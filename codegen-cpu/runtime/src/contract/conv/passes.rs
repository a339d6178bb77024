//! The unsafe core of the convolution kernels: [`conv2d_raw`] validates the geometry and
//! the scratch, picks the algorithm ([`ConvAlgorithm`]: Winograd for the 3×3 stride-1
//! geometries where it gains, see `winograd/`), and otherwise runs one of the three passes
//! block by block, each block one contraction (`sgemm`) of the block's im2col matrix
//! (read, or for the input's gradient written and then scattered back by col2im).

use std::ptr;

use super::args::{Conv2dArgs, ConvAlgorithm, ConvPass};
use super::col2im::col2im_block;
use super::filter_winograd::{self, FilterPlan};
use super::im2col::im2col_block;
use super::winograd::{ProductKernel, RunTensors, WinogradPlan, run};
use crate::contract::conv_geometry::{Conv2dGeometry, Conv2dSizes};
use crate::contract::error::ContractError;
use crate::contract::sgemm::{SgemmArgs, sgemm_raw};

/// Runs `pass` with the algorithm that suits its geometry ([`ConvAlgorithm::Auto`]).
/// Validates the geometry and the scratch length (returning an error and touching nothing
/// if either is wrong); everything else is the caller's contract.
///
/// # Safety
/// - `x`, `w`, `y` point to `Conv2dSizes::{x, w, y}` valid elements each (dense NHWC, HWIO,
///   NHWC), `scratch` to `scratch_len` writable elements (a pointer to zero elements may be
///   null);
/// - the tensor the pass writes overlaps none of the others nor the scratch, and no other
///   thread accesses it or the scratch during the call.
pub unsafe fn conv2d_raw(pass: ConvPass, args: &Conv2dArgs) -> Result<(), ContractError> {
    // SAFETY: forwarded caller contract.
    unsafe { conv2d_raw_using(ConvAlgorithm::Auto, pass, args) }
}

/// [`conv2d_raw`] with the algorithm chosen by the caller; a Winograd algorithm on a
/// geometry or pass it cannot run is an error (nothing touched).
///
/// # Safety
/// As [`conv2d_raw`].
pub unsafe fn conv2d_raw_using(
    algorithm: ConvAlgorithm,
    pass: ConvPass,
    args: &Conv2dArgs,
) -> Result<(), ContractError> {
    let g = &args.geometry;
    let sizes = g.sizes()?;
    if args.scratch_len < sizes.scratch {
        return Err(ContractError::OperandTooShort {
            operand: "scratch",
            needed: sizes.scratch,
            len: args.scratch_len,
        });
    }
    if let Some((plan, kernel)) = winograd_choice(algorithm, g, pass)? {
        let (src, dst) = match pass {
            ConvPass::Forward => (args.x, args.y),
            _ => (args.y, args.x),
        };
        let tensors = RunTensors {
            src,
            w: args.w,
            dst,
            scratch: args.scratch,
            scratch_len: args.scratch_len,
        };
        // SAFETY: forwarded caller contract; the scratch holds `sizes.scratch`, which
        // covers this plan with one worker; the kernel runs on this host.
        unsafe { run(&plan, kernel, tensors, args.threads) };
        return Ok(());
    }
    // SAFETY (all three): forwarded caller contract; sizes were validated above.
    unsafe {
        match pass {
            ConvPass::BackpropFilter
                if algorithm == ConvAlgorithm::Auto
                    && let Some(plan) = FilterPlan::new(g, args.scratch_len) =>
            {
                filter_winograd::backprop_filter(g, &plan, args)
            }
            ConvPass::Forward => forward(g, &sizes, args),
            ConvPass::BackpropInput => backprop_input(g, &sizes, args),
            ConvPass::BackpropFilter => backprop_filter(g, &sizes, args),
        }
    }
    Ok(())
}

/// The Winograd plan and product kernels `algorithm` runs `pass` on `g` with, or `None`
/// for im2col. `g` is validated.
fn winograd_choice(
    algorithm: ConvAlgorithm,
    g: &Conv2dGeometry,
    pass: ConvPass,
) -> Result<Option<(WinogradPlan, ProductKernel)>, ContractError> {
    let plan = WinogradPlan::new(g, pass)?;
    let forced = |kernel: Option<ProductKernel>| {
        let plan = plan.ok_or_else(|| {
            ContractError::InvalidGeometry(format!(
                "Winograd runs the forward and input-gradient passes of 3x3 filters with \
                 stride 1 and dilation 1, not {pass:?} of {g:?}"
            ))
        })?;
        Ok(Some((plan, kernel.unwrap_or(ProductKernel::Portable))))
    };
    match algorithm {
        ConvAlgorithm::Im2col => Ok(None),
        ConvAlgorithm::Auto => Ok(plan.filter(WinogradPlan::gains).zip(ProductKernel::fast())),
        ConvAlgorithm::Winograd => forced(ProductKernel::fast()),
        ConvAlgorithm::WinogradPortable => forced(None),
    }
}

/// The output-row blocks: `(first_row, row_count)`.
fn blocks(sizes: &Conv2dSizes) -> impl Iterator<Item = (usize, usize)> {
    let step = sizes.block_rows.max(1);
    (0..sizes.rows)
        .step_by(step)
        .map(move |r0| (r0, step.min(sizes.rows - r0)))
}

/// Runs `c = alpha*a*b + beta*c` on dense/strided operands (`(ptr, row_stride, col_stride)`).
///
/// # Safety
/// `sgemm_raw`'s contract.
unsafe fn contract(
    (m, n, k): (usize, usize, usize),
    a: (*const f32, usize, usize),
    b: (*const f32, usize, usize),
    c: (*mut f32, usize, usize),
    beta: f32,
    threads: usize,
) {
    let args = SgemmArgs {
        m,
        n,
        k,
        a: a.0,
        a_row_stride: a.1,
        a_col_stride: a.2,
        b: b.0,
        b_row_stride: b.1,
        b_col_stride: b.2,
        c: c.0,
        c_row_stride: c.1,
        c_col_stride: c.2,
        alpha: 1.0,
        beta,
        threads,
    };
    // SAFETY: forwarded.
    unsafe { sgemm_raw(&args) }
}

/// # Safety
/// `conv2d_raw`'s contract.
unsafe fn forward(g: &Conv2dGeometry, sizes: &Conv2dSizes, args: &Conv2dArgs) {
    let (depth, out_c) = (sizes.depth, g.out_c);
    for (r0, count) in blocks(sizes) {
        // SAFETY: every pointer below addresses rows r0..r0+count of its validated tensor.
        unsafe {
            let cols = im2col_block(g, sizes, args, r0, count);
            contract(
                (count, out_c, depth),
                (cols, depth, 1),
                (args.w, out_c, 1),
                (args.y.add(r0 * out_c), out_c, 1),
                0.0,
                args.threads,
            );
        }
    }
}

/// # Safety
/// `conv2d_raw`'s contract.
unsafe fn backprop_input(g: &Conv2dGeometry, sizes: &Conv2dSizes, args: &Conv2dArgs) {
    let (depth, out_c) = (sizes.depth, g.out_c);
    let direct = g.is_direct();
    if !direct && sizes.x > 0 {
        // SAFETY: dx holds `sizes.x` writable elements.
        unsafe { ptr::write_bytes(args.x, 0, sizes.x) };
    }
    for (r0, count) in blocks(sizes) {
        // SAFETY: every pointer below addresses rows r0..r0+count of its validated tensor.
        unsafe {
            let dcols = if direct {
                args.x.add(r0 * g.in_c)
            } else {
                args.scratch
            };
            // w is depth x out_c row-major; w^T is out_c x depth with strides (1, out_c).
            contract(
                (count, depth, out_c),
                (args.y.add(r0 * out_c), out_c, 1),
                (args.w, 1, out_c),
                (dcols, depth, 1),
                0.0,
                args.threads,
            );
            if !direct {
                col2im_block(g, sizes, args, r0, count);
            }
        }
    }
}

/// # Safety
/// `conv2d_raw`'s contract.
unsafe fn backprop_filter(g: &Conv2dGeometry, sizes: &Conv2dSizes, args: &Conv2dArgs) {
    let (depth, out_c) = (sizes.depth, g.out_c);
    if sizes.rows == 0 {
        if sizes.w > 0 {
            // SAFETY: dw holds `sizes.w` writable elements.
            unsafe { ptr::write_bytes(args.w, 0, sizes.w) };
        }
        return;
    }
    for (block, (r0, count)) in blocks(sizes).enumerate() {
        // SAFETY: every pointer below addresses rows r0..r0+count of its validated tensor.
        unsafe {
            let cols = im2col_block(g, sizes, args, r0, count);
            // cols is count x depth row-major; cols^T is depth x count with strides (1, depth).
            contract(
                (depth, out_c, count),
                (cols, 1, depth),
                (args.y.add(r0 * out_c), out_c, 1),
                (args.w, out_c, 1),
                if block == 0 { 0.0 } else { 1.0 },
                args.threads,
            );
        }
    }
}
