//! Ahead-of-time compilation: compiled steps in a relocatable object file, for C programs
//! (and Rust build scripts) to link with the runtime static library `libkiln_cpu_runtime.a`.
//!
//! Two levels:
//! - [`emit_object`]: one graph's step function under a chosen symbol, with the raw table
//!   calling convention of [`crate::abi`].
//! - [`emit_model`]: a whole model — several entry points (e.g. `infer` and `train_step`,
//!   each a graph with its memory plan), its parameters' initial values (embedded, or in a
//!   weights file), a model description the runtime reads, and exported C functions
//!   `<model>_create`, `<model>_destroy`, `<model>_<entry>`, `<model>_get_weights`,
//!   `<model>_set_weights`, `<model>_param_index` — plus the C header that documents them.
//!
//! Map: `spec` checks a model specification; `object` lowers the steps into one object;
//! `desc` writes the model description ([`kiln_cpu_runtime::aot::desc`]'s layout);
//! `wrappers` emits the exported C functions; `header` renders `<model>.h`; `files`
//! writes the artefacts and finds the runtime library.

mod desc;
mod files;
mod header;
mod object;
mod spec;
mod wrappers;

use ir::{Graph, MemoryPlan, Tensor};

use crate::error::Result;

pub use files::{RUNTIME_LIB_ENV, RUNTIME_LIB_NAME, runtime_library};
pub use object::emit_object;

/// One entry point of a model: a compiled step called `<model>_<name>` from C.
#[derive(Debug, Clone, Copy)]
pub struct AotEntry<'a> {
    /// The entry point's name, a C identifier (e.g. `infer`, `train_step`).
    pub name: &'a str,
    /// The optimised graph: its inputs are the C function's input arguments (in `Input`
    /// node order), its outputs its output arguments (in output order), its parameters
    /// are the model's parameters of the same names; its updates are applied to them.
    pub graph: &'a Graph,
    /// The graph's memory plan.
    pub plan: &'a MemoryPlan,
}

/// Where the model's parameter values come from when an instance is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightStorage {
    /// Embedded in the object as read-only data (`<model>_create(NULL)` uses them; a
    /// weights file may still be given).
    #[default]
    Embedded,
    /// Not in the object: `<model>_create(path)` reads them from the weights file.
    External,
}

/// How to compile a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AotOptions {
    /// Target triple (e.g. `aarch64-unknown-linux-gnu`); `None` for this host with its
    /// native CPU features. Only 64-bit little-endian targets are supported.
    pub target: Option<String>,
    /// Embedded or external weights.
    pub weights: WeightStorage,
}

/// A compiled model's artefacts, in memory; [`AotModel::write`] puts them in a directory.
#[derive(Debug, Clone)]
pub struct AotModel {
    /// The model's name (the C prefix and the files' stem).
    pub name: String,
    /// `<name>.o`: the relocatable object.
    pub object: Vec<u8>,
    /// `<name>.h`: the C API and its documentation.
    pub header: String,
    /// `<name>.weights`: every parameter's initial values, in the model's order, as raw
    /// little-endian f32s (written only with [`WeightStorage::External`], valid either way).
    pub weights: Vec<u8>,
    /// How the weights are stored.
    pub storage: WeightStorage,
}

/// Compile a model called `name` (a C identifier) with entry points `entries` and
/// parameters `params` (name and initial value, in the order the C API indexes them and
/// the weights file stores them; every entry's graph parameters must be among them, of
/// the same shape) into an object, a header and a weights image.
pub fn emit_model(
    name: &str,
    entries: &[AotEntry],
    params: &[(&str, &Tensor)],
    options: &AotOptions,
) -> Result<AotModel> {
    let spec = spec::check(name, entries, params)?;
    let object = object::emit_model_object(&spec, options)?;
    let header = header::render(&spec, options);
    let weights = weights_image(params);
    Ok(AotModel {
        name: name.to_string(),
        object,
        header,
        weights,
        storage: options.weights,
    })
}

/// The weights file of `params` (in the order given, which must be the model's): every
/// parameter's values as raw little-endian f32s, no header — what `<model>_create(path)`
/// reads.
pub fn weights_image(params: &[(&str, &Tensor)]) -> Vec<u8> {
    params
        .iter()
        .flat_map(|(_, t)| t.data.iter().flat_map(|v| v.to_le_bytes()))
        .collect()
}
