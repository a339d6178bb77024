//! [`Model::compile`]: validate the model, build its train / eval / predict graphs, and
//! keep what is needed to compile them per batch size.
//!
//! - train step: forward + loss (+ regularizer penalties) + metrics + gradients + optimizer
//!   updates; outputs `loss` and one output per metric;
//! - eval: forward + loss (+ penalties) + metrics;
//! - predict: forward; output `predictions`.
//!
//! Graphs are static-shaped, so each is compiled for a concrete batch size the first time
//! `fit`/`evaluate`/`predict` needs it (a partial last batch gets its own executable) and
//! cached. `compile` itself builds all three graphs once to report every model error up
//! front. Layers frozen at compile time get no gradient and no update (and a frozen
//! BatchNormalization normalises with its moving statistics, as in Keras 2); changing
//! trainability afterwards takes effect at the next `compile`. Train and eval executables share one parameter store: switching between them
//! copies the parameters by name (weights only, plus optimizer state between train steps).
//! Predict executables run on the current parameters borrowed read-only (see `predict`).
//!
//! [`Model::compile_on`] chooses the [`Device`]: every train and eval executable of the
//! model then runs there (and so does `predict`); on the GPU the parameters stay in device
//! memory between steps and are read back only when the weights are asked for.
//!
//! Labels are fed as given by the dataset: one-hot rows shaped like the output, or class
//! indices for the sparse losses. `compile` keeps the first per-example label shape the loss
//! accepts, trying the output's shape, then `[]`, then `[1]`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use ir::{BinaryOp, Graph, NodeId, Shape, Tensor};

use crate::device::{Backend, Device};
use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::model::Model;
use crate::model::runner::Runner;
use crate::model::topology::LABELS_INPUT;
use crate::optimizers::Optimizer;

/// Name of the loss output of the train and eval graphs.
pub const LOSS_OUTPUT: &str = "loss";
/// Name of the output of the predict graph.
pub const PREDICTIONS_OUTPUT: &str = "predictions";

/// The train or the eval graph (predict graphs need no compile, see `predict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    Train,
    Eval,
}

/// A compiled model's training configuration, executables and parameter store.
pub(crate) struct Compiled {
    model_name: String,
    /// Where the executables run.
    pub(crate) backend: Backend,
    /// Per-example label shape the loss takes (one-hot `[classes]` or class index `[]`).
    pub(crate) label_shape: Shape,
    optimizer: Box<dyn Optimizer>,
    loss: Box<dyn Loss>,
    metrics: Vec<Box<dyn Metric>>,
    runners: HashMap<(Role, usize), Runner>,
    /// Latest value of every parameter, except those the active runner has since updated.
    store: BTreeMap<String, Tensor>,
    active: Option<(Role, usize)>,
    /// The layers frozen when the model was compiled (the train graph leaves them alone).
    frozen: BTreeSet<String>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field(
                "metrics",
                &self
                    .metrics
                    .iter()
                    .map(|m| m.name().to_string())
                    .collect::<Vec<_>>(),
            )
            .field("device", &self.backend.device())
            .field("executables", &self.runners.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl<M: Metric + 'static> From<M> for Box<dyn Metric> {
    fn from(metric: M) -> Self {
        Box::new(metric)
    }
}

impl Model {
    /// Prepare the model for training: validate it (shape errors name the layer), check that
    /// the loss and metrics apply to its output, build the train, eval and predict graphs,
    /// and start from the model's current weights (initial, set, loaded or trained by an
    /// earlier `compile`; optimizer state starts afresh). The layers frozen now
    /// ([`Model::set_trainable`]) stay unchanged by training. Models with several inputs or
    /// outputs cannot be compiled (the loss takes one output and `fit` one features tensor).
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// use kiln::prelude::*;
    /// use kiln::{losses::SoftmaxCrossEntropyWithLogits, metrics::Accuracy, optimizers::Adam};
    /// let mut model = Sequential::of([Input::new([4]).into(), Dense::new(3).into()]);
    /// model.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    /// assert_eq!(model.metric_names(), ["accuracy"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn compile<M: Into<Box<dyn Metric>>>(
        &mut self,
        optimizer: impl Optimizer + 'static,
        loss: impl Loss + 'static,
        metrics: impl IntoIterator<Item = M>,
    ) -> Result<()> {
        self.compile_on(Device::Cpu, optimizer, loss, metrics)
    }

    /// [`Model::compile`] for `device`: fit, evaluate and predict then run there.
    /// `Device::Gpu` fails without a GPU adapter, with an error saying how to install a
    /// Vulkan driver; `Device::Auto` takes the GPU when there is one, else the CPU
    /// ([`Model::device`] says which). The GPU (adapter and device) is created on first use
    /// and shared by every model of the process.
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// use kiln::prelude::*;
    /// use kiln::{losses::SoftmaxCrossEntropyWithLogits, metrics::Accuracy, optimizers::Adam};
    /// let mut model = Sequential::of([Input::new([4]).into(), Dense::new(3).into()]);
    /// model.compile_on(Device::Cpu, Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    /// assert_eq!(model.device(), Device::Cpu);
    /// # Ok(())
    /// # }
    /// ```
    pub fn compile_on<M: Into<Box<dyn Metric>>>(
        &mut self,
        device: Device,
        optimizer: impl Optimizer + 'static,
        loss: impl Loss + 'static,
        metrics: impl IntoIterator<Item = M>,
    ) -> Result<()> {
        self.require_single_io("compile")?;
        let backend = Backend::resolve(device)?;
        let store = self.layer_weights()?;
        let mut compiled = Compiled {
            model_name: self.name.clone(),
            backend,
            label_shape: Shape::scalar(),
            optimizer: Box::new(optimizer),
            loss: Box::new(loss),
            metrics: metrics.into_iter().map(Into::into).collect(),
            runners: HashMap::new(),
            store,
            active: None,
            frozen: self.frozen.clone(),
        };
        let mut seen = vec![LOSS_OUTPUT.to_string()];
        for metric in &compiled.metrics {
            let name = metric.name().to_string();
            if seen.contains(&name) {
                return Err(self.model_error(format!("metric `{name}` is given twice")));
            }
            seen.push(name);
        }
        // The label form the loss takes: one-hot like the output, else class indices.
        let output = self.output_shape()?;
        let mut first_error = None;
        for label_shape in [output, Shape::scalar(), Shape::from([1])] {
            compiled.label_shape = label_shape;
            match self.validate_graphs(&compiled) {
                Ok(initial_state) => {
                    for (name, value) in initial_state {
                        compiled.store.entry(name).or_insert(value);
                    }
                    self.compiled = Some(compiled);
                    self.weights = OnceLock::new();
                    return Ok(());
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.expect("at least one label shape was tried"))
    }

    /// Build all three graphs for one example; returns the optimizer's initial state.
    fn validate_graphs(&self, compiled: &Compiled) -> Result<Vec<(String, Tensor)>> {
        let mut initial_state = Vec::new();
        for role in [Role::Train, Role::Eval] {
            initial_state.extend(self.build_graph(compiled, role, 1)?.1);
        }
        self.build_predict_graph(1)?;
        Ok(initial_state)
    }

    /// The device the model runs on: the one chosen at [`Model::compile_on`] (`Auto`
    /// resolved to `Cpu` or `Gpu`), `Cpu` when not compiled.
    pub fn device(&self) -> Device {
        self.compiled
            .as_ref()
            .map_or(Device::Cpu, |c| c.backend.device())
    }

    /// What [`Model::device`] is, in words: `cpu`, or `gpu: <adapter> (<api>)`.
    pub fn device_name(&self) -> String {
        self.compiled
            .as_ref()
            .map_or_else(|| Backend::Cpu.describe(), |c| c.backend.describe())
    }

    /// Whether [`Model::compile`] has run.
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// The names of the compiled metrics, in order.
    pub fn metric_names(&self) -> Vec<String> {
        self.compiled
            .iter()
            .flat_map(|c| c.metrics.iter().map(|m| m.name().to_string()))
            .collect()
    }

    pub(crate) fn compiled_mut(&mut self) -> Result<&mut Compiled> {
        let name = self.name.clone();
        self.compiled.as_mut().ok_or(Error::Model {
            model: name,
            msg: "is not compiled; call compile(optimizer, loss, metrics) first".into(),
        })
    }

    /// The train or eval graph for `batch` examples, and the optimizer's initial state
    /// values (train graph only).
    pub(crate) fn build_graph(
        &self,
        compiled: &Compiled,
        role: Role,
        batch: usize,
    ) -> Result<(Graph, Vec<(String, Tensor)>)> {
        let forward = self.build_forward(batch, role == Role::Train, &compiled.frozen)?;
        let output = forward.outputs[0];
        let mut g = forward.graph;
        let mut label_dims = vec![batch];
        label_dims.extend_from_slice(compiled.label_shape.dims());
        let labels = g.input(LABELS_INPUT, Shape::new(label_dims));
        let mut loss = compiled.loss.build(&mut g, output, labels)?;
        if !g.shape(loss).dims().is_empty() {
            return Err(self.model_error(format!(
                "the loss must be a scalar, got shape {}",
                g.shape(loss)
            )));
        }
        for p in forward
            .params
            .iter()
            .filter(|p| p.spec.regularizer.is_some())
        {
            let regularizer = p.spec.regularizer.expect("filtered on Some");
            let penalty = regularizer.build_penalty(&mut g, p.node)?;
            loss = g.binary(BinaryOp::Add, loss, penalty)?;
        }
        let metric_nodes = compiled
            .metrics
            .iter()
            .map(|m| {
                let node = m.build(&mut g, output, labels)?;
                if g.shape(node).rank() != 0 {
                    return Err(self.model_error(format!(
                        "metric `{}` must be a scalar, got shape {}",
                        m.name(),
                        g.shape(node)
                    )));
                }
                Ok((m.name().to_string(), node))
            })
            .collect::<Result<Vec<(String, NodeId)>>>()?;
        let mut initial_state = Vec::new();
        if role == Role::Train {
            let trainable: Vec<NodeId> = forward
                .params
                .iter()
                .filter(|p| p.spec.trainable)
                .map(|p| p.node)
                .collect();
            let (with_grads, grads) = passes::autodiff::grad(&g, loss, &trainable)?;
            g = with_grads;
            initial_state = compiled
                .optimizer
                .build_update(&mut g, &trainable, &grads)?;
        }
        g.add_output(LOSS_OUTPUT, loss)?;
        for (name, node) in metric_nodes {
            g.add_output(name, node)?;
        }
        Ok((g, initial_state))
    }

    /// The train-step graph for `batch` examples (what `fit` runs) and the optimizer's
    /// initial state values, for ahead-of-time compilation; an error if not compiled.
    pub(crate) fn train_step_graph(&self, batch: usize) -> Result<(Graph, Vec<(String, Tensor)>)> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or_else(|| self.model_error("is not compiled; call compile first"))?;
        self.build_graph(compiled, Role::Train, batch)
    }

    /// The runner for `(role, batch)`, compiled on first use, holding the latest parameters.
    pub(crate) fn runner(&mut self, role: Role, batch: usize) -> Result<&mut Runner> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or_else(|| self.model_error("is not compiled; call compile first"))?;
        if !compiled.runners.contains_key(&(role, batch)) {
            let (graph, initial_state) = self.build_graph(compiled, role, batch)?;
            let runner = Runner::compile(&graph, &compiled.backend)?;
            let compiled = self.compiled.as_mut().expect("checked above");
            for (name, value) in initial_state {
                compiled.store.entry(name).or_insert(value);
            }
            compiled.runners.insert((role, batch), runner);
        }
        let compiled = self.compiled.as_mut().expect("checked above");
        compiled.activate((role, batch))?;
        Ok(compiled
            .runners
            .get_mut(&(role, batch))
            .expect("inserted above"))
    }
}

impl Compiled {
    /// The current value of parameter `name`: the active runner's if it updates it (read
    /// back from the device on the GPU), else the store's.
    pub(crate) fn current(&self, name: &str) -> Result<Option<Cow<'_, [f32]>>> {
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
    pub(crate) fn param_shapes(&self) -> impl Iterator<Item = (&str, &Shape)> {
        self.store.iter().map(|(name, t)| (name.as_str(), &t.shape))
    }

    /// Overwrite parameter `name` (which must exist, with `value`'s shape) in the store and
    /// in the active runner, so the next step uses it without recompiling.
    pub(crate) fn set_param(&mut self, name: &str, value: &Tensor) -> Result<()> {
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
        Ok(())
    }

    /// The optimizer, loss and metrics the model was compiled with.
    pub(crate) fn components(&self) -> (&dyn Optimizer, &dyn Loss, &[Box<dyn Metric>]) {
        (self.optimizer.as_ref(), self.loss.as_ref(), &self.metrics)
    }

    /// Replace parameter values by name (weights and optimizer state, already checked against
    /// the store's names and shapes); every executable reloads them on its next run.
    pub(crate) fn restore(
        &mut self,
        values: impl IntoIterator<Item = (String, Tensor)>,
    ) -> Result<()> {
        self.sync()?;
        self.store.extend(values);
        self.active = None;
        Ok(())
    }

    /// The store, brought up to date with the active runner.
    pub(crate) fn synced_store(&mut self) -> Result<&BTreeMap<String, Tensor>> {
        self.sync()?;
        Ok(&self.store)
    }

    /// Copy the active runner's updated parameters into the store (a read-back from the
    /// device on the GPU).
    fn sync(&mut self) -> Result<()> {
        if let Some(key) = self.active {
            self.runners[&key].save(&mut self.store)?;
        }
        Ok(())
    }

    /// Make `key` the active runner, handing the parameters over by name.
    fn activate(&mut self, key: (Role, usize)) -> Result<()> {
        if self.active == Some(key) {
            return Ok(());
        }
        self.sync()?;
        self.active = None;
        self.runners
            .get_mut(&key)
            .expect("runner exists")
            .load(&self.store, &self.model_name)?;
        self.active = Some(key);
        Ok(())
    }
}
