//! Ahead-of-time compilation through [`kiln::aot::compile`]: a small MLP (embedded weights)
//! and a small CNN (external weights), linked with a C program and the runtime library
//! (through `kiln_c_harness`), give the JIT's `predict` outputs and `fit` losses bit for bit
//! (the same graphs, optimised and lowered the same way for the same host, with the same
//! kernels), and the AArch64 target yields an AArch64 ELF object. The `kiln compile` command
//! is tested with the command-line tool, in `frontend/cli/tests/compile.rs`.
//!
//! The runtime library `libkiln_cpu_runtime.a` is built by Cargo with the `kiln-cpu-runtime`
//! crate (a dependency of `kiln`, crate types rlib + staticlib) into `target/<profile>/deps/`,
//! where [`codegen_cpu::aot::runtime_library`] finds it from the test executable.

use std::path::{Path, PathBuf};

use kiln::aot::{AotCompileOptions, AotEntries, WeightStorage, compile};
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use kiln_c_harness::{CProgram, bits, read_f32, run_ok, write_f32};

const BATCH: usize = 8;
const STEPS: usize = 3;

/// A fresh empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    kiln_c_harness::scratch_dir(&format!("aot-{test}"))
}

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// A batch of `BATCH` examples of `input` shape with one-hot labels over `classes`.
fn batch(input: &[usize], classes: usize, seed: u32) -> Dataset {
    let per: usize = input.iter().product();
    let x = values(BATCH * per, seed);
    let mut y = vec![0.0; BATCH * classes];
    for i in 0..BATCH {
        y[i * classes + (i * 7 + seed as usize) % classes] = 1.0;
    }
    let mut dims = vec![BATCH];
    dims.extend_from_slice(input);
    Dataset::new(x, &dims, y, &[BATCH, classes]).unwrap()
}

/// The C program: infer, `STEPS` train steps on `tx`/`ty`, infer again.
const MAIN_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include "@m.h"
static void die(const char *what) { fprintf(stderr, "failed: %s\n", what); exit(1); }
static void io(const char *path, float *buf, size_t n, int write) {
    FILE *f = fopen(path, write ? "wb" : "rb");
    if (!f || (write ? fwrite(buf, 4, n, f) : fread(buf, 4, n, f)) != n) die(path);
    fclose(f);
}
int main(int argc, char **argv) {
    static float x[@M_INFER_FEATURES_LEN], p[@M_INFER_PREDICTIONS_LEN];
    static float tx[STEPS][@M_TRAIN_STEP_FEATURES_LEN], ty[STEPS][@M_TRAIN_STEP_LABELS_LEN];
    float losses[STEPS];
    @m_t *model = @m_create(argc > 1 ? argv[1] : NULL);
    if (!model) die("create");
    io("x.bin", x, @M_INFER_FEATURES_LEN, 0);
    io("tx.bin", &tx[0][0], STEPS * @M_TRAIN_STEP_FEATURES_LEN, 0);
    io("ty.bin", &ty[0][0], STEPS * @M_TRAIN_STEP_LABELS_LEN, 0);
    if (@m_infer(model, x, p)) die("infer");
    io("p0.bin", p, @M_INFER_PREDICTIONS_LEN, 1);
    for (int s = 0; s < STEPS; s++)
        if (@m_train_step(model, tx[s], ty[s], &losses[s])) die("train_step");
    io("losses.bin", losses, STEPS, 1);
    if (@m_infer(model, x, p)) die("infer");
    io("p1.bin", p, @M_INFER_PREDICTIONS_LEN, 1);
    @m_destroy(model);
    return 0;
}
"#;

/// Compile `model` (compiled, no metrics) ahead of time as `name`, run the C program and
/// compare with the JIT: predictions before and after `STEPS` `fit` steps, and each loss.
fn aot_equals_jit(mut model: Model, name: &str, weights: WeightStorage) {
    let input = model.input_shape().unwrap().dims().to_vec();
    let classes = model.output_shape().unwrap().dims()[0];
    let dir = scratch_dir(name);
    let mut options = AotCompileOptions::new(name, &dir);
    options.entries = AotEntries::Both;
    options.batch = BATCH;
    options.weights = weights;
    let files = compile(&model, &options).unwrap();
    let weights_file = dir.join(format!("{name}.weights"));
    assert_eq!(
        files.contains(&weights_file),
        weights == WeightStorage::External,
        "{files:?}"
    );

    // The JIT.
    let x = batch(&input, classes, 100);
    let steps: Vec<Dataset> = (0..STEPS as u32)
        .map(|s| batch(&input, classes, 200 + s))
        .collect();
    let mut dims = vec![BATCH];
    dims.extend_from_slice(&input);
    let features = Tensor {
        shape: Shape::new(dims),
        data: x.features().to_vec(),
    };
    let p0 = model.predict(&features, BATCH).unwrap().data;
    let losses: Vec<f32> = steps
        .iter()
        .map(|data| {
            let history = model
                .fit_with(
                    data,
                    FitOptions::new(1, BATCH).shuffle(false).verbose(false),
                )
                .unwrap();
            history.get("loss").unwrap()[0]
        })
        .collect();
    let p1 = model.predict(&features, BATCH).unwrap().data;

    // The C program.
    write_f32(&dir.join("x.bin"), x.features());
    let tx: Vec<f32> = steps.iter().flat_map(|d| d.features().to_vec()).collect();
    let ty: Vec<f32> = steps.iter().flat_map(|d| d.labels().to_vec()).collect();
    write_f32(&dir.join("tx.bin"), &tx);
    write_f32(&dir.join("ty.bin"), &ty);
    let source = MAIN_C
        .replace("@M", &name.to_ascii_uppercase())
        .replace("@m", name);
    let exe = CProgram::new(&dir, "main", &format!("#define STEPS {STEPS}\n{source}"))
        .object(format!("{name}.o"))
        .with_runtime()
        .build();
    let weights_name = format!("{name}.weights");
    let args: &[&str] = if weights == WeightStorage::External {
        &[&weights_name]
    } else {
        &[]
    };
    run_ok(&dir, &exe, args);

    assert_eq!(
        bits(&read_f32(&dir.join("p0.bin"))),
        bits(&p0),
        "{name}: predictions"
    );
    assert_eq!(
        bits(&read_f32(&dir.join("losses.bin"))),
        bits(&losses),
        "{name}: losses {losses:?}"
    );
    assert_eq!(
        bits(&read_f32(&dir.join("p1.bin"))),
        bits(&p1),
        "{name}: predictions after training"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn mlp() -> Model {
    let mut model = sequential![
        Input::new([12]),
        Dense::new(16).activation(Activation::Relu),
        Dense::new(4),
    ]
    .with_seed(5);
    model
        .compile(
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            std::iter::empty::<Accuracy>(),
        )
        .unwrap();
    model
}

fn cnn() -> Model {
    let mut model = sequential![
        Input::new([6, 6, 1]),
        Conv2D::new(3, 3).activation(Activation::Relu),
        MaxPool2D::default(),
        Flatten::new(),
        Dense::new(3),
    ]
    .with_seed(7);
    model
        .compile(
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            std::iter::empty::<Accuracy>(),
        )
        .unwrap();
    model
}

/// The ONNX fixture CNN (Conv, BatchNormalization, pooling, Gemm; NCHW input), imported.
fn onnx_cnn() -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/cnn_bn.onnx");
    let mut model = Model::load_onnx(path).unwrap();
    model
        .compile(
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            std::iter::empty::<Accuracy>(),
        )
        .unwrap();
    model
}

#[test]
fn aot_of_an_imported_onnx_cnn_equals_the_jit() {
    aot_equals_jit(onnx_cnn(), "onnx_cnn", WeightStorage::Embedded);
}

#[test]
fn aot_mlp_with_embedded_weights_equals_the_jit() {
    aot_equals_jit(mlp(), "mlp", WeightStorage::Embedded);
}

#[test]
fn aot_cnn_with_external_weights_equals_the_jit() {
    aot_equals_jit(cnn(), "cnn", WeightStorage::External);
}

#[test]
fn aarch64_target_gives_an_aarch64_object_and_a_note() {
    let dir = scratch_dir("arm");
    let mut options = AotCompileOptions::new("mlp", &dir);
    options.target = Some("aarch64-unknown-linux-gnu".into());
    let report = kiln::aot::compile_with_report(&mlp(), &options).unwrap();
    assert!(
        !report
            .files
            .iter()
            .any(|f| f.ends_with("libkiln_cpu_runtime.a"))
    );
    assert!(
        report
            .note
            .unwrap()
            .contains("--target aarch64-unknown-linux-gnu")
    );
    let object = std::fs::read(dir.join("mlp.o")).unwrap();
    assert_eq!(
        (&object[..4], u16::from_le_bytes([object[18], object[19]])),
        (&b"\x7fELF"[..], 183)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_train_entry_needs_a_compiled_model() {
    let model = sequential![Input::new([3]), Dense::new(2)];
    let mut options = AotCompileOptions::new("m", scratch_dir("uncompiled"));
    options.entries = AotEntries::Train;
    let err = compile(&model, &options).unwrap_err().to_string();
    assert!(
        err.contains("not compiled") || err.contains("compile("),
        "{err}"
    );
    options.entries = AotEntries::Infer;
    options.batch = 0;
    assert!(
        compile(&model, &options)
            .unwrap_err()
            .to_string()
            .contains("batch")
    );
}
