//! Lowering of one node to Cranelift IR: the [`Kernel`] builder every op lowering uses
//! (loops, addresses, loads and stores, vector constants) and the per-op modules.
//!
//! Every kernel is a function `(table, chunk)`; see [`crate::abi`]. Op lowerings receive
//! the base pointers of their operands and of their result already resolved, and return
//! nothing: the chunk count was fixed by [`Kernel::chunks`] before they emitted code.

pub(crate) mod contraction;
pub(crate) mod elementwise;
pub(crate) mod indexing;
pub(crate) mod math;
pub(crate) mod movement;
pub(crate) mod multi;
pub(crate) mod nest;
pub(crate) mod pool;
pub(crate) mod program;
pub(crate) mod random;
pub(crate) mod reduce;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F32, F32X4, I32, I32X4, I64};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::{FunctionBuilder, Variable};

/// Kernels with at least this many output elements are split into chunks for the pool
/// (with the pool's spinning workers, chunking the MLP's 300x100 Adam updates and its
/// [100, 300] activations too made its step about 2% faster than from 32k elements).
pub(crate) const PARALLEL_MIN_ELEMENTS: usize = 1 << 14;
/// The most chunks one kernel is split into.
pub(crate) const MAX_CHUNKS: usize = 8;

/// A kernel function under construction.
pub(crate) struct Kernel<'a> {
    /// The Cranelift function builder, positioned in the current block.
    pub b: FunctionBuilder<'a>,
    /// The pointer type.
    pub ptr: Type,
    /// The chunk this call runs (an `i64` parameter).
    pub chunk: Value,
    /// The number of chunks (decided by the op lowering through [`Kernel::chunks`]).
    pub n_chunks: usize,
}

impl<'a> Kernel<'a> {
    /// Decide how many chunks a kernel whose outermost parallel loop has `outer` iterations
    /// and which produces `work` elements is split into.
    pub fn chunks(&mut self, outer: usize, work: usize) -> usize {
        let n = if work >= PARALLEL_MIN_ELEMENTS {
            outer.clamp(1, MAX_CHUNKS)
        } else {
            1
        };
        self.n_chunks = n;
        n
    }

    /// The half-open range `[lo, hi)` of `0..total` this call's chunk covers.
    pub fn chunk_range(&mut self, total: usize) -> (Value, Value) {
        if self.n_chunks <= 1 {
            return (self.int(0), self.int(total as i64));
        }
        let n = self.n_chunks as i64;
        let lo = self.b.ins().imul_imm_s(self.chunk, total as i64);
        let lo = self.b.ins().udiv_imm_u(lo, n);
        let next = self.b.ins().iadd_imm_s(self.chunk, 1);
        let hi = self.b.ins().imul_imm_s(next, total as i64);
        let hi = self.b.ins().udiv_imm_u(hi, n);
        (lo, hi)
    }

    /// An `i64` constant.
    pub fn int(&mut self, v: i64) -> Value {
        self.b.ins().iconst(I64, v)
    }

    /// An `f32` constant.
    pub fn f32(&mut self, v: f32) -> Value {
        self.b.ins().f32const(v)
    }

    /// An `f32x4` with every lane `v`.
    pub fn splat(&mut self, v: f32) -> Value {
        let s = self.f32(v);
        self.b.ins().splat(F32X4, s)
    }

    /// An `i32x4` with every lane `v`.
    pub fn splat_i32(&mut self, v: i32) -> Value {
        let s = self.b.ins().iconst(I32, v as i64);
        self.b.ins().splat(I32X4, s)
    }

    /// The address of element `index` (an `i64` element index) of the buffer at `base`.
    pub fn addr(&mut self, base: Value, index: Value) -> Value {
        let bytes = self.b.ins().ishl_imm_u(index, 2);
        self.b.ins().iadd(base, bytes)
    }

    /// Load one f32 at element `index` of `base`.
    pub fn load(&mut self, base: Value, index: Value) -> Value {
        let a = self.addr(base, index);
        self.b.ins().load(F32, mem(), a, 0)
    }

    /// Load four consecutive f32s starting at element `index` of `base`.
    pub fn load4(&mut self, base: Value, index: Value) -> Value {
        let a = self.addr(base, index);
        self.b.ins().load(F32X4, mem(), a, 0)
    }

    /// Store `v` (an f32 or f32x4) at element `index` of `base`.
    pub fn store(&mut self, v: Value, base: Value, index: Value) {
        let a = self.addr(base, index);
        self.b.ins().store(mem(), v, a, 0);
    }

    /// A fresh variable of type `ty` holding `init`.
    pub fn var(&mut self, ty: Type, init: Value) -> Variable {
        let v = self.b.declare_var(ty);
        self.b.def_var(v, init);
        v
    }

    /// Emit `for i in (lo..hi).step_by(step) while i + step <= hi { body(i) }` and return
    /// the first `i` not run (where a tail loop starts).
    pub fn for_range(
        &mut self,
        lo: Value,
        hi: Value,
        step: i64,
        body: impl FnOnce(&mut Self, Value),
    ) -> Value {
        let header = self.b.create_block();
        let body_block = self.b.create_block();
        let exit = self.b.create_block();
        let i = self.b.append_block_param(header, I64);
        self.b.ins().jump(header, &[lo.into()]);
        self.b.switch_to_block(header);
        let next = self.b.ins().iadd_imm_s(i, step);
        let go = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, next, hi);
        self.b.ins().brif(go, body_block, &[], exit, &[]);
        self.b.switch_to_block(body_block);
        body(self, i);
        let next = self.b.ins().iadd_imm_s(i, step);
        self.b.ins().jump(header, &[next.into()]);
        self.b.switch_to_block(exit);
        i
    }

    /// `for i in 0..n { body(i) }` with a static trip count.
    pub fn for_n(&mut self, n: usize, body: impl FnOnce(&mut Self, Value)) {
        let (lo, hi) = (self.int(0), self.int(n as i64));
        self.for_range(lo, hi, 1, body);
    }

    /// `a * c + b` on `i64` values with a constant `c` (skips the work when `c` is 0 or 1).
    pub fn mul_add(&mut self, a: Value, c: i64, b: Value) -> Value {
        match c {
            0 => b,
            1 => self.b.ins().iadd(a, b),
            _ => {
                let p = self.b.ins().imul_imm_s(a, c);
                self.b.ins().iadd(p, b)
            }
        }
    }

    /// Bitwise reinterpretation between the vector types (`f32x4` <-> `i32x4`).
    pub fn cast(&mut self, ty: Type, v: Value) -> Value {
        self.b.ins().bitcast(ty, MemFlagsData::new(), v)
    }

    /// Lane-wise `mask ? a : b` for an `i32x4` mask (all-ones lanes select `a`).
    pub fn blend(&mut self, mask: Value, a: Value, b: Value) -> Value {
        let ty = self.b.func.dfg.value_type(a);
        let m = if self.b.func.dfg.value_type(mask) == ty {
            mask
        } else {
            self.cast(ty, mask)
        };
        self.b.ins().bitselect(m, a, b)
    }
}

/// Flags of every load and store: in bounds by construction, not necessarily aligned.
pub(crate) fn mem() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}
