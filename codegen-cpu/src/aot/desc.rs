//! Writing the model description into the object: the runtime's `#[repr(C)]` layout
//! ([`kiln_cpu_runtime::aot::desc`]) as read-only data objects of little-endian 8-byte
//! words, pointers written as relocations to the step functions, the constants, the
//! parameter names and the embedded weights.

use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use ir::{Graph, MemoryPlan, NodeId, Storage};
use kiln_cpu_runtime::aot::desc::{CONST_SLOT, DESC_VERSION, WORDS};

use super::spec::{Entry, Spec};
use crate::abi::{self, Space};
use crate::error::{CodegenError, Result};
use crate::lowerer::LoweredStep;

/// One data object being built: bytes plus the relocations to write into them.
#[derive(Default)]
struct Words {
    bytes: Vec<u8>,
    funcs: Vec<(u32, FuncId)>,
    datas: Vec<(u32, DataId)>,
}

impl Words {
    fn int(&mut self, v: u64) -> &mut Self {
        self.bytes.extend(v.to_le_bytes());
        self
    }

    fn offset(&self) -> u32 {
        self.bytes.len() as u32
    }

    fn func(&mut self, f: FuncId) -> &mut Self {
        self.funcs.push((self.offset(), f));
        self.int(0)
    }

    /// A pointer to `d`, or null.
    fn data(&mut self, d: Option<DataId>) -> &mut Self {
        if let Some(d) = d {
            self.datas.push((self.offset(), d));
        }
        self.int(0)
    }

    /// A count and a pointer to the array `d` (null when empty).
    fn array(&mut self, n: usize, d: Option<DataId>) -> &mut Self {
        self.int(n as u64).data(d)
    }
}

/// Names the description's local data objects uniquely within the object.
struct Emitter<'m, M: Module> {
    module: &'m mut M,
    prefix: String,
    count: usize,
}

impl<M: Module> Emitter<'_, M> {
    /// Define a read-only local data object holding `bytes` (aligned to 16).
    fn bytes(&mut self, what: &str, bytes: Vec<u8>) -> Result<DataId> {
        self.define(
            what,
            Words {
                bytes,
                ..Words::default()
            },
        )
    }

    /// Define `w` as a read-only local data object; `None` (a null pointer) when empty.
    fn words(&mut self, what: &str, w: Words) -> Result<Option<DataId>> {
        if w.bytes.is_empty() {
            Ok(None)
        } else {
            self.define(what, w).map(Some)
        }
    }

    fn define(&mut self, what: &str, w: Words) -> Result<DataId> {
        let name = format!("{}_{what}{}", self.prefix, self.count);
        self.count += 1;
        let id = self
            .module
            .declare_data(&name, Linkage::Local, false, false)?;
        let mut desc = DataDescription::new();
        desc.define(if w.bytes.is_empty() {
            vec![0u8; 8].into()
        } else {
            w.bytes.into()
        });
        desc.set_align(16);
        for (offset, f) in w.funcs {
            let f = self.module.declare_func_in_data(f, &mut desc);
            desc.write_function_addr(offset, f);
        }
        for (offset, d) in w.datas {
            let d = self.module.declare_data_in_data(d, &mut desc);
            desc.write_data_addr(offset, d, 0);
        }
        self.module.define_data(id, &desc)?;
        Ok(id)
    }
}

/// Append the `ValueDesc` of node `id`'s value (whose storage must exist) to `w`.
fn value(
    w: &mut Words,
    graph: &Graph,
    plan: &MemoryPlan,
    lowered: &LoweredStep,
    id: NodeId,
) -> Result<()> {
    let loc = abi::resolve(graph, plan, id)?.ok_or_else(|| CodegenError::Plan {
        node: id.to_string(),
        msg: "an output or update value has no storage".into(),
    })?;
    let len = graph.shape(id).numel() as u64;
    match loc.space {
        Space::Table(slot) => w
            .int(slot as u64)
            .int(loc.offset as u64)
            .int(len)
            .data(None),
        Space::Const(j) => w
            .int(CONST_SLOT)
            .int(loc.offset as u64)
            .int(len)
            .data(Some(lowered.consts[j])),
    };
    Ok(())
}

/// Define the model description of `spec` (whose entries were lowered to `lowered`, in
/// order) in `module`; `embed` puts the parameters' initial values in the object.
pub(crate) fn define<M: Module>(
    module: &mut M,
    spec: &Spec,
    lowered: &[LoweredStep],
    embed: bool,
) -> Result<DataId> {
    let mut e = Emitter {
        module,
        prefix: format!("{}__desc", spec.name),
        count: 0,
    };
    let params = param_records(&mut e, spec, embed)?;
    let mut entries = Words::default();
    for (entry, low) in spec.entries.iter().zip(lowered) {
        entry_record(&mut e, &mut entries, entry, low)?;
    }
    debug_assert_eq!(entries.bytes.len(), 8 * WORDS.entry * spec.entries.len());
    debug_assert_eq!(params.bytes.len(), 8 * WORDS.param * spec.params.len());
    let params = e.words("params", params)?;
    let entries = e.words("entries", entries)?;
    let mut model = Words::default();
    model
        .int(DESC_VERSION)
        .array(spec.params.len(), params)
        .array(spec.entries.len(), entries);
    debug_assert_eq!(model.bytes.len(), 8 * WORDS.model);
    e.define("model", model)
}

/// The `ParamDesc` of every parameter (its NUL-terminated name, its length and, when
/// `embed`, its initial values), defining the names and values as data objects.
fn param_records<M: Module>(e: &mut Emitter<'_, M>, spec: &Spec, embed: bool) -> Result<Words> {
    let mut params = Words::default();
    for (name, value) in &spec.params {
        let mut cname = name.as_bytes().to_vec();
        if cname.contains(&0) {
            return Err(CodegenError::Aot {
                what: format!("parameter `{name}`"),
                msg: "a name with a NUL character".into(),
            });
        }
        cname.push(0);
        let name_data = e.bytes("name", cname)?;
        let init = match embed {
            true => Some(e.bytes(
                "weights",
                value.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )?),
            false => None,
        };
        params
            .data(Some(name_data))
            .int(value.data.len() as u64)
            .data(init);
    }
    Ok(params)
}

/// Append the `EntryDesc` of `entry` (lowered to `low`) to `entries`: its step function,
/// arena and scratch sizes, and its input lengths, parameter map, outputs and copied
/// updates as data objects.
fn entry_record<M: Module>(
    e: &mut Emitter<'_, M>,
    entries: &mut Words,
    entry: &Entry,
    low: &LoweredStep,
) -> Result<()> {
    let (g, plan) = (entry.graph, entry.plan);
    let mut input_lens = Words::default();
    for io in &entry.inputs {
        input_lens.int(io.shape.numel() as u64);
    }
    let mut param_map = Words::default();
    for &p in &entry.param_map {
        param_map.int(p as u64);
    }
    let mut outputs = Words::default();
    for (_, id) in &g.outputs {
        value(&mut outputs, g, plan, low, *id)?;
    }
    let graph_params = g.params();
    let mut updates = Words::default();
    let mut n_updates = 0;
    for &(param, new) in &g.updates {
        let index = graph_params
            .iter()
            .position(|&p| p == param)
            .expect("updates name params (checked by Graph::add_update)");
        if plan.of(new) != Storage::InPlace(index) {
            updates.int(index as u64);
            value(&mut updates, g, plan, low, new)?;
            n_updates += 1;
        }
    }
    let input_lens = e.words("inputs", input_lens)?;
    let param_map = e.words("param_map", param_map)?;
    let outputs = e.words("outputs", outputs)?;
    let updates = e.words("updates", updates)?;
    entries
        .func(low.step)
        .int(plan.arena_len as u64)
        .int(low.scratch_len as u64)
        .array(entry.inputs.len(), input_lens)
        .array(entry.param_map.len(), param_map)
        .array(g.outputs.len(), outputs)
        .array(n_updates, updates);
    Ok(())
}
