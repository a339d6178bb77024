//! Times square matmuls on the GPU and prints GFLOP/s: a chain of `CHAIN` products
//! `x <- x @ w` of `N x N` matrices in one step, so dispatch and read-back overheads are
//! amortised (the step returns only the sum of the last product), and a single product
//! whose whole result is read back.
//!
//! `cargo run -p kiln-codegen-gpu --example matmul_gflops --release [N]`

use std::time::Instant;

use codegen_gpu::Gpu;
use ir::{Graph, MemoryPlan, ReduceOp};

const CHAIN: usize = 8;
const REPEATS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(256);
    let gpu = Gpu::new()?;
    println!("adapter: {}", gpu.adapter_name());
    let data: Vec<f32> = (0..n * n)
        .map(|i| ir::random::uniform(1, i as u32) * (2.0 / n as f32))
        .collect();

    for (label, chain, read_all) in [("chain", CHAIN, false), ("single", 1, true)] {
        let mut g = Graph::new();
        let x = g.input("x", [n, n]);
        let w = g.param("w", [n, n]);
        let mut y = x;
        for _ in 0..chain {
            y = g.matmul(y, w, false, false)?;
        }
        let out = if read_all {
            y
        } else {
            g.reduce(ReduceOp::Sum, y, &[0, 1], false)?
        };
        g.add_output("y", out)?;
        let exe = gpu.compile(&g, &MemoryPlan::naive(&g))?;
        let mut state = exe.new_state()?;
        state.set_param("w", &data)?;
        exe.run(&mut state, &[("x", &data)])?; // warm-up
        let start = Instant::now();
        for _ in 0..REPEATS {
            exe.run(&mut state, &[("x", &data)])?;
        }
        let seconds = start.elapsed().as_secs_f64() / REPEATS as f64;
        let flops = 2.0 * (n * n * n * chain) as f64;
        println!(
            "{label}: {chain} x {n}x{n}x{n} matmul in {:.2} ms per step: {:.2} GFLOP/s",
            seconds * 1e3,
            flops / seconds / 1e9
        );
    }
    Ok(())
}
