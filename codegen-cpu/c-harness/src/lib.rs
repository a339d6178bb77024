//! The C side of Kiln's ahead-of-time tests, in one place: compile a C program with the
//! system's C compiler (`-Wall -Werror`), link it with a model's object file and the runtime
//! library `libkiln_cpu_runtime.a`, run it and capture its output, and exchange tensors with
//! it as raw little-endian f32 files.
//!
//! A dev-only crate with no dependency on Kiln's own crates, so that the tests of
//! `codegen-cpu` (which must not depend on `kiln`), of `kiln` and of the benchmarks, and the
//! `aot_measure` example, all use it. Every failure panics with a message naming the command
//! and what it printed on stderr.
//!
//! ```no_run
//! # use std::path::Path;
//! use kiln_c_harness::{CProgram, run_ok};
//! # let dir = Path::new("/tmp/model");
//! // `dir` holds `mlp.o` and `libkiln_cpu_runtime.a`, written by the AOT compiler.
//! let exe = CProgram::new(dir, "main", "int main(void) { return 0; }")
//!     .object("mlp.o")
//!     .with_runtime()
//!     .build();
//! let output = run_ok(dir, &exe, &[]);
//! assert!(output.stdout.is_empty());
//! ```

mod program;
mod raw_f32;
mod run;
mod scratch;

pub use program::{CProgram, RUNTIME_LIBRARY, RUNTIME_SYSTEM_LIBRARIES, c_compiler};
pub use raw_f32::{bits, read_f32, write_f32};
pub use run::{run, run_ok};
pub use scratch::scratch_dir;
