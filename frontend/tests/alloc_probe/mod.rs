//! A global allocator for the hostile-file tests: it passes every request to the system
//! allocator and records, for the current thread, the largest single allocation and the
//! bytes held (and their peak), so a test can assert that a loader reserved no more than its
//! input justifies (a config asking for a huge layer must be refused before its weights are
//! allocated; a gzip bomb must not be inflated into memory).
//!
//! What it does not do: limit allocations, or see other threads' allocations.
//!
//! Use: `mod alloc_probe;` and
//! `#[global_allocator] static PROBE: alloc_probe::Probe = alloc_probe::Probe;` in the test
//! file, then [`largest_allocation`] or [`peak_held`] around the call under test.

#![allow(dead_code)] // each test file uses its own subset

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The recording allocator (install it with `#[global_allocator]`).
pub struct Probe;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static HELD: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// Records that this thread's holding changed from `old` to `new` bytes for one block.
fn note(old: usize, new: usize) {
    // `try_with`: never fails inside the allocator, even while the thread is torn down.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(new)));
    let _ = HELD.try_with(|held| {
        held.set((held.get() + new).saturating_sub(old));
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(held.get())));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; recording
// a size touches only a const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Probe {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(0, layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(0, layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = HELD.try_with(|held| held.set(held.get().saturating_sub(layout.size())));
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout.size(), new_size);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with the size in bytes of the largest single allocation
/// made on this thread while it ran.
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

/// Runs `f` and returns its result with the most bytes this thread held, above what it held
/// before, while it ran.
pub fn peak_held<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = HELD.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    let out = f();
    (out, PEAK.with(Cell::get).saturating_sub(base))
}
