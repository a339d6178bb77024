//! Models: [`Model`] — a graph of layers built as a stack ([`Sequential`]) or with the
//! functional API ([`Functional`]) — its definition, summary, compile, fit, evaluate,
//! thread-safe predict, weights (compiled or not), frozen layers, cutting and extending
//! (transfer learning), and reading or setting the learning rate between steps.
//!
//! A [`Model`] composes what it owns, each in its own type and file:
//! - `graph/`: the `LayerGraph` — layers, connections, inputs, outputs, in topological
//!   order; shapes and the forward IR graph (this module's bottom level: it knows nothing of
//!   weights or training);
//! - the parameters before compile (initialised from the layers' initializers and the
//!   model's seed) and the frozen layers, in this type (`weights.rs`, `trainable.rs`);
//! - `training/`: the `TrainingState` that `compile` adds — optimizer, loss, metrics,
//!   executables per role and batch size (`runner.rs`), and the parameter store;
//! - the predict executables, shared by concurrent `predict` calls (`predict.rs`).
//!
//! The methods of `Model` live with the data they touch: `topology.rs` (what the layers
//! say), `compile.rs`, `fit.rs`, `evaluate.rs`, `predict.rs`, `summary.rs`, `functional.rs`
//! (the builder), `transfer.rs` (cutting and extending). What `fit` and `evaluate` read is a
//! [`TrainingData`] (`data.rs`: datasets, ndarray arrays, generators, weights), batched by
//! `feed.rs` and run by `pass.rs`. `hooks.rs` holds the `Callback`
//! trait `fit` calls; the stock callbacks live above the model in [`crate::callbacks`].

mod compile;
mod data;
mod distributed;
mod evaluate;
mod feed;
mod fit;
mod functional;
pub(crate) mod graph;
mod history;
mod hooks;
mod ids;
mod nested;
mod on_batch;
mod output_losses;
mod pass;
mod predict;
mod runner;
mod summary;
mod topology;
mod trainable;
mod training;
mod transfer;
mod weights;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use ir::Tensor;

pub use data::{DataSource, TrainingData};
pub use evaluate::Evaluation;
pub use fit::{FitOptions, Validation};
pub use functional::{Functional, TensorRef};
pub use graph::forward::FEATURES_INPUT;
pub use graph::{LayerShapes, ModelKind};
pub use history::History;
pub use hooks::{Callback, Training};
pub use output_losses::OutputLosses;
pub use predict::{BatchBuckets, PREDICTIONS_OUTPUT, PredictInput, PredictorCache};
pub use training::{GRADIENT_PREFIX, LABELS_INPUT, LOSS_OUTPUT, SAMPLE_WEIGHT_INPUT, StepTimings};

use crate::layers::Layer;
use graph::LayerGraph;
use predict::Predictors;
use training::TrainingState;

/// The seed a model uses unless [`Model::with_seed`] sets one.
pub const DEFAULT_SEED: u64 = 12;

/// A Keras model: layers connected as a directed acyclic graph, from one or more
/// [`crate::layers::Input`] layers to one or more outputs. Built as a stack with
/// [`Model::of`] / [`sequential!`](crate::sequential) or as a graph with
/// [`crate::model::Functional`].
///
/// A model holds its weights from the start (initialised on first use from the layers'
/// initializers and the model's seed), so it can predict, report and take weights before
/// [`Model::compile`]; compiling starts training from those weights.
///
/// ```
/// use kiln::prelude::*;
/// let model = Sequential::of([
///     Input::new([28, 28, 1]).into(),
///     Flatten::new().into(),
///     Dense::new(300).activation(Activation::Relu).into(),
///     Dense::new(10).into(),
/// ]);
/// assert_eq!(model.count_params().unwrap(), 784 * 300 + 300 + 300 * 10 + 10);
/// ```
#[derive(Debug)]
pub struct Model {
    /// The layers and their connections.
    graph: LayerGraph,
    seed: u64,
    /// Names of the layers training leaves unchanged.
    frozen: BTreeSet<String>,
    /// The layer weights while the model is not compiled, initialised on first use
    /// (compiling moves them into the training state).
    weights: OnceLock<BTreeMap<String, Tensor>>,
    /// Predict executables by device and batch size, shared by concurrent `predict` calls.
    predictors: Predictors,
    /// What `compile` added; `None` until then.
    training: Option<TrainingState>,
}

/// The model type under its Keras name for stacks of layers: `Sequential::of([...])`.
pub type Sequential = Model;

/// Build a [`Sequential`] from layers without writing `.into()` on each:
/// `sequential![Input::new([4]), Dense::new(3)]`.
#[macro_export]
macro_rules! sequential {
    ($($layer:expr),+ $(,)?) => {
        $crate::model::Sequential::of([$(::std::boxed::Box::new($layer) as ::std::boxed::Box<dyn $crate::layers::Layer>),+])
    };
}

impl Model {
    /// A sequential model named `sequential` from `layers` (first an `Input`). Unnamed
    /// layers get Keras-style names: `dense`, `dense_1`, ... per kind. Nothing is validated
    /// until it is used ([`Model::summary`], [`Model::compile`], ...).
    pub fn of(layers: impl IntoIterator<Item = Box<dyn Layer>>) -> Self {
        Model::from_graph(LayerGraph::chain(
            "sequential".into(),
            layers.into_iter().collect(),
        ))
    }

    /// An uncompiled model of `graph` with the default seed, no frozen layers and weights
    /// to be initialised on first use.
    pub(crate) fn from_graph(graph: LayerGraph) -> Self {
        Model {
            graph,
            seed: DEFAULT_SEED,
            frozen: BTreeSet::new(),
            weights: OnceLock::new(),
            predictors: Predictors::default(),
            training: None,
        }
    }

    /// The same model under another name (shown by the summary).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.graph.rename(name.into());
        self
    }

    /// The same model with another seed for weight initialisation and shuffling. Weights
    /// not yet initialised or set are drawn from the new seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}
