//! Small graphs never touch the worker pool: whether a kernel is split into chunks for the
//! pool is decided at compile time from its size (elementwise kernels by output elements,
//! matmuls by flops; see `lower::PARALLEL_MIN_ELEMENTS` and the matmul split), and the step
//! function calls a one-chunk kernel directly. So the batch-1 MNIST MLP (784-300-100-10,
//! ~0.5 MFLOP) runs on the calling thread alone — no wake-up, no futex, nothing another
//! process's load can delay — while the same model at batch 256 does use the pool.
//!
//! Checked on the CLIF of the step function (calls through the `kiln_parallel_for` import)
//! and at run time (the runtime's count of work split for the pool, which also covers
//! `kiln_sgemm`'s own splitting of large matrix-vector products).

use codegen_cpu::{clif, compile};
use ir::{BinaryOp, Graph, MemoryPlan, UnaryOp};
use kiln_cpu_runtime::parallel::split_calls;

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

/// `graph` optimised and planned, as the frontend compiles it.
fn prepared(graph: &Graph) -> (Graph, MemoryPlan) {
    let g = passes::pipeline::optimize(graph).unwrap();
    let plan = passes::memory_plan::plan(&g).unwrap();
    (g, plan)
}

/// How many calls the step function of `graph` makes through `kiln_parallel_for`.
fn pool_calls(graph: &Graph) -> usize {
    let (g, plan) = prepared(graph);
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

/// How many times running `graph`'s compiled step `runs` times split work for the pool.
fn split_calls_running(graph: &Graph, runs: usize) -> u64 {
    let (g, plan) = prepared(graph);
    let exe = compile(&g, &plan).unwrap();
    let mut state = exe.new_state();
    let x = vec![0.5; exe.inputs()[0].shape.numel()];
    let before = split_calls();
    for _ in 0..runs {
        exe.run(&mut state, &[("x", &x)]).unwrap();
    }
    split_calls() - before
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn the_batch_one_mlp_step_never_calls_the_pool_and_batch_256_does() {
    assert_eq!(pool_calls(&mlp(1)), 0);
    if threads() >= 2 {
        assert!(pool_calls(&mlp(256)) > 0);
    }
}

/// One test (this binary's only one that runs steps), so that no other test splits work
/// while it counts.
#[test]
fn at_run_time_the_batch_one_mlp_splits_nothing_and_batch_256_does() {
    assert_eq!(split_calls_running(&mlp(1), 20), 0);
    if threads() >= 2 {
        assert!(split_calls_running(&mlp(256), 2) > 0);
    }
}
