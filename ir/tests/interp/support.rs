//! Shared test helpers: building one-op graphs, deterministic random tensors, comparisons.

use ir::interp::{Bindings, run};
use ir::{Graph, IrError, Op, Shape, Tensor};

/// A tensor from a shape and data (panics on a length mismatch: test data is literal).
pub fn t(shape: impl Into<Shape>, data: Vec<f32>) -> Tensor {
    Tensor::new(shape, data).expect("test data matches its shape")
}

/// Deterministic uniform values in `[lo, hi)` from `ir::random::uniform`.
pub fn random(shape: impl Into<Shape>, seed: u32, lo: f32, hi: f32) -> Tensor {
    let shape = shape.into();
    let data = (0..shape.numel())
        .map(|i| lo + (hi - lo) * ir::random::uniform(seed, i as u32))
        .collect();
    Tensor { shape, data }
}

/// Run `op` on `args` through a graph (each arg an `Input`), returning its value.
pub fn apply(op: Op, args: &[Tensor]) -> Result<Tensor, IrError> {
    let mut g = Graph::new();
    let mut bindings = Bindings::new();
    let ids: Vec<_> = args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            bindings.insert(format!("arg{i}"), a.clone());
            g.input(format!("arg{i}"), a.shape.clone())
        })
        .collect();
    let y = g.add(op, &ids)?;
    g.add_output("y", y)?;
    Ok(run(&g, &bindings)?.outputs.remove(0).1)
}

/// Like [`apply`] but the op must succeed.
pub fn apply_ok(op: Op, args: &[Tensor]) -> Tensor {
    apply(op, args).expect("op evaluates")
}

/// Assert `got` has `shape` and every element equals `want` (infinities included) or is
/// within `tol` (absolute) of it.
pub fn assert_close(got: &Tensor, shape: &[usize], want: &[f32], tol: f32) {
    assert_eq!(got.shape.dims(), shape, "shape");
    assert_eq!(got.data.len(), want.len(), "length");
    for (i, (g, w)) in got.data.iter().zip(want).enumerate() {
        assert!(
            g == w || (g - w).abs() <= tol,
            "element {i}: got {g}, want {w} (tol {tol})\n got {:?}",
            got.data
        );
    }
}

/// `<a, b>` accumulated in f64.
pub fn dot(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.shape, b.shape);
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum()
}
