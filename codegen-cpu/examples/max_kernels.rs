//! A small workload of the kernels that take maxima, for instruction counts under
//! `valgrind --tool=callgrind` (how NaN propagation was priced): a conv + bias + ReLU +
//! 2×2 max-pool forward (`[8, 16, 16, 8]` → 16 channels) and an MLP step's forward
//! (`[64, 128]` → 128 ReLU → 10, softmax with its max reduction), each compiled through
//! the pass pipeline once and run `ITERS` times inside [`measured`], which is what
//! `--toggle-collect` names. Not a timing benchmark (see `benches/`).
//!
//! ```text
//! taskset -c 0 valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='max_kernels::measured*' target/release/examples/max_kernels
//! ```

use std::collections::HashMap;

use ir::{BinaryOp, Conv2dAttrs, Graph, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, UnaryOp};

const ITERS: usize = 20;

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| ir::random::uniform(seed, i) - 0.5)
        .collect()
}

fn conv_relu_pool() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [8, 16, 16, 8]);
    let f = g.param("f", [3, 3, 8, 16]);
    let b = g.param("b", [16]);
    let conv = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let y = g.add(Op::Conv2d(conv), &[x, f]).unwrap();
    let y = g.binary(BinaryOp::Add, y, b).unwrap();
    let y = g.unary(UnaryOp::Relu, y).unwrap();
    let pool = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let y = g.add(Op::Pool2d(pool), &[y]).unwrap();
    g.add_output("y", y).unwrap();
    g
}

fn mlp() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [64, 128]);
    let w1 = g.param("w1", [128, 128]);
    let w2 = g.param("w2", [128, 10]);
    let h = g.matmul(x, w1, false, false).unwrap();
    let h = g.unary(UnaryOp::Relu, h).unwrap();
    let logits = g.matmul(h, w2, false, false).unwrap();
    let max = g.reduce(ReduceOp::Max, logits, &[1], true).unwrap();
    let shifted = g.binary(BinaryOp::Sub, logits, max).unwrap();
    let e = g.unary(UnaryOp::Exp, shifted).unwrap();
    let sum = g.reduce(ReduceOp::Sum, e, &[1], true).unwrap();
    let y = g.binary(BinaryOp::Div, e, sum).unwrap();
    g.add_output("y", y).unwrap();
    g
}

/// Run `exe` `ITERS` times; the only code callgrind counts.
#[inline(never)]
fn measured(
    exe: &codegen_cpu::Executable,
    state: &mut codegen_cpu::State,
    inputs: &[(&str, &[f32])],
) -> f32 {
    let mut total = 0.0;
    for _ in 0..ITERS {
        total += exe.run(state, inputs).unwrap()[0].1.data[0];
    }
    total
}

fn main() {
    for (name, graph) in [("conv_relu_pool", conv_relu_pool()), ("mlp", mlp())] {
        let fused = passes::pipeline::optimize(&graph).unwrap();
        let plan = passes::memory_plan::plan(&fused).unwrap();
        let exe = codegen_cpu::compile(&fused, &plan).unwrap();
        let mut state = exe.new_state();
        let mut data: HashMap<String, Vec<f32>> = HashMap::new();
        for (i, leaf) in exe.params().iter().chain(exe.inputs()).enumerate() {
            data.insert(leaf.name.clone(), values(leaf.shape.numel(), i as u32));
        }
        for leaf in exe.params() {
            state.set_param(&leaf.name, &data[&leaf.name]).unwrap();
        }
        let inputs: Vec<(&str, &[f32])> = exe
            .inputs()
            .iter()
            .map(|l| (l.name.as_str(), data[&l.name].as_slice()))
            .collect();
        println!("{name}: {}", measured(&exe, &mut state, &inputs));
    }
}
