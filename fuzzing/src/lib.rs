//! `kiln-fuzz`: one fuzz harness per parser and loader of Kiln, each a
//! `pub fn NAME(data: &[u8])` that drives the real, in-process code from bytes and must
//! never panic, abort, hang or allocate without bound for any input (an `Err` is a fine
//! answer). The cargo-fuzz binaries in `fuzz/` (libFuzzer, nightly) call these functions;
//! `tests/seeded.rs` runs every target over its committed corpus (`corpus/<target>/`) plus
//! deterministic mutations ([`mutate`]) on every `cargo test`.
//!
//! - [`targets`]: the harnesses, one file per format, and [`TARGETS`], the table of them;
//! - [`fixup`]: checksums recomputed (Kiln files' CRC-32, zip members' CRC-32) so mutated
//!   bytes reach the parser behind the checksum;
//! - [`scratch`]: a per-process temp folder for loaders that only take paths;
//! - [`mutate`]: the small seeded mutator of the CI pass;
//! - [`graphs`]: the differential fuzzer — random small IR graphs run on the CPU JIT and on
//!   the reference interpreter, compared with stated tolerances.
//!
//! It does NOT fix what it finds (fixes go into the crate at fault, with the reproducer
//! added to the corpus) and holds no libFuzzer code (that is `fuzz/`, outside the workspace).

pub mod fixup;
pub mod graphs;
pub mod mutate;
pub mod scratch;
pub mod targets;

pub use targets::*;

/// One fuzz target: its name (also its corpus folder and cargo-fuzz binary) and harness.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name: `corpus/<name>/`, `cargo fuzz run <name>`.
    pub name: &'static str,
    /// The harness.
    pub run: fn(&[u8]),
}

/// Every fuzz target, fastest first.
pub const TARGETS: &[Target] = &[
    Target {
        name: "cli_args",
        run: cli_args,
    },
    Target {
        name: "idx_raw",
        run: idx_raw,
    },
    Target {
        name: "idx_gzip",
        run: idx_gzip,
    },
    Target {
        name: "tensor_file",
        run: tensor_file,
    },
    Target {
        name: "serve_body",
        run: serve_body,
    },
    Target {
        name: "csv_dataset",
        run: csv_dataset,
    },
    Target {
        name: "image",
        run: image,
    },
    Target {
        name: "kiln_file",
        run: kiln_file,
    },
    Target {
        name: "keras_h5",
        run: keras_h5,
    },
    Target {
        name: "keras_zip",
        run: keras_zip,
    },
    Target {
        name: "onnx_model",
        run: onnx_model,
    },
    Target {
        name: "graph_diff",
        run: graph_diff,
    },
];

/// Called once by every cargo-fuzz binary before the first input: puts back Rust's default
/// panic hook in place of libFuzzer's, which aborts on every panic — also on those Kiln
/// catches on purpose (`kiln::keras`'s boundary around the HDF5 crate, the zip reader's).
/// A panic that escapes a harness still aborts the process (libfuzzer-sys catches it around
/// the harness and aborts), so it is still reported as a crash.
pub fn fuzzing_init() {
    drop(std::panic::take_hook());
}
