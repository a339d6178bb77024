//! Multi-result kernels ([`crate::multi`]), evaluated as their definition says: each loop's
//! body at every index of its domain (operands read broadcast, as an elementwise program
//! reads them), then each result taken whole or reduced with the primitive reduction's code,
//! so a multi-result kernel and the ops it replaces agree by construction.

use super::elementwise::map_registers;
use super::reduce;
use crate::multi::{LoopResult, MultiKernel};
use crate::tensor::Tensor;

/// Every result of `kernel` on its operands `args`, in result order.
pub(crate) fn eval_multi(kernel: &MultiKernel, args: &[&Tensor]) -> Vec<Tensor> {
    let mut results = Vec::with_capacity(kernel.n_results());
    // An operand a loop does not read need not broadcast to its domain: it stands in as a
    // scalar the body never looks at.
    let unread = Tensor::scalar(0.0);
    for lp in &kernel.loops {
        let read = lp.operands_read();
        let loop_args: Vec<&Tensor> = args
            .iter()
            .enumerate()
            .map(|(n, &a)| if read.contains(&n) { a } else { &unread })
            .collect();
        let registers = map_registers(&lp.domain, &lp.body, &loop_args);
        for &result in &lp.results {
            let value = Tensor {
                shape: lp.domain.clone(),
                data: registers[result.reg()].clone(),
            };
            results.push(match result {
                LoopResult::Element(_) => value,
                LoopResult::Reduce { op, .. } => {
                    let shape = lp.result_shape(result).expect("checked by shape inference");
                    reduce::reduce(&value, op, &lp.axes, &shape)
                }
            });
        }
    }
    results
}
