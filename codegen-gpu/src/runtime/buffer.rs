//! Device buffers of a compiled step: the size of an f32, allocation within the device's
//! binding limit, and which buffer holds each storage space.

use super::{GpuExecutable, GpuState};
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::Space;

/// The size of one f32 value in bytes, the unit of every buffer offset.
pub(super) const F32: u64 = std::mem::size_of::<f32>() as u64;

impl Gpu {
    /// A device buffer of `len` f32 values (at least one, so it can be bound), refused
    /// when larger than the device binds.
    pub(crate) fn buffer(
        &self,
        name: &str,
        len: usize,
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer> {
        let bytes = len.max(1) as u64 * F32;
        let limit = self.max_binding_bytes();
        if bytes > limit {
            return Err(GpuError::BufferTooLarge {
                buffer: name.to_string(),
                bytes,
                limit,
            });
        }
        Ok(self.inner.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(name),
            size: bytes,
            usage,
            mapped_at_creation: false,
        }))
    }
}

impl GpuExecutable {
    /// The buffer of `space`: one of `state`'s, or one of this executable's constants.
    pub(super) fn buffer_of<'a>(&'a self, state: &'a GpuState, space: Space) -> &'a wgpu::Buffer {
        match space {
            Space::Arena => &state.arena,
            Space::Input(k) => &state.inputs[k],
            Space::Param(k) => &state.params[k].1,
            Space::Const(k) => &self.consts[k],
        }
    }
}
