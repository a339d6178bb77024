//! Measures ahead-of-time compilation: compile time and object size of the MNIST MLP
//! (infer + train step, batch 1, embedded weights) and of VGG16 (infer, batch 1, external
//! weights), and the MLP's inference latency at batch 1 from C against the JIT's
//! `predict_one` (medians, measured in alternating rounds because the machine is shared).
//!
//! `cargo run --release --example aot_measure` (needs `cc`; the runtime library is found
//! beside the example's executable).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use kiln::aot::{AotCompileOptions, AotEntries, WeightStorage, compile_with_report};
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

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

fn main() -> kiln::Result<()> {
    let dir = std::env::temp_dir().join(format!("kiln-aot-measure-{}", std::process::id()));
    let mut mlp = sequential![
        Input::new([28, 28, 1]),
        Flatten::new(),
        Dense::new(300).activation(Activation::Relu),
        Dense::new(100).activation(Activation::Relu),
        Dense::new(10),
    ];
    mlp.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    let mut options = AotCompileOptions::new("mlp", dir.join("mlp"));
    options.entries = AotEntries::Both;
    let started = Instant::now();
    let report = compile_with_report(&mlp, &options)?;
    println!(
        "MLP (infer + train_step, batch 1, embedded): {:.3} s (graphs {:.3} s, code {:.3} s), mlp.o {} bytes",
        started.elapsed().as_secs_f64(),
        report.graphs_time.as_secs_f64(),
        report.emit_time.as_secs_f64(),
        file_size(&dir.join("mlp/mlp.o"))
    );

    let config_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../frontend/tests/fixtures/keras/architectures/vgg16_config.json");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).map_err(|source| {
            kiln::Error::Io {
                path: config_path.clone(),
                source,
            }
        })?)
        .expect("the VGG16 fixture is JSON");
    let vgg = Model::from_config(&config)?;
    let mut options = AotCompileOptions::new("vgg16", dir.join("vgg16"));
    options.weights = WeightStorage::External;
    let started = Instant::now();
    let report = compile_with_report(&vgg, &options)?;
    println!(
        "VGG16 (infer, batch 1, external): {:.3} s (graphs + weights {:.3} s, code {:.3} s), vgg16.o {} bytes, vgg16.weights {} bytes",
        started.elapsed().as_secs_f64(),
        report.graphs_time.as_secs_f64(),
        report.emit_time.as_secs_f64(),
        file_size(&dir.join("vgg16/vgg16.o")),
        file_size(&dir.join("vgg16/vgg16.weights"))
    );

    // Latency of the MLP at batch 1: the C program against predict_one, round after round.
    let mlp_dir = dir.join("mlp");
    std::fs::write(mlp_dir.join("bench.c"), BENCH_C).expect("write bench.c");
    let cc = Command::new("cc")
        .current_dir(&mlp_dir)
        .args([
            "-O2",
            "-std=gnu99",
            "bench.c",
            "mlp.o",
            "libkiln_cpu_runtime.a",
        ])
        .args(["-lpthread", "-ldl", "-lm", "-o", "bench"])
        .output()
        .expect("a C compiler (`cc`)");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let x: Vec<f32> = (0..784).map(|i| (i % 255) as f32 / 255.0).collect();
    mlp.predict_one(&x)?;
    let (mut aot, mut jit) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let run = Command::new(mlp_dir.join("bench"))
            .arg(CALLS.to_string())
            .output()
            .expect("run bench");
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
    println!(
        "MLP batch-1 latency, median of {CALLS} calls per round, median of {ROUNDS} rounds: AOT (C) {:.1} us, JIT predict_one {:.1} us (rounds: AOT {aot:.1?}, JIT {jit:.1?})",
        median(aot.clone()),
        median(jit.clone())
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
