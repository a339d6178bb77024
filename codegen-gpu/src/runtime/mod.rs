//! Running compiled steps on the GPU: [`GpuExecutable`] (validated pipelines, constant
//! buffers, the output and update tables) and [`GpuState`] (one caller's device buffers:
//! parameters kept across steps, inputs, the arena, the read-back buffer, and the bind
//! groups tying them to the kernels).
//!
//! One step is one submission: upload the inputs, dispatch every kernel in node order,
//! copy the requested outputs into the read-back buffer and the non-in-place parameter
//! updates into their parameters (through a staging buffer when a source is itself a
//! parameter, so the copies act as if simultaneous), then map and read only the outputs.
//!
//! Files: this one declares the types; `buffer` allocates device buffers and finds the
//! buffer of a storage space; `compile` builds pipelines, uploads constants and makes the
//! output and update tables; `state` creates a caller's buffers and bind groups and reads
//! and writes parameters; `step` runs a step: dispatches, copies and read-back.

mod buffer;
mod compile;
mod state;
mod step;

use ir::{Leaf, Shape};

use crate::device::Gpu;
use crate::kernel::{Kernel, Loc};

/// One kernel, ready to dispatch.
struct Pipeline {
    kernel: Kernel,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// A parameter update copied at the end of a step: `len` values at `from` into parameter
/// `param`.
#[derive(Debug, Clone, Copy)]
struct CopiedUpdate {
    param: usize,
    from: Loc,
    len: usize,
}

/// A compiled step on one [`Gpu`].
pub struct GpuExecutable {
    gpu: Gpu,
    inputs: Vec<Leaf>,
    params: Vec<Leaf>,
    arena_len: usize,
    consts: Vec<wgpu::Buffer>,
    pipelines: Vec<Pipeline>,
    outputs: Vec<(String, Loc, Shape)>,
    copied_updates: Vec<CopiedUpdate>,
}

/// One caller's device buffers for an executable.
pub struct GpuState {
    gpu: Gpu,
    params: Vec<(String, wgpu::Buffer, usize)>,
    inputs: Vec<wgpu::Buffer>,
    arena: wgpu::Buffer,
    readback: wgpu::Buffer,
    readback_len: usize,
    update_staging: Option<wgpu::Buffer>,
    bind_groups: Vec<wgpu::BindGroup>,
}

impl GpuExecutable {
    /// The graph inputs, in the order of the `Input` nodes.
    pub fn inputs(&self) -> &[Leaf] {
        &self.inputs
    }

    /// The parameters, in the order of the `Param` nodes.
    pub fn params(&self) -> &[Leaf] {
        &self.params
    }

    /// The generated kernels, in dispatch order.
    pub fn kernels(&self) -> impl Iterator<Item = &Kernel> {
        self.pipelines.iter().map(|p| &p.kernel)
    }
}
