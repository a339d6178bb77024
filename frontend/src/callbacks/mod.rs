//! Training callbacks, Keras-style: the [`Callback`] trait (hooks at the start and end of
//! training, of each epoch and after each batch), the [`Logs`] they receive, the
//! [`Training`] handle through which they reach the model (weights, learning rate) and ask
//! training to stop, and the stock callbacks, one per file.
//!
//! Pass callbacks with `FitOptions::callback(...)`; pass `&mut callback` to read its state
//! after `fit` (every `&mut C` is a callback too). Hooks run in the order the callbacks
//! were given. An error from a hook ends `fit` with that error.
//!
//! ```
//! # fn main() -> kiln::Result<()> {
//! use kiln::callbacks::{EarlyStopping, TerminateOnNaN};
//! use kiln::prelude::*;
//! let mut early = EarlyStopping::new().monitor("loss").patience(2).restore_best_weights(true);
//! let options = FitOptions::new(20, 8).verbose(0).callback(&mut early).callback(TerminateOnNaN);
//! # let _ = options;
//! # Ok(())
//! # }
//! ```

mod csv_logger;
mod early_stopping;
mod learning_rate_scheduler;
mod model_checkpoint;
mod monitor;
mod reduce_lr_on_plateau;
mod terminate_on_nan;
#[cfg(feature = "plot")]
mod training_curves;

pub use csv_logger::CSVLogger;
pub use early_stopping::EarlyStopping;
pub use learning_rate_scheduler::LearningRateScheduler;
pub use model_checkpoint::ModelCheckpoint;
pub use monitor::Mode;
pub use reduce_lr_on_plateau::ReduceLROnPlateau;
pub use terminate_on_nan::TerminateOnNaN;
#[cfg(feature = "plot")]
pub use training_curves::TrainingCurves;

/// The hook interface `fit` calls (defined with `fit`, re-exported here under Keras' module name).
pub use crate::model::{Callback, Training};
/// The values a hook receives.
pub use crate::progress::Logs;
