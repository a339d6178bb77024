//! The object file links with a C program and computes what the JIT computes: the table
//! layout of `codegen_cpu::abi` from the C side, with a serial `kiln_parallel_for`.

use ir::{BinaryOp, Graph, MemoryPlan, UnaryOp};
use kiln_c_harness::{CProgram, run_ok, scratch_dir};

const MAIN_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
typedef void (*kernel_fn)(const void *, uint64_t);
void kiln_parallel_for(kernel_fn f, const void *table, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) f(table, i);
}
void model_step(float **table);
int main(void) {
    float x[6] = {1, -2, 3, -4, 5, -6};
    float w[6] = {0.5, 0.5, 0.5, 2, 2, 2};
    float arena[ARENA_LEN + 1];
    float *table[4] = {arena, x, w, 0};
    model_step(table);
    for (int i = 0; i < 6; i++) printf("%.6f\n", arena[OUT_OFFSET + i]);
    return 0;
}
"#;

#[test]
fn emitted_object_links_with_c_and_runs() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let w = g.param("w", [2, 3]);
    let xw = g.binary(BinaryOp::Mul, x, w).unwrap();
    let y = g.unary(UnaryOp::Tanh, xw).unwrap();
    g.add_output("y", y).unwrap();
    let plan = MemoryPlan::naive(&g);
    let ir::Storage::Arena { offset, .. } = plan.of(y) else {
        panic!("naive plans put results in the arena")
    };
    let dir = scratch_dir("aot-link");
    std::fs::write(
        dir.join("model.o"),
        codegen_cpu::emit_object(&g, &plan, "model_step").unwrap(),
    )
    .unwrap();
    let exe = CProgram::new(&dir, "main", MAIN_C)
        .flag(format!("-DARENA_LEN={}", plan.arena_len))
        .flag(format!("-DOUT_OFFSET={offset}"))
        .object("model.o")
        .build();
    let out = run_ok(&dir, &exe, &[]);
    let got: Vec<f32> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let (xs, ws) = (
        [1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0],
        [0.5f32, 0.5, 0.5, 2.0, 2.0, 2.0],
    );
    let want: Vec<f32> = xs.iter().zip(&ws).map(|(a, b)| (a * b).tanh()).collect();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-6, "got {got:?}, want {want:?}");
    }
    assert_eq!(got.len(), 6);
    std::fs::remove_dir_all(&dir).ok();
}
