//! `random_uniform`: the counter-based generator of [`ir::random`], bit for bit, as integer
//! CLIF (`mix32` is two multiplies and three xor-shifts).

use cranelift_codegen::ir::types::{F32, I32};
use cranelift_codegen::ir::{InstBuilder, Value};

use super::Kernel;

/// One round of the lowbias32 mixer on an `i32` value.
fn mix32(k: &mut Kernel, x: Value) -> Value {
    let mut x = x;
    for (shift, mul) in [
        (16, Some(0x7feb_352d_u32)),
        (15, Some(0x846c_a68b)),
        (16, None),
    ] {
        let s = k.b.ins().ushr_imm_u(x, shift);
        x = k.b.ins().bxor(x, s);
        if let Some(m) = mul {
            x = k.b.ins().imul_imm_u(x, m as i64);
        }
    }
    x
}

/// `out[i] = ir::random::uniform(seed, i)` for `i < len`; `seed` points at one f32.
pub(crate) fn lower(k: &mut Kernel, seed: Value, out: Value, len: usize) {
    k.chunks(len / 4096, len);
    let zero = k.int(0);
    let s = k.load(seed, zero);
    let floor = k.f32(0.0);
    let s = k.b.ins().fmax(s, floor);
    let s = k.b.ins().fcvt_to_uint_sat(I32, s);
    let s = k.b.ins().iadd_imm_u(s, 0x9e37_79b9_u32 as i64);
    let hashed_seed = mix32(k, s);
    let (lo, hi) = k.chunk_range(len);
    k.for_range(lo, hi, 1, |k, i| {
        let i32v = k.b.ins().ireduce(I32, i);
        let x = k.b.ins().bxor(i32v, hashed_seed);
        let bits = mix32(k, x);
        let top = k.b.ins().ushr_imm_u(bits, 8);
        let f = k.b.ins().fcvt_from_uint(F32, top);
        let scale = k.f32(1.0 / 16_777_216.0);
        let v = k.b.ins().fmul(f, scale);
        k.store(v, out, i);
    });
}
