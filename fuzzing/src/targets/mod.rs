//! The fuzz harnesses, one file per format. Each `pub fn NAME(data: &[u8])` runs the real
//! loader on `data` and ignores its `Result`: an error is a fine answer, a panic, an abort,
//! a hang or an unbounded allocation is a finding. Loaders that only take paths get the
//! bytes through [`crate::scratch`]. It does NOT compile kernels: every loader here stops
//! before code generation (loading compiles a model's training graph, not native code).

mod cli;
mod datasets;
mod graph;
mod keras;
mod kiln_file;
mod onnx;
mod serve_body;
mod tensor;

pub use cli::cli_args;
pub use datasets::{csv_dataset, idx_gzip, idx_raw, image};
pub use graph::graph_diff;
pub use keras::{keras_h5, keras_zip};
pub use kiln_file::kiln_file;
pub use onnx::onnx_model;
pub use serve_body::serve_body;
pub use tensor::tensor_file;
