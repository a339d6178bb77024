//! Contractions (matmul, conv2d and its two gradients) as calls into the tuned kernels of
//! [`crate::contract`]: the kernel function fills the kernel's `#[repr(C)]` argument struct
//! in a stack slot — the static fields copied from a template built here at compile time,
//! the pointer fields stored at run time — and calls the `kiln_*` symbol. Batched matmuls
//! loop over the batch, one `kiln_sgemm` call per matrix; large products are split into one
//! chunk per thread (rows or columns of `C`), each chunk running its part of a fused
//! epilogue right after its product. Convolution geometries are
//! validated at compile time, so the kernels' status codes are always `KILN_OK`.

use std::mem::{offset_of, size_of};

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{FuncRef, InstBuilder, StackSlotData, StackSlotKind, Value};
use cranelift_module::{FuncId, Module};
use ir::{Conv2dAttrs, FusedOp, NodeId, Op, Program, Shape};

use crate::abi::Loc;
use crate::contract::{Conv2dArgs, Conv2dGeometry, DepthwiseArgs, SgemmArgs};
use crate::error::{CodegenError, Result};
use crate::lower::elementwise::InnerRow;
use crate::lower::nest::broadcast_strides;
use crate::lower::{Kernel, MAX_CHUNKS};
use crate::lowerer::Lowerer;

/// Threads the contraction kernels may use (they split large products themselves).
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The contraction symbols and their addresses, for the JIT.
pub(crate) fn symbols() -> Vec<(&'static str, *const u8)> {
    crate::contract::symbols()
}

/// The 8-byte words of a plain `#[repr(C)]` argument struct.
///
/// Only used on `SgemmArgs`, `Conv2dArgs` and `DepthwiseArgs`, whose fields are all 8 bytes wide except
/// `SgemmArgs`' two adjacent `f32`s, so neither has padding bytes.
fn words<T: Copy>(value: &T) -> Vec<u64> {
    const { assert!(size_of::<T>().is_multiple_of(8)) };
    // SAFETY: `T` is one of the padding-free argument structs (see above), so all its
    // `size_of::<T>()` bytes are initialised; the read is within the value.
    let bytes =
        unsafe { std::slice::from_raw_parts(value as *const T as *const u8, size_of::<T>()) };
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunk")))
        .collect()
}

/// A stack slot holding `template`'s words; returns the slot's address.
fn stack_struct(k: &mut Kernel, template: &[u64]) -> Value {
    let slot = k.b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        (template.len() * 8) as u32,
        4,
    ));
    for (i, &w) in template.iter().enumerate() {
        let v = k.b.ins().iconst(I64, w as i64);
        k.b.ins().stack_store(k.ptr, v, slot, (i * 8) as i32);
    }
    k.b.ins().stack_addr(k.ptr, slot, 0)
}

/// Store pointer `v` at byte `offset` of the struct at `at`.
fn put(k: &mut Kernel, at: Value, offset: usize, v: Value) {
    k.b.ins().store(super::mem(), v, at, offset as i32);
}

/// Whether a fused matmul with result shape `out` runs its epilogue inside its own kernel
/// (rank-2 results; batched ones get a separate epilogue kernel).
pub(crate) fn epilogue_in_kernel(out: &Shape) -> bool {
    out.rank() == 2
}

/// Emit node `id`'s contraction, reading `locs[0]`, `locs[1]` and writing the last of
/// `locs`; `shapes` are the operands' shapes. A fused matmul whose epilogue runs in its
/// kernel ([`epilogue_in_kernel`]) gets all its operands, the epilogue's extra ones after
/// the first two.
pub(crate) fn lower<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    locs: &[Loc],
    shapes: &[&Shape],
) -> Result<()> {
    let graph = l.graph;
    let op = graph.op(id);
    if let Op::Fused(FusedOp::MatMul {
        transpose_a,
        transpose_b,
        epilogue,
    }) = op
        && epilogue_in_kernel(graph.shape(id))
    {
        let transposes = (*transpose_a, *transpose_b);
        return matmul_with_epilogue(l, id, transposes, epilogue, locs, shapes);
    }
    let (locs, shapes) = (
        [locs[0], locs[1], locs[locs.len() - 1]],
        [shapes[0], shapes[1]],
    );
    match op {
        Op::MatMul {
            transpose_a,
            transpose_b,
        }
        | Op::Fused(FusedOp::MatMul {
            transpose_a,
            transpose_b,
            ..
        }) => matmul_kernel(l, id, (*transpose_a, *transpose_b), &locs, shapes),
        Op::Conv2d(_)
        | Op::Fused(FusedOp::Conv2d { .. })
        | Op::Conv2dBackpropInput { .. }
        | Op::Conv2dBackpropFilter { .. } => conv_kernel(l, id, op, &locs, shapes),
        Op::DepthwiseConv2d(_)
        | Op::Fused(FusedOp::DepthwiseConv2d { .. })
        | Op::DepthwiseConv2dBackpropInput { .. }
        | Op::DepthwiseConv2dBackpropFilter { .. } => depthwise_kernel(l, id, op, &locs, shapes),
        other => Err(not_a_contraction(id, other)),
    }
}

/// The `kiln_sgemm` import (one pointer argument: the argument struct).
fn import_sgemm<M: Module>(l: &mut Lowerer<'_, M>) -> Result<FuncId> {
    l.import("kiln_sgemm", &[l.module.target_config().pointer_type()])
}

/// A rank-2 fused matmul and its epilogue in one kernel: `locs` and `shapes` are all the
/// node's operands (`A`, `B`, then the epilogue's extra ones), `locs` ending with the
/// result's location.
fn matmul_with_epilogue<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    (ta, tb): (bool, bool),
    epilogue: &Program,
    locs: &[Loc],
    shapes: &[&Shape],
) -> Result<()> {
    let out_shape = l.graph.shape(id);
    let f = import_sgemm(l)?;
    let n = shapes.len();
    l.kernel(id, locs, &[f], |k, b, f| {
        let ep = Epilogue {
            program: epilogue,
            extras: (2..n).map(|j| (b[j], shapes[j])).collect(),
        };
        let ep = (!epilogue.is_identity()).then_some(&ep);
        matmul(
            k,
            f[0],
            (b[0], shapes[0], ta),
            (b[1], shapes[1], tb),
            (b[n], out_shape),
            ep,
        )
    })
}

/// A (batched) matmul kernel without epilogue: `A` and `B` at `locs[0]` and `locs[1]`,
/// transposed as `(ta, tb)` say, `C` at `locs[2]`.
fn matmul_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    (ta, tb): (bool, bool),
    locs: &[Loc; 3],
    shapes: [&Shape; 2],
) -> Result<()> {
    let f = import_sgemm(l)?;
    let (sa, sb) = (shapes[0].clone(), shapes[1].clone());
    let out = l.graph.shape(id).clone();
    l.kernel(id, locs, &[f], |k, b, f| {
        matmul(
            k,
            f[0],
            (b[0], &sa, ta),
            (b[1], &sb, tb),
            (b[2], &out),
            None,
        )
    })
}

/// A dense convolution pass (forward, or the gradient for its input or its filter) as a
/// call of its `kiln_conv2d*` kernel.
fn conv_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    op: &Op,
    locs: &[Loc; 3],
    shapes: [&Shape; 2],
) -> Result<()> {
    let (symbol, g, order) = match op {
        // x = operand 0, w = operand 1, y = result.
        Op::Conv2d(attrs) | Op::Fused(FusedOp::Conv2d { attrs, .. }) => (
            "kiln_conv2d",
            conv_geometry(l, id, attrs, shapes[0], shapes[1])?,
            [0, 1, 2],
        ),
        // dy = operand 0, w = operand 1, dx = result.
        Op::Conv2dBackpropInput { attrs, input_shape } => (
            "kiln_conv2d_backprop_input",
            conv_geometry(l, id, attrs, input_shape, shapes[1])?,
            [2, 1, 0],
        ),
        // x = operand 0, dy = operand 1, dw = result.
        Op::Conv2dBackpropFilter {
            attrs,
            filter_shape,
        } => (
            "kiln_conv2d_backprop_filter",
            conv_geometry(l, id, attrs, shapes[0], filter_shape)?,
            [0, 2, 1],
        ),
        other => return Err(not_a_contraction(id, other)),
    };
    call_conv(l, id, symbol, g, order, locs)
}

/// A depthwise convolution pass (forward, or a gradient) as a call of its
/// `kiln_depthwise_conv2d*` kernel; the geometry's filter is the dense-equivalent
/// `[kh, kw, c, c * m]`.
fn depthwise_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    op: &Op,
    locs: &[Loc; 3],
    shapes: [&Shape; 2],
) -> Result<()> {
    let (symbol, (g, m), order) = match op {
        Op::DepthwiseConv2d(attrs) | Op::Fused(FusedOp::DepthwiseConv2d { attrs, .. }) => (
            "kiln_depthwise_conv2d",
            depthwise_geometry(l, id, attrs, shapes[0], shapes[1])?,
            [0, 1, 2],
        ),
        Op::DepthwiseConv2dBackpropInput { attrs, input_shape } => (
            "kiln_depthwise_conv2d_backprop_input",
            depthwise_geometry(l, id, attrs, input_shape, shapes[1])?,
            [2, 1, 0],
        ),
        Op::DepthwiseConv2dBackpropFilter {
            attrs,
            filter_shape,
        } => (
            "kiln_depthwise_conv2d_backprop_filter",
            depthwise_geometry(l, id, attrs, shapes[0], filter_shape)?,
            [0, 2, 1],
        ),
        other => return Err(not_a_contraction(id, other)),
    };
    call_depthwise(l, id, symbol, g, m, order, locs)
}

/// The checked geometry of a dense convolution of input `x` with filter `w` (both rank 4).
fn conv_geometry<M: Module>(
    l: &Lowerer<'_, M>,
    id: NodeId,
    attrs: &Conv2dAttrs,
    x: &Shape,
    w: &Shape,
) -> Result<Conv2dGeometry> {
    let dims = |s: &Shape| {
        <[usize; 4]>::try_from(s.dims())
            .map_err(|_| unsupported(l, id, "convolution operands must be rank 4"))
    };
    Conv2dGeometry::resolve(dims(x)?, dims(w)?, attrs)
        .map_err(|e| unsupported(l, id, &e.to_string()))
}

/// The checked geometry of a depthwise convolution of input `x` with the rank-4 filter
/// `w = [kh, kw, c, m]` (as the dense-equivalent filter `[kh, kw, c, c * m]`), and its
/// channel multiplier `m`.
fn depthwise_geometry<M: Module>(
    l: &Lowerer<'_, M>,
    id: NodeId,
    attrs: &Conv2dAttrs,
    x: &Shape,
    w: &Shape,
) -> Result<(Conv2dGeometry, usize)> {
    let d = w.dims();
    let dense = d
        .get(2)
        .zip(d.get(3))
        .and_then(|(c, m)| c.checked_mul(*m))
        .map(|cm| Shape::from([d[0], d[1], d[2], cm]));
    let dense = dense
        .filter(|_| d.len() == 4)
        .ok_or_else(|| unsupported(l, id, "depthwise filter must be rank 4"))?;
    Ok((conv_geometry(l, id, attrs, x, &dense)?, d[3]))
}

/// The error for an op that is not a contraction.
fn not_a_contraction(id: NodeId, op: &Op) -> CodegenError {
    CodegenError::Unsupported {
        node: id.to_string(),
        op: ir::infer::op_name(op),
        msg: "not a contraction".into(),
    }
}

/// The error for a contraction whose operands the kernels cannot take.
fn unsupported<M: Module>(l: &Lowerer<'_, M>, id: NodeId, msg: &str) -> CodegenError {
    CodegenError::Unsupported {
        node: id.to_string(),
        op: ir::infer::op_name(l.graph.op(id)),
        msg: msg.into(),
    }
}

/// A rank-2 matmul's epilogue, run by each chunk over the part of the result it produced
/// while that part is still in cache: program input 0 is the result, input `i >= 1` is
/// `extras[i - 1]` (a base pointer and its shape, broadcast to the result's).
pub(crate) struct Epilogue<'p> {
    pub program: &'p Program,
    pub extras: Vec<(Value, &'p Shape)>,
}

/// How a product is split into chunks: along the rows of `C` (`M`) or its columns (`N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitAxis {
    Rows,
    Cols,
}

/// Products of fewer flops (`2*m*n*k`) run as one chunk on one thread.
const SPLIT_MIN_FLOPS: usize = 2 << 20;

/// Chunk boundaries are multiples of this many rows or columns (the microkernels' tiles).
const SPLIT_ALIGN: usize = 16;

/// The chunk count and split axis of an `m x n x k` product: one chunk per thread for large
/// products (see [`SPLIT_MIN_FLOPS`]), split along the longer side of `C` so that each
/// chunk is one `kiln_sgemm` call on one thread.
fn split(m: usize, n: usize, k: usize, threads: usize) -> (usize, SplitAxis) {
    let axis = if m >= n {
        SplitAxis::Rows
    } else {
        SplitAxis::Cols
    };
    let len = m.max(n);
    let flops = 2usize.saturating_mul(m).saturating_mul(n).saturating_mul(k);
    if flops < SPLIT_MIN_FLOPS {
        return (1, axis);
    }
    (threads.min(len / SPLIT_ALIGN).clamp(1, MAX_CHUNKS), axis)
}

/// Start of chunk `c` (an `i64` value, `0..=n_chunks`) of `0..len`: `c * len / n_chunks`
/// rounded down to [`SPLIT_ALIGN`], and `len` for `c == n_chunks`.
fn split_point(k: &mut Kernel, c: Value, len: usize) -> Value {
    let n = k.n_chunks as i64;
    let t = k.b.ins().imul_imm_s(c, len as i64);
    let t = k.b.ins().udiv_imm_u(t, n);
    let t = k.b.ins().band_imm_s(t, !(SPLIT_ALIGN as i64 - 1));
    let last = k.b.ins().icmp_imm_s(IntCC::Equal, c, n);
    let end = k.int(len as i64);
    k.b.ins().select(last, end, t)
}

/// One product of a (batched) matmul, per matrix of the batch: `C[m, n] = A[m, k] B[k, n]`,
/// `A(i, l)` stored at `i * a_strides.0 + l * a_strides.1` (likewise `B`), `C` dense.
struct Product {
    m: usize,
    n: usize,
    k: usize,
    a_strides: (usize, usize),
    b_strides: (usize, usize),
    /// Elements per matrix of `A` and of `B` (the batch strides).
    a_len: usize,
    b_len: usize,
    /// Matrices in the batch.
    batch: usize,
}

impl Product {
    /// The product of `a` and `b` (shapes, whether transposed) into a result of shape `c`.
    fn of(a: (&Shape, bool), b: (&Shape, bool), c: &Shape) -> Self {
        let r = c.rank();
        let (m, n) = (c.dims()[r - 2], c.dims()[r - 1]);
        let (ra, ca) = (a.0.dims()[r - 2], a.0.dims()[r - 1]);
        let (rb, cb) = (b.0.dims()[r - 2], b.0.dims()[r - 1]);
        // A(i, l) is stored at i*ca + l, or at l*ca + i when transposed; likewise for B.
        Product {
            m,
            n,
            k: if a.1 { ra } else { ca },
            a_strides: if a.1 { (1, ca) } else { (ca, 1) },
            b_strides: if b.1 { (1, cb) } else { (cb, 1) },
            a_len: ra * ca,
            b_len: rb * cb,
            batch: c.dims()[..r - 2].iter().product(),
        }
    }

    /// The `kiln_sgemm` arguments of one whole matrix, pointers null.
    fn template(&self) -> SgemmArgs {
        SgemmArgs {
            m: self.m,
            n: self.n,
            k: self.k,
            a: std::ptr::null(),
            a_row_stride: self.a_strides.0,
            a_col_stride: self.a_strides.1,
            b: std::ptr::null(),
            b_row_stride: self.b_strides.0,
            b_col_stride: self.b_strides.1,
            c: std::ptr::null_mut(),
            c_row_stride: self.n,
            c_col_stride: 1,
            alpha: 1.0,
            beta: 0.0,
            // Chunks are the parallelism: each call runs on the thread that took its chunk.
            threads: 1,
        }
    }
}

/// One `kiln_sgemm` call per matrix of the batch and chunk; a chunk then runs `epilogue`
/// (rank-2 products only) over its part of `C`.
fn matmul(
    k: &mut Kernel,
    f: FuncRef,
    a: (Value, &Shape, bool),
    b: (Value, &Shape, bool),
    c: (Value, &Shape),
    epilogue: Option<&Epilogue>,
) {
    let p = Product::of((a.1, a.2), (b.1, b.2), c.1);
    let (n_chunks, axis) = split(p.m, p.n, p.k, threads());
    k.n_chunks = n_chunks;
    let args = stack_struct(k, &words(&p.template()));
    let (rows, cols) = chunk_rect(k, &p, axis, args);
    sgemm_calls(k, f, &p, args, (a.0, b.0, c.0), (rows.0, cols.0));
    if let Some(ep) = epilogue {
        epilogue_rect(k, ep, c, rows, cols);
    }
}

/// This chunk's rows `[r0, r1)` and columns `[c0, c1)` of every matrix of `C` (all of them
/// for a single chunk); a chunk's extent along `axis` is stored in the arguments at `args`.
fn chunk_rect(
    k: &mut Kernel,
    p: &Product,
    axis: SplitAxis,
    args: Value,
) -> ((Value, Value), (Value, Value)) {
    let full_rows = (k.int(0), k.int(p.m as i64));
    let full_cols = (k.int(0), k.int(p.n as i64));
    if k.n_chunks <= 1 {
        return (full_rows, full_cols);
    }
    let len = if axis == SplitAxis::Rows { p.m } else { p.n };
    let lo = split_point(k, k.chunk, len);
    let next = k.b.ins().iadd_imm_s(k.chunk, 1);
    let hi = split_point(k, next, len);
    let extent = k.b.ins().isub(hi, lo);
    let field = if axis == SplitAxis::Rows {
        offset_of!(SgemmArgs, m)
    } else {
        offset_of!(SgemmArgs, n)
    };
    put(k, args, field, extent);
    if axis == SplitAxis::Rows {
        ((lo, hi), full_cols)
    } else {
        (full_rows, (lo, hi))
    }
}

/// The loop over the batch calling `kiln_sgemm` (`f`) with the arguments at `args`, its
/// pointers set to this chunk's first elements of each matrix of the buffers `(a, b, c)`;
/// the chunk starts at row `r0` and column `c0` of `C`.
fn sgemm_calls(
    k: &mut Kernel,
    f: FuncRef,
    p: &Product,
    args: Value,
    (a, b, c): (Value, Value, Value),
    (r0, c0): (Value, Value),
) {
    // Element offsets of this chunk's first A, B and C elements within one matrix.
    let a_off = k.b.ins().imul_imm_s(r0, p.a_strides.0 as i64);
    let b_off = k.b.ins().imul_imm_s(c0, p.b_strides.1 as i64);
    let c_off = k.b.ins().imul_imm_s(r0, p.n as i64);
    let c_off = k.b.ins().iadd(c_off, c0);
    k.for_n(p.batch, |k, i| {
        let at = |k: &mut Kernel, base: Value, matrix_len: usize, off: Value| {
            let pa = k.b.ins().imul_imm_s(i, matrix_len as i64);
            let pa = k.b.ins().iadd(pa, off);
            k.addr(base, pa)
        };
        let pa = at(k, a, p.a_len, a_off);
        let pb = at(k, b, p.b_len, b_off);
        let pc = at(k, c, p.m * p.n, c_off);
        put(k, args, offset_of!(SgemmArgs, a), pa);
        put(k, args, offset_of!(SgemmArgs, b), pb);
        put(k, args, offset_of!(SgemmArgs, c), pc);
        k.b.ins().call(f, &[args]);
    });
}

/// Run `ep` in place over rows `[r0, r1)` and columns `[c0, c1)` of the rank-2 result `c`.
fn epilogue_rect(
    k: &mut Kernel,
    ep: &Epilogue,
    c: (Value, &Shape),
    (r0, r1): (Value, Value),
    (c0, c1): (Value, Value),
) {
    let n = c.1.dims()[1] as i64;
    // Operand 0 is the result written, operand 1 the result read (program input 0).
    let mut bases = vec![c.0, c.0];
    let mut row_strides = vec![n, n];
    let mut col_strides = vec![1, 1];
    for &(base, shape) in &ep.extras {
        let s = broadcast_strides(shape, c.1);
        bases.push(base);
        row_strides.push(s[0]);
        col_strides.push(s[1]);
    }
    let row = InnerRow {
        program: ep.program,
        bases: &bases,
        strides: &col_strides,
    };
    k.for_range(r0, r1, 1, |k, i| {
        let zero = k.int(0);
        let offsets: Vec<Value> = row_strides.iter().map(|&s| k.mul_add(i, s, zero)).collect();
        row.emit(k, &offsets, c0, c1);
    });
}

/// A convolution pass: `order` maps (x, w, y) of [`Conv2dArgs`] to indices of `locs`.
fn call_conv<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    symbol: &str,
    g: Conv2dGeometry,
    order: [usize; 3],
    locs: &[Loc; 3],
) -> Result<()> {
    let scratch_len = g.scratch_len();
    l.need_scratch(scratch_len);
    let scratch = l.scratch_loc();
    let template = Conv2dArgs {
        geometry: g,
        x: std::ptr::null_mut(),
        w: std::ptr::null_mut(),
        y: std::ptr::null_mut(),
        scratch: std::ptr::null_mut(),
        scratch_len,
        threads: threads(),
    };
    let fields = [
        offset_of!(Conv2dArgs, x),
        offset_of!(Conv2dArgs, w),
        offset_of!(Conv2dArgs, y),
        offset_of!(Conv2dArgs, scratch),
    ];
    let all = [locs[order[0]], locs[order[1]], locs[order[2]], scratch];
    call_with_args(l, id, symbol, &words(&template), &fields, &all)
}

/// A depthwise convolution pass: `order` maps (x, w, y) of [`DepthwiseArgs`] to indices of `locs`.
fn call_depthwise<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    symbol: &str,
    g: Conv2dGeometry,
    multiplier: usize,
    order: [usize; 3],
    locs: &[Loc; 3],
) -> Result<()> {
    let template = DepthwiseArgs {
        geometry: g,
        multiplier,
        x: std::ptr::null_mut(),
        w: std::ptr::null_mut(),
        y: std::ptr::null_mut(),
        threads: threads(),
    };
    let fields = [
        offset_of!(DepthwiseArgs, x),
        offset_of!(DepthwiseArgs, w),
        offset_of!(DepthwiseArgs, y),
    ];
    let all = [locs[order[0]], locs[order[1]], locs[order[2]]];
    call_with_args(l, id, symbol, &words(&template), &fields, &all)
}

/// A kernel that fills an argument struct from `template`, stores the buffer of `locs[i]`
/// at byte offset `fields[i]`, and calls `symbol` with the struct's address.
fn call_with_args<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    symbol: &str,
    template: &[u64],
    fields: &[usize],
    locs: &[Loc],
) -> Result<()> {
    let ptr = l.module.target_config().pointer_type();
    let mut sig_ret = l.module.make_signature();
    sig_ret
        .params
        .push(cranelift_codegen::ir::AbiParam::new(ptr));
    sig_ret
        .returns
        .push(cranelift_codegen::ir::AbiParam::new(I32));
    let f = l
        .module
        .declare_function(symbol, cranelift_module::Linkage::Import, &sig_ret)?;
    l.kernel(id, locs, &[f], |k, b, f| {
        let args = stack_struct(k, template);
        for (i, &field) in fields.iter().enumerate() {
            put(k, args, field, b[i]);
        }
        k.b.ins().call(f[0], &[args]);
    })
}
