//! The calling convention of a compiled step, shared by the JIT and the object file.
//!
//! The step is one function `extern "C" fn step(table: *const *mut f32)`. `table` holds
//! the base pointers of the run-time buffers, in this order:
//!
//! | slot | buffer |
//! |---|---|
//! | 0 | the scratch arena (`MemoryPlan::arena_len` f32s) |
//! | `1 ..= n_inputs` | the graph inputs, in order of the `Input` nodes (read only) |
//! | then `n_params` slots | the parameter buffers, in order of the `Param` nodes |
//! | last | scratch for the convolution kernels (`scratch_len` f32s, may be empty) |
//!
//! Constants are data objects inside the compiled code. Every kernel the step calls is a
//! function `kernel(table, chunk: i64)` that does chunk `chunk` of its work; the step runs
//! it directly (one chunk) or through `kiln_parallel_for(kernel, table, n_chunks)`.

use ir::{Graph, MemoryPlan, NodeId, Op, Storage};

use crate::error::{CodegenError, Result};

pub use kiln_cpu_runtime::{KernelFn, StepFn};

/// The runtime symbol the step calls to run a kernel's chunks on the worker pool.
pub const PARALLEL_FOR_SYMBOL: &str = "kiln_parallel_for";

/// Where a buffer lives at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    /// A slot of the step table.
    Table(usize),
    /// The `n`-th constant (a data object).
    Const(usize),
}

/// A node's value: its buffer and the offset (in f32 elements) within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub space: Space,
    pub offset: usize,
}

/// Table slot of the `n`-th parameter.
pub(crate) fn param_slot(n_inputs: usize, param: usize) -> usize {
    1 + n_inputs + param
}

/// Table slot of the convolution scratch buffer.
pub(crate) fn scratch_slot(n_inputs: usize, n_params: usize) -> usize {
    1 + n_inputs + n_params
}

/// Where `node`'s value lives, following aliases; `None` when it is never materialised.
pub(crate) fn resolve(graph: &Graph, plan: &MemoryPlan, node: NodeId) -> Result<Option<Loc>> {
    let n_inputs = graph.inputs().len();
    let fail = |msg: String| CodegenError::Plan {
        node: node.to_string(),
        msg,
    };
    let storage = *plan
        .storage
        .get(node.index())
        .ok_or_else(|| fail("no storage entry".into()))?;
    let numel = graph.shape(node).numel();
    let loc = match storage {
        // A multi-result kernel holds no value: its extracts do.
        Storage::None | Storage::Results => return Ok(None),
        Storage::Input(n) => Loc {
            space: Space::Table(1 + n),
            offset: 0,
        },
        Storage::Param(n) | Storage::InPlace(n) => Loc {
            space: Space::Table(param_slot(n_inputs, n)),
            offset: 0,
        },
        Storage::Const(n) => Loc {
            space: Space::Const(n),
            offset: 0,
        },
        Storage::Arena { offset, len } => {
            if len < numel || offset + len > plan.arena_len {
                return Err(fail(format!(
                    "arena slot {offset}+{len} does not hold {numel} elements inside an arena of {}",
                    plan.arena_len
                )));
            }
            Loc {
                space: Space::Table(0),
                offset,
            }
        }
        Storage::Alias(target) => {
            if target.index() >= node.index() {
                return Err(fail(format!(
                    "aliases {target}, which is not an earlier node"
                )));
            }
            if graph.shape(target).numel() != numel {
                return Err(fail(format!("aliases {target} of a different size")));
            }
            return resolve(graph, plan, target)?
                .map(Some)
                .ok_or_else(|| fail(format!("aliases {target}, which has no storage")));
        }
    };
    Ok(Some(loc))
}

/// Check the plan against the graph: one entry per node, leaves stored as themselves, every
/// index in range, computed values never written into an input or a constant.
pub(crate) fn check_plan(graph: &Graph, plan: &MemoryPlan) -> Result<()> {
    if plan.storage.len() != graph.len() {
        return Err(CodegenError::Plan {
            node: "-".into(),
            msg: format!("{} entries for {} nodes", plan.storage.len(), graph.len()),
        });
    }
    let (n_inputs, n_params) = (graph.inputs().len(), graph.params().len());
    let n_consts = graph
        .node_ids()
        .filter(|&n| matches!(graph.op(n), Op::Const(_)))
        .count();
    let ordinal = |id: NodeId| {
        graph
            .node_ids()
            .filter(|&n| {
                n < id
                    && std::mem::discriminant(graph.op(n)) == std::mem::discriminant(graph.op(id))
            })
            .count()
    };
    for id in graph.node_ids() {
        let fail = |msg: &str| {
            Err(CodegenError::Plan {
                node: id.to_string(),
                msg: msg.into(),
            })
        };
        let storage = plan.of(id);
        let leaf_ok = match (graph.op(id), storage) {
            (Op::Input { .. }, Storage::Input(n)) => n < n_inputs && n == ordinal(id),
            (Op::Param { .. }, Storage::Param(n)) => n < n_params && n == ordinal(id),
            (Op::Const(_), Storage::Const(n)) => n < n_consts && n == ordinal(id),
            (Op::Input { .. } | Op::Param { .. } | Op::Const(_), Storage::None) => true,
            (Op::Input { .. } | Op::Param { .. } | Op::Const(_), _) => false,
            (_, Storage::Input(_) | Storage::Param(_) | Storage::Const(_)) => {
                return fail("a computed value cannot be stored as an input, param or constant");
            }
            (_, Storage::InPlace(n)) => n < n_params,
            (op, Storage::Alias(_)) if !matches!(op, Op::Reshape(_)) => {
                return fail("only a reshape may alias its operand (an alias is never written)");
            }
            _ => true,
        };
        if !leaf_ok {
            return fail("leaf storage does not match its kind or index");
        }
        resolve(graph, plan, id)?;
    }
    Ok(())
}
