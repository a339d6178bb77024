//! Thread-safe prediction: [`Model::predict`], [`Model::predict_one`],
//! [`Model::predict_one_into`] and [`Model::predict_many`] take `&self`, so several threads
//! may predict with one model at once, compiled or not (an uncompiled model predicts with its
//! initial or set weights).
//!
//! A batch runs on a predict executable compiled on first use for its size rounded up to a
//! bucket (padded) and shared (the compiled code is immutable; see `predictor`); the model
//! keeps a bounded number of them, least recently used evicted first (see `cache`). A call runs it on the model's current
//! parameters borrowed read-only — no copy of the weights — with a workspace of its own, so
//! concurrent calls share nothing mutable. [`Model::predict_one_into`] allocates nothing
//! once its thread has a workspace: it is the latency path of batch-1 inference.
//!
//! A model compiled for the GPU ([`crate::Device::Gpu`]) predicts on the GPU: each batch
//! size has one device state behind a mutex, so concurrent calls take turns (a call holds
//! it for all its batches of that size). Each call uploads the current parameters once per
//! batch size, then reads back only the predictions.

mod cache;
mod input;
mod predictor;

use std::collections::BTreeSet;

use ir::{Graph, Shape, Tensor};

use super::Model;
use super::graph::forward::ForwardOptions;
use crate::error::{Error, Result};
pub use cache::{BatchBuckets, PredictorCache};
pub use input::PredictInput;
pub(crate) use predictor::Predictors;

/// Name of the output of the predict graph.
pub const PREDICTIONS_OUTPUT: &str = "predictions";

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
fn segments(n: usize, batch_size: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let full = n / batch_size * batch_size;
    [(batch_size, 0, full), (n - full, full, n)]
        .into_iter()
        .filter(|&(_, first, end)| end > first)
}

/// `[n, d1, d2]` for a per-example shape `[d1, d2]`.
fn batched(shape: &Shape) -> String {
    let dims: Vec<String> = shape.dims().iter().map(|d| d.to_string()).collect();
    format!("[n, {}]", dims.join(", "))
}

impl Model {
    /// The model's outputs for `features` (`[n, ...input shape]`), computed in batches of
    /// `batch_size`; shape `[n, ...output shape]`, of the same kind as the input: a
    /// [`Tensor`] for a tensor, an `ndarray::ArrayD<f32>` for an ndarray array
    /// ([`PredictInput`]). For a model with one input and one output (else see
    /// [`Model::predict_many`]). Safe to call from several threads at once.
    pub fn predict<X: PredictInput + ?Sized>(
        &self,
        features: &X,
        batch_size: usize,
    ) -> Result<X::Output> {
        self.graph.require_single_io("predict")?;
        let features = features.to_tensor()?;
        let output = self
            .predict_many(&[&features], batch_size)?
            .pop()
            .expect("one output");
        X::from_tensor(output)
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
            if features.shape.checked_numel().ok() != Some(features.data.len()) {
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
        for (k, features) in inputs.iter().enumerate() {
            self.check_ids(k, &features.data)?;
        }
        let n = n.unwrap_or_default();
        let rows: Vec<&[f32]> = inputs.iter().map(|t| t.data.as_slice()).collect();
        let shapes = self.output_shapes()?;
        let mut data: Vec<Vec<f32>> = shapes
            .iter()
            .map(|s| -> Result<Vec<f32>> {
                let dims: Vec<usize> = std::iter::once(n).chain(s.dims().iter().copied()).collect();
                let len = ir::size::checked_numel(&dims).map_err(|e| Error::InvalidArgument {
                    name: "features",
                    msg: format!("the predictions of {n} examples: {e}"),
                })?;
                Ok(vec![0.0; len])
            })
            .collect::<Result<_>>()?;
        let mut outputs: Vec<&mut [f32]> = data.iter_mut().map(Vec::as_mut_slice).collect();
        self.predict_rows(&rows, n, batch_size, &mut outputs)?;
        Ok(data
            .into_iter()
            .zip(shapes)
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
        let mut out = vec![0.0; self.predictor(1)?.output_lens[0]];
        self.predict_one_checked("predict_one", features, &mut out)?;
        Ok(out)
    }

    /// [`Model::predict_one`] into `out` (the output shape's element count), without
    /// allocating once this thread has predicted before: for latency-bound callers. Safe
    /// to call from several threads at once.
    pub fn predict_one_into(&self, features: &[f32], out: &mut [f32]) -> Result<()> {
        self.graph.require_single_io("predict_one_into")?;
        self.predict_one_checked("predict_one_into", features, out)
    }

    /// `what` (a predict_one variant) after the one-input one-output check.
    fn predict_one_checked(&self, what: &str, features: &[f32], out: &mut [f32]) -> Result<()> {
        let predictor = self.predictor(1)?;
        if features.len() != predictor.input_lens[0] {
            let input = self.input_shape()?;
            return Err(self.model_error(format!(
                "{what} got {} feature values but the model's input {input} holds {}",
                features.len(),
                input.numel()
            )));
        }
        if out.len() != predictor.output_lens[0] {
            return Err(Error::InvalidArgument {
                name: "out",
                msg: format!(
                    "holds {} values, the model's output has {}",
                    out.len(),
                    predictor.output_lens[0]
                ),
            });
        }
        self.check_ids(0, features)?;
        if self.training.is_none() {
            self.stored_weights()?;
        }
        predictor.run(self, 0..1, 1, &[features], &mut [out])
    }

    /// Outputs of `n` examples laid out row after row in each input's values, in batches,
    /// written row after row into each of `outputs` (one buffer per model output).
    fn predict_rows(
        &self,
        inputs: &[&[f32]],
        n: usize,
        batch_size: usize,
        outputs: &mut [&mut [f32]],
    ) -> Result<()> {
        if self.training.is_none() {
            self.stored_weights()?;
        }
        for (size, first, end) in segments(n, batch_size) {
            self.predictor(size)?
                .run(self, first..end, size, inputs, outputs)?;
        }
        Ok(())
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
}
