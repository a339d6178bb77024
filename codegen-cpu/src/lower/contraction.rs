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
use cranelift_codegen::ir::{InstBuilder, StackSlotData, StackSlotKind, Value};
use cranelift_module::Module;
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
    let out_shape = graph.shape(id);
    if let Op::Fused(FusedOp::MatMul {
        transpose_a,
        transpose_b,
        epilogue,
    }) = graph.op(id)
        && epilogue_in_kernel(out_shape)
    {
        let f = l.import("kiln_sgemm", &[l.module.target_config().pointer_type()])?;
        let (ta, tb) = (*transpose_a, *transpose_b);
        let n = shapes.len();
        return l.kernel(id, locs, &[f], |k, b, f| {
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
        });
    }
    let (locs, shapes) = (
        [locs[0], locs[1], locs[locs.len() - 1]],
        [shapes[0], shapes[1]],
    );
    let conv = |attrs: &Conv2dAttrs, x: &Shape, w: &Shape| -> Result<Conv2dGeometry> {
        let dims = |s: &Shape| {
            <[usize; 4]>::try_from(s.dims())
                .map_err(|_| unsupported(l, id, "convolution operands must be rank 4"))
        };
        Conv2dGeometry::resolve(dims(x)?, dims(w)?, attrs)
            .map_err(|e| unsupported(l, id, &e.to_string()))
    };
    let depthwise =
        |attrs: &Conv2dAttrs, x: &Shape, w: &Shape| -> Result<(Conv2dGeometry, usize)> {
            let d = w.dims();
            let dense = d
                .get(2)
                .zip(d.get(3))
                .and_then(|(c, m)| c.checked_mul(*m))
                .map(|cm| Shape::from([d[0], d[1], d[2], cm]));
            let dense = dense
                .filter(|_| d.len() == 4)
                .ok_or_else(|| unsupported(l, id, "depthwise filter must be rank 4"))?;
            Ok((conv(attrs, x, &dense)?, d[3]))
        };
    match graph.op(id) {
        Op::MatMul {
            transpose_a,
            transpose_b,
        }
        | Op::Fused(FusedOp::MatMul {
            transpose_a,
            transpose_b,
            ..
        }) => {
            let f = l.import("kiln_sgemm", &[l.module.target_config().pointer_type()])?;
            let (ta, tb) = (*transpose_a, *transpose_b);
            let (sa, sb) = (shapes[0].clone(), shapes[1].clone());
            let out = out_shape.clone();
            l.kernel(id, &locs, &[f], |k, b, f| {
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
        Op::Conv2d(attrs) | Op::Fused(FusedOp::Conv2d { attrs, .. }) => {
            let g = conv(attrs, shapes[0], shapes[1])?;
            // x = operand 0, w = operand 1, y = result.
            call_conv(l, id, "kiln_conv2d", g, [0, 1, 2], &locs)
        }
        Op::Conv2dBackpropInput { attrs, input_shape } => {
            let g = conv(attrs, input_shape, shapes[1])?;
            // dy = operand 0, w = operand 1, dx = result.
            call_conv(l, id, "kiln_conv2d_backprop_input", g, [2, 1, 0], &locs)
        }
        Op::Conv2dBackpropFilter {
            attrs,
            filter_shape,
        } => {
            let g = conv(attrs, shapes[0], filter_shape)?;
            // x = operand 0, dy = operand 1, dw = result.
            call_conv(l, id, "kiln_conv2d_backprop_filter", g, [0, 2, 1], &locs)
        }
        // Depthwise: the geometry's filter is the dense-equivalent `[kh, kw, c, c * m]`.
        Op::DepthwiseConv2d(attrs) | Op::Fused(FusedOp::DepthwiseConv2d { attrs, .. }) => {
            let (g, m) = depthwise(attrs, shapes[0], shapes[1])?;
            call_depthwise(l, id, "kiln_depthwise_conv2d", g, m, [0, 1, 2], &locs)
        }
        Op::DepthwiseConv2dBackpropInput { attrs, input_shape } => {
            let (g, m) = depthwise(attrs, input_shape, shapes[1])?;
            call_depthwise(
                l,
                id,
                "kiln_depthwise_conv2d_backprop_input",
                g,
                m,
                [2, 1, 0],
                &locs,
            )
        }
        Op::DepthwiseConv2dBackpropFilter {
            attrs,
            filter_shape,
        } => {
            let (g, m) = depthwise(attrs, shapes[0], filter_shape)?;
            call_depthwise(
                l,
                id,
                "kiln_depthwise_conv2d_backprop_filter",
                g,
                m,
                [0, 2, 1],
                &locs,
            )
        }
        other => Err(CodegenError::Unsupported {
            node: id.to_string(),
            op: ir::infer::op_name(other),
            msg: "not a contraction".into(),
        }),
    }
}

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

/// One `kiln_sgemm` call per matrix of the batch and chunk; a chunk then runs `epilogue`
/// (rank-2 products only) over its part of `C`.
fn matmul(
    k: &mut Kernel,
    f: cranelift_codegen::ir::FuncRef,
    a: (Value, &Shape, bool),
    b: (Value, &Shape, bool),
    c: (Value, &Shape),
    epilogue: Option<&Epilogue>,
) {
    let r = c.1.rank();
    let (m, n) = (c.1.dims()[r - 2], c.1.dims()[r - 1]);
    let (ra, ca) = (a.1.dims()[r - 2], a.1.dims()[r - 1]);
    let (rb, cb) = (b.1.dims()[r - 2], b.1.dims()[r - 1]);
    let kk = if a.2 { ra } else { ca };
    // A(i, l) is stored at i*ca + l, or at l*ca + i when transposed; likewise for B.
    let (a_rs, a_cs) = if a.2 { (1, ca) } else { (ca, 1) };
    let (b_rs, b_cs) = if b.2 { (1, cb) } else { (cb, 1) };
    let template = SgemmArgs {
        m,
        n,
        k: kk,
        a: std::ptr::null(),
        a_row_stride: a_rs,
        a_col_stride: a_cs,
        b: std::ptr::null(),
        b_row_stride: b_rs,
        b_col_stride: b_cs,
        c: std::ptr::null_mut(),
        c_row_stride: n,
        c_col_stride: 1,
        alpha: 1.0,
        beta: 0.0,
        // Chunks are the parallelism: each call runs on the thread that took its chunk.
        threads: 1,
    };
    let (n_chunks, axis) = split(m, n, kk, threads());
    k.n_chunks = n_chunks;
    let args = stack_struct(k, &words(&template));
    // This chunk's rows [r0, r1) and columns [c0, c1) of every matrix of C.
    let full_rows = (k.int(0), k.int(m as i64));
    let full_cols = (k.int(0), k.int(n as i64));
    let ((r0, r1), (c0, c1)) = if n_chunks <= 1 {
        (full_rows, full_cols)
    } else {
        let len = if axis == SplitAxis::Rows { m } else { n };
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
    };
    // Element offsets of this chunk's first A, B and C elements within one matrix.
    let a_off = k.b.ins().imul_imm_s(r0, a_rs as i64);
    let b_off = k.b.ins().imul_imm_s(c0, b_cs as i64);
    let c_off = k.b.ins().imul_imm_s(r0, n as i64);
    let c_off = k.b.ins().iadd(c_off, c0);
    let batch: usize = c.1.dims()[..r - 2].iter().product();
    k.for_n(batch, |k, i| {
        let at = |k: &mut Kernel, base: Value, matrix_len: usize, off: Value| {
            let pa = k.b.ins().imul_imm_s(i, matrix_len as i64);
            let pa = k.b.ins().iadd(pa, off);
            k.addr(base, pa)
        };
        let pa = at(k, a.0, ra * ca, a_off);
        let pb = at(k, b.0, rb * cb, b_off);
        let pc = at(k, c.0, m * n, c_off);
        put(k, args, offset_of!(SgemmArgs, a), pa);
        put(k, args, offset_of!(SgemmArgs, b), pb);
        put(k, args, offset_of!(SgemmArgs, c), pc);
        k.b.ins().call(f, &[args]);
    });
    if let Some(ep) = epilogue {
        epilogue_rect(k, ep, c, (r0, r1), (c0, c1));
    }
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
