//! The model description an ahead-of-time compiled object embeds as read-only data, and
//! which the runtime reads: `#[repr(C)]` structs made only of 8-byte words (integers and
//! pointers), so the emitter writes them as little-endian words with relocations on 64-bit
//! targets. The emitter writes the fields in the order declared here; [`WORDS`] lists each
//! struct's size in words for it.
//!
//! An empty array is a null pointer with a zero count.

use std::ffi::c_char;

use crate::StepFn;

/// The version of this layout; the runtime refuses a description of another version.
pub const DESC_VERSION: u64 = 1;

/// `ValueDesc::slot` of a value that is a constant of the object (read through `data`).
pub const CONST_SLOT: u64 = u64::MAX;

/// A whole model: its parameters and its entry points (compiled steps).
#[repr(C)]
#[derive(Debug)]
pub struct ModelDesc {
    /// [`DESC_VERSION`].
    pub version: u64,
    /// Number of parameters (weights and optimizer state).
    pub n_params: u64,
    /// The parameters, in the model's order (the weights file's order).
    pub params: *const ParamDesc,
    /// Number of entry points.
    pub n_entries: u64,
    /// The entry points, in the order the wrappers index them.
    pub entries: *const EntryDesc,
}

/// One parameter of the model.
#[repr(C)]
#[derive(Debug)]
pub struct ParamDesc {
    /// Its name, NUL-terminated.
    pub name: *const c_char,
    /// Its number of f32 values.
    pub len: u64,
    /// Its embedded initial values (`len` f32s), or null when the weights are external.
    pub init: *const f32,
}

/// One compiled step and how to call it.
#[repr(C)]
#[derive(Debug)]
pub struct EntryDesc {
    /// The step function (see the table layout in the crate docs of the code generator).
    pub step: StepFn,
    /// f32s of scratch arena (table slot 0).
    pub arena_len: u64,
    /// f32s of kernel scratch (the last table slot).
    pub scratch_len: u64,
    /// Number of graph inputs (table slots `1..=n_inputs`).
    pub n_inputs: u64,
    /// Each input's number of f32s.
    pub input_lens: *const u64,
    /// Number of the step's parameters (the table slots after the inputs).
    pub n_params: u64,
    /// For each of the step's parameters, its index among the model's parameters.
    pub param_map: *const u64,
    /// Number of outputs.
    pub n_outputs: u64,
    /// Where each output is after the step.
    pub outputs: *const ValueDesc,
    /// Number of parameter updates not computed in place.
    pub n_updates: u64,
    /// Those updates: which step parameter receives which value.
    pub updates: *const UpdateDesc,
}

/// A value the step leaves somewhere: `len` f32s at `offset` of table slot `slot`, or of
/// `data` when `slot` is [`CONST_SLOT`].
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ValueDesc {
    /// The table slot, or [`CONST_SLOT`].
    pub slot: u64,
    /// Offset in f32s.
    pub offset: u64,
    /// Number of f32s.
    pub len: u64,
    /// The constant's data when `slot` is [`CONST_SLOT`], else null.
    pub data: *const f32,
}

/// A parameter update to copy after the step.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct UpdateDesc {
    /// The step's parameter index (not the model's) that receives the value.
    pub param: u64,
    /// Where the new value is.
    pub value: ValueDesc,
}

/// Size in 8-byte words of each description struct, for the emitter.
pub const WORDS: DescWords = DescWords {
    model: 5,
    param: 3,
    entry: 11,
    value: 4,
    update: 5,
};

/// Sizes in words of the description structs (see [`WORDS`]).
#[derive(Debug, Clone, Copy)]
pub struct DescWords {
    /// [`ModelDesc`].
    pub model: usize,
    /// [`ParamDesc`].
    pub param: usize,
    /// [`EntryDesc`].
    pub entry: usize,
    /// [`ValueDesc`].
    pub value: usize,
    /// [`UpdateDesc`].
    pub update: usize,
}

const _: () = {
    assert!(size_of::<ModelDesc>() == 8 * WORDS.model);
    assert!(size_of::<ParamDesc>() == 8 * WORDS.param);
    assert!(size_of::<EntryDesc>() == 8 * WORDS.entry);
    assert!(size_of::<ValueDesc>() == 8 * WORDS.value);
    assert!(size_of::<UpdateDesc>() == 8 * WORDS.update);
};

/// `n` elements at `ptr` as a slice; empty when `n` is zero (then `ptr` may be null).
///
/// # Safety
/// When `n > 0`, `ptr` must point to `n` initialised `T`s that live for `'a`.
pub(crate) unsafe fn array<'a, T>(ptr: *const T, n: u64) -> &'a [T] {
    if n == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(ptr, n as usize) }
    }
}
