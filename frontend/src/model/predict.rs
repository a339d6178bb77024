//! Thread-safe prediction: [`Model::predict`], [`Model::predict_one`] and
//! [`Model::predict_many`] take `&self`, so several threads may predict with one model at
//! once, compiled or not (an uncompiled model predicts with its initial or set weights).
//!
//! Each batch size gets a predict executable, compiled on first use and shared (the
//! compiled code is immutable). A call runs it on the model's current parameters borrowed
//! read-only — no copy of the weights — with its own freshly allocated arena
//! (`codegen_cpu::Workspace`), so concurrent calls share nothing mutable.
//!
//! A model compiled for the GPU ([`crate::Device::Gpu`]) predicts on the GPU: each batch
//! size has one device state behind a mutex, so concurrent calls take turns (a call holds
//! it for all its batches of that size). Each call uploads the current parameters once per
//! batch size, then reads back only the predictions.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use ir::{Graph, Shape, Tensor};

use super::Model;
use super::graph::forward::{ForwardOptions, features_input};
use super::runner::optimize_and_plan;
use crate::device::{Backend, Device};
use crate::error::{Error, Result};

/// Name of the output of the predict graph.
pub const PREDICTIONS_OUTPUT: &str = "predictions";

/// A compiled predict graph for one batch size.
enum Predictor {
    /// Immutable code, run by many threads at once, each with its own workspace.
    Cpu(Box<codegen_cpu::Executable>),
    /// One executable and its device state; callers take turns.
    Gpu(Box<Mutex<(codegen_gpu::GpuExecutable, codegen_gpu::GpuState)>>),
}

/// Parameter values by name, borrowed or read back from a device.
type ParamValues<'a> = Vec<(&'a str, Cow<'a, [f32]>)>;

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

/// The graph output of model output `k` of `count`: `predictions` for a one-output model,
/// else `predictions_k`.
fn predictions_output(k: usize, count: usize) -> String {
    if count == 1 {
        PREDICTIONS_OUTPUT.to_string()
    } else {
        format!("{PREDICTIONS_OUTPUT}_{k}")
    }
}

/// The batches of `n` examples in runs of one size: `(size, first, end)` covers examples
/// `first..end` in batches of `size` (the full batches, then the partial last one).
fn segments(n: usize, batch_size: usize) -> Vec<(usize, usize, usize)> {
    let full = n / batch_size * batch_size;
    let mut runs = Vec::new();
    if full > 0 {
        runs.push((batch_size, 0, full));
    }
    if n > full {
        runs.push((n - full, full, n));
    }
    runs
}

/// `[n, d1, d2]` for a per-example shape `[d1, d2]`.
fn batched(shape: &Shape) -> String {
    let dims: Vec<String> = shape.dims().iter().map(|d| d.to_string()).collect();
    format!("[n, {}]", dims.join(", "))
}

impl Model {
    /// The model's outputs for `features` (`[n, ...input shape]`), computed in batches of
    /// `batch_size`; shape `[n, ...output shape]`. For a model with one input and one
    /// output (else see [`Model::predict_many`]). Safe to call from several threads at once.
    pub fn predict(&self, features: &Tensor, batch_size: usize) -> Result<Tensor> {
        self.graph.require_single_io("predict")?;
        Ok(self
            .predict_many(&[features], batch_size)?
            .pop()
            .expect("one output"))
    }

    /// The model's outputs (one tensor per model output, in order) for one tensor per model
    /// input (`[n, ...that input's shape]`, the same `n` for all), in batches of
    /// `batch_size`. Safe to call from several threads at once.
    pub fn predict_many(&self, inputs: &[&Tensor], batch_size: usize) -> Result<Vec<Tensor>> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                msg: "must be at least 1".into(),
            });
        }
        let input_shapes = self.input_shapes()?;
        if inputs.len() != input_shapes.len() {
            return Err(self.model_error(format!(
                "predict got {} input tensors but the model has {} inputs ({})",
                inputs.len(),
                input_shapes.len(),
                self.input_names().join(", ")
            )));
        }
        let mut n = None;
        for (features, shape) in inputs.iter().zip(&input_shapes) {
            let dims = features.shape.dims();
            if dims.is_empty() || dims[1..] != *shape.dims() {
                return Err(self.model_error(format!(
                    "predict features have shape {} but the model takes {}",
                    features.shape,
                    batched(shape)
                )));
            }
            if features.data.len() != features.shape.numel() {
                return Err(Error::InvalidArgument {
                    name: "features",
                    msg: format!(
                        "{} values for shape {}",
                        features.data.len(),
                        features.shape
                    ),
                });
            }
            if *n.get_or_insert(dims[0]) != dims[0] {
                return Err(self.model_error(format!(
                    "predict inputs hold different numbers of examples: {} and {}",
                    n.unwrap_or_default(),
                    dims[0]
                )));
            }
        }
        let n = n.unwrap_or_default();
        let rows: Vec<&[f32]> = inputs.iter().map(|t| t.data.as_slice()).collect();
        let data = self.predict_rows(&rows, n, batch_size)?;
        Ok(data
            .into_iter()
            .zip(self.output_shapes()?)
            .map(|(data, shape)| {
                let mut dims = vec![n];
                dims.extend_from_slice(shape.dims());
                Tensor {
                    shape: Shape::new(dims),
                    data,
                }
            })
            .collect())
    }

    /// The model's output for one example given as its flat feature values (the input
    /// shape's element count, row-major). Safe to call from several threads at once.
    pub fn predict_one(&self, features: &[f32]) -> Result<Vec<f32>> {
        self.graph.require_single_io("predict_one")?;
        let input = self.input_shape()?;
        if features.len() != input.numel() {
            return Err(self.model_error(format!(
                "predict_one got {} feature values but the model's input {input} holds {}",
                features.len(),
                input.numel()
            )));
        }
        Ok(self
            .predict_rows(&[features], 1, 1)?
            .pop()
            .expect("one output"))
    }

    /// Outputs of `n` examples laid out row after row in each input's values, in batches;
    /// one row-major buffer per model output.
    fn predict_rows(
        &self,
        inputs: &[&[f32]],
        n: usize,
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>> {
        if self.training.is_none() {
            self.stored_weights()?;
        }
        let sizes: Vec<usize> = inputs.iter().map(|x| x.len() / n.max(1)).collect();
        let names: Vec<String> = (0..inputs.len())
            .map(|k| features_input(k, inputs.len()))
            .collect();
        let output_count = self.graph.outputs().len();
        let output_names: Vec<String> = (0..output_count)
            .map(|k| predictions_output(k, output_count))
            .collect();
        let mut data = vec![Vec::new(); output_count];
        let feeds = |start: usize, end: usize| -> Vec<(&str, &[f32])> {
            names
                .iter()
                .zip(inputs.iter().zip(&sizes))
                .map(|(name, (x, size))| (name.as_str(), &x[start * size..end * size]))
                .collect()
        };
        let mut collect = |outputs: Vec<(String, Tensor)>| -> Result<()> {
            for (name, buffer) in output_names.iter().zip(data.iter_mut()) {
                let (_, values) = outputs.iter().find(|(n, _)| n == name).ok_or_else(|| {
                    self.model_error(format!("the compiled predictor returned no `{name}`"))
                })?;
                buffer.extend_from_slice(&values.data);
            }
            Ok(())
        };
        for (size, first, last) in segments(n, batch_size) {
            let predictor = self.predictor(size)?;
            let starts = (first..last).step_by(size);
            match predictor.as_ref() {
                Predictor::Cpu(executable) => {
                    let mut workspace = executable.new_workspace();
                    let values =
                        self.predict_params(executable.params().iter().map(|l| &l.name))?;
                    let params: Vec<(&str, &[f32])> =
                        values.iter().map(|(n, v)| (*n, v.as_ref())).collect();
                    for start in starts {
                        collect(executable.run_read_only(
                            &mut workspace,
                            &params,
                            &feeds(start, start + size),
                        )?)?;
                    }
                }
                Predictor::Gpu(slot) => {
                    let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
                    let (executable, state) = &mut *guard;
                    for (name, value) in
                        self.predict_params(executable.params().iter().map(|l| &l.name))?
                    {
                        state.set_param(name, &value)?;
                    }
                    for start in starts {
                        collect(executable.run(state, &feeds(start, start + size))?)?;
                    }
                }
            }
        }
        Ok(data)
    }

    /// The predict graph for `batch` examples: the forward graph in inference mode with
    /// one output per model output.
    pub(crate) fn build_predict_graph(&self, batch: usize) -> Result<Graph> {
        let forward = self.graph.build_forward(ForwardOptions {
            batch,
            training: false,
            frozen: &BTreeSet::new(),
            seed: self.seed,
        })?;
        let mut graph = forward.graph;
        let count = forward.outputs.len();
        for (k, node) in forward.outputs.into_iter().enumerate() {
            graph.add_output(predictions_output(k, count), node)?;
        }
        Ok(graph)
    }

    /// The current values of the parameters `names` a predict graph reads.
    fn predict_params<'a>(
        &'a self,
        names: impl Iterator<Item = &'a String>,
    ) -> Result<ParamValues<'a>> {
        names
            .map(|name| {
                let value = self.param_value(name)?.ok_or_else(|| {
                    self.model_error(format!(
                        "the predict graph reads parameter `{name}`, which has no value"
                    ))
                })?;
                Ok((name.as_str(), value))
            })
            .collect()
    }

    /// The predict executable for `batch` examples on the model's device, compiled on
    /// first use.
    fn predictor(&self, batch: usize) -> Result<Arc<Predictor>> {
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
        let predictor = Arc::new(match backend {
            Backend::Cpu => Predictor::Cpu(Box::new(codegen_cpu::compile(&graph, &plan)?)),
            Backend::Gpu(gpu) => {
                let executable = gpu.compile(&graph, &plan)?;
                let state = executable.new_state()?;
                Predictor::Gpu(Box::new(Mutex::new((executable, state))))
            }
        });
        by_batch.insert(key, Arc::clone(&predictor));
        Ok(predictor)
    }

    /// Forget the predict executables (after the layers changed).
    pub(crate) fn clear_predictors(&mut self) {
        self.predictors = Predictors::default();
    }
}
