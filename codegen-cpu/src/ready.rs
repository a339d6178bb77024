//! Ready hooks: a step compiled with them ([`crate::compile_with_ready_hooks`]) calls
//! `kiln_output_ready(index)` right after the kernel that finishes output `index`, so a caller
//! can use an output (start a gradient allreduce) while the rest of the step still runs.
//!
//! The step runs on the calling thread (only a kernel's chunks go to the worker pool, and
//! `kiln_parallel_for` returns after all of them), so the listener is a thread-local set for
//! the duration of one call ([`with_listener`]); between two kernels nothing else touches the
//! step's buffers. A panic in the listener is caught in the hook (it must not unwind through
//! compiled code) and raised again once the step has returned. This file does NOT decide
//! where the hooks go (`module::lower_graph` does, from the node order) and is JIT-only:
//! objects for AOT never import the symbol.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// The runtime symbol a step compiled with ready hooks calls after finishing an output.
pub const OUTPUT_READY_SYMBOL: &str = "kiln_output_ready";

/// The listener type, with its lifetime erased while it sits in the thread-local.
type Listener = *mut (dyn FnMut(usize) + 'static);

thread_local! {
    static LISTENER: Cell<Option<Listener>> = const { Cell::new(None) };
    static PANIC: RefCell<Option<Box<dyn Any + Send>>> = const { RefCell::new(None) };
}

/// The hook compiled steps call: hands `index` to this thread's listener, if any. Once the
/// listener has panicked, later hooks of the same call do nothing.
pub extern "C" fn kiln_output_ready(index: i64) {
    let Some(listener) = LISTENER.with(Cell::get) else {
        return;
    };
    if PANIC.with(|p| p.borrow().is_some()) {
        return;
    }
    let index = usize::try_from(index).expect("output indices are non-negative");
    // SAFETY: `with_listener` set the pointer from a live `&mut` that outlives the step call
    // this hook runs inside, and clears it before that borrow ends; the hook is not re-entered
    // (the listener does not run compiled steps with hooks on this thread: `with_listener`
    // saves and restores an outer listener if it does).
    let result = catch_unwind(AssertUnwindSafe(|| unsafe { (*listener)(index) }));
    if let Err(payload) = result {
        PANIC.with(|p| *p.borrow_mut() = Some(payload));
    }
}

/// Runs `body` (a call of a compiled step) with `listener` receiving this thread's ready
/// hooks; a panic of the listener is raised again after `body` returns.
pub(crate) fn with_listener<R>(listener: &mut dyn FnMut(usize), body: impl FnOnce() -> R) -> R {
    let raw: *mut (dyn FnMut(usize) + '_) = listener;
    // SAFETY: only the lifetime is erased; `Restore` removes the pointer from the thread-local
    // when this function returns or unwinds, before `listener`'s borrow ends.
    let raw: Listener = unsafe { std::mem::transmute(raw) };
    let restore = Restore {
        listener: LISTENER.with(|l| l.replace(Some(raw))),
        panic: PANIC.with(|p| p.borrow_mut().take()),
    };
    let result = body();
    let panic = restore.finish();
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
    result
}

/// The outer listener and panic slot, put back on drop (also when the step call unwinds).
struct Restore {
    listener: Option<Listener>,
    panic: Option<Box<dyn Any + Send>>,
}

impl Restore {
    /// Takes the listener's panic of this call, if any, and puts the outer state back.
    fn finish(self) -> Option<Box<dyn Any + Send>> {
        PANIC.with(|p| p.borrow_mut().take())
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        LISTENER.with(|l| l.set(self.listener.take()));
        let outer = self.panic.take();
        PANIC.with(|p| *p.borrow_mut() = outer);
    }
}
