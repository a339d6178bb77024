//! Whole models compiled ahead of time, linked with a C program and the runtime library:
//! inference outputs, training-step losses and parameters equal the JIT's bit for bit (the
//! same lowering of the same graph for the same host, run by the same worker pool), with
//! embedded and external weights; other targets give valid objects; bad specifications
//! are refused with errors naming the culprit.

mod aot;

use codegen_cpu::{AotEntry, AotOptions, CodegenError, WeightStorage, emit_model};
use cranelift_object::object::{self, Object, ObjectSymbol};
use ir::{BinaryOp, Graph, MemoryPlan, ReduceOp, Tensor, UnaryOp};
use kiln_c_harness::{bits, read_f32, run, run_ok, scratch_dir, write_f32};

const BATCH: usize = 4;
const FEATURES: usize = 3;
const LEARNING_RATE: f32 = 0.1;
const STEPS: usize = 3;

/// `tanh(x * w + b)` per feature, then the sum over features: `x` `[BATCH, FEATURES]`,
/// `w`, `b` `[FEATURES]`, output `score` `[BATCH]`.
fn infer_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [BATCH, FEATURES]);
    let w = g.param("w", [FEATURES]);
    let b = g.param("b", [FEATURES]);
    let xw = g.binary(BinaryOp::Mul, x, w).unwrap();
    let z = g.binary(BinaryOp::Add, xw, b).unwrap();
    let h = g.unary(UnaryOp::Tanh, z).unwrap();
    let score = g.reduce(ReduceOp::Sum, h, &[1], false).unwrap();
    g.add_output("score", score).unwrap();
    g
}

/// One SGD step of the linear map `x * w + b` on mean squared error against `labels`
/// (`[BATCH, FEATURES]`), gradients written by hand; output `loss` (a scalar); updates
/// `w` and `b`. The step also counts its calls in the parameter `steps`.
fn train_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [BATCH, FEATURES]);
    let labels = g.input("labels", [BATCH, FEATURES]);
    let w = g.param("w", [FEATURES]);
    let b = g.param("b", [FEATURES]);
    let steps = g.param("steps", [1]);
    let xw = g.binary(BinaryOp::Mul, x, w).unwrap();
    let pred = g.binary(BinaryOp::Add, xw, b).unwrap();
    let diff = g.binary(BinaryOp::Sub, pred, labels).unwrap();
    let sq = g.binary(BinaryOp::Mul, diff, diff).unwrap();
    let loss = g.reduce(ReduceOp::Mean, sq, &[0, 1], false).unwrap();
    let scale = g.scalar(2.0 * LEARNING_RATE / (BATCH * FEATURES) as f32);
    let dx = g.binary(BinaryOp::Mul, diff, x).unwrap();
    let gw = g.reduce(ReduceOp::Sum, dx, &[0], false).unwrap();
    let gb = g.reduce(ReduceOp::Sum, diff, &[0], false).unwrap();
    let sw = g.binary(BinaryOp::Mul, gw, scale).unwrap();
    let sb = g.binary(BinaryOp::Mul, gb, scale).unwrap();
    let new_w = g.binary(BinaryOp::Sub, w, sw).unwrap();
    let new_b = g.binary(BinaryOp::Sub, b, sb).unwrap();
    let one = g.scalar(1.0);
    let new_steps = g.binary(BinaryOp::Add, steps, one).unwrap();
    g.add_update(w, new_w).unwrap();
    g.add_update(b, new_b).unwrap();
    g.add_update(steps, new_steps).unwrap();
    g.add_output("loss", loss).unwrap();
    g
}

/// The graph and its naive plan: no fusion, every update copied back by the runtime.
fn naive(g: &Graph) -> (Graph, MemoryPlan) {
    (g.clone(), MemoryPlan::naive(g))
}

/// The real pipeline's graph and plan (fused, in-place updates where possible).
fn optimized(g: &Graph) -> (Graph, MemoryPlan) {
    let g = passes::pipeline::optimize(g).unwrap();
    let plan = passes::memory_plan::plan(&g).unwrap();
    (g, plan)
}

fn data(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| 2.0 * ir::random::uniform(seed, i) - 1.0)
        .collect()
}

fn params() -> Vec<(&'static str, Tensor)> {
    vec![
        ("w", Tensor::new([FEATURES], data(FEATURES, 1)).unwrap()),
        ("b", Tensor::new([FEATURES], data(FEATURES, 2)).unwrap()),
        ("steps", Tensor::new([1], vec![0.0]).unwrap()),
    ]
}

/// Infers, trains `STEPS` steps, infers again, dumps every parameter, then checks the
/// weights API (set, get, index by name).
const MAIN_C: &str = r#"
#include <string.h>
#include "toy.h"
int main(int argc, char **argv) {
    toy_t *model = toy_create(argc > 1 ? argv[1] : NULL);
    if (!model) die("create");
    static float x[TOY_INFER_X_LEN], score[TOY_INFER_SCORE_LEN], tx[TOY_TRAIN_STEP_X_LEN], labels[TOY_TRAIN_STEP_LABELS_LEN];
    float losses[STEPS];
    read_f32("x.bin", x, TOY_INFER_X_LEN);
    read_f32("tx.bin", tx, TOY_TRAIN_STEP_X_LEN);
    read_f32("labels.bin", labels, TOY_TRAIN_STEP_LABELS_LEN);
    if (toy_infer(model, x, score)) die("infer");
    write_f32("score0.bin", score, TOY_INFER_SCORE_LEN);
    for (int s = 0; s < STEPS; s++) if (toy_train_step(model, tx, labels, &losses[s])) die("train_step");
    write_f32("losses.bin", losses, STEPS);
    if (toy_infer(model, x, score)) die("infer");
    write_f32("score1.bin", score, TOY_INFER_SCORE_LEN);
    const unsigned lens[] = TOY_PARAM_LENS;
    for (int i = 0; i < TOY_N_PARAMS; i++) {
        float buf[64];
        char path[32];
        if (toy_get_weights(model, i, buf)) die("get_weights");
        snprintf(path, sizeof path, "param%d.bin", i);
        write_f32(path, buf, lens[i]);
    }
    float w[TOY_PARAM_W_LEN] = {0}, back[TOY_PARAM_W_LEN];
    if (toy_param_index("w") != TOY_PARAM_W || toy_param_index("nope") != -1) die("param_index");
    if (toy_set_weights(model, TOY_PARAM_W, w) || toy_get_weights(model, TOY_PARAM_W, back)) die("set_weights");
    if (memcmp(w, back, sizeof w) || toy_get_weights(model, TOY_N_PARAMS, back) != -1) die("weights round trip");
    toy_destroy(model);
    return 0;
}
"#;

struct Expected {
    score0: Vec<f32>,
    losses: Vec<f32>,
    score1: Vec<f32>,
    params: Vec<Vec<f32>>,
}

/// What the JIT computes for `MAIN_C`'s sequence of calls.
fn jit_reference(
    infer: (&Graph, &MemoryPlan),
    train: (&Graph, &MemoryPlan),
    x: &[f32],
    tx: &[f32],
    labels: &[f32],
) -> Expected {
    let infer_exe = codegen_cpu::compile(infer.0, infer.1).unwrap();
    let train_exe = codegen_cpu::compile(train.0, train.1).unwrap();
    let mut state = train_exe.new_state();
    let mut infer_state = infer_exe.new_state();
    for (name, value) in params() {
        state.set_param(name, &value.data).unwrap();
    }
    let mut score = |state: &codegen_cpu::State| {
        for p in ["w", "b"] {
            infer_state.set_param(p, state.param(p).unwrap()).unwrap();
        }
        infer_exe.run(&mut infer_state, &[("x", x)]).unwrap()[0]
            .1
            .data
            .clone()
    };
    let score0 = score(&state);
    let losses = (0..STEPS)
        .map(|_| {
            train_exe
                .run(&mut state, &[("x", tx), ("labels", labels)])
                .unwrap()[0]
                .1
                .data[0]
        })
        .collect();
    let score1 = score(&state);
    let params = params()
        .iter()
        .map(|(n, _)| state.param(n).unwrap().to_vec())
        .collect();
    Expected {
        score0,
        losses,
        score1,
        params,
    }
}

fn compile_toy(
    storage: WeightStorage,
    prepare: fn(&Graph) -> (Graph, MemoryPlan),
    test: &str,
) -> (std::path::PathBuf, std::path::PathBuf, Expected) {
    let (ig, ip) = prepare(&infer_graph());
    let (tg, tp) = prepare(&train_graph());
    let owned = params();
    let refs: Vec<(&str, &Tensor)> = owned.iter().map(|(n, t)| (*n, t)).collect();
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
        "toy",
        &entries,
        &refs,
        &AotOptions {
            target: None,
            weights: storage,
        },
    )
    .unwrap();
    assert!(
        model.header.contains(
            "int toy_train_step(toy_t *model, const float *x, const float *labels, float *loss);"
        ),
        "{}",
        model.header
    );
    assert!(
        model.header.contains("#define TOY_INFER_BATCH 4"),
        "{}",
        model.header
    );
    let dir = scratch_dir(&format!("aot-{test}"));
    let main_c = format!("{}#define STEPS {STEPS}\n{MAIN_C}", aot::C_PRELUDE);
    let exe = aot::build(&dir, &model, &main_c);
    let (x, tx, labels) = (
        data(BATCH * FEATURES, 10),
        data(BATCH * FEATURES, 11),
        data(BATCH * FEATURES, 12),
    );
    write_f32(&dir.join("x.bin"), &x);
    write_f32(&dir.join("tx.bin"), &tx);
    write_f32(&dir.join("labels.bin"), &labels);
    (
        dir,
        exe,
        jit_reference((&ig, &ip), (&tg, &tp), &x, &tx, &labels),
    )
}

fn check_outputs(dir: &std::path::Path, want: &Expected) {
    assert_eq!(
        bits(&read_f32(&dir.join("score0.bin"))),
        bits(&want.score0),
        "inference before training"
    );
    assert_eq!(
        bits(&read_f32(&dir.join("losses.bin"))),
        bits(&want.losses),
        "training losses"
    );
    assert!(
        want.losses[STEPS - 1] < want.losses[0],
        "training lowers the loss: {:?}",
        want.losses
    );
    assert_eq!(
        bits(&read_f32(&dir.join("score1.bin"))),
        bits(&want.score1),
        "inference after training"
    );
    for (i, p) in want.params.iter().enumerate() {
        assert_eq!(
            bits(&read_f32(&dir.join(format!("param{i}.bin")))),
            bits(p),
            "parameter {i}"
        );
    }
    assert_eq!(
        want.params[2],
        [STEPS as f32],
        "the step counter counted every step"
    );
}

#[test]
fn c_program_with_embedded_weights_matches_the_jit_bit_for_bit() {
    let (dir, exe, want) = compile_toy(WeightStorage::Embedded, optimized, "embedded");
    run_ok(&dir, &exe, &[]);
    check_outputs(&dir, &want);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn c_program_with_external_weights_reads_the_weights_file_and_copies_updates_back() {
    let (dir, exe, want) = compile_toy(WeightStorage::External, naive, "external");
    let refused = run(&dir, &exe, &[]);
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("not embedded")
    );
    std::fs::write(dir.join("short.weights"), [0u8; 8]).unwrap();
    let short = run(&dir, &exe, &["short.weights"]);
    assert!(
        !short.status.success() && String::from_utf8_lossy(&short.stderr).contains("holds 8 bytes")
    );
    run_ok(&dir, &exe, &["toy.weights"]);
    check_outputs(&dir, &want);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn aarch64_objects_are_valid_elf_with_the_c_api() {
    let (ig, ip) = optimized(&infer_graph());
    let (tg, tp) = optimized(&train_graph());
    let owned = params();
    let refs: Vec<(&str, &Tensor)> = owned.iter().map(|(n, t)| (*n, t)).collect();
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
    let options = AotOptions {
        target: Some("aarch64-unknown-linux-gnu".into()),
        weights: WeightStorage::Embedded,
    };
    let model = emit_model("toy", &entries, &refs, &options).unwrap();
    let bytes = &model.object;
    assert_eq!(&bytes[..4], b"\x7fELF", "ELF magic");
    assert_eq!(bytes[4], 2, "ELFCLASS64");
    assert_eq!(bytes[5], 1, "little endian");
    assert_eq!(
        u16::from_le_bytes([bytes[18], bytes[19]]),
        183,
        "e_machine EM_AARCH64"
    );
    let file = object::File::parse(&bytes[..]).unwrap();
    assert_eq!(file.architecture(), object::Architecture::Aarch64);
    let defined: Vec<&str> = file
        .symbols()
        .filter(|s| s.is_definition() && s.is_global())
        .filter_map(|s| s.name().ok())
        .collect();
    for f in [
        "create",
        "destroy",
        "infer",
        "train_step",
        "get_weights",
        "set_weights",
        "param_index",
    ] {
        assert!(
            defined.contains(&format!("toy_{f}").as_str()),
            "toy_{f} exported: {defined:?}"
        );
    }
    let imports: Vec<&str> = file
        .symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok())
        .collect();
    for f in ["kiln_aot_create", "kiln_aot_run", "kiln_parallel_for"] {
        assert!(imports.contains(&f), "{f} imported: {imports:?}");
    }
    assert!(model.header.contains("aarch64-unknown-linux-gnu"));
}

#[test]
fn every_elementwise_op_and_reduction_lowers_for_aarch64() {
    let mut g = Graph::new();
    let x = g.input("x", [4, 8]);
    let y = g.param("y", [4, 8]);
    for (i, op) in UnaryOp::ALL.into_iter().enumerate() {
        let v = g.unary(op, x).unwrap();
        g.add_output(format!("u{i}"), v).unwrap();
    }
    for (i, op) in BinaryOp::ALL.into_iter().enumerate() {
        let v = g.binary(op, x, y).unwrap();
        g.add_output(format!("b{i}"), v).unwrap();
    }
    for (i, op) in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min]
        .into_iter()
        .enumerate()
    {
        for (j, axes) in [&[0][..], &[1], &[0, 1]].into_iter().enumerate() {
            let v = g.reduce(op, x, axes, false).unwrap();
            g.add_output(format!("r{i}_{j}"), v).unwrap();
        }
    }
    let (g, plan) = optimized(&g);
    let y0 = Tensor::zeros([4, 8]);
    let options = AotOptions {
        target: Some("aarch64-unknown-linux-gnu".into()),
        weights: WeightStorage::External,
    };
    let model = emit_model(
        "ops",
        &[AotEntry {
            name: "run",
            graph: &g,
            plan: &plan,
        }],
        &[("y", &y0)],
        &options,
    )
    .unwrap();
    let file = object::File::parse(&model.object[..]).unwrap();
    assert_eq!(file.architecture(), object::Architecture::Aarch64);
    assert!(
        file.symbols()
            .any(|s| s.name() == Ok("ops_run") && s.is_definition())
    );
}

#[test]
fn bad_specifications_are_refused_naming_the_culprit() {
    let (ig, ip) = optimized(&infer_graph());
    let owned = params();
    let all: Vec<(&str, &Tensor)> = owned.iter().map(|(n, t)| (*n, t)).collect();
    let entry = [AotEntry {
        name: "infer",
        graph: &ig,
        plan: &ip,
    }];
    let opts = AotOptions::default();
    let err = |r: Result<codegen_cpu::AotModel, CodegenError>| r.unwrap_err().to_string();
    assert!(err(emit_model("my-model", &entry, &all, &opts)).contains("model `my-model`"));
    assert!(err(emit_model("toy", &entry, &all[..1], &opts)).contains("parameter `b`"));
    let wrong = Tensor::new([2], vec![0.0; 2]).unwrap();
    let mismatched = [all[0], ("b", &wrong)];
    assert!(
        err(emit_model("toy", &entry, &mismatched, &opts))
            .contains("parameter `b` is [3] in the graph but [2]")
    );
    let clash = [AotEntry {
        name: "create",
        graph: &ig,
        plan: &ip,
    }];
    assert!(err(emit_model("toy", &clash, &all, &opts)).contains("entry `create`"));
    let target = AotOptions {
        target: Some("not-a-target".into()),
        ..AotOptions::default()
    };
    assert!(err(emit_model("toy", &entry, &all, &target)).contains("target `not-a-target`"));
}

/// An input whose element count does not fit a buffer (the product wraps in `usize`) is
/// refused before anything is emitted, naming the entry and the input: the header never
/// shows a wrapped `_LEN` (issue 16's `--batch 4611686018427387904` wrote `_LEN 0`).
#[test]
fn an_input_whose_size_wraps_is_refused_before_the_header_is_written() {
    let mut g = Graph::new();
    let x = g.input("x", [1usize << 62, 8]);
    g.add_output("y", x).unwrap();
    let plan = MemoryPlan::naive(&g);
    let entry = [AotEntry {
        name: "infer",
        graph: &g,
        plan: &plan,
    }];
    let err = emit_model("huge", &entry, &[], &AotOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("entry `infer`, input/output `x`"), "{err}");
}
