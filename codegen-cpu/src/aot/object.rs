//! Object files: the shared lowering into a `cranelift_object::ObjectModule` (position
//! independent). A model object holds every entry point's step, the model description and
//! the exported wrappers; it imports `kiln_parallel_for`, the contraction kernels
//! (`kiln_sgemm`, `kiln_conv2d*`, `kiln_depthwise*`) and the `kiln_aot_*` functions, all
//! from the runtime library. For the host, the code uses this host's CPU features (AVX,
//! FMA, ...); for another target triple, that target's baseline features.

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_module::{Linkage, default_libcall_names};
use cranelift_object::{ObjectBuilder, ObjectModule};
use ir::{Graph, MemoryPlan};
use target_lexicon::{Endianness, PointerWidth};

use super::spec::Spec;
use super::{AotOptions, WeightStorage, desc, wrappers};
use crate::error::{CodegenError, Result};
use crate::isa::target_isa;
use crate::module::lower_graph;

/// Compile `graph` under `plan` into the bytes of a relocatable object file for this host
/// whose exported function `symbol` is the step (see [`crate::abi`] for its signature).
pub fn emit_object(graph: &Graph, plan: &MemoryPlan, symbol: &str) -> Result<Vec<u8>> {
    let mut module = object_module(target_isa(None, true)?, symbol)?;
    lower_graph(&mut module, graph, plan, symbol, Linkage::Export)?;
    finish(module)
}

/// The ISA for `target`, which must be a 64-bit little-endian one (the model description
/// is written as little-endian 8-byte words).
fn model_isa(target: Option<&str>) -> Result<OwnedTargetIsa> {
    let isa = target_isa(target, true)?;
    let triple = isa.triple();
    let supported = triple.pointer_width() == Ok(PointerWidth::U64)
        && triple.endianness() == Ok(Endianness::Little);
    if !supported {
        return Err(CodegenError::Target {
            triple: triple.to_string(),
            msg: "only 64-bit little-endian targets are supported".into(),
        });
    }
    Ok(isa)
}

fn object_module(isa: OwnedTargetIsa, name: &str) -> Result<ObjectModule> {
    Ok(ObjectModule::new(ObjectBuilder::new(
        isa,
        format!("{name}.o"),
        default_libcall_names(),
    )?))
}

fn finish(module: ObjectModule) -> Result<Vec<u8>> {
    module
        .finish()
        .emit()
        .map_err(|e| CodegenError::Cranelift(e.to_string()))
}

/// The object of a checked model: each entry's step (local, `<model>__<entry>_step`), the
/// model description and the exported wrappers.
///
/// The lowering is tested on the host's backend; another target's backend may lack an
/// instruction form it uses and panic, which becomes a [`CodegenError::Target`] error.
pub(crate) fn emit_model_object(spec: &Spec, options: &AotOptions) -> Result<Vec<u8>> {
    let Some(triple) = options.target.as_deref() else {
        return model_object(spec, options);
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model_object(spec, options)))
        .unwrap_or_else(|panic| {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("");
            Err(CodegenError::Target {
                triple: triple.to_string(),
                msg: format!("the backend cannot lower this model: {msg}"),
            })
        })
}

fn model_object(spec: &Spec, options: &AotOptions) -> Result<Vec<u8>> {
    let mut module = object_module(model_isa(options.target.as_deref())?, spec.name)?;
    let lowered = spec
        .entries
        .iter()
        .map(|e| {
            lower_graph(
                &mut module,
                e.graph,
                e.plan,
                &format!("{}__{}_step", spec.name, e.name),
                Linkage::Local,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let desc = desc::define(
        &mut module,
        spec,
        &lowered,
        options.weights == WeightStorage::Embedded,
    )?;
    wrappers::define(&mut module, spec, desc)?;
    finish(module)
}
