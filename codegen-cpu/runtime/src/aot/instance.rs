//! One instance of an ahead-of-time compiled model: its parameter buffers (weights and
//! optimizer state, kept across calls), one scratch arena and kernel scratch shared by its
//! entry points (calls on one instance run one at a time), and the checked, owned copy of
//! the model description that says how to call each compiled step.

use std::path::Path;

use thiserror::Error;

use super::desc::{self, CONST_SLOT, DESC_VERSION, ModelDesc, ValueDesc};
use crate::StepFn;

/// Why an instance could not be made or a call was refused.
#[derive(Debug, Error)]
pub enum AotError {
    /// The object's model description is malformed or of another layout version.
    #[error("model description: {0}")]
    Desc(String),
    /// The weights file could not be read or has the wrong size.
    #[error("weights file `{path}`: {msg}")]
    Weights {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// The model was compiled with external weights and no weights file was given.
    #[error("this model's weights are not embedded: give a weights file")]
    NoWeights,
    /// A parameter or entry index is out of range, or a buffer has the wrong length.
    #[error("{0}")]
    Call(String),
}

/// Where a value is after a step.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// `len` f32s at `offset` in table slot `slot`.
    Table {
        slot: usize,
        offset: usize,
        len: usize,
    },
    /// A constant embedded in the object.
    Const(&'static [f32]),
}

/// One entry point, checked against the buffers it will be given.
#[derive(Debug)]
struct Entry {
    step: StepFn,
    input_lens: Vec<usize>,
    /// The model parameter index of each of the step's parameters.
    param_map: Vec<usize>,
    outputs: Vec<Value>,
    /// `(step parameter index, new value)` for updates not computed in place.
    updates: Vec<(usize, Value)>,
    arena_len: usize,
    scratch_len: usize,
}

/// A model instance: parameters, arena and the entry points' descriptions.
#[derive(Debug)]
pub struct Instance {
    names: Vec<String>,
    params: Vec<Vec<f32>>,
    entries: Vec<Entry>,
    arena: Vec<f32>,
    scratch: Vec<f32>,
}

fn fail<T>(msg: impl Into<String>) -> Result<T, AotError> {
    Err(AotError::Desc(msg.into()))
}

impl Value {
    fn len(&self) -> usize {
        match self {
            Value::Table { len, .. } => *len,
            Value::Const(data) => data.len(),
        }
    }
}

/// Read a value description; table values must lie inside their slot (`slot_len(slot)`).
///
/// # Safety
/// A constant's `data` must point to `len` f32s that live for the program's lifetime.
unsafe fn value(
    v: &ValueDesc,
    slot_len: impl Fn(usize) -> Option<usize>,
) -> Result<Value, AotError> {
    let len = v.len as usize;
    if v.slot == CONST_SLOT {
        if v.data.is_null() && len > 0 {
            return fail("a constant value without data");
        }
        // SAFETY: the caller's contract.
        return Ok(Value::Const(unsafe { desc::array(v.data, v.len) }));
    }
    let (slot, offset) = (v.slot as usize, v.offset as usize);
    match slot_len(slot) {
        Some(n) if offset.checked_add(len).is_some_and(|end| end <= n) => {
            Ok(Value::Table { slot, offset, len })
        }
        _ => fail(format!(
            "a value of {len} f32s at offset {offset} does not fit in table slot {slot}"
        )),
    }
}

/// Little-endian f32s from a weights file of exactly `expected` values.
pub fn read_weights_file(path: &Path, expected: usize) -> Result<Vec<f32>, AotError> {
    let err = |msg: String| AotError::Weights {
        path: path.display().to_string(),
        msg,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if bytes.len() != expected * 4 {
        return Err(err(format!(
            "holds {} bytes, expected {} ({expected} little-endian f32s)",
            bytes.len(),
            expected * 4
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

impl Instance {
    /// A new instance of the model `desc` describes, its parameters initialised from
    /// `weights` (every parameter's values concatenated in the model's order) or, when
    /// `None`, from the values embedded in the object.
    ///
    /// # Safety
    /// `desc` must be a model description emitted by Kiln's ahead-of-time compiler (every
    /// pointer valid for the counts beside it, for the program's lifetime, and every step
    /// function honouring the buffer sizes the description states).
    pub unsafe fn new(
        desc: &'static ModelDesc,
        weights: Option<&[f32]>,
    ) -> Result<Instance, AotError> {
        if desc.version != DESC_VERSION {
            return fail(format!(
                "layout version {}, this runtime reads version {DESC_VERSION}",
                desc.version
            ));
        }
        // SAFETY: the caller's contract (pointers valid for their counts).
        let params = unsafe { desc::array(desc.params, desc.n_params) };
        let mut names = Vec::with_capacity(params.len());
        for p in params {
            if p.name.is_null() {
                return fail("a parameter without a name");
            }
            // SAFETY: names are NUL-terminated strings of the object.
            names.push(
                unsafe { std::ffi::CStr::from_ptr(p.name) }
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        let lens: Vec<usize> = params.iter().map(|p| p.len as usize).collect();
        let values = match weights {
            Some(all) => {
                let total: usize = lens.iter().sum();
                if all.len() != total {
                    return Err(AotError::Call(format!(
                        "{} weight values given, the model has {total}",
                        all.len()
                    )));
                }
                let mut rest = all;
                lens.iter()
                    .map(|&n| {
                        let (head, tail) = rest.split_at(n);
                        rest = tail;
                        head.to_vec()
                    })
                    .collect()
            }
            None => params
                .iter()
                .map(|p| match p.init.is_null() && p.len > 0 {
                    true => Err(AotError::NoWeights),
                    // SAFETY: embedded initial values hold `len` f32s.
                    false => Ok(unsafe { desc::array(p.init, p.len) }.to_vec()),
                })
                .collect::<Result<_, _>>()?,
        };
        // SAFETY: the caller's contract.
        let entries: Vec<Entry> = unsafe { desc::array(desc.entries, desc.n_entries) }
            .iter()
            .map(|e| unsafe { Self::entry(e, &lens) })
            .collect::<Result<_, _>>()?;
        let arena_len = entries.iter().map(|e| e.arena_len).max().unwrap_or(0);
        let scratch_len = entries.iter().map(|e| e.scratch_len).max().unwrap_or(0);
        Ok(Instance {
            names,
            params: values,
            entries,
            arena: vec![0.0; arena_len],
            scratch: vec![0.0; scratch_len],
        })
    }

    /// Check and copy one entry description; `lens` are the model parameters' lengths.
    ///
    /// # Safety
    /// As for [`Instance::new`].
    unsafe fn entry(e: &desc::EntryDesc, lens: &[usize]) -> Result<Entry, AotError> {
        // SAFETY: the caller's contract.
        let (input_lens, param_map, outputs, updates) = unsafe {
            (
                desc::array(e.input_lens, e.n_inputs)
                    .iter()
                    .map(|&n| n as usize)
                    .collect::<Vec<_>>(),
                desc::array(e.param_map, e.n_params)
                    .iter()
                    .map(|&n| n as usize)
                    .collect::<Vec<_>>(),
                desc::array(e.outputs, e.n_outputs),
                desc::array(e.updates, e.n_updates),
            )
        };
        for (k, &p) in param_map.iter().enumerate() {
            if p >= lens.len() || param_map[..k].contains(&p) {
                return fail(format!(
                    "step parameter {k} maps to model parameter {p}, out of range or taken twice"
                ));
            }
        }
        let (arena_len, n_inputs) = (e.arena_len as usize, input_lens.len());
        let slot_len = |slot: usize| match slot {
            0 => Some(arena_len),
            s if s <= n_inputs => Some(input_lens[s - 1]),
            s => param_map.get(s - 1 - n_inputs).map(|&p| lens[p]),
        };
        // SAFETY: the caller's contract (constants live as long as the object).
        let outputs = outputs
            .iter()
            .map(|v| unsafe { value(v, slot_len) })
            .collect::<Result<Vec<_>, _>>()?;
        let mut copied = Vec::with_capacity(updates.len());
        for u in updates {
            let param = u.param as usize;
            // SAFETY: as above.
            let v = unsafe { value(&u.value, slot_len) }?;
            if param_map.get(param).is_none_or(|&p| lens[p] != v.len()) {
                return fail(format!(
                    "an update of {} values for step parameter {param}, which does not hold that many",
                    v.len()
                ));
            }
            copied.push((param, v));
        }
        Ok(Entry {
            step: e.step,
            input_lens,
            param_map,
            outputs,
            updates: copied,
            arena_len,
            scratch_len: e.scratch_len as usize,
        })
    }

    /// The number of parameters.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// The index of the parameter called `name`.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Parameter `index`'s current values.
    pub fn param(&self, index: usize) -> Result<&[f32], AotError> {
        self.params
            .get(index)
            .map(Vec::as_slice)
            .ok_or_else(|| AotError::Call(format!("no parameter {index}")))
    }

    /// Replace parameter `index`'s values (`values` must have its length).
    pub fn set_param(&mut self, index: usize, values: &[f32]) -> Result<(), AotError> {
        let n = self.params.len();
        let p = self
            .params
            .get_mut(index)
            .ok_or_else(|| AotError::Call(format!("no parameter {index} (the model has {n})")))?;
        if p.len() != values.len() {
            return Err(AotError::Call(format!(
                "parameter {index} holds {} values, got {}",
                p.len(),
                values.len()
            )));
        }
        p.copy_from_slice(values);
        Ok(())
    }

    /// Entry point `entry`, or an error naming it.
    fn entry_point(&self, entry: usize) -> Result<&Entry, AotError> {
        self.entries
            .get(entry)
            .ok_or_else(|| AotError::Call(format!("no entry point {entry}")))
    }

    /// The lengths of entry `entry`'s inputs and outputs.
    pub fn io_lens(&self, entry: usize) -> Result<(Vec<usize>, Vec<usize>), AotError> {
        let e = self.entry_point(entry)?;
        Ok((
            e.input_lens.clone(),
            e.outputs.iter().map(Value::len).collect(),
        ))
    }

    /// How many inputs and outputs entry `entry` has.
    pub fn io_counts(&self, entry: usize) -> Result<(usize, usize), AotError> {
        let e = self.entry_point(entry)?;
        Ok((e.input_lens.len(), e.outputs.len()))
    }

    /// Run entry point `entry` on `inputs`, writing its outputs into `outputs` and applying
    /// its parameter updates. Every buffer must have the length [`Instance::io_lens`] says.
    pub fn run(
        &mut self,
        entry: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) -> Result<(), AotError> {
        let e = self.entry_point(entry)?;
        let fits = inputs.len() == e.input_lens.len()
            && outputs.len() == e.outputs.len()
            && inputs.iter().zip(&e.input_lens).all(|(s, &n)| s.len() == n)
            && outputs
                .iter()
                .zip(&e.outputs)
                .all(|(s, v)| s.len() == v.len());
        if !fits {
            let (in_lens, out_lens) = self.io_lens(entry)?;
            let given_in: Vec<usize> = inputs.iter().map(|s| s.len()).collect();
            let given_out: Vec<usize> = outputs.iter().map(|s| s.len()).collect();
            return Err(AotError::Call(format!(
                "entry {entry} takes inputs of {in_lens:?} and outputs of {out_lens:?} values, got {given_in:?} and {given_out:?}"
            )));
        }
        // SAFETY: every buffer has its entry's length (checked above); the outputs are
        // exclusive borrows, so they overlap neither the inputs nor the instance.
        unsafe { self.run_unchecked(entry, |i| inputs[i].as_ptr(), |o| outputs[o].as_mut_ptr()) };
        Ok(())
    }

    /// [`Instance::run`] on pointers, as C passes them: `args` holds entry `entry`'s input
    /// pointers then its output pointers. Allocates nothing unless the entry updates
    /// parameters by copy.
    ///
    /// # Safety
    /// Each pointer must point to a buffer of its input's or output's length (see
    /// [`Instance::io_lens`]), inputs readable, outputs writable and overlapping no input.
    pub unsafe fn run_pointers(&mut self, entry: usize, args: &[*mut f32]) -> Result<(), AotError> {
        let (n_in, n_out) = self.io_counts(entry)?;
        if args.len() != n_in + n_out || args.iter().any(|p| p.is_null()) {
            return Err(AotError::Call("a NULL input or output buffer".into()));
        }
        // SAFETY: the caller's contract.
        unsafe { self.run_unchecked(entry, |i| args[i].cast_const(), |o| args[n_in + o]) };
        Ok(())
    }

    /// Run entry `entry` (which exists) with input `i` at `input(i)` and output `o` written
    /// to `output(o)`.
    ///
    /// # Safety
    /// As for [`Instance::run_pointers`].
    unsafe fn run_unchecked(
        &mut self,
        entry: usize,
        input: impl Fn(usize) -> *const f32,
        mut output: impl FnMut(usize) -> *mut f32,
    ) {
        let Instance {
            params,
            entries,
            arena,
            scratch,
            ..
        } = self;
        let e = &entries[entry];
        let n_in = e.input_lens.len();
        // Compiled steps never write an input slot, so the inputs are not written.
        let slots = std::iter::once(arena.as_mut_ptr())
            .chain((0..n_in).map(|i| input(i).cast_mut()))
            .chain(e.param_map.iter().map(|&p| params[p].as_mut_ptr()))
            .chain(std::iter::once(scratch.as_mut_ptr()));
        // SAFETY: every buffer has the length the description promises (arena and scratch
        // are the largest any entry needs; inputs by the caller's contract; parameters made
        // to the description's lengths), and the step only touches its table's buffers.
        unsafe { crate::step_call::call_step(e.step, slots) };
        let source = |v: Value| -> *const f32 {
            match v {
                Value::Const(data) => data.as_ptr(),
                // SAFETY: `offset + len` lies inside the slot (checked when the instance
                // was made; inputs have their entry's lengths).
                Value::Table { slot, offset, .. } => unsafe {
                    match slot {
                        0 => arena.as_ptr().add(offset),
                        s if s <= n_in => input(s - 1).add(offset),
                        s => params[e.param_map[s - 1 - n_in]].as_ptr().add(offset),
                    }
                },
            }
        };
        for (o, &v) in e.outputs.iter().enumerate() {
            // SAFETY: `source(v)` holds `v.len()` values and `output(o)` has room for them
            // (the caller's contract); `copy` allows a caller's output that is also an input.
            unsafe { std::ptr::copy(source(v), output(o), v.len()) };
        }
        // Read every update before writing any: one update's value may be another's parameter.
        let updates: Vec<(usize, Vec<f32>)> = e
            .updates
            .iter()
            // SAFETY: as for the outputs.
            .map(|&(p, v)| {
                (
                    e.param_map[p],
                    unsafe { std::slice::from_raw_parts(source(v), v.len()) }.to_vec(),
                )
            })
            .collect();
        for (p, values) in updates {
            params[p].copy_from_slice(&values);
        }
    }
}
