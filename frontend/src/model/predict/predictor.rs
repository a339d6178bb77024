//! The compiled predict graphs of a model ([`Predictors`]: one per device and batch size,
//! compiled on first use and shared by every thread) and how one runs batches of examples
//! into the caller's output buffers.
//!
//! On the CPU a call runs the immutable compiled code on the model's parameters borrowed
//! read-only, with a workspace (arena and kernel scratch) taken from the predictor's pool
//! and put back afterwards: concurrent calls each hold their own, and once a thread count
//! has been reached no call allocates one (the pool keeps one workspace per caller that
//! ever ran at the same time, until the model's layers change). On the GPU each predictor
//! has one device state behind a mutex, so concurrent calls take turns.
//!
//! It does NOT check the caller's buffers against the model: `predict.rs` does that before
//! it asks for a predictor.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use ir::{Graph, Leaf};

use super::super::Model;
use super::super::graph::forward::features_input;
use super::super::runner::optimize_and_plan;
use super::predictions_output;
use crate::device::{Backend, Device};
use crate::error::Result;

/// The predict executables of a model, by device and batch size.
#[derive(Default)]
pub(crate) struct Predictors {
    by_batch: Mutex<HashMap<(Device, usize), Arc<Predictor>>>,
}

impl std::fmt::Debug for Predictors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by_batch = self.by_batch.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batches: Vec<(Device, usize)> = by_batch.keys().copied().collect();
        batches.sort_unstable();
        f.debug_struct("Predictors")
            .field("batch_sizes", &batches)
            .finish()
    }
}

/// A compiled predict graph for one batch size, with the per-example lengths of the model's
/// inputs and outputs (in model order).
pub(super) struct Predictor {
    pub(super) input_lens: Vec<usize>,
    pub(super) output_lens: Vec<usize>,
    engine: Engine,
}

enum Engine {
    Cpu(Box<CpuPredictor>),
    /// One executable and its device state; callers take turns.
    Gpu(Box<Mutex<(codegen_gpu::GpuExecutable, codegen_gpu::GpuState)>>),
}

/// Immutable code, run by many threads at once, and the pool of their workspaces.
struct CpuPredictor {
    executable: codegen_cpu::Executable,
    workspaces: Mutex<Vec<codegen_cpu::Workspace>>,
    /// For each model input, its position among the executable's inputs.
    input_order: Vec<usize>,
}

/// Parameter slices for one call held inline (no allocation) up to this many parameters.
const INLINE_PARAMS: usize = 64;

impl CpuPredictor {
    fn take_workspace(&self) -> codegen_cpu::Workspace {
        let pooled = self
            .workspaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        pooled.unwrap_or_else(|| self.executable.new_workspace())
    }

    fn give_back(&self, workspace: codegen_cpu::Workspace) {
        self.workspaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(workspace);
    }
}

impl Predictor {
    /// Examples `rows` (a whole number of batches) of `inputs`, each output written to the
    /// same rows of `outputs` (all in model order, `n` examples each).
    pub(super) fn run(
        &self,
        model: &Model,
        rows: Range<usize>,
        batch: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) -> Result<()> {
        match &self.engine {
            Engine::Cpu(cpu) => {
                let mut workspace = cpu.take_workspace();
                let done = model.with_param_slices(cpu.executable.params(), |params| {
                    for start in rows.clone().step_by(batch) {
                        let part = start..start + batch;
                        self.run_cpu(cpu, &mut workspace, params, part, inputs, outputs)?;
                    }
                    Ok(())
                });
                cpu.give_back(workspace);
                done
            }
            Engine::Gpu(slot) => self.run_gpu(model, slot, rows, batch, inputs, outputs),
        }
    }

    /// One batch, examples `rows`, on the CPU.
    fn run_cpu(
        &self,
        cpu: &CpuPredictor,
        workspace: &mut codegen_cpu::Workspace,
        params: &[&[f32]],
        rows: Range<usize>,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) -> Result<()> {
        let part = |len: usize| rows.start * len..rows.end * len;
        let executable = &cpu.executable;
        if let ([x], [y]) = (inputs, &mut *outputs) {
            let (x, y) = (
                &x[part(self.input_lens[0])],
                &mut y[part(self.output_lens[0])],
            );
            executable.run_read_only_into(workspace, params, &[x], &mut [y])?;
            return Ok(());
        }
        let mut ordered: Vec<&[f32]> = vec![&[]; inputs.len()];
        for (k, x) in inputs.iter().enumerate() {
            ordered[cpu.input_order[k]] = &x[part(self.input_lens[k])];
        }
        let mut outs: Vec<&mut [f32]> = outputs
            .iter_mut()
            .zip(&self.output_lens)
            .map(|(y, &len)| &mut y[part(len)])
            .collect();
        executable.run_read_only_into(workspace, params, &ordered, &mut outs)?;
        Ok(())
    }

    /// Batches of examples `rows` on the GPU, after uploading the current parameters.
    fn run_gpu(
        &self,
        model: &Model,
        slot: &Mutex<(codegen_gpu::GpuExecutable, codegen_gpu::GpuState)>,
        rows: Range<usize>,
        batch: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) -> Result<()> {
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let (executable, state) = &mut *guard;
        for leaf in executable.params() {
            state.set_param(&leaf.name, &model.predict_param(&leaf.name)?)?;
        }
        let names: Vec<String> = (0..inputs.len())
            .map(|k| features_input(k, inputs.len()))
            .collect();
        for start in rows.step_by(batch) {
            let part = |len: usize| start * len..(start + batch) * len;
            let feeds: Vec<(&str, &[f32])> = names
                .iter()
                .zip(inputs.iter().zip(&self.input_lens))
                .map(|(name, (x, &len))| (name.as_str(), &x[part(len)]))
                .collect();
            let values = executable.run(state, &feeds)?;
            let count = outputs.len();
            for (k, (y, &len)) in outputs.iter_mut().zip(&self.output_lens).enumerate() {
                let name = predictions_output(k, count);
                let (_, value) = values.iter().find(|(n, _)| *n == name).ok_or_else(|| {
                    model.model_error(format!("the compiled predictor returned no `{name}`"))
                })?;
                y[part(len)].copy_from_slice(&value.data);
            }
        }
        Ok(())
    }
}

/// Each model leaf's per-example length and position among `leaves`, by the names
/// `name(k)` of the model's `count` leaves.
fn leaf_positions(
    leaves: &[Leaf],
    count: usize,
    batch: usize,
    name: impl Fn(usize) -> String,
) -> (Vec<usize>, Vec<usize>) {
    (0..count)
        .map(|k| {
            let wanted = name(k);
            let position = leaves
                .iter()
                .position(|l| l.name == wanted)
                .expect("the predict graph has every model input and output");
            (leaves[position].shape.numel() / batch, position)
        })
        .unzip()
}

impl Model {
    /// The predict executable for `batch` examples on the model's device, compiled on
    /// first use.
    pub(super) fn predictor(&self, batch: usize) -> Result<Arc<Predictor>> {
        let backend = self.backend();
        let key = (backend.device(), batch);
        // Held while compiling, so concurrent first calls compile once.
        let mut by_batch = self
            .predictors
            .by_batch
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(predictor) = by_batch.get(&key) {
            return Ok(Arc::clone(predictor));
        }
        let (graph, plan) = optimize_and_plan(&self.build_predict_graph(batch)?)?;
        let (input_lens, input_order) = leaf_positions(
            &Leaf::inputs_of(&graph),
            self.graph.inputs().len(),
            batch,
            |k| features_input(k, self.graph.inputs().len()),
        );
        let output_lens = output_lens(&graph, batch);
        let engine = match backend {
            Backend::Cpu => Engine::Cpu(Box::new(CpuPredictor {
                executable: codegen_cpu::compile(&graph, &plan)?,
                workspaces: Mutex::new(Vec::new()),
                input_order,
            })),
            Backend::Gpu(gpu) => {
                let executable = gpu.compile(&graph, &plan)?;
                let state = executable.new_state()?;
                Engine::Gpu(Box::new(Mutex::new((executable, state))))
            }
        };
        let predictor = Arc::new(Predictor {
            input_lens,
            output_lens,
            engine,
        });
        by_batch.insert(key, Arc::clone(&predictor));
        Ok(predictor)
    }

    /// Forget the predict executables (after the layers changed).
    pub(crate) fn clear_predictors(&mut self) {
        self.predictors = Predictors::default();
    }

    /// The current value of parameter `name`, which a predict graph reads.
    fn predict_param(&self, name: &str) -> Result<Cow<'_, [f32]>> {
        self.param_value(name)?.ok_or_else(|| {
            self.model_error(format!(
                "the predict graph reads parameter `{name}`, which has no value"
            ))
        })
    }

    /// Run `body` on the current values of the parameters `leaves`, in order: borrowed and
    /// held on the stack (up to [`INLINE_PARAMS`]), else collected.
    fn with_param_slices<R>(
        &self,
        leaves: &[Leaf],
        body: impl FnOnce(&[&[f32]]) -> Result<R>,
    ) -> Result<R> {
        if leaves.len() <= INLINE_PARAMS {
            let mut inline: [&[f32]; INLINE_PARAMS] = [&[]; INLINE_PARAMS];
            let mut borrowed = true;
            for (slot, leaf) in inline.iter_mut().zip(leaves) {
                match self.predict_param(&leaf.name)? {
                    Cow::Borrowed(values) => *slot = values,
                    Cow::Owned(_) => {
                        borrowed = false;
                        break;
                    }
                }
            }
            if borrowed {
                return body(&inline[..leaves.len()]);
            }
        }
        let values: Vec<Cow<'_, [f32]>> = leaves
            .iter()
            .map(|leaf| self.predict_param(&leaf.name))
            .collect::<Result<_>>()?;
        let slices: Vec<&[f32]> = values.iter().map(AsRef::as_ref).collect();
        body(&slices)
    }
}

/// The per-example length of each model output of the predict graph `graph` (outputs in
/// model order, as `build_predict_graph` adds them).
fn output_lens(graph: &Graph, batch: usize) -> Vec<usize> {
    graph
        .outputs
        .iter()
        .map(|(_, id)| graph.shape(*id).numel() / batch)
        .collect()
}
