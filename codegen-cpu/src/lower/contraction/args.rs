//! The kernels' `#[repr(C)]` argument structs in generated code: a struct's words as a
//! compile-time template, its stack slot, the pointer fields stored at run time, the
//! `threads` count the kernels get, and the kernel that fills a struct and calls a
//! `kiln_*` symbol with it.

use std::mem::size_of;

use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{InstBuilder, StackSlotData, StackSlotKind, Value};
use cranelift_module::Module;
use ir::NodeId;

use crate::abi::Loc;
use crate::error::Result;
use crate::lower::Kernel;
use crate::lowerer::Lowerer;

/// Threads the contraction kernels may use (they split large products themselves).
pub(super) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 8-byte words of a plain `#[repr(C)]` argument struct.
///
/// Only used on `SgemmArgs`, `Conv2dArgs` and `DepthwiseArgs`, whose fields are all 8 bytes wide except
/// `SgemmArgs`' two adjacent `f32`s, so neither has padding bytes.
pub(super) fn words<T: Copy>(value: &T) -> Vec<u64> {
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
pub(super) fn stack_struct(k: &mut Kernel, template: &[u64]) -> Value {
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
pub(super) fn put(k: &mut Kernel, at: Value, offset: usize, v: Value) {
    k.b.ins().store(crate::lower::mem(), v, at, offset as i32);
}

/// A kernel that fills an argument struct from `template`, stores the buffer of `locs[i]`
/// at byte offset `fields[i]`, and calls `symbol` with the struct's address.
pub(super) fn call_with_args<M: Module>(
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
