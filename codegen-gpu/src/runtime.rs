//! Running compiled steps on the GPU: [`GpuExecutable`] (validated pipelines, constant
//! buffers, the output and update tables) and [`GpuState`] (one caller's device buffers:
//! parameters kept across steps, inputs, the arena, the read-back buffer, and the bind
//! groups tying them to the kernels).
//!
//! One step is one submission: upload the inputs, dispatch every kernel in node order,
//! copy the requested outputs into the read-back buffer and the non-in-place parameter
//! updates into their parameters (through a staging buffer when a source is itself a
//! parameter, so the copies act as if simultaneous), then map and read only the outputs.

use ir::{Graph, Leaf, MemoryPlan, NodeId, Op, Shape, Storage, Tensor};

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
        let pipelines = crate::wgsl::generate(graph, plan)?
            .into_iter()
            .map(|kernel| self.pipeline(kernel))
            .collect::<Result<Vec<_>>>()?;
        let consts = self.upload_constants(graph)?;
        let outputs = output_table(graph, plan)?;
        let copied_updates = copied_updates(graph, plan)?;
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

    /// `kernel` validated and checked against the device's binding limit, with its pipeline
    /// and bind group layout created inside an error scope.
    fn pipeline(&self, kernel: Kernel) -> Result<Pipeline> {
        let max_bindings = self.inner.limits.max_storage_buffers_per_shader_stage as usize;
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
            create_pipeline(&self.inner.device, &kernel)
        })?;
        Ok(Pipeline {
            kernel,
            pipeline,
            layout,
        })
    }

    /// One device buffer per `Const` node, in node order, holding its data.
    fn upload_constants(&self, graph: &Graph) -> Result<Vec<wgpu::Buffer>> {
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
        Ok(consts)
    }
}

/// The compute pipeline of `kernel` (entry point `main`) and the layout of its bind group:
/// every binding a storage buffer, read-only unless the kernel writes it.
fn create_pipeline(
    device: &wgpu::Device,
    kernel: &Kernel,
) -> (wgpu::ComputePipeline, wgpu::BindGroupLayout) {
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
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
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
}

/// Where the value of `id` is stored: an output or update value must have storage.
fn stored(graph: &Graph, plan: &MemoryPlan, id: NodeId) -> Result<Loc> {
    resolve(graph, plan, id)?.ok_or_else(|| GpuError::Plan {
        node: id.to_string(),
        msg: "an output or update value has no storage".into(),
    })
}

/// The graph outputs: name, where the value lives and its shape.
fn output_table(graph: &Graph, plan: &MemoryPlan) -> Result<Vec<(String, Loc, Shape)>> {
    graph
        .outputs
        .iter()
        .map(|(name, id)| {
            Ok((
                name.clone(),
                stored(graph, plan, *id)?,
                graph.shape(*id).clone(),
            ))
        })
        .collect()
}

/// The parameter updates copied at the end of a step: every update whose value is not
/// computed in place in its parameter's buffer.
fn copied_updates(graph: &Graph, plan: &MemoryPlan) -> Result<Vec<CopiedUpdate>> {
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
                from: stored(graph, plan, value)?,
                len: graph.shape(value).numel(),
            });
        }
    }
    Ok(copied_updates)
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

    /// The buffer of `space`: one of `state`'s, or one of this executable's constants.
    fn buffer_of<'a>(&'a self, state: &'a GpuState, space: Space) -> &'a wgpu::Buffer {
        match space {
            Space::Arena => &state.arena,
            Space::Input(k) => &state.inputs[k],
            Space::Param(k) => &state.params[k].1,
            Space::Const(k) => &self.consts[k],
        }
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
