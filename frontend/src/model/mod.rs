//! Models: [`Sequential`] — definition, summary, compile, fit, evaluate, predict.

mod compile;
mod evaluate;
mod fit;
mod history;
mod runner;
mod sequential;
mod summary;

pub use compile::{LOSS_OUTPUT, PREDICTIONS_OUTPUT};
pub use evaluate::Evaluation;
pub use fit::{FitOptions, Validation};
pub use history::History;
pub use sequential::{DEFAULT_SEED, FEATURES_INPUT, LABELS_INPUT, LayerShapes, Sequential};
