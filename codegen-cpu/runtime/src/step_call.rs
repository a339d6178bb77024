//! Calling a compiled step ([`StepFn`]) with its table of buffer pointers built on the
//! stack: the JIT's `Executable` and the AOT `Instance` run a step per call, and a
//! latency-bound caller (a batch-1 prediction) should not allocate for it.
//!
//! It does NOT check the buffers: the callers know their lengths from the memory plan.

use crate::StepFn;

/// Tables of up to this many slots (arena, inputs, parameters, scratch) live on the stack;
/// larger ones (models with more parameters) are allocated.
pub const INLINE_SLOTS: usize = 64;

/// Call `step` with the table made of `slots`, in order.
///
/// # Safety
/// The pointers must satisfy `step`'s contract: each slot a buffer of the length the step's
/// memory plan promises, writable where the step writes.
pub unsafe fn call_step(step: StepFn, slots: impl IntoIterator<Item = *mut f32>) {
    let mut inline = [std::ptr::null_mut::<f32>(); INLINE_SLOTS];
    let mut spilled: Vec<*mut f32> = Vec::new();
    let mut len = 0;
    for slot in slots {
        if len < INLINE_SLOTS {
            inline[len] = slot;
        } else {
            if spilled.is_empty() {
                spilled.extend_from_slice(&inline);
            }
            spilled.push(slot);
        }
        len += 1;
    }
    let table = if len <= INLINE_SLOTS {
        inline.as_ptr()
    } else {
        spilled.as_ptr()
    };
    // SAFETY: the caller's contract; `table` holds every slot and outlives the call.
    unsafe { step(table) };
}
