//! The C-ABI entry points of the three convolution passes (`kiln_conv2d*`, `no_mangle`):
//! each runs [`conv2d_raw`] on the [`Conv2dArgs`] it is given and turns the result into a
//! `KILN_*` status.

use super::args::{Conv2dArgs, ConvPass, KILN_INVALID_GEOMETRY, KILN_OK, KILN_SCRATCH_TOO_SMALL};
use super::passes::conv2d_raw;
use crate::contract::error::ContractError;

/// C-ABI forward convolution; returns a `KILN_*` status and touches nothing unless `KILN_OK`.
///
/// # Safety
/// `p` points to a valid [`Conv2dArgs`] satisfying [`conv2d_raw`]'s contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_conv2d(p: *const Conv2dArgs) -> i32 {
    // SAFETY: forwarded caller contract.
    unsafe { status(conv2d_raw(ConvPass::Forward, &*p)) }
}

/// C-ABI convolution backprop to the input; returns a `KILN_*` status.
///
/// # Safety
/// `p` points to a valid [`Conv2dArgs`] satisfying [`conv2d_raw`]'s contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_conv2d_backprop_input(p: *const Conv2dArgs) -> i32 {
    // SAFETY: forwarded caller contract.
    unsafe { status(conv2d_raw(ConvPass::BackpropInput, &*p)) }
}

/// C-ABI convolution backprop to the filter; returns a `KILN_*` status.
///
/// # Safety
/// `p` points to a valid [`Conv2dArgs`] satisfying [`conv2d_raw`]'s contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_conv2d_backprop_filter(p: *const Conv2dArgs) -> i32 {
    // SAFETY: forwarded caller contract.
    unsafe { status(conv2d_raw(ConvPass::BackpropFilter, &*p)) }
}

fn status(result: Result<(), ContractError>) -> i32 {
    match result {
        Ok(()) => KILN_OK,
        Err(ContractError::OperandTooShort { .. }) => KILN_SCRATCH_TOO_SMALL,
        Err(_) => KILN_INVALID_GEOMETRY,
    }
}
