//! The MLP of `kiln_benches::mlp` compiled ahead of time (an inference entry and the
//! Adam training step, through the real optimisation pipeline and memory planner), linked
//! with a C program and the runtime library: its logits and its training losses equal the
//! JIT's bit for bit — the same lowering for the same host, with the same kernels and
//! worker pool — and the loss falls.

use codegen_cpu::{AotEntry, AotOptions, WeightStorage, emit_model};
use ir::{BinaryOp, Graph, MemoryPlan, Tensor, UnaryOp};
use kiln_benches::mlp::{initial_params, mlp_adam_step, synthetic_batch};
use kiln_c_harness::{CProgram, bits, read_f32, run_ok, scratch_dir, write_f32};

const SIZES: [usize; 3] = [64, 256, 10];
const BATCH: usize = 64;
const STEPS: usize = 5;

/// The forward pass of `mlp_adam_step`'s network: output `logits`.
fn mlp_infer(batch: usize, sizes: &[usize]) -> Graph {
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

fn prepare(g: &Graph) -> (Graph, MemoryPlan) {
    let g = passes::pipeline::optimize(g).unwrap();
    let plan = passes::memory_plan::plan(&g).unwrap();
    (g, plan)
}

const MAIN_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include "mlp.h"
static void die(const char *what) { fprintf(stderr, "failed: %s\n", what); exit(1); }
static void io(const char *path, float *buf, size_t n, int write) {
    FILE *f = fopen(path, write ? "wb" : "rb");
    if (!f || (write ? fwrite(buf, 4, n, f) : fread(buf, 4, n, f)) != n) die(path);
    fclose(f);
}
int main(void) {
    static float x[MLP_INFER_X_LEN], logits[MLP_INFER_LOGITS_LEN];
    static float tx[STEPS][MLP_TRAIN_STEP_X_LEN], ty[STEPS][MLP_TRAIN_STEP_Y_LEN];
    float losses[STEPS];
    mlp_t *model = mlp_create(NULL);
    if (!model) die("create");
    io("x.bin", x, MLP_INFER_X_LEN, 0);
    io("tx.bin", &tx[0][0], STEPS * MLP_TRAIN_STEP_X_LEN, 0);
    io("ty.bin", &ty[0][0], STEPS * MLP_TRAIN_STEP_Y_LEN, 0);
    if (mlp_infer(model, x, logits)) die("infer");
    io("logits0.bin", logits, MLP_INFER_LOGITS_LEN, 1);
    for (int s = 0; s < STEPS; s++) if (mlp_train_step(model, tx[s], ty[s], &losses[s])) die("train_step");
    io("losses.bin", losses, STEPS, 1);
    if (mlp_infer(model, x, logits)) die("infer");
    io("logits1.bin", logits, MLP_INFER_LOGITS_LEN, 1);
    mlp_destroy(model);
    return 0;
}
"#;

/// What the JIT computes (and the C program must reproduce): logits before and after
/// training, and each training step's loss.
struct Outputs {
    logits0: Vec<f32>,
    losses: Vec<f32>,
    logits1: Vec<f32>,
}

/// The JIT on the same graphs, plans and initial values, parameters shared by name: infer
/// on `x`, one training step per batch, infer again.
fn jit_outputs(
    (ig, ip): (&Graph, &MemoryPlan),
    (tg, tp): (&Graph, &MemoryPlan),
    params: &[(&str, &Tensor)],
    x: &Tensor,
    batches: &[(Tensor, Tensor)],
) -> Outputs {
    let infer_exe = codegen_cpu::compile(ig, ip).unwrap();
    let train_exe = codegen_cpu::compile(tg, tp).unwrap();
    let mut state = train_exe.new_state();
    for (n, t) in params {
        state.set_param(n, &t.data).unwrap();
    }
    let mut infer_state = infer_exe.new_state();
    let mut logits = |state: &codegen_cpu::State| {
        for leaf in infer_exe.params() {
            infer_state
                .set_param(&leaf.name, state.param(&leaf.name).unwrap())
                .unwrap();
        }
        infer_exe.run(&mut infer_state, &[("x", &x.data)]).unwrap()[0]
            .1
            .data
            .clone()
    };
    let logits0 = logits(&state);
    let losses: Vec<f32> = batches
        .iter()
        .map(|(bx, by)| {
            train_exe
                .run(&mut state, &[("x", &bx.data), ("y", &by.data)])
                .unwrap()[0]
                .1
                .data[0]
        })
        .collect();
    let logits1 = logits(&state);
    Outputs {
        logits0,
        losses,
        logits1,
    }
}

/// `model` written with the runtime library, `MAIN_C` linked with it and run on `x` and
/// `batches`: what it wrote.
fn c_outputs(model: &codegen_cpu::AotModel, x: &Tensor, batches: &[(Tensor, Tensor)]) -> Outputs {
    let dir = scratch_dir("aot-mlp");
    let runtime = codegen_cpu::aot::runtime_library().unwrap();
    model.write(&dir, Some(&runtime)).unwrap();
    write_f32(&dir.join("x.bin"), &x.data);
    let concat = |part: fn(&(Tensor, Tensor)) -> &Tensor| {
        batches
            .iter()
            .flat_map(|b| part(b).data.clone())
            .collect::<Vec<_>>()
    };
    write_f32(&dir.join("tx.bin"), &concat(|(bx, _)| bx));
    write_f32(&dir.join("ty.bin"), &concat(|(_, by)| by));
    let exe = CProgram::new(&dir, "main", &format!("#define STEPS {STEPS}\n{MAIN_C}"))
        .object("mlp.o")
        .with_runtime()
        .build();
    run_ok(&dir, &exe, &[]);
    let outputs = Outputs {
        logits0: read_f32(&dir.join("logits0.bin")),
        losses: read_f32(&dir.join("losses.bin")),
        logits1: read_f32(&dir.join("logits1.bin")),
    };
    std::fs::remove_dir_all(&dir).ok();
    outputs
}

/// The names of `g`'s parameters, in the graph's order.
fn param_names(g: &Graph) -> Vec<String> {
    g.params()
        .into_iter()
        .map(|p| match g.op(p) {
            ir::Op::Param { name, .. } => name.clone(),
            _ => unreachable!(),
        })
        .collect()
}

#[test]
fn aot_mlp_inference_and_adam_steps_equal_the_jit() {
    let (train_graph, optimizer_state) = mlp_adam_step(BATCH, &SIZES).unwrap();
    let (tg, tp) = prepare(&train_graph);
    let (ig, ip) = prepare(&mlp_infer(BATCH, &SIZES));
    let initial = initial_params(&train_graph, &optimizer_state, 3);
    let names = param_names(&tg);
    let params: Vec<(&str, &Tensor)> = names.iter().map(|n| (n.as_str(), &initial[n])).collect();
    let entries = [
        AotEntry {
            name: "infer",
            graph: &ig,
            plan: &ip,
        },
        AotEntry {
            name: "train_step",
            graph: &tg,
            plan: &tp,
        },
    ];
    let model = emit_model(
        "mlp",
        &entries,
        &params,
        &AotOptions {
            target: None,
            weights: WeightStorage::Embedded,
        },
    )
    .unwrap();

    let x = synthetic_batch(BATCH, SIZES[0], SIZES[2], 50).0;
    let batches: Vec<(Tensor, Tensor)> = (0..STEPS as u32)
        .map(|s| synthetic_batch(BATCH, SIZES[0], SIZES[2], 60 + s))
        .collect();
    let jit = jit_outputs((&ig, &ip), (&tg, &tp), &params, &x, &batches);
    assert!(
        jit.losses[STEPS - 1] < jit.losses[0],
        "the JIT's loss falls: {:?}",
        jit.losses
    );
    let c = c_outputs(&model, &x, &batches);
    assert_eq!(
        bits(&c.logits0),
        bits(&jit.logits0),
        "logits before training"
    );
    assert_eq!(bits(&c.losses), bits(&jit.losses), "Adam steps' losses");
    assert_eq!(
        bits(&c.logits1),
        bits(&jit.logits1),
        "logits after training"
    );

    // The same model for AArch64: an ELF object for EM_AARCH64 that calls the matmul kernel.
    let arm = AotOptions {
        target: Some("aarch64-unknown-linux-gnu".into()),
        weights: WeightStorage::External,
    };
    let object = emit_model("mlp", &entries, &params, &arm).unwrap().object;
    assert_eq!(
        (&object[..4], u16::from_le_bytes([object[18], object[19]])),
        (&b"\x7fELF"[..], 183)
    );
    assert!(
        object.windows(10).any(|w| w == b"kiln_sgemm"),
        "the object imports kiln_sgemm"
    );
}
