//! naga validation of generated WGSL: every module is parsed and validated before a
//! pipeline is made from it, so a code generation bug is a [`GpuError::InvalidShader`]
//! naming the kernel, never a driver panic.

use naga::valid::{Capabilities, ValidationFlags, Validator};

use crate::error::{GpuError, Result};
use crate::kernel::Kernel;

/// Parse and validate `kernel`'s WGSL.
pub fn validate(kernel: &Kernel) -> Result<()> {
    let invalid = |msg: String| GpuError::InvalidShader {
        kernel: kernel.label.clone(),
        msg,
    };
    let module = naga::front::wgsl::parse_str(&kernel.wgsl)
        .map_err(|e| invalid(e.emit_to_string(&kernel.wgsl)))?;
    Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .map_err(|e| invalid(e.emit_to_string(&kernel.wgsl)))?;
    Ok(())
}
