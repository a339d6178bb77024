//! [`Runner`]: one graph compiled by the CPU backend plus its runtime state, and the
//! by-name parameter copies that let train and eval executables share weights;
//! [`compile_executable`], the optimise-plan-compile path every executable takes.

use std::collections::BTreeMap;

use ir::{Graph, Op, Tensor};

use crate::error::{Error, Result};

/// A compiled graph (optimised, memory-planned, lowered by `codegen_cpu`) and its state.
pub(crate) struct Runner {
    executable: codegen_cpu::Executable,
    state: codegen_cpu::State,
    /// Every parameter the compiled graph reads.
    params: Vec<String>,
    /// The parameters the graph updates (weights and optimizer state of a train step).
    updated: Vec<String>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
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

/// Optimise, plan and compile `graph`; returns the executable and the optimised graph.
pub(crate) fn compile_executable(graph: &Graph) -> Result<(codegen_cpu::Executable, Graph)> {
    let optimized = passes::pipeline::optimize(graph)?;
    let plan = passes::memory_plan::plan(&optimized)?;
    let executable = codegen_cpu::compile(&optimized, &plan)?;
    Ok((executable, optimized))
}

impl Runner {
    /// Optimise, plan and compile `graph`.
    pub fn compile(graph: &Graph) -> Result<Runner> {
        let (executable, optimized) = compile_executable(graph)?;
        let state = executable.new_state();
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
            executable,
            state,
            params,
            updated,
        })
    }

    /// Copy every parameter this graph reads from `store` into the runtime state. A
    /// parameter missing from the store is an error naming it and `model`.
    pub fn load(&mut self, store: &BTreeMap<String, Tensor>, model: &str) -> Result<()> {
        for name in &self.params {
            let value = store.get(name).ok_or_else(|| Error::Model {
                model: model.to_string(),
                msg: format!("the compiled graph reads parameter `{name}`, which has no value"),
            })?;
            self.state.set_param(name, &value.data)?;
        }
        Ok(())
    }

    /// Copy the parameters this graph updated back into `store`.
    pub fn save(&self, store: &mut BTreeMap<String, Tensor>) {
        for name in &self.updated {
            if let (Some(value), Some(slot)) = (self.state.param(name), store.get_mut(name)) {
                slot.data.copy_from_slice(value);
            }
        }
    }

    /// The value of parameter `name` in this runner's state, if its graph reads it.
    pub fn param(&self, name: &str) -> Option<&[f32]> {
        self.state.param(name)
    }

    /// Whether running this graph changes parameter `name`.
    pub fn updates(&self, name: &str) -> bool {
        self.updated.iter().any(|n| n == name)
    }

    /// Overwrite parameter `name` in this runner's state if its graph reads it.
    pub fn set_param(&mut self, name: &str, value: &[f32]) -> Result<()> {
        if self.params.iter().any(|n| n == name) {
            self.state.set_param(name, value)?;
        }
        Ok(())
    }

    /// Execute once on named inputs; returns the named outputs.
    pub fn run(&mut self, inputs: &[(&str, &[f32])]) -> Result<Vec<(String, Tensor)>> {
        Ok(self.executable.run(&mut self.state, inputs)?)
    }
}
