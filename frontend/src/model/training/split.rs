//! The split training step of distributed training: a gradient executable (forward, loss,
//! metrics, backward; BatchNormalization's moving statistics updated in it, from this rank's
//! batch) and an update executable (the optimizer's compiled update, from gradients given as
//! inputs), with the gradients averaged across ranks in between, bucket by bucket.
//!
//! The gradient executable is compiled with ready hooks (on the CPU), so each gradient is
//! handed over as soon as its kernel has run and a bucket's sum starts while backward still
//! computes the earlier layers ([`InFlight`]: DDP's overlap); on the GPU the outputs arrive
//! when the step ends. The step's reported values ride in the last bucket, so the logs every
//! rank sees are the global ones without another collective. Single-process `fit` never comes
//! here: it runs the one whole compiled step. This file does NOT pick the data shard nor loop
//! over epochs (`model::fit`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ir::{Graph, NodeId, Shape, Tensor};

use super::{Role, TrainingState};
use crate::distributed::{BucketLayout, Buckets, Communicator, InFlight, Reduced};
use crate::error::{Error, Result};
use crate::metrics::Aggregation;
use crate::model::graph::LayerGraph;
use crate::model::runner::Runner;

/// Prefix of a gradient step's gradient outputs and of an update step's gradient inputs
/// (`gradient/<parameter>`).
pub const GRADIENT_PREFIX: &str = "gradient/";

/// The scalar input of the update step that the summed gradients are multiplied by.
const GRADIENT_SCALE: &str = "gradient_scale";

/// Where the time of distributed steps went, summed over the steps since the model was
/// compiled (per rank; read with `Model::step_timings`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTimings {
    /// Split steps run.
    pub steps: usize,
    /// In the compiled gradient step (forward, loss, backward), less `start_reduce`.
    pub gradient: Duration,
    /// Copying gradients into buckets and starting their reductions (inside the gradient
    /// step, as each bucket completes).
    pub start_reduce: Duration,
    /// Blocked waiting for reductions to finish after the gradient step, plus unpacking them
    /// (the part of the allreduce not hidden behind backward).
    pub wait_reduce: Duration,
    /// Time during which at least one reduction was in flight (start to completion).
    pub reduce_in_flight: Duration,
    /// The part of `reduce_in_flight` that passed while the gradient step was computing
    /// (outside `start_reduce`): the allreduce time hidden behind the backward pass.
    pub reduce_hidden: Duration,
    /// In the compiled optimizer update, plus handing the new weights to the gradient step.
    pub update: Duration,
    /// Bytes this rank sent into allreduce (gradients and reported values).
    pub reduced_bytes: u64,
}

/// The compiled pieces of the split step that do not depend on the batch size.
pub(crate) struct SplitState {
    /// The optimizer update over every trainable parameter.
    pub update: Runner,
    /// The gradients of the trainable parameters by name (`gradient/<parameter>`: outputs of
    /// the gradient step, inputs of the update), in update order, with their element counts.
    gradients: Vec<(String, usize)>,
    /// The bucket layout and the cap it was made for.
    layout: Option<(usize, BucketLayout)>,
    /// The shapes of the gradient steps' other outputs (the reported values).
    value_shapes: HashMap<String, Shape>,
    /// The last step's bucket buffers, reused by the next.
    spare: Vec<Vec<f32>>,
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
    /// each gradient multiplied by the scalar input [`GRADIENT_SCALE`] (1 / ranks: the inputs
    /// are the ranks' sums; the product fuses into the update's kernels), and the optimizer's
    /// update of them; returns it with the optimizer's initial state.
    fn update_graph(&self, shapes: &[(String, Shape)]) -> Result<(Graph, Vec<(String, Tensor)>)> {
        let mut g = Graph::new();
        let scale = g.input(GRADIENT_SCALE, Shape::scalar());
        let mut params = Vec::with_capacity(shapes.len());
        let mut grads = Vec::with_capacity(shapes.len());
        for (name, shape) in shapes {
            params.push(g.param(name.clone(), shape.clone()));
            let sum = g.input(format!("{GRADIENT_PREFIX}{name}"), shape.clone());
            grads.push(g.binary(ir::BinaryOp::Mul, sum, scale)?);
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
                let gradients = shapes
                    .iter()
                    .map(|(n, s)| (format!("{GRADIENT_PREFIX}{n}"), s.numel()))
                    .collect();
                self.split = Some(SplitState {
                    update,
                    gradients,
                    layout: None,
                    value_shapes: HashMap::new(),
                    spare: Vec::new(),
                    timings: StepTimings::default(),
                });
            }
            let split = self.split.as_mut().expect("built above");
            for (name, node) in &step.outputs {
                if !name.starts_with(GRADIENT_PREFIX) {
                    split
                        .value_shapes
                        .insert(name.clone(), step.shape(*node).clone());
                }
            }
            let runner = Runner::compile_with_ready_hooks(&step, &self.backend)?;
            self.runners.insert(key, runner);
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
    /// `bucket_bytes` (each started as soon as backward has produced it), the update. Returns
    /// the reported values combined over the ranks (means averaged, counts summed) in the
    /// order of [`TrainingState::reported`].
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
        let value_names: Vec<String> = reported.iter().map(|(n, _)| n.clone()).collect();
        let split = self.split.as_mut().expect("prepare_split built the update");
        split.plan_layout(bucket_bytes);
        let layout = &split.layout.as_ref().expect("planned").1;
        let spare = std::mem::take(&mut split.spare);
        let mut in_flight = InFlight::new(comm, layout, &value_names, spare);
        let t0 = Instant::now();
        self.runners
            .get_mut(&key)
            .expect("active")
            .run_notifying(inputs, &mut |name, data| in_flight.ready(name, data))?;
        let t1 = Instant::now();
        let reduced = in_flight.finish(t1)?;
        let scale = 1.0 / comm.world_size() as f32;
        let combined = unpack_values(&reduced, &split.value_shapes, &reported, scale)?;
        let t2 = Instant::now();
        let mut feed: Vec<(&str, &[f32])> = Vec::with_capacity(split.gradients.len() + 1);
        feed.push((GRADIENT_SCALE, std::slice::from_ref(&scale)));
        for (name, len) in &split.gradients {
            let (b, offset) = layout.place(name).expect("every gradient has a place");
            feed.push((name.as_str(), &reduced.buffers[b][offset..offset + len]));
        }
        split.update.run(&feed)?;
        let gradient_step = self.runners.get_mut(&key).expect("active");
        for name in split.update.updated_names() {
            if let Some(value) = split.update.param(name)? {
                gradient_step.set_param(name, &value)?;
            }
        }
        let t3 = Instant::now();
        let timings = &mut split.timings;
        timings.steps += 1;
        timings.gradient += (t1 - t0).saturating_sub(reduced.in_hooks);
        timings.start_reduce += reduced.in_hooks;
        timings.wait_reduce += t2 - t1;
        timings.update += t3 - t2;
        timings.reduce_in_flight += reduced.in_flight;
        timings.reduce_hidden += reduced.hidden;
        timings.reduced_bytes += reduced.bytes;
        split.spare = reduced.buffers;
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

impl SplitState {
    /// Plans the bucket layout for a cap of `bucket_bytes` unless it is planned already.
    fn plan_layout(&mut self, bucket_bytes: usize) {
        if self
            .layout
            .as_ref()
            .is_none_or(|(cap, _)| *cap != bucket_bytes)
        {
            let lens: Vec<usize> = self.gradients.iter().map(|(_, n)| *n).collect();
            let names: Vec<String> = self.gradients.iter().map(|(n, _)| n.clone()).collect();
            let layout = BucketLayout::new(Buckets::new(&lens, bucket_bytes), &names);
            self.layout = Some((bucket_bytes, layout));
        }
    }
}

/// The reported values from the end of the last bucket, combined: means scaled by `scale`,
/// counts summed; in the order of `reported`, shaped as `shapes` says.
fn unpack_values(
    reduced: &Reduced,
    shapes: &HashMap<String, Shape>,
    reported: &[(String, Aggregation)],
    scale: f32,
) -> Result<Vec<Tensor>> {
    let last = reduced.buffers.last().map_or(&[][..], Vec::as_slice);
    reported
        .iter()
        .map(|(name, aggregation)| {
            let missing = || {
                Error::Distributed(format!(
                    "the compiled gradient step returned no `{name}` output"
                ))
            };
            let &(_, offset, len) = reduced
                .tail
                .iter()
                .find(|(n, _, _)| n == name)
                .ok_or_else(missing)?;
            let shape = shapes.get(name).ok_or_else(missing)?;
            let factor = match aggregation {
                Aggregation::Mean => scale,
                Aggregation::Sum(_) => 1.0,
            };
            let data: Vec<f32> = last[offset..offset + len]
                .iter()
                .map(|v| v * factor)
                .collect();
            Tensor::new(shape.clone(), data).ok_or_else(|| {
                Error::Distributed(format!("`{name}` does not fit its shape {shape}"))
            })
        })
        .collect()
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
