//! Models: [`Sequential`] — definition, summary, compile, fit, evaluate, thread-safe
//! predict, and reading or setting weights and the learning rate between steps.

mod compile;
mod evaluate;
mod fit;
mod history;
mod predict;
mod runner;
mod sequential;
mod summary;
mod weights;

pub use compile::{LOSS_OUTPUT, PREDICTIONS_OUTPUT};
pub use evaluate::Evaluation;
pub use fit::{FitOptions, Validation};
pub use history::History;
pub use sequential::{DEFAULT_SEED, FEATURES_INPUT, LABELS_INPUT, LayerShapes, Sequential};
