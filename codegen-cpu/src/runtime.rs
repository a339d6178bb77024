//! Running a compiled step: [`Executable`] (immutable compiled code, shareable across
//! threads), [`State`] (one caller's parameter buffers and scratch arena), input checks,
//! and the copy-back of outputs and parameter updates.

use ir::{Graph, MemoryPlan, Op, Shape, Storage, Tensor};

use crate::abi::{self, Loc, Space, StepFn};
use crate::error::{CodegenError, Result};
use crate::jit::JitCode;

/// A named leaf of the graph (an input or a parameter) and its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The name the caller binds it by.
    pub name: String,
    /// Its shape.
    pub shape: Shape,
}

/// A compiled training or inference step. Immutable and `Send + Sync`: many threads may
/// run it at once, each with its own [`State`].
pub struct Executable {
    /// Owns the machine code `step` points into; dropped (and freed) with the executable.
    _code: JitCode,
    step: StepFn,
    inputs: Vec<Leaf>,
    params: Vec<Leaf>,
    arena_len: usize,
    scratch_len: usize,
    consts: Vec<Vec<f32>>,
    outputs: Vec<(String, Loc, Shape)>,
    /// `(param index, where its new value is)` for updates not computed in place.
    copied_updates: Vec<(usize, Loc)>,
}

/// One caller's run-time buffers: parameters (kept across steps) and the scratch arena.
#[derive(Debug, Clone)]
pub struct State {
    params: Vec<(String, Vec<f32>)>,
    arena: Vec<f32>,
    scratch: Vec<f32>,
}

impl State {
    /// The current value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&[f32]> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// Replace the value of parameter `name`; the length must match its shape.
    pub fn set_param(&mut self, name: &str, value: &[f32]) -> Result<()> {
        let fail = |msg: String| CodegenError::Param { name: name.into(), msg };
        let (_, buf) = self.params.iter_mut().find(|(n, _)| n == name).ok_or_else(|| fail("no such parameter".into()))?;
        if buf.len() != value.len() {
            return Err(fail(format!("holds {} values, got {}", buf.len(), value.len())));
        }
        buf.copy_from_slice(value);
        Ok(())
    }
}

fn leaves(graph: &Graph, want_input: bool) -> Vec<Leaf> {
    graph
        .node_ids()
        .filter_map(|id| match graph.op(id) {
            Op::Input { name, shape } if want_input => Some(Leaf { name: name.clone(), shape: shape.clone() }),
            Op::Param { name, shape } if !want_input => Some(Leaf { name: name.clone(), shape: shape.clone() }),
            _ => None,
        })
        .collect()
}

impl Executable {
    pub(crate) fn new(code: JitCode, step: StepFn, scratch_len: usize, graph: &Graph, plan: &MemoryPlan) -> Result<Executable> {
        let consts = graph.node_ids().filter_map(|id| if let Op::Const(t) = graph.op(id) { Some(t.data.clone()) } else { None }).collect();
        let stored = |id| {
            abi::resolve(graph, plan, id)?
                .ok_or_else(|| CodegenError::Plan { node: id.to_string(), msg: "an output or update value has no storage".into() })
        };
        let outputs =
            graph.outputs.iter().map(|(name, id)| Ok((name.clone(), stored(*id)?, graph.shape(*id).clone()))).collect::<Result<_>>()?;
        let params = graph.params();
        let mut copied_updates = Vec::new();
        for &(param, value) in &graph.updates {
            let index = params.iter().position(|&p| p == param).expect("updates name params (checked by Graph::add_update)");
            if plan.of(value) != Storage::InPlace(index) {
                copied_updates.push((index, stored(value)?));
            }
        }
        Ok(Executable {
            _code: code,
            step,
            inputs: leaves(graph, true),
            params: leaves(graph, false),
            arena_len: plan.arena_len,
            scratch_len,
            consts,
            outputs,
            copied_updates,
        })
    }

    /// The graph inputs, in the order of the `Input` nodes.
    pub fn inputs(&self) -> &[Leaf] {
        &self.inputs
    }

    /// The parameters, in the order of the `Param` nodes.
    pub fn params(&self) -> &[Leaf] {
        &self.params
    }

    /// Fresh buffers: every parameter zero, and the arena.
    pub fn new_state(&self) -> State {
        State {
            params: self.params.iter().map(|p| (p.name.clone(), vec![0.0; p.shape.numel()])).collect(),
            arena: vec![0.0; self.arena_len],
            scratch: vec![0.0; self.scratch_len],
        }
    }

    /// Run one step: check `inputs` (every graph input exactly once, of the right length),
    /// run the compiled code, copy non-in-place parameter updates into `state`, and return
    /// the named outputs.
    pub fn run(&self, state: &mut State, inputs: &[(&str, &[f32])]) -> Result<Vec<(String, Tensor)>> {
        let ordered = self.check_inputs(inputs)?;
        self.check_state(state)?;
        let mut table: Vec<*mut f32> = Vec::with_capacity(1 + self.inputs.len() + self.params.len());
        table.push(state.arena.as_mut_ptr());
        // Compiled code never writes an input slot (the plan check forbids computed values
        // stored as inputs), so handing out the caller's shared slices is sound.
        table.extend(ordered.iter().map(|s| s.as_ptr() as *mut f32));
        table.extend(state.params.iter_mut().map(|(_, v)| v.as_mut_ptr()));
        table.push(state.scratch.as_mut_ptr());
        // SAFETY: every slot holds a buffer of the length the graph and plan promise (checked
        // above), and all offsets in the compiled code come from the checked plan.
        unsafe { (self.step)(table.as_ptr()) };
        let read = |state: &State, loc: Loc, len: usize| -> Vec<f32> {
            let buf: &[f32] = match loc.space {
                Space::Const(j) => &self.consts[j],
                Space::Table(0) => &state.arena,
                Space::Table(slot) if slot <= self.inputs.len() => ordered[slot - 1],
                Space::Table(slot) => &state.params[slot - 1 - self.inputs.len()].1,
            };
            buf[loc.offset..loc.offset + len].to_vec()
        };
        let outputs = self
            .outputs
            .iter()
            .map(|(name, loc, shape)| (name.clone(), Tensor { shape: shape.clone(), data: read(state, *loc, shape.numel()) }))
            .collect();
        let updates: Vec<(usize, Vec<f32>)> =
            self.copied_updates.iter().map(|&(p, loc)| (p, read(state, loc, state.params[p].1.len()))).collect();
        for (p, value) in updates {
            state.params[p].1.copy_from_slice(&value);
        }
        Ok(outputs)
    }

    fn check_inputs<'a>(&self, given: &[(&str, &'a [f32])]) -> Result<Vec<&'a [f32]>> {
        if let Some((name, _)) = given.iter().find(|(n, _)| !self.inputs.iter().any(|l| l.name == *n)) {
            let known: Vec<&str> = self.inputs.iter().map(|l| l.name.as_str()).collect();
            return Err(CodegenError::Input { name: name.to_string(), msg: format!("not an input of this graph (inputs: {known:?})") });
        }
        self.inputs
            .iter()
            .map(|leaf| {
                let fail = |msg: String| CodegenError::Input { name: leaf.name.clone(), msg };
                let mut matches = given.iter().filter(|(n, _)| *n == leaf.name);
                let (_, data) = matches.next().ok_or_else(|| fail(format!("missing (expected shape {})", leaf.shape)))?;
                if matches.next().is_some() {
                    return Err(fail("given more than once".into()));
                }
                if data.len() != leaf.shape.numel() {
                    return Err(fail(format!("expected shape {} ({} values), got {} values", leaf.shape, leaf.shape.numel(), data.len())));
                }
                Ok(*data)
            })
            .collect()
    }

    fn check_state(&self, state: &State) -> Result<()> {
        let fits = state.arena.len() == self.arena_len
            && state.scratch.len() == self.scratch_len
            && state.params.len() == self.params.len()
            && state.params.iter().zip(&self.params).all(|((n, v), l)| *n == l.name && v.len() == l.shape.numel());
        if fits {
            Ok(())
        } else {
            Err(CodegenError::Param { name: "-".into(), msg: "the state was not made by this executable's new_state".into() })
        }
    }
}

// SAFETY: the compiled code is immutable after `finalize_definitions`; `Executable` never
// mutates it and all per-call mutable data lives in the caller's `State`.
unsafe impl Send for Executable {}
// SAFETY: as above; `run` takes `&self` and touches only the caller's buffers.
unsafe impl Sync for Executable {}
