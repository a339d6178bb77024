//! Running a compiled step: [`Executable`] (immutable compiled code, shareable across
//! threads), [`State`] (one caller's parameter buffers and scratch arena), [`Workspace`]
//! (one caller's arena for a step run on borrowed read-only parameters), input checks, and
//! the copy-back of outputs and parameter updates; [`Executable::run_notifying`] hands each
//! output to a listener as soon as it is final. [`Executable::run_read_only_into`] is the
//! latency path: positional buffers, outputs written into the caller's, no allocation.

use std::mem::ManuallyDrop;

use cranelift_jit::JITModule;
use ir::{Graph, Leaf, MemoryPlan, Op, Shape, Tensor};

use kiln_cpu_runtime::step_call::call_step;

use crate::abi::{self, Loc, Space, StepFn};
use crate::error::{CodegenError, Result};
use crate::ready;

/// A listener of ready outputs: each output's name and values (see
/// [`Executable::run_notifying`]).
type OnReady<'a> = dyn FnMut(&str, &[f32]) + 'a;

/// Owns the JIT's code memory for as long as the [`Executable`] lives.
struct JitCode(ManuallyDrop<JITModule>);

impl Drop for JitCode {
    fn drop(&mut self) {
        // SAFETY: the only pointers into this memory are held by the `Executable` that owns
        // this value and is being dropped.
        unsafe { ManuallyDrop::take(&mut self.0).free_memory() };
    }
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
    /// Whether the graph updates any parameter (in place or by copy-back).
    updates_params: bool,
    /// Whether the step calls the ready hook for each output ([`crate::ready`]).
    ready_hooks: bool,
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
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Replace the value of parameter `name`; the length must match its shape.
    pub fn set_param(&mut self, name: &str, value: &[f32]) -> Result<()> {
        let fail = |msg: String| CodegenError::Param {
            name: name.into(),
            msg,
        };
        let (_, buf) = self
            .params
            .iter_mut()
            .find(|(n, _)| n == name)
            .ok_or_else(|| fail("no such parameter".into()))?;
        if buf.len() != value.len() {
            return Err(fail(format!(
                "holds {} values, got {}",
                buf.len(),
                value.len()
            )));
        }
        buf.copy_from_slice(value);
        Ok(())
    }
}

/// One caller's scratch buffers for [`Executable::run_read_only`]: the arena and the
/// kernels' scratch, without parameter buffers (those are borrowed for each call).
#[derive(Debug, Clone)]
pub struct Workspace {
    arena: Vec<f32>,
    scratch: Vec<f32>,
}

impl Executable {
    /// The executable of `graph` under `plan`, whose finalised code `module` holds: `step`
    /// points into it, and needs `scratch_len` elements of scratch.
    pub(crate) fn new(
        module: JITModule,
        step: StepFn,
        scratch_len: usize,
        graph: &Graph,
        plan: &MemoryPlan,
    ) -> Result<Executable> {
        let consts = graph
            .node_ids()
            .filter_map(|id| {
                if let Op::Const(t) = graph.op(id) {
                    Some(t.data.clone())
                } else {
                    None
                }
            })
            .collect();
        let stored = |id| {
            abi::resolve(graph, plan, id)?.ok_or_else(|| CodegenError::Plan {
                node: id.to_string(),
                msg: "an output or update value has no storage".into(),
            })
        };
        let outputs = graph
            .outputs
            .iter()
            .map(|(name, id)| Ok((name.clone(), stored(*id)?, graph.shape(*id).clone())))
            .collect::<Result<_>>()?;
        let copied_updates = plan
            .copied_updates(graph)
            .into_iter()
            .map(|(index, value)| Ok((index, stored(value)?)))
            .collect::<Result<_>>()?;
        Ok(Executable {
            _code: JitCode(ManuallyDrop::new(module)),
            step,
            inputs: Leaf::inputs_of(graph),
            params: Leaf::params_of(graph),
            arena_len: plan.arena_len,
            scratch_len,
            consts,
            outputs,
            copied_updates,
            updates_params: !graph.updates.is_empty(),
            ready_hooks: false,
        })
    }

    /// This executable, marked as compiled with (or without) ready hooks.
    pub(crate) fn with_ready_hooks(mut self, ready_hooks: bool) -> Executable {
        self.ready_hooks = ready_hooks;
        self
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
            params: self
                .params
                .iter()
                .map(|p| (p.name.clone(), vec![0.0; p.shape.numel()]))
                .collect(),
            arena: vec![0.0; self.arena_len],
            scratch: vec![0.0; self.scratch_len],
        }
    }

    /// Whether running this step writes any parameter (a training step's updates). Steps
    /// that do not may run on borrowed parameters with [`Executable::run_read_only`].
    pub fn updates_params(&self) -> bool {
        self.updates_params
    }

    /// Fresh scratch buffers for [`Executable::run_read_only`].
    pub fn new_workspace(&self) -> Workspace {
        Workspace {
            arena: vec![0.0; self.arena_len],
            scratch: vec![0.0; self.scratch_len],
        }
    }

    /// Run one step: check `inputs` (every graph input exactly once, of the right length),
    /// run the compiled code, copy non-in-place parameter updates into `state`, and return
    /// the named outputs.
    pub fn run(
        &self,
        state: &mut State,
        inputs: &[(&str, &[f32])],
    ) -> Result<Vec<(String, Tensor)>> {
        let ordered = self.check_inputs(inputs)?;
        self.check_state(state)?;
        self.execute(state, &ordered, None);
        let views: Vec<&[f32]> = state.params.iter().map(|(_, v)| v.as_slice()).collect();
        let outputs = self.read_outputs(&state.arena, &ordered, &views);
        self.apply_copied_updates(state, &ordered);
        Ok(outputs)
    }

    /// [`Executable::run`] without copying the outputs out: each output is handed to
    /// `on_ready` (its name and values) as soon as it is final — in the middle of the step
    /// when compiled by [`compile_with_ready_hooks`](crate::compile_with_ready_hooks) (in node
    /// order; the kernels after it have not run yet), else after the step, in output order.
    /// `on_ready` runs on this thread between two kernels; a panic in it is raised once the
    /// step ends.
    pub fn run_notifying(
        &self,
        state: &mut State,
        inputs: &[(&str, &[f32])],
        on_ready: &mut dyn FnMut(&str, &[f32]),
    ) -> Result<()> {
        let ordered = self.check_inputs(inputs)?;
        self.check_state(state)?;
        if self.ready_hooks {
            self.execute(state, &ordered, Some(on_ready));
        } else {
            self.execute(state, &ordered, None);
            let views: Vec<&[f32]> = state.params.iter().map(|(_, v)| v.as_slice()).collect();
            for (name, loc, shape) in &self.outputs {
                on_ready(
                    name,
                    self.source(*loc, shape.numel(), &state.arena, &ordered, &views),
                );
            }
        }
        self.apply_copied_updates(state, &ordered);
        Ok(())
    }

    /// Run the compiled code on `state` and the checked `inputs`, with `on_ready` receiving
    /// the ready hooks when given.
    fn execute(&self, state: &mut State, inputs: &[&[f32]], on_ready: Option<&mut OnReady<'_>>) {
        let arena = state.arena.as_mut_ptr();
        let scratch = state.scratch.as_mut_ptr();
        let params = state.params.iter_mut().map(|(_, v)| v.as_mut_ptr());
        let Some(on_ready) = on_ready else {
            // SAFETY: the caller checked every buffer's length against the graph and plan.
            unsafe { self.call(arena, scratch, inputs, params) };
            return;
        };
        // The listener reads outputs through the parameter pointers while the step runs.
        let params: Vec<*mut f32> = params.collect();
        let mut listener = |index: usize| {
            let (name, loc, shape) = &self.outputs[index];
            // SAFETY: between two kernels nothing writes the step's buffers, and `loc` lies
            // within its buffer (the checked plan); the slice ends with this call.
            let values = unsafe { self.raw_source(*loc, shape.numel(), arena, inputs, &params) };
            on_ready(name, values);
        };
        // SAFETY: as above.
        ready::with_listener(&mut listener, || unsafe {
            self.call(arena, scratch, inputs, params.iter().copied())
        });
    }

    /// Copy the updates not computed in place into `state`'s parameters.
    fn apply_copied_updates(&self, state: &mut State, inputs: &[&[f32]]) {
        let views: Vec<&[f32]> = state.params.iter().map(|(_, v)| v.as_slice()).collect();
        let updates: Vec<(usize, Vec<f32>)> = self
            .copied_updates
            .iter()
            .map(|&(p, loc)| {
                (
                    p,
                    self.read(loc, views[p].len(), &state.arena, inputs, &views),
                )
            })
            .collect();
        for (p, value) in updates {
            state.params[p].1.copy_from_slice(&value);
        }
    }

    /// Run a step that updates no parameter (an inference graph) on parameters borrowed
    /// read-only, by name like the inputs, with this caller's `workspace`. Many threads may
    /// run one executable at once on the same parameter slices, each with its own
    /// workspace. A step that updates parameters is refused: it needs a [`State`].
    pub fn run_read_only(
        &self,
        workspace: &mut Workspace,
        params: &[(&str, &[f32])],
        inputs: &[(&str, &[f32])],
    ) -> Result<Vec<(String, Tensor)>> {
        self.check_read_only(workspace)?;
        let ordered = self.check_inputs(inputs)?;
        let views = ir::leaf::bind_leaves("parameter", &self.params, params, |name, msg| {
            CodegenError::Param { name, msg }
        })?;
        // Compiled code of a graph without updates never writes a parameter slot (the plan
        // check allows parameter storage only for `Param` leaves and update values), so
        // handing out the caller's shared slices is sound, as for inputs.
        let pointers = views.iter().map(|s| s.as_ptr() as *mut f32);
        // SAFETY: every buffer has the length the graph and plan promise (checked above).
        unsafe {
            self.call(
                workspace.arena.as_mut_ptr(),
                workspace.scratch.as_mut_ptr(),
                &ordered,
                pointers,
            )
        };
        Ok(self.read_outputs(&workspace.arena, &ordered, &views))
    }

    /// [`Executable::run_read_only`] with positional buffers and without allocating: one
    /// slice per parameter and per input in the order of [`Executable::params`] and
    /// [`Executable::inputs`], and one buffer per output (in the order of
    /// [`Executable::outputs`]) that the outputs are copied into. Safe to run on many
    /// threads at once, each with its own workspace.
    pub fn run_read_only_into(
        &self,
        workspace: &mut Workspace,
        params: &[&[f32]],
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) -> Result<()> {
        self.check_read_only(workspace)?;
        check_positional(&self.params, params, |name, msg| CodegenError::Param {
            name,
            msg,
        })?;
        check_positional(&self.inputs, inputs, |name, msg| CodegenError::Input {
            name,
            msg,
        })?;
        self.check_output_buffers(outputs)?;
        let pointers = params.iter().map(|s| s.as_ptr() as *mut f32);
        // SAFETY: every buffer has the length the graph and plan promise (checked above);
        // compiled code of a graph without updates never writes a parameter slot.
        unsafe {
            self.call(
                workspace.arena.as_mut_ptr(),
                workspace.scratch.as_mut_ptr(),
                inputs,
                pointers,
            )
        };
        for ((_, loc, shape), out) in self.outputs.iter().zip(outputs.iter_mut()) {
            out.copy_from_slice(self.source(*loc, shape.numel(), &workspace.arena, inputs, params));
        }
        Ok(())
    }

    /// The outputs' names and shapes, in the order [`Executable::run_read_only_into`]
    /// writes them.
    pub fn outputs(&self) -> impl ExactSizeIterator<Item = (&str, &Shape)> {
        self.outputs
            .iter()
            .map(|(name, _, shape)| (name.as_str(), shape))
    }

    /// An error unless this step updates no parameter and `workspace` is one of its own.
    fn check_read_only(&self, workspace: &Workspace) -> Result<()> {
        if self.updates_params {
            return Err(CodegenError::Param {
                name: "-".into(),
                msg: "this step updates parameters, so it cannot run on read-only ones".into(),
            });
        }
        if workspace.arena.len() != self.arena_len || workspace.scratch.len() != self.scratch_len {
            return Err(CodegenError::Param {
                name: "-".into(),
                msg: "the workspace was not made by this executable's new_workspace".into(),
            });
        }
        Ok(())
    }

    /// An error unless there is one buffer per output, of the output's length.
    fn check_output_buffers(&self, outputs: &[&mut [f32]]) -> Result<()> {
        if outputs.len() != self.outputs.len() {
            return Err(CodegenError::Output {
                name: "-".into(),
                msg: format!(
                    "{} output buffers given, the step has {} outputs",
                    outputs.len(),
                    self.outputs.len()
                ),
            });
        }
        for ((name, _, shape), out) in self.outputs.iter().zip(outputs) {
            if out.len() != shape.numel() {
                return Err(CodegenError::Output {
                    name: name.clone(),
                    msg: format!(
                        "shape {} ({} values), the buffer holds {}",
                        shape,
                        shape.numel(),
                        out.len()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Run the compiled code on the slot table `[arena, inputs.., params.., scratch]`.
    ///
    /// # Safety
    /// Every buffer must have the length the graph and plan promise; parameter pointers
    /// must be writable when the step updates parameters.
    unsafe fn call(
        &self,
        arena: *mut f32,
        scratch: *mut f32,
        inputs: &[&[f32]],
        params: impl Iterator<Item = *mut f32>,
    ) {
        // Compiled code never writes an input slot (the plan check forbids computed values
        // stored as inputs), so handing out the caller's shared slices is sound.
        let slots = std::iter::once(arena)
            .chain(inputs.iter().map(|s| s.as_ptr() as *mut f32))
            .chain(params)
            .chain(std::iter::once(scratch));
        // SAFETY: the caller guarantees the buffer lengths; all offsets in the compiled code
        // come from the checked plan.
        unsafe { call_step(self.step, slots) };
    }

    /// `len` values at `loc`, read through the raw table pointers of a step in progress.
    ///
    /// # Safety
    /// The pointers are the ones the running step was given, `loc` comes from this
    /// executable's plan, and no kernel runs while the slice lives.
    unsafe fn raw_source<'a>(
        &'a self,
        loc: Loc,
        len: usize,
        arena: *mut f32,
        inputs: &[&'a [f32]],
        params: &[*mut f32],
    ) -> &'a [f32] {
        let base: *const f32 = match loc.space {
            Space::Const(j) => self.consts[j].as_ptr(),
            Space::Table(0) => arena,
            Space::Table(slot) if slot <= inputs.len() => inputs[slot - 1].as_ptr(),
            Space::Table(slot) => params[slot - 1 - inputs.len()],
        };
        // SAFETY: the caller's contract: `loc.offset + len` lies within that buffer.
        unsafe { std::slice::from_raw_parts(base.add(loc.offset), len) }
    }

    /// The named outputs, read from where the plan put them.
    fn read_outputs(
        &self,
        arena: &[f32],
        inputs: &[&[f32]],
        params: &[&[f32]],
    ) -> Vec<(String, Tensor)> {
        self.outputs
            .iter()
            .map(|(name, loc, shape)| {
                (
                    name.clone(),
                    Tensor {
                        shape: shape.clone(),
                        data: self.read(*loc, shape.numel(), arena, inputs, params),
                    },
                )
            })
            .collect()
    }

    /// `len` values at `loc`, copied.
    fn read(
        &self,
        loc: Loc,
        len: usize,
        arena: &[f32],
        inputs: &[&[f32]],
        params: &[&[f32]],
    ) -> Vec<f32> {
        self.source(loc, len, arena, inputs, params).to_vec()
    }

    /// `len` values at `loc`.
    fn source<'a>(
        &'a self,
        loc: Loc,
        len: usize,
        arena: &'a [f32],
        inputs: &[&'a [f32]],
        params: &[&'a [f32]],
    ) -> &'a [f32] {
        let buf: &[f32] = match loc.space {
            Space::Const(j) => &self.consts[j],
            Space::Table(0) => arena,
            Space::Table(slot) if slot <= inputs.len() => inputs[slot - 1],
            Space::Table(slot) => params[slot - 1 - inputs.len()],
        };
        &buf[loc.offset..loc.offset + len]
    }

    fn check_inputs<'a>(&self, given: &[(&str, &'a [f32])]) -> Result<Vec<&'a [f32]>> {
        ir::leaf::bind_leaves("input", &self.inputs, given, |name, msg| {
            CodegenError::Input { name, msg }
        })
    }

    fn check_state(&self, state: &State) -> Result<()> {
        let fits = state.arena.len() == self.arena_len
            && state.scratch.len() == self.scratch_len
            && state.params.len() == self.params.len()
            && state
                .params
                .iter()
                .zip(&self.params)
                .all(|((n, v), l)| *n == l.name && v.len() == l.shape.numel());
        if fits {
            Ok(())
        } else {
            Err(CodegenError::Param {
                name: "-".into(),
                msg: "the state was not made by this executable's new_state".into(),
            })
        }
    }
}

/// An error (made by `error(name, msg)`) unless there is one slice per leaf, of its length.
fn check_positional(
    leaves: &[Leaf],
    given: &[&[f32]],
    error: impl Fn(String, String) -> CodegenError,
) -> Result<()> {
    if given.len() != leaves.len() {
        return Err(error(
            "-".into(),
            format!("{} buffers given for {} leaves", given.len(), leaves.len()),
        ));
    }
    for (leaf, data) in leaves.iter().zip(given) {
        if data.len() != leaf.shape.numel() {
            return Err(error(
                leaf.name.clone(),
                format!(
                    "expected shape {} ({} values), got {} values",
                    leaf.shape,
                    leaf.shape.numel(),
                    data.len()
                ),
            ));
        }
    }
    Ok(())
}

// SAFETY: the compiled code is immutable after `finalize_definitions`; `Executable` never
// mutates it and all per-call mutable data lives in the caller's `State`.
unsafe impl Send for Executable {}
// SAFETY: as above; `run` takes `&self` and touches only the caller's buffers.
unsafe impl Sync for Executable {}
