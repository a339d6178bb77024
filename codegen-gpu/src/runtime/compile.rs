//! Compiling a step: [`Gpu::compile`] generates and validates every kernel, creates its
//! pipeline and bind group layout, uploads the constants, and builds the tables of outputs
//! and copied parameter updates a step follows.

use ir::{Graph, Leaf, MemoryPlan, NodeId, Op, Shape};

use super::{CopiedUpdate, GpuExecutable, Pipeline};
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::{Kernel, Loc, resolve};
use crate::validate::validate;

impl Gpu {
    /// Compile `graph` under `plan`: generate and validate every kernel, create its
    /// pipeline inside an error scope, upload the constants.
    pub fn compile(&self, graph: &Graph, plan: &MemoryPlan) -> Result<GpuExecutable> {
        crate::kernel::check_slots(graph, plan)?;
        let max_bindings = self.inner.limits.max_storage_buffers_per_shader_stage as usize;
        let pipelines = crate::wgsl::generate_within(graph, plan, max_bindings)?
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
    plan.copied_updates(graph)
        .into_iter()
        .map(|(param, value)| {
            Ok(CopiedUpdate {
                param,
                from: stored(graph, plan, value)?,
                len: graph.shape(value).numel(),
            })
        })
        .collect()
}
