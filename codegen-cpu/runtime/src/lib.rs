//! The run-time support that Kiln's compiled CPU code calls, as C-ABI symbols with no
//! compiler in sight: built as an `rlib` (the JIT links it into Rust programs) and as a
//! `staticlib` (`libkiln_cpu_runtime.a`, which C programs link with an ahead-of-time
//! compiled model object).
//!
//! - [`parallel`]: the worker pool behind `kiln_parallel_for`, which compiled steps call to
//!   run a kernel's chunks on several threads.
//! - [`contract`]: the tuned contraction kernels (`kiln_sgemm`, `kiln_conv2d*`,
//!   `kiln_depthwise_conv2d*`) that compiled steps call for matmuls and convolutions.
//! - [`step_call`]: calling a compiled step with its buffer table, without allocating.
//! - [`aot`]: model instances of ahead-of-time compiled objects — the `kiln_aot_*` functions
//!   that an object's exported `<model>_create`, `<model>_infer`, ... wrappers call, and the
//!   `#[repr(C)]` model description those objects embed.

pub mod aot;
pub mod contract;
pub mod parallel;
pub mod step_call;

pub use parallel::{KernelFn, kiln_parallel_for};

/// The type of a compiled step function: it takes the table of buffer base pointers.
pub type StepFn = unsafe extern "C" fn(table: *const *mut f32);
