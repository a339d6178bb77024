//! Running one step: [`GpuExecutable::run`] uploads the inputs, dispatches every kernel,
//! copies outputs into the read-back buffer and copied updates into their parameters in one
//! submission, then maps and reads back only the outputs.

use ir::Tensor;

use super::buffer::F32;
use super::{GpuExecutable, GpuState};
use crate::error::{GpuError, Result};
use crate::kernel::Space;

impl GpuExecutable {
    /// Run one step: check `inputs` (every graph input exactly once, of the right length),
    /// upload them, run every kernel and the parameter updates in one submission, and read
    /// back the named outputs.
    pub fn run(
        &self,
        state: &mut GpuState,
        inputs: &[(&str, &[f32])],
    ) -> Result<Vec<(String, Tensor)>> {
        let ordered = ir::leaf::bind_leaves("input", &self.inputs, inputs, |name, msg| {
            GpuError::Input { name, msg }
        })?;
        self.check_state(state)?;
        let gpu = &self.gpu.inner;
        for (buffer, data) in state.inputs.iter().zip(&ordered) {
            if !data.is_empty() {
                gpu.queue
                    .write_buffer(buffer, 0, bytemuck::cast_slice(data));
            }
        }
        self.gpu.checked("step submission", || {
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("kiln step"),
                });
            self.encode_kernels(state, &mut encoder);
            self.encode_output_copies(state, &mut encoder);
            self.encode_update_copies(state, &mut encoder);
            gpu.queue.submit([encoder.finish()]);
        })?;
        let values = state.read_back(self.outputs.iter().map(|(_, _, s)| s.numel()).sum())?;
        Ok(self.output_tensors(&values))
    }

    /// An error unless `state` was made by this executable's [`Self::new_state`].
    fn check_state(&self, state: &GpuState) -> Result<()> {
        if state.bind_groups.len() != self.pipelines.len()
            || state.inputs.len() != self.inputs.len()
            || state.params.len() != self.params.len()
        {
            return Err(GpuError::Param {
                name: "-".into(),
                msg: "the state was not made by this executable's new_state".into(),
            });
        }
        Ok(())
    }

    /// One compute pass dispatching every kernel in node order.
    fn encode_kernels(&self, state: &GpuState, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("kiln kernels"),
            timestamp_writes: None,
        });
        for (p, group) in self.pipelines.iter().zip(&state.bind_groups) {
            let [x, y, z] = p.kernel.workgroups;
            pass.set_pipeline(&p.pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
    }

    /// Copies of the outputs, one after another, into the read-back buffer.
    fn encode_output_copies(&self, state: &GpuState, encoder: &mut wgpu::CommandEncoder) {
        let mut at = 0;
        for (_, loc, shape) in &self.outputs {
            let n = shape.numel() as u64;
            if n > 0 {
                encoder.copy_buffer_to_buffer(
                    self.buffer_of(state, loc.space),
                    loc.offset as u64 * F32,
                    &state.readback,
                    at * F32,
                    n * F32,
                );
            }
            at += n;
        }
    }

    /// Copies of the update values into their parameters, acting as if simultaneous:
    /// updates whose value lives in a parameter go through the staging buffer first, so
    /// every copy reads the value from before the copies.
    fn encode_update_copies(&self, state: &GpuState, encoder: &mut wgpu::CommandEncoder) {
        let mut staged = Vec::new();
        let mut at = 0u64;
        for u in &self.copied_updates {
            let n = u.len as u64;
            if let (Space::Param(_), Some(staging)) = (u.from.space, &state.update_staging) {
                if n > 0 {
                    encoder.copy_buffer_to_buffer(
                        self.buffer_of(state, u.from.space),
                        u.from.offset as u64 * F32,
                        staging,
                        at * F32,
                        n * F32,
                    );
                }
                staged.push((u.param, staging, at, n));
                at += n;
            }
        }
        for u in &self.copied_updates {
            if !matches!(u.from.space, Space::Param(_)) && u.len > 0 {
                encoder.copy_buffer_to_buffer(
                    self.buffer_of(state, u.from.space),
                    u.from.offset as u64 * F32,
                    &state.params[u.param].1,
                    0,
                    u.len as u64 * F32,
                );
            }
        }
        for (param, staging, at, n) in staged {
            if n > 0 {
                encoder.copy_buffer_to_buffer(
                    staging,
                    at * F32,
                    &state.params[param].1,
                    0,
                    n * F32,
                );
            }
        }
    }

    /// The outputs as named tensors, cut from the read-back `values` in output order.
    fn output_tensors(&self, values: &[f32]) -> Vec<(String, Tensor)> {
        let mut at = 0;
        self.outputs
            .iter()
            .map(|(name, _, shape)| {
                let n = shape.numel();
                at += n;
                (
                    name.clone(),
                    Tensor {
                        shape: shape.clone(),
                        data: values[at - n..at].to_vec(),
                    },
                )
            })
            .collect()
    }
}

impl GpuState {
    /// Wait for the queue and read the first `len` values of the read-back buffer.
    pub(super) fn read_back(&self, len: usize) -> Result<Vec<f32>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        debug_assert!(len <= self.readback_len.max(1));
        let gpu = &self.gpu.inner;
        let slice = self.readback.slice(..len as u64 * F32);
        let (send, receive) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = send.send(r);
        });
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Device(format!("waiting for the step: {e}")))?;
        receive
            .recv()
            .map_err(|_| GpuError::Device("the read-back mapping was dropped".into()))?
            .map_err(|e| GpuError::Device(format!("mapping the read-back buffer: {e}")))?;
        let values = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| GpuError::Device(format!("reading the read-back buffer: {e}")))?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        self.readback.unmap();
        Ok(values)
    }
}
