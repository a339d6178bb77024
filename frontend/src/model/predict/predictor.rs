//! The compiled predict graphs of a model ([`Predictors`]: by device and compiled batch size,
//! compiled on first use, shared by every thread, at most the cache's capacity of them — see
//! `cache.rs`) and how one runs batches of examples into the caller's output buffers: a batch
//! smaller than the compiled size is padded with zero examples (their outputs dropped), a
//! larger one split.
//!
//! On the CPU a call runs the immutable compiled code on the model's parameters borrowed
//! read-only, with a workspace (arena and kernel scratch) taken from the predictor's pool
//! and put back afterwards: concurrent calls each hold their own, and once a thread count
//! has been reached no call allocates one (the pool keeps one workspace per caller that
//! ever ran at the same time, until the model's layers change or the predictor is evicted).
//! A batch that fills the compiled size runs on the caller's buffers; only a padded one
//! copies. On the GPU each predictor has one device state behind a mutex, so concurrent
//! calls take turns.
//!
//! It does NOT check the caller's buffers against the model: `predict.rs` does that before
//! it asks for a predictor.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use ir::{Graph, Leaf};

use super::super::Model;
use super::super::graph::forward::features_input;
use super::super::runner::optimize_and_plan;
use super::cache::{Lru, PredictorCache};
use super::predictions_output;
use crate::device::{Backend, Device};
use crate::error::Result;

/// The predict executables of a model, by device and compiled batch size, least recently
/// used first.
pub(crate) struct Predictors(Lru<(Device, usize), Predictor>);

impl Default for Predictors {
    fn default() -> Self {
        Predictors::new(PredictorCache::default())
    }
}

impl Predictors {
    /// An empty cache with `options`.
    pub(crate) fn new(options: PredictorCache) -> Self {
        Predictors(Lru::new(options))
    }

    /// The cache's options.
    pub(crate) fn options(&self) -> &PredictorCache {
        self.0.options()
    }

    /// The devices and compiled batch sizes held, least recently used first.
    pub(crate) fn keys(&self) -> Vec<(Device, usize)> {
        self.0.keys()
    }
}

impl std::fmt::Debug for Predictors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictors")
            .field("options", self.options())
            .field("batch_sizes", &self.keys())
            .finish()
    }
}

/// A compiled predict graph for one batch size, with the per-example lengths of the model's
/// inputs and outputs (in model order).
pub(super) struct Predictor {
    pub(super) input_lens: Vec<usize>,
    pub(super) output_lens: Vec<usize>,
    /// The batch size it was compiled for.
    batch: usize,
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

/// Inputs of one compiled batch (one slice per model input) and its outputs.
type Batch<'a, 'b> = (&'a [&'a [f32]], &'a mut [&'b mut [f32]]);

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

    /// One compiled batch: `inputs` in model order, `outputs` in model order.
    fn run(
        &self,
        workspace: &mut codegen_cpu::Workspace,
        params: &[&[f32]],
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) -> Result<()> {
        if inputs.len() == 1 {
            self.executable
                .run_read_only_into(workspace, params, inputs, outputs)?;
            return Ok(());
        }
        let mut ordered: Vec<&[f32]> = vec![&[]; inputs.len()];
        for (k, x) in inputs.iter().enumerate() {
            ordered[self.input_order[k]] = x;
        }
        self.executable
            .run_read_only_into(workspace, params, &ordered, outputs)?;
        Ok(())
    }
}

impl Predictor {
    /// Examples `rows` of `inputs` in the caller's batches of `batch`, each output written to
    /// the same rows of `outputs` (all in model order, `n` examples each).
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
                    self.each_batch(rows, batch, inputs, outputs, &mut |(xs, ys)| {
                        cpu.run(&mut workspace, params, xs, ys)
                    })
                });
                cpu.give_back(workspace);
                done
            }
            Engine::Gpu(slot) => {
                let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
                let (executable, state) = &mut *guard;
                for leaf in executable.params() {
                    state.set_param(&leaf.name, &model.predict_param(&leaf.name)?)?;
                }
                let names: Vec<String> = (0..inputs.len())
                    .map(|k| features_input(k, inputs.len()))
                    .collect();
                self.each_batch(rows, batch, inputs, outputs, &mut |(xs, ys)| {
                    run_gpu_batch(model, executable, state, &names, xs, ys)
                })
            }
        }
    }

    /// Cuts `rows` into the caller's batches of `batch` and those into runs of the compiled
    /// size, and runs `run` on each (a short run padded).
    fn each_batch(
        &self,
        rows: Range<usize>,
        batch: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        run: &mut dyn FnMut(Batch<'_, '_>) -> Result<()>,
    ) -> Result<()> {
        for start in rows.clone().step_by(batch.max(1)) {
            let end = (start + batch).min(rows.end);
            for first in (start..end).step_by(self.batch) {
                let part = first..(first + self.batch).min(end);
                if part.len() == self.batch {
                    self.run_in_place(part, inputs, outputs, run)?;
                } else {
                    self.run_padded(part, inputs, outputs, run)?;
                }
            }
        }
        Ok(())
    }

    /// One full compiled batch, examples `rows`, on the caller's buffers.
    fn run_in_place(
        &self,
        rows: Range<usize>,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        run: &mut dyn FnMut(Batch<'_, '_>) -> Result<()>,
    ) -> Result<()> {
        let part = |len: usize| rows.start * len..rows.end * len;
        if let ([x], [y]) = (inputs, &mut *outputs) {
            let (x, y) = (
                &x[part(self.input_lens[0])],
                &mut y[part(self.output_lens[0])],
            );
            return run((&[x], &mut [y]));
        }
        let xs: Vec<&[f32]> = inputs
            .iter()
            .zip(&self.input_lens)
            .map(|(x, &len)| &x[part(len)])
            .collect();
        let mut ys: Vec<&mut [f32]> = outputs
            .iter_mut()
            .zip(&self.output_lens)
            .map(|(y, &len)| &mut y[part(len)])
            .collect();
        run((&xs, &mut ys))
    }

    /// Examples `rows` (fewer than the compiled size) copied into a zero-padded batch; only
    /// their outputs are copied back.
    fn run_padded(
        &self,
        rows: Range<usize>,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        run: &mut dyn FnMut(Batch<'_, '_>) -> Result<()>,
    ) -> Result<()> {
        let count = rows.len();
        let padded: Vec<Vec<f32>> = inputs
            .iter()
            .zip(&self.input_lens)
            .map(|(x, &len)| {
                let mut padded = vec![0.0; self.batch * len];
                padded[..count * len].copy_from_slice(&x[rows.start * len..rows.end * len]);
                padded
            })
            .collect();
        let mut results: Vec<Vec<f32>> = self
            .output_lens
            .iter()
            .map(|&len| vec![0.0; self.batch * len])
            .collect();
        let xs: Vec<&[f32]> = padded.iter().map(Vec::as_slice).collect();
        let mut ys: Vec<&mut [f32]> = results.iter_mut().map(Vec::as_mut_slice).collect();
        run((&xs, &mut ys))?;
        for ((y, result), &len) in outputs.iter_mut().zip(&results).zip(&self.output_lens) {
            y[rows.start * len..rows.end * len].copy_from_slice(&result[..count * len]);
        }
        Ok(())
    }
}

/// One compiled batch on the GPU: `inputs` fed as `names`, each output copied into `outputs`.
fn run_gpu_batch(
    model: &Model,
    executable: &codegen_gpu::GpuExecutable,
    state: &mut codegen_gpu::GpuState,
    names: &[String],
    inputs: &[&[f32]],
    outputs: &mut [&mut [f32]],
) -> Result<()> {
    let feeds: Vec<(&str, &[f32])> = names
        .iter()
        .zip(inputs)
        .map(|(name, x)| (name.as_str(), *x))
        .collect();
    let values = executable.run(state, &feeds)?;
    let count = outputs.len();
    for (k, y) in outputs.iter_mut().enumerate() {
        let name = predictions_output(k, count);
        let (_, value) = values.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            model.model_error(format!("the compiled predictor returned no `{name}`"))
        })?;
        y.copy_from_slice(&value.data);
    }
    Ok(())
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
    /// The predict executable that runs batches of `batch` examples on the model's device:
    /// the one of the compiled size the cache's buckets pick for `batch`, compiled on first
    /// use.
    pub(super) fn predictor(&self, batch: usize) -> Result<Arc<Predictor>> {
        let backend = self.backend();
        let size = self.predictors.options().buckets.compiled_size(batch);
        self.predictors.0.get_or_make((backend.device(), size), || {
            self.compile_predictor(backend, size)
        })
    }

    /// The predict graph for `batch` examples compiled for `backend`.
    fn compile_predictor(&self, backend: &Backend, batch: usize) -> Result<Predictor> {
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
        Ok(Predictor {
            input_lens,
            output_lens,
            batch,
            engine,
        })
    }

    /// Forget the predict executables (after the layers changed).
    pub(crate) fn clear_predictors(&mut self) {
        self.predictors = Predictors::new(self.predictors.options().clone());
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
