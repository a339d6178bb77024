//! [`TrainingState`]: what `compile` adds to a model — the device, the optimizer, loss and
//! metrics, the executables compiled per role and batch size ([`Runner`]s), and the one
//! parameter store they share (weights and optimizer state).
//!
//! Train and eval executables share the store: switching between them copies the
//! parameters by name (weights only, plus optimizer state between train steps). On the GPU
//! the parameters stay in device memory between steps and are read back only when asked
//! for. The step graphs themselves are built in [`step`], the loss and metrics of each
//! model output in [`heads`].

mod heads;
mod split;
mod step;
mod weighted;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use ir::{Shape, Tensor};

pub use heads::LABELS_INPUT;
pub(crate) use heads::{Head, check_label_shape, labels_input, reported_names};
pub use split::{GRADIENT_PREFIX, StepTimings};
pub use step::LOSS_OUTPUT;
pub use weighted::SAMPLE_WEIGHT_INPUT;

use crate::device::Backend;
use crate::error::{Error, Result};
use crate::metrics::Aggregation;
use crate::model::graph::LayerGraph;
use crate::model::graph::forward::ForwardOptions;
use crate::model::runner::Runner;
use crate::optimizers::Optimizer;

/// The train or the eval graph (predict graphs belong to the model, see `predict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    Train,
    Eval,
    /// The gradient half of a distributed train step (`split`).
    Gradients,
}

/// Which executable: role, batch size, whether it takes sample weights.
type RunnerKey = (Role, usize, bool);

/// The optimizer, and the loss and metrics of each model output, a model is compiled with.
pub(crate) struct Components {
    pub optimizer: Box<dyn Optimizer>,
    /// One per model output that has a loss, in output order.
    pub heads: Vec<Head>,
}

/// A compiled model's training configuration, executables and parameter store.
pub(crate) struct TrainingState {
    model_name: String,
    /// Where the executables run.
    backend: Backend,
    /// Per head, the per-example label shape its loss takes (one-hot `[classes]` or class
    /// index `[]`).
    label_shapes: Vec<Shape>,
    components: Components,
    /// By role, batch size, and whether the step takes sample weights.
    runners: HashMap<RunnerKey, Runner>,
    /// Latest value of every parameter, except those the active runner has since updated.
    store: BTreeMap<String, Tensor>,
    active: Option<RunnerKey>,
    /// The distributed step's update executable and bucket plan, once built.
    split: Option<split::SplitState>,
    /// The active runner is a gradient step, paired with `split`'s update (both hold
    /// current parameters: the update the weights and optimizer state, the gradient step the
    /// moving statistics).
    split_active: bool,
    /// The layers frozen when the model was compiled (the train graph leaves them alone).
    frozen: BTreeSet<String>,
}

impl std::fmt::Debug for TrainingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingState")
            .field("metrics", &self.metric_names())
            .field("device", &self.backend.device())
            .field("executables", &self.runners.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl TrainingState {
    /// A state for the model called `model_name` on `backend`, starting from the parameter
    /// values `store` (the layer weights), with the layers in `frozen` left alone by
    /// training. The label shapes are settled by [`TrainingState::set_label_shape`].
    pub fn new(
        model_name: String,
        backend: Backend,
        components: Components,
        store: BTreeMap<String, Tensor>,
        frozen: BTreeSet<String>,
    ) -> Self {
        TrainingState {
            model_name,
            backend,
            label_shapes: vec![Shape::scalar(); components.heads.len()],
            components,
            runners: HashMap::new(),
            store,
            active: None,
            split: None,
            split_active: false,
            frozen,
        }
    }

    /// Where the executables run.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Per head, the per-example label shape its loss takes.
    pub fn label_shapes(&self) -> &[Shape] {
        &self.label_shapes
    }

    /// Set the per-example label shape of head `k` (before any runner is compiled).
    pub fn set_label_shape(&mut self, k: usize, shape: Shape) {
        self.label_shapes[k] = shape;
    }

    /// The heads: the loss, weight and metrics of each model output that has a loss.
    pub fn heads(&self) -> &[Head] {
        &self.components.heads
    }

    /// What a step reports, loss first, with how each value combines over a pass.
    pub fn reported(&self) -> Vec<(String, Aggregation)> {
        heads::reported_names(&self.components.heads)
    }

    /// The names of the reported values after the loss, in order: the metrics (for several
    /// outputs, `<output>_loss` and `<output>_<metric>`).
    pub fn metric_names(&self) -> Vec<String> {
        self.reported()
            .into_iter()
            .skip(1)
            .map(|(n, _)| n)
            .collect()
    }

    /// The optimizer the model was compiled with.
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.components.optimizer.as_ref()
    }

    /// Add initial values (optimizer state) for the parameters the store lacks.
    pub fn add_initial_state(&mut self, values: Vec<(String, Tensor)>) {
        for (name, value) in values {
            self.store.entry(name).or_insert(value);
        }
    }

    /// The runner for `(role, batch)` of the model whose layers are `graph` and whose seed
    /// is `seed` (taking sample weights when `weighted`), compiled on first use and holding
    /// the latest parameters.
    pub fn runner(
        &mut self,
        graph: &LayerGraph,
        seed: u64,
        (role, batch): (Role, usize),
        weighted: bool,
    ) -> Result<&mut Runner> {
        let key = (role, batch, weighted);
        if !self.runners.contains_key(&key) {
            let (step, initial_state) = self.step_graph(graph, seed, role, batch, weighted)?;
            let runner = Runner::compile(&step, &self.backend)?;
            self.add_initial_state(initial_state);
            self.runners.insert(key, runner);
        }
        self.activate(key)?;
        Ok(self.runners.get_mut(&key).expect("inserted above"))
    }

    /// The forward-graph options of `role`'s step for `batch` examples of a model seeded
    /// with `seed`.
    fn forward_options(&self, seed: u64, role: Role, batch: usize) -> ForwardOptions<'_> {
        ForwardOptions {
            batch,
            training: role != Role::Eval,
            frozen: &self.frozen,
            seed,
        }
    }

    /// The current value of parameter `name`: the active runner's if it updates it (read
    /// back from the device on the GPU), else the store's.
    pub fn current(&self, name: &str) -> Result<Option<Cow<'_, [f32]>>> {
        if let Some(split) = self.split.as_ref().filter(|_| self.split_active)
            && split.update.updates(name)
        {
            return split.update.param(name);
        }
        let active = self.active.map(|key| &self.runners[&key]);
        match active.filter(|runner| runner.updates(name)) {
            Some(runner) => runner.param(name),
            None => Ok(self
                .store
                .get(name)
                .map(|t| Cow::Borrowed(t.data.as_slice()))),
        }
    }

    /// The names and shapes of every parameter (weights and optimizer state).
    pub fn param_shapes(&self) -> impl Iterator<Item = (&str, &Shape)> {
        self.store.iter().map(|(name, t)| (name.as_str(), &t.shape))
    }

    /// Overwrite parameter `name` (which must exist, with `value`'s shape) in the store and
    /// in the active runner, so the next step uses it without recompiling.
    pub fn set_param(&mut self, name: &str, value: &Tensor) -> Result<()> {
        let fail = |msg: String| Error::Model {
            model: self.model_name.clone(),
            msg,
        };
        let slot = self
            .store
            .get_mut(name)
            .ok_or_else(|| fail(format!("has no parameter `{name}`")))?;
        if slot.shape != value.shape || value.data.len() != value.shape.numel() {
            return Err(fail(format!(
                "parameter `{name}` has shape {}, got a tensor of shape {} with {} values",
                slot.shape,
                value.shape,
                value.data.len()
            )));
        }
        slot.data.copy_from_slice(&value.data);
        if let Some(key) = self.active {
            self.runners
                .get_mut(&key)
                .expect("the active runner exists")
                .set_param(name, &value.data)?;
        }
        if let Some(split) = self.split.as_mut().filter(|_| self.split_active) {
            split.update.set_param(name, &value.data)?;
        }
        Ok(())
    }

    /// Replace parameter values by name (weights and optimizer state, already checked against
    /// the store's names and shapes); every executable reloads them on its next run.
    pub fn restore(&mut self, values: impl IntoIterator<Item = (String, Tensor)>) -> Result<()> {
        self.sync()?;
        self.store.extend(values);
        self.active = None;
        self.split_active = false;
        Ok(())
    }

    /// The store, brought up to date with the active runner.
    pub fn synced_store(&mut self) -> Result<&BTreeMap<String, Tensor>> {
        self.sync()?;
        Ok(&self.store)
    }

    /// Copy the active runner's updated parameters into the store (a read-back from the
    /// device on the GPU).
    fn sync(&mut self) -> Result<()> {
        if let Some(key) = self.active {
            self.runners[&key].save(&mut self.store)?;
        }
        if let Some(split) = self.split.as_ref().filter(|_| self.split_active) {
            split.update.save(&mut self.store)?;
        }
        Ok(())
    }

    /// Make `key` the active runner, handing the parameters over by name.
    fn activate(&mut self, key: RunnerKey) -> Result<()> {
        if self.active == Some(key) && !self.split_active {
            return Ok(());
        }
        self.sync()?;
        self.active = None;
        self.split_active = false;
        self.runners
            .get_mut(&key)
            .expect("runner exists")
            .load(&self.store, &self.model_name)?;
        self.active = Some(key);
        Ok(())
    }
}
