//! Ahead-of-time compilation of a [`Model`]: an object file with a C header, linked by a C
//! program (or a Rust build script) with the runtime static library `libkiln_cpu_runtime.a`.
//!
//! [`compile`] builds the model's predict graph (entry `infer`: input `features`, output
//! `predictions`) and, for a compiled model, its train step (entry `train_step`: inputs
//! `features` and `labels`, outputs `loss` and each metric; the optimizer's updates applied
//! to the parameters), both for a fixed batch size, optimises and memory-plans them, and
//! emits them with the parameters' current values (layer weights and optimizer state) through
//! [`codegen_cpu::aot::emit_model`].
//!
//! The artefacts in the output directory: `<name>.o`, `<name>.h` (shapes, parameters, the link
//! line), `<name>.weights` with external weights, and for the host target a copy of
//! `libkiln_cpu_runtime.a`. For another target, build the runtime for it with
//! `cargo build --release --target <triple> -p kiln-cpu-runtime` (it lands in
//! `target/<triple>/release/libkiln_cpu_runtime.a`).
//!
//! From a Rust build script: call [`compile`] into `OUT_DIR`, then print
//! `cargo:rustc-link-arg=<OUT_DIR>/<name>.o`, `cargo:rustc-link-search=native=<OUT_DIR>`,
//! `cargo:rustc-link-lib=static=kiln_cpu_runtime` (plus `dylib=m`, `dylib=dl`,
//! `dylib=pthread` on Linux) and declare the header's functions in an `extern "C"` block.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Embedded or external weights (re-exported from the code generator).
pub use codegen_cpu::aot::WeightStorage;
use codegen_cpu::aot::{
    AotEntry, AotModel, AotOptions, RUNTIME_LIB_NAME, emit_model, runtime_library,
};
use ir::{Graph, MemoryPlan, Op, Tensor};

use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};
use crate::model::Model;

/// Which entry points to compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AotEntries {
    /// `<name>_infer` only (any model).
    #[default]
    Infer,
    /// `<name>_train_step` only (a compiled model).
    Train,
    /// Both.
    Both,
}

/// How [`compile`] compiles a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AotCompileOptions {
    /// The model's C name: the functions' prefix and the files' stem (a C identifier).
    pub name: String,
    /// The directory the files are written to (created if needed).
    pub out_dir: PathBuf,
    /// The entry points.
    pub entries: AotEntries,
    /// Examples per call (the leading dimension of every input and output).
    pub batch: usize,
    /// Target triple; `None` for this host with its CPU features.
    pub target: Option<String>,
    /// Weights embedded in the object or in a `<name>.weights` file.
    pub weights: WeightStorage,
}

impl AotCompileOptions {
    /// Options for model `name` into `out_dir`: entry `infer`, batch 1, the host, embedded
    /// weights.
    pub fn new(name: impl Into<String>, out_dir: impl Into<PathBuf>) -> Self {
        AotCompileOptions {
            name: name.into(),
            out_dir: out_dir.into(),
            entries: AotEntries::Infer,
            batch: 1,
            target: None,
            weights: WeightStorage::Embedded,
        }
    }
}

/// What [`compile`] wrote and how long each stage took.
#[derive(Debug, Clone)]
pub struct AotReport {
    /// The files written (object, header, weights file, runtime library copy).
    pub files: Vec<PathBuf>,
    /// Building, optimising and planning the graphs.
    pub graphs_time: Duration,
    /// Lowering them into the object.
    pub emit_time: Duration,
    /// A note for the user (e.g. how to build the runtime for another target), if any.
    pub note: Option<String>,
}

/// One optimised, planned entry graph.
struct PlannedEntry {
    name: &'static str,
    graph: Graph,
    plan: MemoryPlan,
}

fn planned(name: &'static str, graph: &Graph) -> Result<PlannedEntry> {
    let graph = passes::pipeline::optimize(graph)?;
    let plan = passes::memory_plan::plan(&graph)?;
    Ok(PlannedEntry { name, graph, plan })
}

/// The parameter names of `graph`, in `Param` node order.
fn param_names(graph: &Graph) -> Vec<String> {
    graph
        .params()
        .into_iter()
        .filter_map(|id| match graph.op(id) {
            Op::Param { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// An error naming `batch` unless `batch` examples of every layer's inputs and outputs have
/// an element count (and f32 byte size) Kiln can represent: checked before any graph is
/// built, so a huge `--batch` never wraps into a header constant such as `..._LEN 0`.
fn check_batch(model: &Model, batch: usize) -> Result<()> {
    for (layer, shapes) in model.layers().iter().zip(model.layer_shapes()?) {
        for shape in shapes.inputs.iter().chain(&shapes.outputs) {
            let dims: Vec<usize> = std::iter::once(batch)
                .chain(shape.dims().iter().copied())
                .collect();
            ir::size::f32_bytes(&dims).map_err(|e| Error::InvalidArgument {
                name: "batch",
                msg: format!(
                    "{batch} examples of shape {shape} (at layer {}) are too many: {e}",
                    layer.label()
                ),
            })?;
        }
    }
    Ok(())
}

/// Compile `model` ahead of time as `options` say and write its files; returns their paths.
/// See [`compile_with_report`] for timings.
///
/// ```no_run
/// # fn main() -> kiln::Result<()> {
/// use kiln::aot::{AotCompileOptions, AotEntries, compile};
/// use kiln::prelude::*;
/// let model = Sequential::of([Input::new([4]).into(), Dense::new(3).into()]);
/// let mut options = AotCompileOptions::new("tiny", "out");
/// options.entries = AotEntries::Infer;
/// options.batch = 8;
/// // out/tiny.o, out/tiny.h, out/libkiln_cpu_runtime.a:
/// // cc main.c out/tiny.o out/libkiln_cpu_runtime.a -lpthread -ldl -lm
/// let files = compile(&model, &options)?;
/// # Ok(())
/// # }
/// ```
pub fn compile(model: &Model, options: &AotCompileOptions) -> Result<Vec<PathBuf>> {
    Ok(compile_with_report(model, options)?.files)
}

/// [`compile`], also returning the stages' timings and a note for the user.
pub fn compile_with_report(model: &Model, options: &AotCompileOptions) -> Result<AotReport> {
    if options.batch == 0 {
        return Err(Error::InvalidArgument {
            name: "batch",
            msg: "must be at least 1".into(),
        });
    }
    check_batch(model, options.batch)?;
    let started = Instant::now();
    let mut entries = Vec::new();
    if options.entries != AotEntries::Train {
        entries.push(planned(
            "infer",
            &model.build_predict_graph(options.batch)?,
        )?);
    }
    if options.entries != AotEntries::Infer {
        if !model.is_compiled() {
            return Err(model.model_error(
                "has no training step to compile ahead of time: call compile(optimizer, loss, metrics) first (or compile the infer entry only)",
            ));
        }
        let (graph, _) = model.train_step_graph(options.batch)?;
        entries.push(planned("train_step", &graph)?);
    }
    // Every parameter any entry reads, in first-use order, with its current value.
    let mut names: Vec<String> = Vec::new();
    for entry in &entries {
        for name in param_names(&entry.graph) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let values = names
        .iter()
        .map(|name| model.weight(name))
        .collect::<Result<Vec<Tensor>>>()?;
    let params: Vec<(&str, &Tensor)> = names.iter().map(String::as_str).zip(&values).collect();
    let graphs_time = started.elapsed();

    let started = Instant::now();
    let aot_entries: Vec<AotEntry> = entries
        .iter()
        .map(|e| AotEntry {
            name: e.name,
            graph: &e.graph,
            plan: &e.plan,
        })
        .collect();
    let aot = emit_model(
        &options.name,
        &aot_entries,
        &params,
        &AotOptions {
            target: options.target.clone(),
            weights: options.weights,
        },
    )?;
    let emit_time = started.elapsed();

    let (runtime, note) = match &options.target {
        None => (Some(runtime_library()?), None),
        Some(triple) => (
            None,
            Some(format!(
                "the runtime library for {triple} is not included: build it with \
                 `cargo build --release --target {triple} -p kiln-cpu-runtime` and link \
                 target/{triple}/release/libkiln_cpu_runtime.a"
            )),
        ),
    };
    let files = write_files(&aot, &options.out_dir, runtime.as_deref())?;
    Ok(AotReport {
        files,
        graphs_time,
        emit_time,
        note,
    })
}

/// Writes `<name>.o`, `<name>.h`, with external weights `<name>.weights`, and a copy of
/// `runtime` into `dir` (created if needed), each through [`write_atomically`] (only over
/// regular files, never half-written). Returns the paths written.
fn write_files(aot: &AotModel, dir: &Path, runtime: Option<&Path>) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::WriteFile {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<(PathBuf, &[u8])> = vec![
        (dir.join(format!("{}.o", aot.name)), &aot.object),
        (dir.join(format!("{}.h", aot.name)), aot.header.as_bytes()),
    ];
    if aot.storage == WeightStorage::External {
        files.push((dir.join(format!("{}.weights", aot.name)), &aot.weights));
    }
    let library = runtime
        .map(|lib| {
            std::fs::read(lib).map_err(|source| Error::Io {
                path: lib.to_path_buf(),
                source,
            })
        })
        .transpose()?;
    if let Some(bytes) = &library {
        files.push((dir.join(RUNTIME_LIB_NAME), bytes));
    }
    let mut written = Vec::new();
    for (path, bytes) in files {
        write_atomically(&path, bytes)?;
        written.push(path);
    }
    Ok(written)
}
