//! The split training step of distributed training: a gradient executable (forward, loss,
//! metrics, backward; BatchNormalization's moving statistics updated in it, from this rank's
//! batch) and an update executable (the optimizer's compiled update, from gradients given as
//! inputs), with the gradients averaged across ranks in between, bucket by bucket.
//!
//! The compiled gradient step is one call, so no reduction can start before backward ends;
//! the buckets' reductions are all started as soon as it returns (largest-index tensors
//! first, as DDP), run concurrently with each other, and the unpacking of a finished bucket
//! overlaps those still in flight. The step's reported values ride in the last bucket, so the
//! logs every rank sees are the global ones without another collective. Single-process `fit`
//! never comes here: it runs the one whole compiled step. This file does NOT pick the data
//! shard nor loop over epochs (`model::fit`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ir::{Graph, NodeId, Shape, Tensor};

use super::{Role, TrainingState};
use crate::distributed::{Buckets, Communicator, PendingSum};
use crate::error::{Error, Result};
use crate::metrics::Aggregation;
use crate::model::graph::LayerGraph;
use crate::model::runner::Runner;

/// Prefix of a gradient step's gradient outputs and of an update step's gradient inputs
/// (`gradient/<parameter>`).
pub const GRADIENT_PREFIX: &str = "gradient/";

/// Where the time of distributed steps went, summed over the steps since the model was
/// compiled (per rank; read with `Model::step_timings`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTimings {
    /// Split steps run.
    pub steps: usize,
    /// In the compiled gradient step (forward, loss, backward).
    pub gradient: Duration,
    /// Packing the buckets and starting their reductions.
    pub start_reduce: Duration,
    /// Blocked waiting for reductions to finish, plus unpacking them (the part of the
    /// allreduce not hidden behind other work).
    pub wait_reduce: Duration,
    /// In the compiled optimizer update, plus handing the new weights to the gradient step.
    pub update: Duration,
    /// Bytes this rank sent into allreduce (gradients and reported values).
    pub reduced_bytes: u64,
}

/// The compiled pieces of the split step that do not depend on the batch size.
pub(crate) struct SplitState {
    /// The optimizer update over every trainable parameter.
    pub update: Runner,
    /// Trainable parameters, in update order, with their element counts.
    trainable: Vec<(String, usize)>,
    /// The bucket plan and the cap it was made for.
    buckets: Option<(usize, Buckets)>,
    pub timings: StepTimings,
}

impl TrainingState {
    /// The gradient graph for `batch` examples: the train graph without the optimizer,
    /// with one output `gradient/<name>` per trainable parameter.
    pub(super) fn add_gradient_outputs(
        g: &mut Graph,
        trainable: &[NodeId],
        loss: NodeId,
    ) -> Result<()> {
        let (with_grads, grads) = passes::autodiff::grad(g, loss, trainable)?;
        *g = with_grads;
        for (&p, &grad) in trainable.iter().zip(&grads) {
            let name = param_name(g, p);
            g.add_output(format!("{GRADIENT_PREFIX}{name}"), grad)?;
        }
        Ok(())
    }

    /// The update graph: a param and a gradient input per trainable parameter of `shapes`,
    /// and the optimizer's update of them; returns it with the optimizer's initial state.
    fn update_graph(&self, shapes: &[(String, Shape)]) -> Result<(Graph, Vec<(String, Tensor)>)> {
        let mut g = Graph::new();
        let mut params = Vec::with_capacity(shapes.len());
        let mut grads = Vec::with_capacity(shapes.len());
        for (name, shape) in shapes {
            params.push(g.param(name.clone(), shape.clone()));
            grads.push(g.input(format!("{GRADIENT_PREFIX}{name}"), shape.clone()));
        }
        let state = self
            .components
            .optimizer
            .build_update(&mut g, &params, &grads)?;
        Ok((g, state))
    }

    /// Compile what the split step for `batch` needs (the update once, the gradient step per
    /// batch size) and make the pair the active executables.
    pub fn prepare_split(
        &mut self,
        graph: &LayerGraph,
        seed: u64,
        batch: usize,
        weighted: bool,
    ) -> Result<()> {
        let key = (Role::Gradients, batch, weighted);
        if !self.runners.contains_key(&key) {
            let (step, _) = self.step_graph(graph, seed, Role::Gradients, batch, weighted)?;
            if self.split.is_none() {
                let shapes = trainable_shapes(&step);
                let (update, state) = self.update_graph(&shapes)?;
                let update = Runner::compile(&update, &self.backend)?;
                self.add_initial_state(state);
                let trainable = shapes.iter().map(|(n, s)| (n.clone(), s.numel())).collect();
                self.split = Some(SplitState {
                    update,
                    trainable,
                    buckets: None,
                    timings: StepTimings::default(),
                });
            }
            self.runners
                .insert(key, Runner::compile(&step, &self.backend)?);
        }
        if self.active == Some(key) && self.split_active {
            return Ok(());
        }
        self.sync()?;
        self.active = None;
        let split = self.split.as_mut().expect("built above");
        split.update.load(&self.store, &self.model_name)?;
        self.runners
            .get_mut(&key)
            .expect("compiled above")
            .load(&self.store, &self.model_name)?;
        self.active = Some(key);
        self.split_active = true;
        Ok(())
    }

    /// One distributed step on `inputs` (already prepared by [`TrainingState::prepare_split`]
    /// for this batch): gradients, their average over `comm`'s ranks in buckets of about
    /// `bucket_bytes`, the update. Returns the reported values combined over the ranks
    /// (means averaged, counts summed) in the order of [`TrainingState::reported`].
    pub fn split_step(
        &mut self,
        inputs: &[(&str, &[f32])],
        comm: &dyn Communicator,
        bucket_bytes: usize,
    ) -> Result<Vec<(String, Tensor)>> {
        let key = self
            .active
            .expect("prepare_split activated the gradient step");
        let reported = self.reported();
        let split = self.split.as_mut().expect("prepare_split built the update");
        let t0 = Instant::now();
        let mut outputs: BTreeMap<String, Tensor> = self
            .runners
            .get_mut(&key)
            .expect("active")
            .run(inputs)?
            .into_iter()
            .collect();
        let t1 = Instant::now();
        let grads: Vec<Tensor> = split
            .trainable
            .iter()
            .map(|(name, _)| take(&mut outputs, &format!("{GRADIENT_PREFIX}{name}")))
            .collect::<Result<_>>()?;
        let values: Vec<Tensor> = reported
            .iter()
            .map(|(name, _)| take(&mut outputs, name))
            .collect::<Result<_>>()?;
        let (pending, bytes) = start_buckets(split, &grads, &values, comm, bucket_bytes)?;
        let t2 = Instant::now();
        let scale = 1.0 / comm.world_size() as f32;
        let (averaged, combined) = finish_buckets(split, pending, &values, &reported, scale)?;
        let t3 = Instant::now();
        let feed: Vec<(String, &[f32])> = split
            .trainable
            .iter()
            .zip(&averaged)
            .map(|((name, _), g)| (format!("{GRADIENT_PREFIX}{name}"), g.as_slice()))
            .collect();
        let feed: Vec<(&str, &[f32])> = feed.iter().map(|(n, g)| (n.as_str(), *g)).collect();
        split.update.run(&feed)?;
        let gradient_step = self.runners.get_mut(&key).expect("active");
        for name in split.update.updated_names() {
            if let Some(value) = split.update.param(name)? {
                gradient_step.set_param(name, &value)?;
            }
        }
        let t4 = Instant::now();
        let timings = &mut split.timings;
        timings.steps += 1;
        timings.gradient += t1 - t0;
        timings.start_reduce += t2 - t1;
        timings.wait_reduce += t3 - t2;
        timings.update += t4 - t3;
        timings.reduced_bytes += bytes;
        Ok(reported.into_iter().map(|(n, _)| n).zip(combined).collect())
    }

    /// The timings of the split steps so far (`None` before any distributed training).
    pub fn step_timings(&self) -> Option<StepTimings> {
        self.split.as_ref().map(|s| s.timings)
    }

    /// The parameters the active gradient step updates (BatchNormalization's moving
    /// statistics), averaged over `comm`'s ranks in place (one allreduce).
    pub fn average_running_state(&mut self, comm: &dyn Communicator) -> Result<()> {
        let Some(key) = self.active.filter(|_| self.split_active) else {
            return Ok(());
        };
        let names: Vec<String> = self.runners[&key].updated_names().to_vec();
        if names.is_empty() {
            return Ok(());
        }
        let mut buffer = Vec::new();
        for name in &names {
            buffer.extend_from_slice(&self.current(name)?.expect("an updated parameter"));
        }
        comm.all_reduce_sum(&mut buffer)?;
        let scale = 1.0 / comm.world_size() as f32;
        let mut offset = 0;
        for name in &names {
            let shape = self.store[name].shape.clone();
            let n = shape.numel();
            let data = buffer[offset..offset + n]
                .iter()
                .map(|v| v * scale)
                .collect();
            self.set_param(name, &Tensor::new(shape, data).expect("`n` values"))?;
            offset += n;
        }
        Ok(())
    }
}

/// Output `name` of a step, removed from `outputs`.
fn take(outputs: &mut BTreeMap<String, Tensor>, name: &str) -> Result<Tensor> {
    outputs.remove(name).ok_or_else(|| {
        Error::Distributed(format!(
            "the compiled gradient step returned no `{name}` output"
        ))
    })
}

/// Packs the gradients (and, in the last bucket, the reported values) and starts every
/// bucket's sum; returns the pending sums and the bytes sent.
fn start_buckets(
    split: &mut SplitState,
    grads: &[Tensor],
    values: &[Tensor],
    comm: &dyn Communicator,
    bucket_bytes: usize,
) -> Result<(Vec<Box<dyn PendingSum>>, u64)> {
    if split
        .buckets
        .as_ref()
        .is_none_or(|(cap, _)| *cap != bucket_bytes)
    {
        let lens: Vec<usize> = split.trainable.iter().map(|(_, n)| *n).collect();
        split.buckets = Some((bucket_bytes, Buckets::new(&lens, bucket_bytes)));
    }
    let buckets = &split.buckets.as_ref().expect("set above").1;
    let views: Vec<&[f32]> = grads.iter().map(|t| t.data.as_slice()).collect();
    let mut pending = Vec::with_capacity(buckets.len() + 1);
    let mut bytes = 0;
    for b in 0..buckets.len() {
        let mut buffer = buckets.pack(b, &views);
        if b + 1 == buckets.len() {
            values
                .iter()
                .for_each(|v| buffer.extend_from_slice(&v.data));
        }
        bytes += 4 * buffer.len() as u64;
        pending.push(comm.start_all_reduce_sum(buffer)?);
    }
    if buckets.is_empty() {
        let buffer: Vec<f32> = values.iter().flat_map(|v| v.data.iter().copied()).collect();
        bytes += 4 * buffer.len() as u64;
        pending.push(comm.start_all_reduce_sum(buffer)?);
    }
    Ok((pending, bytes))
}

/// Waits for every bucket in order and unpacks it: the gradients scaled by `scale` (1 /
/// ranks), in trainable order, and the reported values (means scaled, counts summed).
fn finish_buckets(
    split: &SplitState,
    pending: Vec<Box<dyn PendingSum>>,
    values: &[Tensor],
    reported: &[(String, Aggregation)],
    scale: f32,
) -> Result<(Vec<Vec<f32>>, Vec<Tensor>)> {
    let buckets = &split.buckets.as_ref().expect("planned").1;
    let mut averaged = vec![Vec::new(); split.trainable.len()];
    let mut tail = Vec::new();
    let count = pending.len();
    for (b, sum) in pending.into_iter().enumerate() {
        let buffer = sum.wait()?;
        let mut used = 0;
        if b < buckets.len() {
            for (i, part) in buckets.unpack(b, &buffer) {
                averaged[i] = part.iter().map(|g| g * scale).collect();
                used += part.len();
            }
        }
        if b + 1 == count {
            tail = buffer[used..].to_vec();
        }
    }
    let mut offset = 0;
    let mut combined = Vec::with_capacity(values.len());
    for (value, (_, aggregation)) in values.iter().zip(reported) {
        let n = value.data.len();
        let factor = match aggregation {
            Aggregation::Mean => scale,
            Aggregation::Sum(_) => 1.0,
        };
        let data = tail[offset..offset + n]
            .iter()
            .map(|v| v * factor)
            .collect();
        combined.push(Tensor::new(value.shape.clone(), data).expect("the length of `value`"));
        offset += n;
    }
    Ok((averaged, combined))
}

/// The name of param node `p`.
fn param_name(g: &Graph, p: NodeId) -> String {
    match g.op(p) {
        ir::Op::Param { name, .. } => name.clone(),
        other => unreachable!("trainable parameters are Param nodes, got {other:?}"),
    }
}

/// The trainable parameters of a gradient graph, from its `gradient/<name>` outputs, with
/// their shapes.
fn trainable_shapes(g: &Graph) -> Vec<(String, Shape)> {
    g.outputs
        .iter()
        .filter_map(|(name, node)| {
            let param = name.strip_prefix(GRADIENT_PREFIX)?;
            Some((param.to_string(), g.shape(*node).clone()))
        })
        .collect()
}
