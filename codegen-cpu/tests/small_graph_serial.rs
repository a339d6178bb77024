//! Small graphs never touch the worker pool: whether a kernel is split into chunks for the
//! pool is decided at compile time from its size (elementwise kernels by output elements,
//! matmuls by flops; see `lower::PARALLEL_MIN_ELEMENTS` and the matmul split), and the step
//! function calls a one-chunk kernel directly. So the batch-1 MNIST MLP (784-300-100-10,
//! ~0.5 MFLOP) runs on the calling thread alone — no wake-up, no futex, nothing another
//! process's load can delay — while the same model at batch 256 does use the pool.
//!
//! Checked on the CLIF of the step function: calls through the `kiln_parallel_for` import.

use codegen_cpu::clif;
use ir::{BinaryOp, Graph, UnaryOp};

/// The forward pass of a 784-300-100-10 relu MLP at `batch`: output `logits`.
fn mlp(batch: usize) -> Graph {
    let sizes = [784, 300, 100, 10];
    let mut g = Graph::new();
    let mut h = g.input("x", [batch, sizes[0]]);
    for (i, pair) in sizes.windows(2).enumerate() {
        let w = g.param(format!("w{i}"), [pair[0], pair[1]]);
        let b = g.param(format!("b{i}"), [pair[1]]);
        let z = g.matmul(h, w, false, false).unwrap();
        let z = g.binary(BinaryOp::Add, z, b).unwrap();
        h = if i + 2 < sizes.len() {
            g.unary(UnaryOp::Relu, z).unwrap()
        } else {
            z
        };
    }
    g.add_output("logits", h).unwrap();
    g
}

/// How many calls the step function of `graph` makes through `kiln_parallel_for`.
fn pool_calls(graph: &Graph) -> usize {
    let g = passes::pipeline::optimize(graph).unwrap();
    let plan = passes::memory_plan::plan(&g).unwrap();
    let functions = clif(&g, &plan, None).unwrap();
    let step = functions.last().expect("the step function comes last");
    // `; u0:N = kiln_parallel_for`, then `fnK = u0:N sig..`, then `call fnK(`.
    let text = &step.text;
    let Some(symbol) = text
        .lines()
        .find_map(|l| l.strip_suffix(" = kiln_parallel_for")?.strip_prefix("; "))
    else {
        return 0;
    };
    let Some(func_ref) = text.lines().find_map(|l| {
        let (name, rest) = l.trim().split_once(" = ")?;
        rest.split_whitespace()
            .any(|w| w == symbol)
            .then(|| name.to_string())
    }) else {
        return 0;
    };
    text.matches(&format!("call {func_ref}(")).count()
}

#[test]
fn the_batch_one_mlp_never_calls_the_pool() {
    assert_eq!(pool_calls(&mlp(1)), 0);
}

#[test]
fn the_same_mlp_at_batch_256_does() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return; // one thread: nothing is split
    }
    assert!(pool_calls(&mlp(256)) > 0);
}
