//! A caller's device state: [`GpuExecutable::new_state`] creates the parameter, input,
//! arena, read-back and staging buffers and the bind groups tying them to the kernels;
//! [`GpuState`] sets and reads back parameters.

use super::buffer::F32;
use super::{GpuExecutable, GpuState};
use crate::error::{GpuError, Result};
use crate::kernel::Space;

impl GpuExecutable {
    /// Fresh device buffers: every parameter zero, the arena, input and read-back buffers,
    /// and the bind groups of every kernel.
    pub fn new_state(&self) -> Result<GpuState> {
        let gpu = &self.gpu;
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let params = self
            .params
            .iter()
            .map(|p| {
                Ok((
                    p.name.clone(),
                    gpu.buffer(&format!("parameter `{}`", p.name), p.shape.numel(), usage)?,
                    p.shape.numel(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let inputs = self
            .inputs
            .iter()
            .map(|l| gpu.buffer(&format!("input `{}`", l.name), l.shape.numel(), usage))
            .collect::<Result<Vec<_>>>()?;
        let arena = gpu.buffer("arena", self.arena_len, usage)?;
        let (readback, readback_len) = self.readback_buffer();
        let update_staging = self.update_staging(usage)?;
        let mut state = GpuState {
            gpu: gpu.clone(),
            params,
            inputs,
            arena,
            readback,
            readback_len,
            update_staging,
            bind_groups: Vec::new(),
        };
        state.bind_groups = self.bind_groups(&state)?;
        Ok(state)
    }

    /// The read-back buffer and its length in values: room for all outputs of a step, or for
    /// the largest parameter (read back alone by [`GpuState::param`]).
    fn readback_buffer(&self) -> (wgpu::Buffer, usize) {
        let readback_len = self
            .outputs
            .iter()
            .map(|(_, _, s)| s.numel())
            .sum::<usize>()
            .max(
                self.params
                    .iter()
                    .map(|p| p.shape.numel())
                    .max()
                    .unwrap_or(0),
            );
        let readback = self
            .gpu
            .inner
            .device
            .create_buffer(&wgpu::BufferDescriptor {
                label: Some("read-back"),
                size: readback_len.max(1) as u64 * F32,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
        (readback, readback_len)
    }

    /// The staging buffer for copied updates whose value lives in a parameter, if any does.
    fn update_staging(&self, usage: wgpu::BufferUsages) -> Result<Option<wgpu::Buffer>> {
        let staged: usize = self
            .copied_updates
            .iter()
            .filter(|u| matches!(u.from.space, Space::Param(_)))
            .map(|u| u.len)
            .sum();
        if staged > 0 {
            Ok(Some(self.gpu.buffer("update staging", staged, usage)?))
        } else {
            Ok(None)
        }
    }

    /// One bind group per kernel, binding `state`'s buffers, created inside an error scope.
    fn bind_groups(&self, state: &GpuState) -> Result<Vec<wgpu::BindGroup>> {
        let device = &self.gpu.inner.device;
        self.gpu.checked("bind groups", || {
            self.pipelines
                .iter()
                .map(|p| {
                    let entries: Vec<wgpu::BindGroupEntry> = p
                        .kernel
                        .bindings
                        .iter()
                        .enumerate()
                        .map(|(i, b)| wgpu::BindGroupEntry {
                            binding: i as u32,
                            resource: self.buffer_of(state, b.space).as_entire_binding(),
                        })
                        .collect();
                    device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(&p.kernel.label),
                        layout: &p.layout,
                        entries: &entries,
                    })
                })
                .collect()
        })
    }
}

impl GpuState {
    fn param_buffer(&self, name: &str) -> Result<(&wgpu::Buffer, usize)> {
        self.params
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, b, len)| (b, *len))
            .ok_or_else(|| GpuError::Param {
                name: name.into(),
                msg: "no such parameter".into(),
            })
    }

    /// Replace the value of parameter `name` (uploaded before the next step); the length
    /// must match its shape.
    pub fn set_param(&mut self, name: &str, value: &[f32]) -> Result<()> {
        let (buffer, len) = self.param_buffer(name)?;
        if len != value.len() {
            return Err(GpuError::Param {
                name: name.into(),
                msg: format!("holds {len} values, got {}", value.len()),
            });
        }
        if len > 0 {
            self.gpu
                .inner
                .queue
                .write_buffer(buffer, 0, bytemuck::cast_slice(value));
        }
        Ok(())
    }

    /// The current value of parameter `name`, read back from the device.
    pub fn param(&self, name: &str) -> Result<Vec<f32>> {
        let (buffer, len) = self.param_buffer(name)?;
        let gpu = &self.gpu.inner;
        self.gpu.checked("parameter read-back", || {
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("kiln read param"),
                });
            if len > 0 {
                encoder.copy_buffer_to_buffer(buffer, 0, &self.readback, 0, len as u64 * F32);
            }
            gpu.queue.submit([encoder.finish()]);
        })?;
        self.read_back(len)
    }
}
