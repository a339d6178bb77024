//! Elementwise ops: unary, binary and select with numpy broadcasting, fused elementwise
//! programs, and the counter-based random generator. All of them are one mechanism: read
//! every input at the broadcast index and apply a scalar function.

use super::index::{View, for_each_index};
use crate::fused::Program;
use crate::random;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `f` applied at every index of `out`, reading each input broadcast to `out` (numpy rules;
/// the caller's shape inference guarantees every input broadcasts).
pub(crate) fn map_broadcast(out: &Shape, inputs: &[&Tensor], f: impl Fn(&[f32]) -> f32) -> Tensor {
    let views: Vec<View> = inputs
        .iter()
        .map(|t| View::broadcast(&t.shape, out))
        .collect();
    let mut data = Vec::with_capacity(out.numel());
    let mut scalars = vec![0.0; inputs.len()];
    for_each_index(out.dims(), &views, |_, offsets| {
        for ((scalar, input), &offset) in scalars.iter_mut().zip(inputs).zip(offsets) {
            *scalar = input.data[offset];
        }
        data.push(f(&scalars));
    });
    Tensor {
        shape: out.clone(),
        data,
    }
}

/// `program` over `inputs`, each broadcast to `out`.
pub(crate) fn program(out: &Shape, program: &Program, inputs: &[&Tensor]) -> Tensor {
    map_broadcast(out, inputs, |scalars| program.eval(scalars))
}

/// Every register of `program` over `inputs`, each broadcast to `out`: register `r`'s values
/// over `out` in row-major order.
pub(crate) fn map_registers(out: &Shape, program: &Program, inputs: &[&Tensor]) -> Vec<Vec<f32>> {
    let mut registers = vec![Vec::with_capacity(out.numel()); program.instrs.len()];
    let views: Vec<View> = inputs
        .iter()
        .map(|t| View::broadcast(&t.shape, out))
        .collect();
    let mut scalars = vec![0.0; inputs.len()];
    for_each_index(out.dims(), &views, |_, offsets| {
        for ((scalar, input), &offset) in scalars.iter_mut().zip(inputs).zip(offsets) {
            *scalar = input.data[offset];
        }
        for (register, value) in registers.iter_mut().zip(program.eval_registers(&scalars)) {
            register.push(value);
        }
    });
    registers
}

/// `cond != 0 ? a : b`, all three broadcast to `out`.
pub(crate) fn select(cond: f32, a: f32, b: f32) -> f32 {
    if cond != 0.0 { a } else { b }
}

/// Uniform `[0, 1)` numbers of `shape`: element `i` is `random::uniform(seed, i)`.
pub(crate) fn random_uniform(shape: &Shape, seed: &Tensor) -> Tensor {
    let seed = random::seed_from_f32(seed.data[0]);
    let data = (0..shape.numel())
        .map(|i| random::uniform(seed, i as u32))
        .collect();
    Tensor {
        shape: shape.clone(),
        data,
    }
}
