//! Model instances over a hand-written model description: a step that doubles its input
//! into the arena and leaves `param + input` as a copied update; outputs, updates, weights
//! and every refusal (layout version, lengths, indices, weights file size).

use std::ffi::c_char;

use kiln_cpu_runtime::aot::desc::{
    CONST_SLOT, DESC_VERSION, EntryDesc, ModelDesc, ParamDesc, UpdateDesc, ValueDesc,
};
use kiln_cpu_runtime::aot::{AotError, Instance};

const N: usize = 3;

/// Table: `[arena (2N), input (N), param (N), scratch]`; arena[..N] = 2 * input,
/// arena[N..] = param + input.
unsafe extern "C" fn step(table: *const *mut f32) {
    // SAFETY: the description below promises these buffer lengths.
    unsafe {
        let (arena, input, param) = (*table, *table.add(1), *table.add(2));
        for i in 0..N {
            *arena.add(i) = 2.0 * *input.add(i);
            *arena.add(N + i) = *param.add(i) + *input.add(i);
        }
    }
}

static NAME: [u8; 2] = *b"p\0";
static INIT: [f32; N] = [1.0, 2.0, 3.0];
static CONST: [f32; 2] = [7.0, 8.0];
static INPUT_LENS: [u64; 1] = [N as u64];
static PARAM_MAP: [u64; 1] = [0];

fn leak<T>(v: Vec<T>) -> *const T {
    Box::leak(v.into_boxed_slice()).as_ptr()
}

fn model(version: u64, init: *const f32) -> &'static ModelDesc {
    let outputs = leak(vec![
        ValueDesc {
            slot: 0,
            offset: 0,
            len: N as u64,
            data: std::ptr::null(),
        },
        ValueDesc {
            slot: CONST_SLOT,
            offset: 0,
            len: 2,
            data: CONST.as_ptr(),
        },
    ]);
    let updates = leak(vec![UpdateDesc {
        param: 0,
        value: ValueDesc {
            slot: 0,
            offset: N as u64,
            len: N as u64,
            data: std::ptr::null(),
        },
    }]);
    let entry = EntryDesc {
        step,
        arena_len: 2 * N as u64,
        scratch_len: 0,
        n_inputs: 1,
        input_lens: INPUT_LENS.as_ptr(),
        n_params: 1,
        param_map: PARAM_MAP.as_ptr(),
        n_outputs: 2,
        outputs,
        n_updates: 1,
        updates,
    };
    let params = leak(vec![ParamDesc {
        name: NAME.as_ptr() as *const c_char,
        len: N as u64,
        init,
    }]);
    Box::leak(Box::new(ModelDesc {
        version,
        n_params: 1,
        params,
        n_entries: 1,
        entries: leak(vec![entry]),
    }))
}

#[test]
fn a_step_writes_outputs_and_copies_its_update_back() {
    // SAFETY: the description is well formed and lives forever.
    let mut inst = unsafe { Instance::new(model(DESC_VERSION, INIT.as_ptr()), None) }.unwrap();
    assert_eq!(inst.io_lens(0).unwrap(), (vec![N], vec![N, 2]));
    let (mut doubled, mut constant) = ([0.0; N], [0.0; 2]);
    inst.run(0, &[&[1.0, -1.0, 0.5]], &mut [&mut doubled, &mut constant])
        .unwrap();
    assert_eq!(doubled, [2.0, -2.0, 1.0]);
    assert_eq!(constant, CONST);
    assert_eq!(inst.param(0).unwrap(), [2.0, 1.0, 3.5]);
    assert_eq!(inst.param_index("p"), Some(0));
    inst.set_param(0, &[0.0; N]).unwrap();
    inst.run(0, &[&[1.0; N]], &mut [&mut doubled, &mut constant])
        .unwrap();
    assert_eq!(inst.param(0).unwrap(), [1.0; N]);
}

#[test]
fn refusals_name_what_is_wrong() {
    // SAFETY: as above (the version is checked before anything is read).
    let old = unsafe { Instance::new(model(DESC_VERSION + 1, INIT.as_ptr()), None) };
    assert!(matches!(old, Err(AotError::Desc(m)) if m.contains("version")));
    // SAFETY: as above.
    let external = unsafe { Instance::new(model(DESC_VERSION, std::ptr::null()), None) };
    assert!(matches!(external, Err(AotError::NoWeights)));
    // SAFETY: as above.
    let mut inst =
        unsafe { Instance::new(model(DESC_VERSION, std::ptr::null()), Some(&[5.0; N])) }.unwrap();
    assert_eq!(inst.param(0).unwrap(), [5.0; N]);
    let (mut a, mut b) = ([0.0; N], [0.0; 2]);
    assert!(
        matches!(inst.run(0, &[&[1.0; 2]], &mut [&mut a, &mut b]), Err(AotError::Call(m)) if m.contains("[3]"))
    );
    assert!(inst.run(1, &[&[1.0; N]], &mut [&mut a, &mut b]).is_err());
    assert!(inst.set_param(0, &[1.0; 2]).is_err() && inst.set_param(1, &[1.0; N]).is_err());
    let path = std::env::temp_dir().join(format!("kiln-weights-{}", std::process::id()));
    std::fs::write(&path, [0u8; 8]).unwrap();
    let short = kiln_cpu_runtime::aot::instance::read_weights_file(&path, N);
    assert!(
        matches!(short, Err(AotError::Weights { msg, .. }) if msg.contains("holds 8 bytes, expected 12"))
    );
    std::fs::write(
        &path,
        [1.0f32, 2.0, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    assert_eq!(
        kiln_cpu_runtime::aot::instance::read_weights_file(&path, N).unwrap(),
        [1.0, 2.0, 3.0]
    );
    std::fs::remove_file(&path).ok();
}
