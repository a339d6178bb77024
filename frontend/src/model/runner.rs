//! [`Runner`]: one graph compiled by the backend of a [`Backend`] (CPU or GPU) plus its
//! runtime state, and the by-name parameter copies that let train and eval executables
//! share weights; [`optimize_and_plan`], the optimise-plan path every executable takes.
//!
//! On the GPU the parameters (weights and optimizer state) stay in device buffers across
//! steps: a step uploads its inputs and reads back only its outputs (loss and metrics);
//! parameters come back only when asked for ([`Runner::param`], [`Runner::save`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

use ir::{Graph, MemoryPlan, Op, Tensor};

use crate::device::Backend;
use crate::error::{Error, Result};

/// A compiled executable and its state, on one backend.
enum Engine {
    Cpu {
        executable: Box<codegen_cpu::Executable>,
        state: codegen_cpu::State,
    },
    Gpu {
        executable: Box<codegen_gpu::GpuExecutable>,
        state: Box<codegen_gpu::GpuState>,
    },
}

impl Engine {
    /// Write parameter `name`, which the graph reads.
    fn write(&mut self, name: &str, value: &[f32]) -> Result<()> {
        match self {
            Engine::Cpu { state, .. } => state.set_param(name, value)?,
            Engine::Gpu { state, .. } => state.set_param(name, value)?,
        }
        Ok(())
    }
}

/// A compiled graph (optimised, memory-planned, lowered by the chosen backend) and its state.
pub(crate) struct Runner {
    engine: Engine,
    /// Every parameter the compiled graph reads.
    params: Vec<String>,
    /// The parameters the graph updates (weights and optimizer state of a train step).
    updated: Vec<String>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let device = match self.engine {
            Engine::Cpu { .. } => "cpu",
            Engine::Gpu { .. } => "gpu",
        };
        f.debug_struct("Runner")
            .field("device", &device)
            .field("params", &self.params)
            .field("updated", &self.updated)
            .finish_non_exhaustive()
    }
}

fn param_name(graph: &Graph, id: ir::NodeId) -> String {
    match graph.op(id) {
        Op::Param { name, .. } => name.clone(),
        other => unreachable!("graph.params() and update targets are Param nodes, got {other:?}"),
    }
}

/// Optimise and memory-plan `graph`, as every backend expects it.
pub(crate) fn optimize_and_plan(graph: &Graph) -> Result<(Graph, MemoryPlan)> {
    let optimized = passes::pipeline::optimize(graph)?;
    let plan = passes::memory_plan::plan(&optimized)?;
    Ok((optimized, plan))
}

impl Runner {
    /// Optimise, plan and compile `graph` for `backend`.
    pub fn compile(graph: &Graph, backend: &Backend) -> Result<Runner> {
        Self::compile_with(graph, backend, false)
    }

    /// [`Runner::compile`], with ready hooks on the CPU: [`Runner::run_notifying`] then hands
    /// each output over as soon as its kernel has run (the GPU hands them over after the step).
    pub fn compile_with_ready_hooks(graph: &Graph, backend: &Backend) -> Result<Runner> {
        Self::compile_with(graph, backend, true)
    }

    fn compile_with(graph: &Graph, backend: &Backend, ready_hooks: bool) -> Result<Runner> {
        let (optimized, plan) = optimize_and_plan(graph)?;
        let engine = match backend {
            Backend::Cpu => {
                let executable = Box::new(if ready_hooks {
                    codegen_cpu::compile_with_ready_hooks(&optimized, &plan)?
                } else {
                    codegen_cpu::compile(&optimized, &plan)?
                });
                let state = executable.new_state();
                Engine::Cpu { executable, state }
            }
            Backend::Gpu(gpu) => {
                let executable = Box::new(gpu.compile(&optimized, &plan)?);
                let state = Box::new(executable.new_state()?);
                Engine::Gpu { executable, state }
            }
        };
        let params = optimized
            .params()
            .into_iter()
            .map(|p| param_name(&optimized, p))
            .collect();
        let updated = optimized
            .updates
            .iter()
            .map(|&(p, _)| param_name(&optimized, p))
            .collect();
        Ok(Runner {
            engine,
            params,
            updated,
        })
    }

    /// Copy every parameter this graph reads from `store` into the runtime state (device
    /// memory on the GPU). A parameter missing from the store is an error naming it and
    /// `model`.
    pub fn load(&mut self, store: &BTreeMap<String, Tensor>, model: &str) -> Result<()> {
        for name in &self.params {
            let value = store.get(name).ok_or_else(|| Error::Model {
                model: model.to_string(),
                msg: format!("the compiled graph reads parameter `{name}`, which has no value"),
            })?;
            self.engine.write(name, &value.data)?;
        }
        Ok(())
    }

    /// Copy the parameters this graph updated back into `store` (read back from the device
    /// on the GPU).
    pub fn save(&self, store: &mut BTreeMap<String, Tensor>) -> Result<()> {
        for name in &self.updated {
            if let (Some(value), Some(slot)) = (self.param(name)?, store.get_mut(name)) {
                slot.data.copy_from_slice(&value);
            }
        }
        Ok(())
    }

    /// The value of parameter `name` in this runner's state, if its graph reads it:
    /// borrowed on the CPU, read back from the device on the GPU.
    pub fn param(&self, name: &str) -> Result<Option<Cow<'_, [f32]>>> {
        match &self.engine {
            Engine::Cpu { state, .. } => Ok(state.param(name).map(Cow::Borrowed)),
            Engine::Gpu { state, .. } => {
                if !self.params.iter().any(|n| n == name) {
                    return Ok(None);
                }
                Ok(Some(Cow::Owned(state.param(name)?)))
            }
        }
    }

    /// The parameters running this graph changes.
    pub fn updated_names(&self) -> &[String] {
        &self.updated
    }

    /// Whether running this graph changes parameter `name`.
    pub fn updates(&self, name: &str) -> bool {
        self.updated.iter().any(|n| n == name)
    }

    /// Overwrite parameter `name` in this runner's state if its graph reads it.
    pub fn set_param(&mut self, name: &str, value: &[f32]) -> Result<()> {
        if self.params.iter().any(|n| n == name) {
            self.engine.write(name, value)?;
        }
        Ok(())
    }

    /// Execute once on named inputs; returns the named outputs (the only values read back
    /// from a GPU).
    pub fn run(&mut self, inputs: &[(&str, &[f32])]) -> Result<Vec<(String, Tensor)>> {
        Ok(match &mut self.engine {
            Engine::Cpu { executable, state } => executable.run(state, inputs)?,
            Engine::Gpu { executable, state } => executable.run(state, inputs)?,
        })
    }

    /// Execute once, handing each output to `on_ready` as soon as it is final instead of
    /// returning them: mid-step on the CPU when compiled with ready hooks (and without a copy
    /// of the outputs), else after the step (the GPU reads outputs back only at the end).
    pub fn run_notifying(
        &mut self,
        inputs: &[(&str, &[f32])],
        on_ready: &mut dyn FnMut(&str, &[f32]),
    ) -> Result<()> {
        if let Engine::Cpu { executable, state } = &mut self.engine {
            return Ok(executable.run_notifying(state, inputs, on_ready)?);
        }
        let outputs = self.run(inputs)?;
        outputs.iter().for_each(|(name, t)| on_ready(name, &t.data));
        Ok(())
    }
}
