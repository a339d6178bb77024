//! Running compiled steps on the GPU: [`GpuExecutable`] (validated pipelines, constant
//! buffers, the output and update tables) and [`GpuState`] (one caller's device buffers:
//! parameters kept across steps, inputs, the arena, the read-back buffer, and the bind
//! groups tying them to the kernels).
//!
//! One step is one submission: upload the inputs, dispatch every kernel in node order,
//! copy the requested outputs into the read-back buffer and the non-in-place parameter
//! updates into their parameters (through a staging buffer when a source is itself a
//! parameter, so the copies act as if simultaneous), then map and read only the outputs.

use ir::{Graph, Leaf, MemoryPlan, Op, Shape, Storage, Tensor};

use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::{Kernel, Loc, Space, resolve};
use crate::validate::validate;

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

const F32: u64 = std::mem::size_of::<f32>() as u64;

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

    /// Compile `graph` under `plan`: generate and validate every kernel, create its
    /// pipeline inside an error scope, upload the constants.
    pub fn compile(&self, graph: &Graph, plan: &MemoryPlan) -> Result<GpuExecutable> {
        crate::kernel::check_slots(graph, plan)?;
        let kernels = crate::wgsl::generate(graph, plan)?;
        let device = &self.inner.device;
        let max_bindings = self.inner.limits.max_storage_buffers_per_shader_stage as usize;
        let mut pipelines = Vec::with_capacity(kernels.len());
        for kernel in kernels {
            validate(&kernel)?;
            if kernel.bindings.len() > max_bindings {
                return Err(GpuError::Unsupported {
                    node: kernel.node.to_string(),
                    op: kernel.label.clone(),
                    msg: format!(
                        "binds {} buffers, the device allows {max_bindings}",
                        kernel.bindings.len()
                    ),
                });
            }
            let (pipeline, layout) = self.checked(&kernel.label, || {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&kernel.label),
                    source: wgpu::ShaderSource::Wgsl(kernel.wgsl.as_str().into()),
                });
                let entries: Vec<wgpu::BindGroupLayoutEntry> = kernel
                    .bindings
                    .iter()
                    .enumerate()
                    .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                        binding: i as u32,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Storage {
                                read_only: !b.writable,
                            },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    })
                    .collect();
                let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(&kernel.label),
                    entries: &entries,
                });
                let pipeline_layout =
                    device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(&kernel.label),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&kernel.label),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                });
                (pipeline, layout)
            })?;
            pipelines.push(Pipeline {
                kernel,
                pipeline,
                layout,
            });
        }

        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let mut consts = Vec::new();
        for id in graph.node_ids() {
            if let Op::Const(t) = graph.op(id) {
                let buffer = self.buffer(&format!("constant {id}"), t.data.len(), usage)?;
                self.inner
                    .queue
                    .write_buffer(&buffer, 0, bytemuck::cast_slice(&t.data));
                consts.push(buffer);
            }
        }
        let stored = |id| {
            resolve(graph, plan, id)?.ok_or_else(|| GpuError::Plan {
                node: id.to_string(),
                msg: "an output or update value has no storage".into(),
            })
        };
        let outputs = graph
            .outputs
            .iter()
            .map(|(name, id)| Ok((name.clone(), stored(*id)?, graph.shape(*id).clone())))
            .collect::<Result<_>>()?;
        let params = graph.params();
        let mut copied_updates = Vec::new();
        for &(param, value) in &graph.updates {
            let index = params
                .iter()
                .position(|&p| p == param)
                .expect("updates name params (checked by Graph::add_update)");
            if plan.of(value) != Storage::InPlace(index) {
                copied_updates.push(CopiedUpdate {
                    param: index,
                    from: stored(value)?,
                    len: graph.shape(value).numel(),
                });
            }
        }
        Ok(GpuExecutable {
            gpu: self.clone(),
            inputs: Leaf::inputs_of(graph),
            params: Leaf::params_of(graph),
            arena_len: plan.arena_len,
            consts,
            pipelines,
            outputs,
            copied_updates,
        })
    }
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
        let readback = gpu.inner.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: readback_len.max(1) as u64 * F32,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let staged: usize = self
            .copied_updates
            .iter()
            .filter(|u| matches!(u.from.space, Space::Param(_)))
            .map(|u| u.len)
            .sum();
        let update_staging = if staged > 0 {
            Some(gpu.buffer("update staging", staged, usage)?)
        } else {
            None
        };
        let space = |s: Space| match s {
            Space::Arena => &arena,
            Space::Input(k) => &inputs[k],
            Space::Param(k) => &params[k].1,
            Space::Const(k) => &self.consts[k],
        };
        let bind_groups = gpu.checked("bind groups", || {
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
                            resource: space(b.space).as_entire_binding(),
                        })
                        .collect();
                    gpu.inner
                        .device
                        .create_bind_group(&wgpu::BindGroupDescriptor {
                            label: Some(&p.kernel.label),
                            layout: &p.layout,
                            entries: &entries,
                        })
                })
                .collect()
        })?;
        Ok(GpuState {
            gpu: gpu.clone(),
            params,
            inputs,
            arena,
            readback,
            readback_len,
            update_staging,
            bind_groups,
        })
    }

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
        if state.bind_groups.len() != self.pipelines.len()
            || state.inputs.len() != self.inputs.len()
            || state.params.len() != self.params.len()
        {
            return Err(GpuError::Param {
                name: "-".into(),
                msg: "the state was not made by this executable's new_state".into(),
            });
        }
        let gpu = &self.gpu.inner;
        for (buffer, data) in state.inputs.iter().zip(&ordered) {
            if !data.is_empty() {
                gpu.queue
                    .write_buffer(buffer, 0, bytemuck::cast_slice(data));
            }
        }
        let space = |s: Space| match s {
            Space::Arena => &state.arena,
            Space::Input(k) => &state.inputs[k],
            Space::Param(k) => &state.params[k].1,
            Space::Const(k) => &self.consts[k],
        };
        self.gpu.checked("step submission", || {
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("kiln step"),
                });
            {
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
            let mut at = 0;
            for (_, loc, shape) in &self.outputs {
                let n = shape.numel() as u64;
                if n > 0 {
                    encoder.copy_buffer_to_buffer(
                        space(loc.space),
                        loc.offset as u64 * F32,
                        &state.readback,
                        at * F32,
                        n * F32,
                    );
                }
                at += n;
            }
            // Updates whose value lives in a parameter go through the staging buffer first,
            // so every copy reads the value from before the copies.
            let mut staged = Vec::new();
            let mut at = 0u64;
            for u in &self.copied_updates {
                let n = u.len as u64;
                if let (Space::Param(_), Some(staging)) = (u.from.space, &state.update_staging) {
                    if n > 0 {
                        encoder.copy_buffer_to_buffer(
                            space(u.from.space),
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
                        space(u.from.space),
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
            gpu.queue.submit([encoder.finish()]);
        })?;
        let values = state.read_back(self.outputs.iter().map(|(_, _, s)| s.numel()).sum())?;
        let mut at = 0;
        Ok(self
            .outputs
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
            .collect())
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

    /// Wait for the queue and read the first `len` values of the read-back buffer.
    fn read_back(&self, len: usize) -> Result<Vec<f32>> {
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
