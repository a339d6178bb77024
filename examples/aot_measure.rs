//! Measures ahead-of-time compilation: compile time and object size of the MNIST MLP
//! (infer + train step, batch 1, embedded weights) and of VGG16 (infer, batch 1, external
//! weights), and the MLP's inference latency at batch 1 from C against the JIT's
//! `predict_one` (medians, measured in alternating rounds because the machine is shared).
//!
//! `cargo run --release --example aot_measure` (needs a C compiler, `cc` or `$CC`; the
//! runtime library is found beside the example's executable).

use std::path::{Path, PathBuf};
use std::time::Instant;

use kiln::aot::{AotCompileOptions, AotEntries, WeightStorage, compile_with_report};
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln_c_harness::{CProgram, run_ok};

const CALLS: usize = 2000;
const ROUNDS: usize = 5;

const BENCH_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "mlp.h"
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y);
}
int main(int argc, char **argv) {
    int calls = atoi(argv[1]);
    static float x[MLP_INFER_FEATURES_LEN], p[MLP_INFER_PREDICTIONS_LEN];
    for (int i = 0; i < MLP_INFER_FEATURES_LEN; i++) x[i] = (float)(i % 255) / 255.0f;
    mlp_t *m = mlp_create(NULL);
    double *t = malloc(sizeof(double) * calls);
    for (int i = 0; i < calls; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (mlp_infer(m, x, p)) return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    }
    qsort(t, calls, sizeof(double), cmp);
    printf("%f\n", t[calls / 2]);
    mlp_destroy(m);
    return 0;
}
"#;

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The MNIST MLP (784-300-100-10, relu), compiled for training with Adam.
fn mnist_mlp() -> kiln::Result<Model> {
    let mut mlp = sequential![
        Input::new([28, 28, 1]),
        Flatten::new(),
        Dense::new(300).activation(Activation::Relu),
        Dense::new(100).activation(Activation::Relu),
        Dense::new(10),
    ];
    mlp.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    Ok(mlp)
}

/// VGG16 from the Keras architecture fixture (uncompiled, random weights).
fn vgg16() -> kiln::Result<Model> {
    let config_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../frontend/tests/fixtures/keras/architectures/vgg16_config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|source| kiln::Error::Io {
        path: config_path.clone(),
        source,
    })?;
    let config: serde_json::Value = serde_json::from_str(&text).expect("the VGG16 fixture is JSON");
    Model::from_config(&config)
}

/// Compiles `mlp` ahead of time (both entries, embedded weights) into `dir`; prints the
/// times and the object's size.
fn compile_mlp(mlp: &Model, dir: &Path) -> kiln::Result<()> {
    let mut options = AotCompileOptions::new("mlp", dir);
    options.entries = AotEntries::Both;
    let started = Instant::now();
    let report = compile_with_report(mlp, &options)?;
    println!(
        "MLP (infer + train_step, batch 1, embedded): {:.3} s (graphs {:.3} s, code {:.3} s), mlp.o {} bytes",
        started.elapsed().as_secs_f64(),
        report.graphs_time.as_secs_f64(),
        report.emit_time.as_secs_f64(),
        file_size(&dir.join("mlp.o"))
    );
    Ok(())
}

/// Compiles `vgg` ahead of time (inference, external weights) into `dir`; prints the times
/// and the sizes of the object and the weights file.
fn compile_vgg16(vgg: &Model, dir: &Path) -> kiln::Result<()> {
    let mut options = AotCompileOptions::new("vgg16", dir);
    options.weights = WeightStorage::External;
    let started = Instant::now();
    let report = compile_with_report(vgg, &options)?;
    println!(
        "VGG16 (infer, batch 1, external): {:.3} s (graphs + weights {:.3} s, code {:.3} s), vgg16.o {} bytes, vgg16.weights {} bytes",
        started.elapsed().as_secs_f64(),
        report.graphs_time.as_secs_f64(),
        report.emit_time.as_secs_f64(),
        file_size(&dir.join("vgg16.o")),
        file_size(&dir.join("vgg16.weights"))
    );
    Ok(())
}

/// The C latency benchmark, built in `mlp_dir` against the compiled MLP.
fn build_c_bench(mlp_dir: &Path) -> PathBuf {
    CProgram::new(mlp_dir, "bench", BENCH_C)
        .standard("gnu99")
        .flag("-O2")
        .object("mlp.o")
        .with_runtime()
        .build()
}

/// Per round, the median batch-1 latency in microseconds of `CALLS` inferences: from C
/// (`bench` run in `mlp_dir`) and from the JIT's `predict_one`, alternating.
fn latency_rounds(mlp: &Model, bench: &Path, mlp_dir: &Path) -> kiln::Result<(Vec<f64>, Vec<f64>)> {
    let x: Vec<f32> = (0..784).map(|i| (i % 255) as f32 / 255.0).collect();
    mlp.predict_one(&x)?;
    let (mut aot, mut jit) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let run = run_ok(mlp_dir, bench, &[&CALLS.to_string()]);
        aot.push(
            String::from_utf8_lossy(&run.stdout)
                .trim()
                .parse::<f64>()
                .expect("a median"),
        );
        let times: Vec<f64> = (0..CALLS)
            .map(|_| {
                let t = Instant::now();
                mlp.predict_one(&x).map(|_| t.elapsed().as_secs_f64() * 1e6)
            })
            .collect::<kiln::Result<_>>()?;
        jit.push(median(times));
    }
    Ok((aot, jit))
}

fn main() -> kiln::Result<()> {
    let dir = std::env::temp_dir().join(format!("kiln-aot-measure-{}", std::process::id()));
    let mlp = mnist_mlp()?;
    compile_mlp(&mlp, &dir.join("mlp"))?;
    compile_vgg16(&vgg16()?, &dir.join("vgg16"))?;

    // Latency of the MLP at batch 1: the C program against predict_one, round after round.
    let mlp_dir = dir.join("mlp");
    let bench = build_c_bench(&mlp_dir);
    let (aot, jit) = latency_rounds(&mlp, &bench, &mlp_dir)?;
    println!(
        "MLP batch-1 latency, median of {CALLS} calls per round, median of {ROUNDS} rounds: AOT (C) {:.1} us, JIT predict_one {:.1} us (rounds: AOT {aot:.1?}, JIT {jit:.1?})",
        median(aot.clone()),
        median(jit.clone())
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
