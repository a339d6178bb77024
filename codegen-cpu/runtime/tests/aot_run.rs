//! `kiln_aot_run`, the C entry an AOT model's `<model>_infer` calls, over a hand-written
//! inference description (no parameter updates) whose outputs come from every kind of
//! place — the arena, an embedded constant, an input slot and a parameter slot: the values
//! it writes equal `Instance::run`'s, a NULL buffer or an unknown entry is refused, and a
//! call allocates nothing (counted by this test binary's global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::c_char;

use kiln_cpu_runtime::aot::Instance;
use kiln_cpu_runtime::aot::desc::{
    CONST_SLOT, DESC_VERSION, EntryDesc, ModelDesc, ParamDesc, ValueDesc,
};
use kiln_cpu_runtime::aot::ffi::{kiln_aot_create, kiln_aot_destroy, kiln_aot_run};

/// Counts the calling thread's allocations (frees are not counted).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const N: usize = 4;

/// Table `[arena (N), input (N), param (N), scratch]`: arena = 2 * input + param.
unsafe extern "C" fn step(table: *const *mut f32) {
    // SAFETY: the description below promises these buffer lengths.
    unsafe {
        let (arena, input, param) = (*table, *table.add(1), *table.add(2));
        for i in 0..N {
            *arena.add(i) = 2.0 * *input.add(i) + *param.add(i);
        }
    }
}

static NAME: [u8; 2] = *b"w\0";
static INIT: [f32; N] = [0.5, 1.5, 2.5, 3.5];
static CONST: [f32; 3] = [7.0, 8.0, 9.0];
static INPUT_LENS: [u64; 1] = [N as u64];
static PARAM_MAP: [u64; 1] = [0];

fn leak<T>(v: Vec<T>) -> *const T {
    Box::leak(v.into_boxed_slice()).as_ptr()
}

fn value(slot: u64, offset: u64, len: u64) -> ValueDesc {
    ValueDesc {
        slot,
        offset,
        len,
        data: std::ptr::null(),
    }
}

/// Outputs: the arena, the constant, input elements 1..3, the parameter.
fn model() -> &'static ModelDesc {
    let mut constant = value(CONST_SLOT, 0, 3);
    constant.data = CONST.as_ptr();
    let outputs = leak(vec![
        value(0, 0, N as u64),
        constant,
        value(1, 1, 2),
        value(2, 0, N as u64),
    ]);
    let entry = EntryDesc {
        step,
        arena_len: N as u64,
        scratch_len: 0,
        n_inputs: 1,
        input_lens: INPUT_LENS.as_ptr(),
        n_params: 1,
        param_map: PARAM_MAP.as_ptr(),
        n_outputs: 4,
        outputs,
        n_updates: 0,
        updates: std::ptr::null(),
    };
    Box::leak(Box::new(ModelDesc {
        version: DESC_VERSION,
        n_params: 1,
        params: leak(vec![ParamDesc {
            name: NAME.as_ptr() as *const c_char,
            len: N as u64,
            init: INIT.as_ptr(),
        }]),
        n_entries: 1,
        entries: leak(vec![entry]),
    }))
}

/// The four output buffers.
struct Outputs {
    arena: [f32; N],
    constant: [f32; 3],
    input_part: [f32; 2],
    param: [f32; N],
}

impl Outputs {
    fn new() -> Self {
        Outputs {
            arena: [f32::NAN; N],
            constant: [f32::NAN; 3],
            input_part: [f32::NAN; 2],
            param: [f32::NAN; N],
        }
    }

    /// The argument array of `kiln_aot_run`: the input, then the outputs.
    fn args(&mut self, x: &[f32; N]) -> [*mut f32; 5] {
        [
            x.as_ptr().cast_mut(),
            self.arena.as_mut_ptr(),
            self.constant.as_mut_ptr(),
            self.input_part.as_mut_ptr(),
            self.param.as_mut_ptr(),
        ]
    }
}

#[test]
fn the_c_entry_writes_what_instance_run_writes() {
    let x = [1.0, -2.0, 3.0, 0.25];
    // SAFETY: a well-formed description that lives forever; embedded weights.
    let inst = unsafe { kiln_aot_create(model(), std::ptr::null()) };
    assert!(!inst.is_null());
    let mut got = Outputs::new();
    let args = got.args(&x);
    // SAFETY: one buffer per input and output, of the stated lengths.
    assert_eq!(unsafe { kiln_aot_run(inst, 0, args.as_ptr()) }, 0);
    assert_eq!(got.arena, [2.5, -2.5, 8.5, 4.0]);
    assert_eq!(got.constant, CONST);
    assert_eq!(got.input_part, [-2.0, 3.0]);
    assert_eq!(got.param, INIT);

    // SAFETY: as above.
    let mut safe = unsafe { Instance::new(model(), None) }.unwrap();
    let mut want = Outputs::new();
    safe.run(
        0,
        &[&x],
        &mut [
            &mut want.arena,
            &mut want.constant,
            &mut want.input_part,
            &mut want.param,
        ],
    )
    .unwrap();
    assert_eq!(
        (got.arena, got.constant, got.input_part, got.param),
        (want.arena, want.constant, want.input_part, want.param)
    );
    // SAFETY: made above, destroyed once.
    unsafe { kiln_aot_destroy(inst) };
}

#[test]
fn null_buffers_and_unknown_entries_are_refused() {
    let x = [0.0; N];
    // SAFETY: a well-formed description that lives forever; embedded weights.
    let inst = unsafe { kiln_aot_create(model(), std::ptr::null()) };
    let mut out = Outputs::new();
    let mut args = out.args(&x);
    args[3] = std::ptr::null_mut();
    // SAFETY: the NULL is refused before any buffer is used.
    assert_eq!(unsafe { kiln_aot_run(inst, 0, args.as_ptr()) }, -1);
    let args = out.args(&x);
    // SAFETY: entry 1 does not exist and is refused.
    assert_eq!(unsafe { kiln_aot_run(inst, 1, args.as_ptr()) }, -1);
    // SAFETY: made above, destroyed once.
    unsafe { kiln_aot_destroy(inst) };
}

#[test]
fn a_call_allocates_nothing() {
    let x = [1.0; N];
    // SAFETY: a well-formed description that lives forever; embedded weights.
    let inst = unsafe { kiln_aot_create(model(), std::ptr::null()) };
    let mut out = Outputs::new();
    let args = out.args(&x);
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..100 {
        // SAFETY: one buffer per input and output, of the stated lengths.
        assert_eq!(unsafe { kiln_aot_run(inst, 0, args.as_ptr()) }, 0);
    }
    assert_eq!(ALLOCATIONS.with(Cell::get) - before, 0);
    // SAFETY: made above, destroyed once.
    unsafe { kiln_aot_destroy(inst) };
}
