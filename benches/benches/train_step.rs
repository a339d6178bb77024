//! One training step of the 784-300-100-10 MLP (ReLU, softmax cross-entropy, Adam) at
//! batch 100, compiled by Kiln; plus the JIT compile time of that step, and a dense layer
//! (matmul + bias + ReLU) fused vs unfused.
//!
//! Throughput is reported in FLOP (2 per multiply-add of the three matmuls of forward and
//! the four of backward) so criterion prints FLOP/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ir::{BinaryOp, Graph, UnaryOp};
use kiln_benches::mlp::{initial_params, mlp_adam_step, synthetic_batch};

const SIZES: [usize; 4] = [784, 300, 100, 10];
const BATCH: usize = 100;

fn compile(graph: &Graph, optimize: bool) -> codegen_cpu::Executable {
    let graph = if optimize {
        passes::pipeline::optimize(graph).unwrap()
    } else {
        graph.clone()
    };
    let plan = passes::memory_plan::plan(&graph).unwrap();
    codegen_cpu::compile(&graph, &plan).unwrap()
}

fn mlp_step(c: &mut Criterion) {
    let (graph, optimizer_state) = mlp_adam_step(BATCH, &SIZES).unwrap();
    let exe = compile(&graph, true);
    let mut state = exe.new_state();
    for (name, value) in initial_params(&graph, &optimizer_state, 1) {
        state.set_param(&name, &value.data).unwrap();
    }
    let (x, y) = synthetic_batch(BATCH, SIZES[0], SIZES[3], 0);
    // forward: 2·B·(784·300 + 300·100 + 100·10); backward: dW for all three, dX for the last two.
    let macs: usize = SIZES.windows(2).map(|w| w[0] * w[1]).sum::<usize>() * BATCH;
    let backward_dx: usize = SIZES.windows(2).skip(1).map(|w| w[0] * w[1]).sum::<usize>() * BATCH;
    let flops = 2 * (2 * macs + backward_dx);
    let mut group = c.benchmark_group("mlp_train_step_b100");
    group.throughput(Throughput::Elements(flops as u64));
    group.bench_function("kiln_fused", |b| {
        b.iter(|| {
            black_box(
                exe.run(&mut state, &[("x", &x.data), ("y", &y.data)])
                    .unwrap(),
            )
        })
    });
    group.finish();
    c.bench_function("mlp_train_step_b100/jit_compile", |b| {
        b.iter(|| black_box(compile(&graph, true)))
    });
}

fn dense_layer(c: &mut Criterion) {
    let mut g = Graph::new();
    let x = g.input("x", [BATCH, 784]);
    let w = g.param("w", [784, 300]);
    let bias = g.param("b", [300]);
    let z = g.matmul(x, w, false, false).unwrap();
    let z = g.binary(BinaryOp::Add, z, bias).unwrap();
    let h = g.unary(UnaryOp::Relu, z).unwrap();
    g.add_output("h", h).unwrap();
    let input: Vec<f32> = (0..BATCH * 784)
        .map(|i| ir::random::uniform(3, i as u32))
        .collect();
    let mut group = c.benchmark_group("dense_bias_relu_100x784x300");
    group.throughput(Throughput::Elements((2 * BATCH * 784 * 300) as u64));
    for (name, optimize) in [("fused", true), ("unfused", false)] {
        let exe = compile(&g, optimize);
        let mut state = exe.new_state();
        group.bench_function(name, |b| {
            b.iter(|| black_box(exe.run(&mut state, &[("x", &input)]).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, mlp_step, dense_layer);
criterion_main!(benches);
