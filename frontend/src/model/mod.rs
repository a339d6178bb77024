//! Models: [`Model`] — a graph of layers built as a stack ([`Sequential`]) or with the
//! functional API ([`Functional`]) — its definition, summary, compile, fit, evaluate,
//! thread-safe predict, weights (compiled or not), frozen layers, cutting and extending
//! (transfer learning), and reading or setting the learning rate between steps.

mod compile;
mod evaluate;
mod fit;
mod functional;
mod history;
mod hooks;
mod predict;
mod runner;
mod summary;
mod topology;
mod trainable;
mod transfer;
mod weights;

pub use compile::{LOSS_OUTPUT, PREDICTIONS_OUTPUT};
pub use evaluate::Evaluation;
pub use fit::{FitOptions, Validation};
pub use functional::{Functional, TensorRef};
pub use history::History;
pub use hooks::{Callback, Training};
pub use topology::{
    DEFAULT_SEED, FEATURES_INPUT, LABELS_INPUT, LayerShapes, Model, ModelKind, Sequential,
};
