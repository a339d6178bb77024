//! `lstm_step`: the issue-13 recurrence target through Kiln's public API — input (batch 64,
//! 100 steps, 32 features) → LSTM(128) → Dense(10) on the last state, softmax cross-entropy,
//! Adam. Prints one JSON line: the compile time (the `compile` call plus the first step's
//! compilation: the first one-batch `fit` call less one median step), the median and all
//! step times in ms (each step timed between consecutive `on_batch_end` callbacks), threads
//! and the load average; also the process CPU time of the compile call and the first step
//! (`compile_and_first_step_cpu_s`, all threads), which other processes' load does not inflate. The PyTorch twin is `benches/peers/lstm_step_torch.py`.
//!
//! `taskset -c 0,1 cargo run --release -p kiln-benches --bin lstm_step -- [steps]`

use std::time::Instant;

use kiln::callbacks::{Callback, Logs, Training};
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Metric;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use serde_json::json;

const BATCH: usize = 64;
const STEPS: usize = 100;
const FEATURES: usize = 32;
const UNITS: usize = 128;
const CLASSES: usize = 10;

/// The instants at which batches ended.
#[derive(Default)]
struct BatchEnds(Vec<Instant>);

impl Callback for BatchEnds {
    fn on_batch_end(
        &mut self,
        _batch: usize,
        _logs: &Logs,
        _t: &mut Training<'_>,
    ) -> kiln::Result<()> {
        self.0.push(Instant::now());
        Ok(())
    }
}

/// `batches` batches of random sequences with one-hot labels.
fn data(batches: usize) -> Dataset {
    let n = batches * BATCH;
    let x: Vec<f32> = (0..n * STEPS * FEATURES)
        .map(|i| 2.0 * ir::random::uniform(1, i as u32) - 1.0)
        .collect();
    let mut y = vec![0.0; n * CLASSES];
    for i in 0..n {
        y[i * CLASSES + i % CLASSES] = 1.0;
    }
    Dataset::new(x, &[n, STEPS, FEATURES], y, &[n, CLASSES]).expect("consistent shapes")
}

/// This process' CPU time (user + system, all threads) in seconds, from `/proc/self/stat`:
/// a compile-time figure the load of other processes does not inflate.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the name).
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn main() -> kiln::Result<()> {
    let timed: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let load_before = loadavg();
    let mut model = sequential![
        Input::new([STEPS, FEATURES]),
        LSTM::new(UNITS),
        Dense::new(CLASSES),
    ];
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    model.compile(
        Adam::default(),
        SoftmaxCrossEntropyWithLogits,
        [] as [Box<dyn Metric>; 0],
    )?;
    let compile_call = start.elapsed().as_secs_f64();
    let one = data(1);
    let start = Instant::now();
    model.fit_with(&one, FitOptions::new(1, BATCH).shuffle(false).verbose(0u8))?;
    let first_fit = start.elapsed().as_secs_f64();
    let compile_cpu = cpu_seconds() - cpu_start;

    let many = data(timed + 1);
    let mut ends = BatchEnds::default();
    let start = Instant::now();
    model.fit_with(
        &many,
        FitOptions::new(1, BATCH)
            .shuffle(false)
            .verbose(0u8)
            .callback(&mut ends),
    )?;
    let mut steps_ms: Vec<f64> = ends
        .0
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1e3)
        .collect();
    let first_ms = (ends.0[0] - start).as_secs_f64() * 1e3;
    steps_ms.insert(0, first_ms);
    let mut sorted = steps_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let compile_s = compile_call + first_fit - median / 1e3;
    println!(
        "{}",
        json!({
            "bench": "lstm_step",
            "framework": "kiln",
            "compile_s": compile_s,
            "compile_call_s": compile_call,
            "compile_and_first_step_cpu_s": compile_cpu,
            "first_fit_s": first_fit,
            "step_ms_median": median,
            "step_ms": steps_ms,
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "load_before": load_before,
            "load_after": loadavg(),
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        })
    );
    Ok(())
}
