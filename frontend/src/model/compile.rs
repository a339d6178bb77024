//! [`Model::compile`]: validate the model, build its train / eval / predict graphs once to
//! report every model error up front, and add the [`TrainingState`] that compiles them per
//! batch size on first use (a partial last batch gets its own executable).
//!
//! Layers frozen at compile time get no gradient and no update (and a frozen
//! BatchNormalization normalises with its moving statistics, as in Keras 2); changing
//! trainability afterwards takes effect at the next `compile`. Predict executables run on
//! the current parameters borrowed read-only (see `predict`).
//!
//! [`Model::compile_on`] chooses the [`Device`]: every train and eval executable of the
//! model then runs there (and so does `predict`); on the GPU the parameters stay in device
//! memory between steps and are read back only when the weights are asked for.
//!
//! Labels are fed as given by the dataset: one-hot rows shaped like the output, or class
//! indices for the sparse losses. `compile` keeps the first per-example label shape the loss
//! accepts, trying the output's shape, then `[]`, then `[1]`.

use std::sync::OnceLock;

use ir::{Shape, Tensor};

use super::Model;
use super::output_losses::OutputLosses;
use super::runner::Runner;
use super::training::{Components, Role, TrainingState, check_label_shape};
use crate::device::{Backend, Device};
use crate::error::Result;
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::optimizers::Optimizer;

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
    /// ([`Model::set_trainable`]) stay unchanged by training. On a model with several
    /// outputs the loss and every metric apply to each output, as in Keras (see
    /// [`Model::compile_outputs`] for a loss per output); such a model, or one with several
    /// inputs, trains on a [`crate::datasets::MultiDataset`].
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
        let metrics = metrics.into_iter().map(Into::into).collect();
        let spec = OutputLosses::same(loss).metrics_for_all(metrics);
        self.compile_outputs_on(device, optimizer, spec)
    }

    /// [`Model::compile`] with a loss, loss weight and metrics per output
    /// ([`OutputLosses`], Keras' `compile(loss=[...] or {...}, loss_weights=..., metrics=...)`)
    /// for models with several outputs.
    pub fn compile_outputs(
        &mut self,
        optimizer: impl Optimizer + 'static,
        losses: OutputLosses,
    ) -> Result<()> {
        self.compile_outputs_on(Device::Cpu, optimizer, losses)
    }

    /// [`Model::compile_outputs`] for `device` (see [`Model::compile_on`]).
    pub fn compile_outputs_on(
        &mut self,
        device: Device,
        optimizer: impl Optimizer + 'static,
        losses: OutputLosses,
    ) -> Result<()> {
        let components = Components {
            optimizer: Box::new(optimizer),
            heads: self.resolve_heads(losses)?,
        };
        let backend = Backend::resolve(device)?;
        let store = self.layer_weights()?;
        let frozen = self.frozen.clone();
        let state = TrainingState::new(self.name().to_string(), backend, components, store, frozen);
        self.training = Some(self.settle_label_shapes(state)?);
        self.weights = OnceLock::new();
        Ok(())
    }

    /// `state` with, per head, the first label form its loss and metrics take — one-hot
    /// like the output, else class indices (one per example, or, for outputs of rank 2 and
    /// more such as a sequence's `[steps, classes]`, one per position: the output without
    /// its last axis) — and the optimizer's initial state; the first error if none fits.
    fn settle_label_shapes(&self, mut state: TrainingState) -> Result<TrainingState> {
        let outputs = self.output_shapes()?;
        let heads = state.heads().to_vec();
        for (k, head) in heads.iter().enumerate() {
            let output = &outputs[head.output];
            let mut candidates = vec![output.clone(), Shape::scalar(), Shape::from([1])];
            if let [leading @ .., _] = output.dims()
                && !leading.is_empty()
            {
                candidates.push(Shape::from(leading));
            }
            let mut first_error = None;
            let fits = candidates.into_iter().find(|label| {
                check_label_shape(head, output, label)
                    .map_err(|e| first_error.get_or_insert(e))
                    .is_ok()
            });
            match fits {
                Some(label) => state.set_label_shape(k, label),
                None => return Err(first_error.expect("at least one label shape was tried")),
            }
        }
        let initial_state = self.validate_graphs(&state)?;
        state.add_initial_state(initial_state);
        Ok(state)
    }

    /// Build all three graphs for one example; returns the optimizer's initial state.
    fn validate_graphs(&self, state: &TrainingState) -> Result<Vec<(String, Tensor)>> {
        let mut initial_state = Vec::new();
        for role in [Role::Train, Role::Eval] {
            initial_state.extend(state.step_graph(&self.graph, self.seed, role, 1, false)?.1);
        }
        self.build_predict_graph(1)?;
        Ok(initial_state)
    }

    /// The device the model runs on: the one chosen at [`Model::compile_on`] (`Auto`
    /// resolved to `Cpu` or `Gpu`), `Cpu` when not compiled.
    pub fn device(&self) -> Device {
        self.backend().device()
    }

    /// What [`Model::device`] is, in words: `cpu`, or `gpu: <adapter> (<api>)`.
    pub fn device_name(&self) -> String {
        self.backend().describe()
    }

    /// Where the model's executables run: the training state's backend, the CPU when not
    /// compiled.
    pub(crate) fn backend(&self) -> &Backend {
        match &self.training {
            Some(state) => state.backend(),
            None => &Backend::Cpu,
        }
    }

    /// Whether [`Model::compile`] has run.
    pub fn is_compiled(&self) -> bool {
        self.training.is_some()
    }

    /// The names of the compiled metrics, in order.
    pub fn metric_names(&self) -> Vec<String> {
        self.training
            .as_ref()
            .map(TrainingState::metric_names)
            .unwrap_or_default()
    }

    /// The training state, or an error saying the model is not compiled.
    pub(crate) fn training_state(&self) -> Result<&TrainingState> {
        self.training
            .as_ref()
            .ok_or_else(|| self.model_error("is not compiled; call compile first"))
    }

    /// The training state, mutably, or an error saying how to compile the model.
    pub(crate) fn training_state_mut(&mut self) -> Result<&mut TrainingState> {
        match self.training.as_mut() {
            Some(state) => Ok(state),
            None => Err(self
                .graph
                .error("is not compiled; call compile(optimizer, loss, metrics) first")),
        }
    }

    /// The train-step graph for `batch` examples (what `fit` runs) and the optimizer's
    /// initial state values, for ahead-of-time compilation; an error if not compiled.
    pub(crate) fn train_step_graph(
        &self,
        batch: usize,
    ) -> Result<(ir::Graph, Vec<(String, Tensor)>)> {
        self.training_state()?
            .step_graph(&self.graph, self.seed, Role::Train, batch, false)
    }

    /// The runner for `(role, batch)` (taking sample weights when `weighted`), compiled on
    /// first use, holding the latest parameters.
    pub(crate) fn runner(
        &mut self,
        role: Role,
        batch: usize,
        weighted: bool,
    ) -> Result<&mut Runner> {
        let Some(state) = self.training.as_mut() else {
            return Err(self.graph.error("is not compiled; call compile first"));
        };
        state.runner(&self.graph, self.seed, (role, batch), weighted)
    }
}
