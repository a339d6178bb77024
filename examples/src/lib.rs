//! What the examples in `examples/` share: finding the datasets shipped with the repository,
//! reading the ones without a loader in `kiln` ([`sunspots`], [`chars`]), and the
//! example models also used by the benchmarks ([`mnist_cnn`], [`mnist_mlp`]).

pub mod chars;
mod models;
pub mod sunspots;

use std::path::PathBuf;

pub use models::{mnist_cnn, mnist_mlp};

/// `datasets/<name>` from the working directory (a user running an example from the
/// repository root), else the same folder beside this crate in the repository.
pub fn dataset_dir(name: &str) -> PathBuf {
    let local = PathBuf::from("datasets").join(name);
    if local.is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../datasets")
            .join(name)
    }
}
