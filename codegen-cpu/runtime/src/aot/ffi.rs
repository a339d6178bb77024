//! The C-ABI functions behind an ahead-of-time compiled model's exported wrappers. Each
//! `<model>_*` function of the object calls one of these, passing its model description
//! where needed. Failures return NULL or -1 and write the reason to stderr.

use std::ffi::{CStr, c_char};
use std::path::Path;

use super::desc::{self, ModelDesc};
use super::instance::{AotError, Instance, read_weights_file};

/// Report `err` on stderr and return `fallback`.
fn report<T>(err: AotError, fallback: T) -> T {
    eprintln!("kiln: {err}");
    fallback
}

/// A status code for C: 0 on success, -1 (reported on stderr) on failure.
fn status(result: Result<(), AotError>) -> i32 {
    result.map_or_else(|e| report(e, -1), |()| 0)
}

/// Make an instance of the model `desc` describes, its parameters read from the weights
/// file `weights_path` (little-endian f32s, every parameter in the model's order), or from
/// the values embedded in the object when `weights_path` is NULL. NULL on failure.
///
/// # Safety
/// `desc` must be the model description of a Kiln object; `weights_path` NULL or a
/// NUL-terminated path.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_aot_create(
    desc: *const ModelDesc,
    weights_path: *const c_char,
) -> *mut Instance {
    // SAFETY: the caller's contract.
    let Some(desc) = (unsafe { desc.as_ref() }) else {
        return report(AotError::Desc("NULL".into()), std::ptr::null_mut());
    };
    let made = if weights_path.is_null() {
        // SAFETY: the caller's contract: `desc` is a Kiln model description.
        unsafe { Instance::new(desc, None) }
    } else {
        // SAFETY: the caller's contract: a NUL-terminated path.
        let path = unsafe { CStr::from_ptr(weights_path) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: as above.
        let total: u64 = unsafe { desc::array(desc.params, desc.n_params) }
            .iter()
            .map(|p| p.len)
            .sum();
        read_weights_file(Path::new(&path), total as usize)
            .and_then(|w| unsafe { Instance::new(desc, Some(&w)) })
    };
    made.map_or_else(
        |e| report(e, std::ptr::null_mut()),
        |inst| Box::into_raw(Box::new(inst)),
    )
}

/// Free an instance made by [`kiln_aot_create`] (NULL is ignored).
///
/// # Safety
/// `inst` must be NULL or an instance from [`kiln_aot_create`] not yet destroyed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_aot_destroy(inst: *mut Instance) {
    if !inst.is_null() {
        // SAFETY: the caller's contract: made by `Box::into_raw` in `kiln_aot_create`.
        drop(unsafe { Box::from_raw(inst) });
    }
}

/// Run entry point `entry` of `inst`: `args` holds the entry's input pointers then its
/// output pointers, each buffer of the length the model's header states. 0 or -1.
///
/// # Safety
/// `inst` must be a live instance not used by another thread during the call; `args` must
/// hold one pointer per input and output, each to a buffer of the stated length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_aot_run(
    inst: *mut Instance,
    entry: u64,
    args: *const *mut f32,
) -> i32 {
    // SAFETY: the caller's contract.
    let Some(inst) = (unsafe { inst.as_mut() }) else {
        return report(AotError::Call("NULL instance".into()), -1);
    };
    let (n_in, n_out) = match inst.io_counts(entry as usize) {
        Ok(counts) => counts,
        Err(e) => return report(e, -1),
    };
    // SAFETY: the caller's contract: one pointer per input and output.
    let args = unsafe { desc::array(args, (n_in + n_out) as u64) };
    // SAFETY: the caller's contract: each buffer holds its stated length.
    status(unsafe { inst.run_pointers(entry as usize, args) })
}

/// Copy parameter `index`'s values into `dst` (its length as the header states). 0 or -1.
///
/// # Safety
/// `inst` must be a live instance; `dst` must hold the parameter's length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_aot_get_weights(
    inst: *const Instance,
    index: u64,
    dst: *mut f32,
) -> i32 {
    // SAFETY: the caller's contract.
    let Some(inst) = (unsafe { inst.as_ref() }) else {
        return report(AotError::Call("NULL instance".into()), -1);
    };
    status(inst.param(index as usize).and_then(|values| {
        if dst.is_null() {
            return Err(AotError::Call("NULL destination".into()));
        }
        // SAFETY: the caller's contract: `dst` holds the parameter's length.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), dst, values.len()) };
        Ok(())
    }))
}

/// Replace parameter `index`'s values with `src` (its length as the header states). 0 or -1.
///
/// # Safety
/// `inst` must be a live instance; `src` must hold the parameter's length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_aot_set_weights(
    inst: *mut Instance,
    index: u64,
    src: *const f32,
) -> i32 {
    // SAFETY: the caller's contract.
    let Some(inst) = (unsafe { inst.as_mut() }) else {
        return report(AotError::Call("NULL instance".into()), -1);
    };
    let len = match inst.param(index as usize) {
        Ok(values) => values.len(),
        Err(e) => return report(e, -1),
    };
    if src.is_null() {
        return report(AotError::Call("NULL source".into()), -1);
    }
    // SAFETY: the caller's contract: `src` holds the parameter's length.
    let values = unsafe { std::slice::from_raw_parts(src, len) }.to_vec();
    status(inst.set_param(index as usize, &values))
}

/// The index of the parameter called `name`, or -1 when there is none.
///
/// # Safety
/// `desc` must be the model description of a Kiln object; `name` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_aot_param_index(desc: *const ModelDesc, name: *const c_char) -> i64 {
    // SAFETY: the caller's contract.
    let (Some(desc), false) = (unsafe { desc.as_ref() }, name.is_null()) else {
        return -1;
    };
    // SAFETY: the caller's contract.
    let (params, wanted) = unsafe {
        (
            desc::array(desc.params, desc.n_params),
            CStr::from_ptr(name),
        )
    };
    // SAFETY: parameter names are NUL-terminated strings of the object.
    params
        .iter()
        .position(|p| !p.name.is_null() && unsafe { CStr::from_ptr(p.name) } == wanted)
        .map_or(-1, |i| i as i64)
}
