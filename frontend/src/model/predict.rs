//! Thread-safe prediction: [`Sequential::predict`] and [`Sequential::predict_one`] take
//! `&self`, so several threads may predict with one compiled model at once.
//!
//! Each batch size gets a predict executable, compiled on first use and shared (the
//! compiled code is immutable). A call runs it on the model's current parameters borrowed
//! read-only — no copy of the weights — with its own freshly allocated arena
//! (`codegen_cpu::Workspace`), so concurrent calls share nothing mutable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ir::{Shape, Tensor};

use crate::error::{Error, Result};
use crate::model::Sequential;
use crate::model::compile::{PREDICTIONS_OUTPUT, Role};
use crate::model::runner::compile_executable;
use crate::model::sequential::FEATURES_INPUT;

/// The predict executables of a compiled model, by batch size.
#[derive(Default)]
pub(crate) struct Predictors {
    by_batch: Mutex<HashMap<usize, Arc<codegen_cpu::Executable>>>,
}

impl std::fmt::Debug for Predictors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by_batch = self.by_batch.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batches: Vec<usize> = by_batch.keys().copied().collect();
        batches.sort_unstable();
        f.debug_struct("Predictors")
            .field("batch_sizes", &batches)
            .finish()
    }
}

impl Sequential {
    /// The model's outputs for `features` (`[n, ...input shape]`), computed in batches of
    /// `batch_size`; shape `[n, ...output shape]`. Safe to call from several threads at once.
    pub fn predict(&self, features: &Tensor, batch_size: usize) -> Result<Tensor> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                msg: "must be at least 1".into(),
            });
        }
        let input = self.input_shape()?;
        let dims = features.shape.dims();
        if dims.is_empty() || dims[1..] != *input.dims() {
            return Err(self.model_error(format!(
                "predict features have shape {} but the model takes [n, {}]",
                features.shape,
                input
                    .dims()
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
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
        let n = dims[0];
        let data = self.predict_rows(&features.data, n, batch_size)?;
        let mut shape = vec![n];
        shape.extend_from_slice(self.output_shape()?.dims());
        Ok(Tensor {
            shape: Shape::new(shape),
            data,
        })
    }

    /// The model's output for one example given as its flat feature values (the input
    /// shape's element count, row-major). Safe to call from several threads at once.
    pub fn predict_one(&self, features: &[f32]) -> Result<Vec<f32>> {
        let input = self.input_shape()?;
        if features.len() != input.numel() {
            return Err(self.model_error(format!(
                "predict_one got {} feature values but the model's input {input} holds {}",
                features.len(),
                input.numel()
            )));
        }
        self.predict_rows(features, 1, 1)
    }

    /// Outputs of `n` examples laid out row after row in `features`, in batches.
    fn predict_rows(&self, features: &[f32], n: usize, batch_size: usize) -> Result<Vec<f32>> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or_else(|| self.model_error("is not compiled; call compile first"))?;
        let in_size = features.len() / n.max(1);
        let mut data = Vec::new();
        let mut current: Option<(usize, Arc<codegen_cpu::Executable>, codegen_cpu::Workspace)> =
            None;
        for start in (0..n).step_by(batch_size) {
            let end = (start + batch_size).min(n);
            if current
                .as_ref()
                .is_none_or(|(batch, ..)| *batch != end - start)
            {
                let executable = self.predictor(end - start)?;
                let workspace = executable.new_workspace();
                current = Some((end - start, executable, workspace));
            }
            let (_, executable, workspace) = current.as_mut().expect("set above");
            let params = executable
                .params()
                .iter()
                .map(|leaf| {
                    let value = compiled.current(&leaf.name).ok_or_else(|| {
                        self.model_error(format!(
                            "the predict graph reads parameter `{}`, which has no value",
                            leaf.name
                        ))
                    })?;
                    Ok((leaf.name.as_str(), value))
                })
                .collect::<Result<Vec<_>>>()?;
            let batch = &features[start * in_size..end * in_size];
            let outputs =
                executable.run_read_only(workspace, &params, &[(FEATURES_INPUT, batch)])?;
            let predictions = outputs
                .into_iter()
                .find(|(name, _)| name == PREDICTIONS_OUTPUT)
                .ok_or_else(|| {
                    self.model_error("the compiled predictor returned no predictions")
                })?;
            data.extend_from_slice(&predictions.1.data);
        }
        Ok(data)
    }

    /// The predict executable for `batch` examples, compiled on first use.
    fn predictor(&self, batch: usize) -> Result<Arc<codegen_cpu::Executable>> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or_else(|| self.model_error("is not compiled; call compile first"))?;
        // Held while compiling, so concurrent first calls compile once.
        let mut by_batch = compiled
            .predictors
            .by_batch
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(executable) = by_batch.get(&batch) {
            return Ok(Arc::clone(executable));
        }
        let (graph, _) = self.build_graph(compiled, Role::Predict, batch)?;
        let executable = Arc::new(compile_executable(&graph)?.0);
        by_batch.insert(batch, Arc::clone(&executable));
        Ok(executable)
    }
}
