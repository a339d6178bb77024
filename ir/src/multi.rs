//! Multi-result kernels ([`MultiKernel`]): what multi-output and horizontal fusion create and
//! every backend lowers as one kernel. Backend-neutral data.
//!
//! A multi-result kernel is one or more [`Loop`]s over the kernel's operands. A loop walks a
//! *domain* (a shape) and evaluates its body [`Program`] once per element, each operand read
//! broadcast to the domain; it writes some of the body's registers whole (an elementwise
//! value of the domain's shape) and reduces others over the loop's reduced axes. The loops of
//! one kernel never read each other's results, so a backend may run them in any order or
//! side by side (horizontal fusion); within a loop, every element's results are computed
//! from the operands before any of them is stored.
//!
//! In a graph, the kernel's node (`fused.multi`) holds no value itself: its shape is `[0]`,
//! and each result that is used is read through one [`crate::Op::Extract`] node, which
//! carries the result's index and shape. Results are numbered loop by loop, in the order the
//! loops list them.

use crate::fused::{Program, Reg};
use crate::infer::reduce_shape;
use crate::op::ReduceOp;
use crate::shape::Shape;

/// One result of a [`Loop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoopResult {
    /// The body's register `reg` at every element of the domain: a value of the domain's
    /// shape.
    Element(Reg),
    /// `op` of the body's register `reg` over the loop's reduced axes, which are kept as size
    /// 1 when `keep_dims` (the memory layout is the same either way).
    Reduce {
        /// The reduction.
        op: ReduceOp,
        /// The register reduced.
        reg: Reg,
        /// Keep the reduced axes as size 1.
        keep_dims: bool,
    },
}

impl LoopResult {
    /// The body register the result reads.
    pub fn reg(self) -> Reg {
        match self {
            LoopResult::Element(reg) | LoopResult::Reduce { reg, .. } => reg,
        }
    }
}

/// One loop of a [`MultiKernel`]: `body` at every index of `domain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Loop {
    /// The index space the body runs over; every operand the body reads broadcasts to it.
    pub domain: Shape,
    /// The axes every [`LoopResult::Reduce`] reduces (strictly increasing); empty exactly when
    /// the loop has no reduction.
    pub axes: Vec<usize>,
    /// The per-element program: `Input(n)` reads the kernel's operand `n` broadcast to the
    /// domain. Its registers are the loop's values; which of them are results is said by
    /// `results` (not by the last instruction).
    pub body: Program,
    /// What the loop writes, in result order.
    pub results: Vec<LoopResult>,
}

impl Loop {
    /// The shape of `result` (one of this loop's).
    pub fn result_shape(&self, result: LoopResult) -> Result<Shape, String> {
        match result {
            LoopResult::Element(_) => Ok(self.domain.clone()),
            LoopResult::Reduce { op, keep_dims, .. } => {
                reduce_shape(&self.domain, op, &self.axes, keep_dims)
            }
        }
    }

    /// Whether the loop only writes elementwise values (it has no reduction).
    pub fn is_elementwise(&self) -> bool {
        self.axes.is_empty()
    }

    /// The kernel operands the body reads, ascending, each once.
    pub fn operands_read(&self) -> Vec<usize> {
        let mut read: Vec<usize> = self
            .body
            .instrs
            .iter()
            .filter_map(|i| match *i {
                crate::fused::Instr::Input(n) => Some(n),
                _ => None,
            })
            .collect();
        read.sort_unstable();
        read.dedup();
        read
    }

    /// Check the loop against the shapes of the kernel's operands: the axes, the body's
    /// inputs (each in range and broadcasting to the domain), the results' registers and
    /// reductions.
    fn check(&self, operands: &[&Shape]) -> Result<(), String> {
        let has_reduction = self
            .results
            .iter()
            .any(|r| matches!(r, LoopResult::Reduce { .. }));
        if has_reduction == self.axes.is_empty() {
            return Err(format!(
                "a loop reduces axes exactly when it has a reduction (axes {:?})",
                self.axes
            ));
        }
        if self.body.instrs.is_empty() {
            return Err("a loop with an empty body".into());
        }
        if self.results.is_empty() {
            return Err("a loop without results".into());
        }
        for n in self.operands_read() {
            let shape = operands.get(n).ok_or_else(|| {
                format!(
                    "a loop reads input {n} but the kernel has {} operands",
                    operands.len()
                )
            })?;
            if !shape.broadcasts_to(&self.domain) {
                return Err(format!(
                    "operand {n} of shape {shape} does not broadcast to the domain {}",
                    self.domain
                ));
            }
        }
        for &result in &self.results {
            if result.reg() >= self.body.instrs.len() {
                return Err(format!(
                    "a result reads r{} of a {}-instruction body",
                    result.reg(),
                    self.body.instrs.len()
                ));
            }
            self.result_shape(result)?;
        }
        Ok(())
    }
}

/// A kernel of one or more independent [`Loop`]s with several results (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiKernel {
    /// The loops, in result order.
    pub loops: Vec<Loop>,
}

impl MultiKernel {
    /// The shape of a `fused.multi` node: it holds no value of its own.
    pub fn node_shape() -> Shape {
        Shape::new(vec![0])
    }

    /// Every result as `(loop index, result)`, in result order.
    pub fn results(&self) -> impl Iterator<Item = (usize, LoopResult)> + '_ {
        self.loops
            .iter()
            .enumerate()
            .flat_map(|(l, lp)| lp.results.iter().map(move |&r| (l, r)))
    }

    /// The number of results.
    pub fn n_results(&self) -> usize {
        self.loops.iter().map(|l| l.results.len()).sum()
    }

    /// Result `index` as `(loop index, result)`, if there is one.
    pub fn result(&self, index: usize) -> Option<(usize, LoopResult)> {
        self.results().nth(index)
    }

    /// The shape of every result, in order.
    pub fn result_shapes(&self) -> Result<Vec<Shape>, String> {
        self.results()
            .map(|(l, r)| self.loops[l].result_shape(r))
            .collect()
    }

    /// Check the kernel against the shapes of its operands (see [`Loop`] for what each loop
    /// must satisfy).
    pub fn check(&self, operands: &[&Shape]) -> Result<(), String> {
        if self.loops.is_empty() {
            return Err("a multi-result kernel without loops".into());
        }
        for (l, lp) in self.loops.iter().enumerate() {
            lp.check(operands).map_err(|e| format!("loop {l}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::Instr;
    use crate::op::UnaryOp;

    fn softmax_denominator() -> MultiKernel {
        // e = exp(x - m) written whole, and its row sums.
        MultiKernel {
            loops: vec![Loop {
                domain: Shape::from([3, 5]),
                axes: vec![1],
                body: Program {
                    instrs: vec![
                        Instr::Input(0),
                        Instr::Input(1),
                        Instr::Binary(crate::op::BinaryOp::Sub, 0, 1),
                        Instr::Unary(UnaryOp::Exp, 2),
                    ],
                },
                results: vec![
                    LoopResult::Element(3),
                    LoopResult::Reduce {
                        op: ReduceOp::Sum,
                        reg: 3,
                        keep_dims: true,
                    },
                ],
            }],
        }
    }

    #[test]
    fn results_are_numbered_loop_by_loop_with_their_shapes() {
        let mut k = softmax_denominator();
        k.loops.push(Loop {
            domain: Shape::scalar(),
            axes: vec![],
            body: Program {
                instrs: vec![Instr::Input(2)],
            },
            results: vec![LoopResult::Element(0)],
        });
        let (x, m, s) = (Shape::from([3, 5]), Shape::from([3, 1]), Shape::scalar());
        assert_eq!(k.check(&[&x, &m, &s]), Ok(()));
        assert_eq!(k.n_results(), 3);
        assert_eq!(k.result(2), Some((1, LoopResult::Element(0))));
        assert_eq!(
            k.result_shapes(),
            Ok(vec![x.clone(), Shape::from([3, 1]), s])
        );
        assert_eq!(k.loops[0].operands_read(), vec![0, 1]);
        assert_eq!(k.loops[1].operands_read(), vec![2]);
    }

    #[test]
    fn malformed_loops_are_named() {
        let (x, m) = (Shape::from([3, 5]), Shape::from([3, 1]));
        let mut k = softmax_denominator();
        k.loops[0].axes.clear();
        assert!(k.check(&[&x, &m]).unwrap_err().contains("exactly when"));
        let k = softmax_denominator();
        let wide = Shape::from([4, 5]);
        assert!(k.check(&[&wide, &m]).unwrap_err().contains("broadcast"));
        assert!(k.check(&[&x]).unwrap_err().contains("input 1"));
        let mut k = softmax_denominator();
        k.loops[0].results.push(LoopResult::Element(9));
        assert!(k.check(&[&x, &m]).unwrap_err().contains("r9"));
    }
}
