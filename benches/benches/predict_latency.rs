//! Batch-1 latency of the MNIST MLP (784-300-100-10, relu): the JIT's `Model::predict_one`
//! and `Model::predict_one_into`, and the ahead-of-time `infer` entry called from C, each
//! timed call by call (median and p99), on the machine as it is ("quiet") and while a
//! busy-loop process keeps one core busy ("busy"). Rounds alternate the three so all see
//! the same machine; the report gives each round and the median over rounds, with the load
//! average.
//!
//! `cargo bench -p kiln-benches --bench predict_latency` (needs a C compiler, `cc` or
//! `$CC`). Environment: `KILN_LATENCY_CALLS` (timed calls per round, default 20000),
//! `KILN_LATENCY_ROUNDS` (default 3), `KILN_LATENCY_LOAD` (`quiet`, `busy` or `both`, the
//! default). `KILN_CPU_RUNTIME_LIB` names the runtime library to link the C program with
//! (by default the newest one beside this executable).
//!
//! This is a plain program (`harness = false`), not a criterion benchmark: criterion
//! reports means and confidence intervals of batches, and the question here is the tail of
//! single calls. Run without `--bench` (as `cargo test --benches` does) it only checks that
//! it works: 200 calls, one round, no busy process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

use kiln::aot::{AotCompileOptions, compile_with_report};
use kiln::prelude::*;
use kiln_c_harness::{CProgram, run_ok};

/// The C side: `bench CALLS` times CALLS `mlp_infer` calls (after 1000 untimed ones) and
/// prints the median and the 99th percentile in microseconds.
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
    for (int i = 0; i < 1000; i++) if (mlp_infer(m, x, p)) return 1;
    for (int i = 0; i < calls; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (mlp_infer(m, x, p)) return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    }
    qsort(t, calls, sizeof(double), cmp);
    printf("%f %f\n", t[calls / 2], t[calls * 99 / 100]);
    mlp_destroy(m);
    return 0;
}
"#;

/// Median and 99th percentile of one round, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Tail {
    median: f64,
    p99: f64,
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn tail(mut times: Vec<f64>) -> Tail {
    times.sort_by(f64::total_cmp);
    Tail {
        median: times[times.len() / 2],
        p99: times[times.len() * 99 / 100],
    }
}

/// The MNIST MLP with its initial (seeded) weights; inference needs no `compile`.
fn mnist_mlp() -> Model {
    sequential![
        Input::new([28, 28, 1]),
        Flatten::new(),
        Dense::new(300).activation(Activation::Relu),
        Dense::new(100).activation(Activation::Relu),
        Dense::new(10),
    ]
}

/// Compiles the MLP's infer entry ahead of time into `dir` and builds the C program there.
fn build_aot(mlp: &Model, dir: &Path) -> PathBuf {
    compile_with_report(mlp, &AotCompileOptions::new("mlp", dir)).expect("AOT compile");
    CProgram::new(dir, "bench", BENCH_C)
        .standard("gnu99")
        .flag("-O2")
        .object("mlp.o")
        .with_runtime()
        .build()
}

/// `calls` timed calls of `call` after 1000 untimed ones.
fn timed(calls: usize, mut call: impl FnMut()) -> Tail {
    for _ in 0..1000 {
        call();
    }
    let times = (0..calls)
        .map(|_| {
            let t = Instant::now();
            call();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    tail(times)
}

fn jit_round(mlp: &Model, x: &[f32], calls: usize) -> Tail {
    timed(calls, || {
        std::hint::black_box(mlp.predict_one(x).expect("predict_one"));
    })
}

fn jit_into_round(mlp: &Model, x: &[f32], calls: usize) -> Tail {
    let mut out = [0.0; 10];
    timed(calls, || {
        mlp.predict_one_into(x, &mut out).expect("predict_one_into");
        std::hint::black_box(&out);
    })
}

fn aot_round(dir: &Path, bench: &Path, calls: usize) -> Tail {
    let run = run_ok(dir, bench, &[&calls.to_string()]);
    let text = String::from_utf8_lossy(&run.stdout);
    let mut numbers = text
        .split_whitespace()
        .map(|w| w.parse::<f64>().expect("a time"));
    Tail {
        median: numbers.next().expect("a median"),
        p99: numbers.next().expect("a p99"),
    }
}

/// A process that keeps one core busy until it is killed.
fn busy_process() -> Child {
    Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .expect("sh for the busy loop")
}

fn report(what: &str, rounds: &[Tail]) {
    println!(
        "  {what}: median {:.1} us, p99 {:.1} us (rounds: median {:.1?}, p99 {:.1?})",
        median(rounds.iter().map(|t| t.median).collect()),
        median(rounds.iter().map(|t| t.p99).collect()),
        rounds.iter().map(|t| t.median).collect::<Vec<_>>(),
        rounds.iter().map(|t| t.p99).collect::<Vec<_>>(),
    );
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (calls, rounds, load) = if measuring {
        (
            env_or("KILN_LATENCY_CALLS", 20_000),
            env_or("KILN_LATENCY_ROUNDS", 3),
            std::env::var("KILN_LATENCY_LOAD").unwrap_or_else(|_| "both".into()),
        )
    } else {
        (200, 1, "quiet".into())
    };
    let dir = std::env::temp_dir().join(format!("kiln-predict-latency-{}", std::process::id()));
    let mlp = mnist_mlp();
    let bench = build_aot(&mlp, &dir);
    let x: Vec<f32> = (0..784).map(|i| (i % 255) as f32 / 255.0).collect();
    for mode in ["quiet", "busy"] {
        if load != "both" && load != mode {
            continue;
        }
        let mut busy = (mode == "busy").then(busy_process);
        let before = load_average();
        let (mut jit, mut into, mut aot) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            jit.push(jit_round(&mlp, &x, calls));
            into.push(jit_into_round(&mlp, &x, calls));
            aot.push(aot_round(&dir, &bench, calls));
        }
        if let Some(child) = busy.as_mut() {
            child.kill().ok();
            child.wait().ok();
        }
        println!(
            "MLP 784-300-100-10 batch 1, {mode}, {calls} calls x {rounds} rounds (load average {before} before, {} after):",
            load_average()
        );
        report("JIT predict_one     ", &jit);
        report("JIT predict_one_into", &into);
        report("AOT infer (C)       ", &aot);
    }
    std::fs::remove_dir_all(&dir).ok();
}
