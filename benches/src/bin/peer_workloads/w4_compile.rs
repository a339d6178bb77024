//! W4, compile overhead: in a fresh process (this program re-run with `--w4-child`), the
//! first W1 training step (batch 100) minus the median steady step. The child times
//! `Model::compile` plus the first step of `fit` (where the step is compiled to native code)
//! as the first step, and 40 more steps of the same `fit` call, of which the last 30 give
//! the steady median (the peers' `steady[10:]`); it prints one `CHILD_JSON` line that the
//! parent reads.

use std::process::Command;
use std::time::Instant;

use kiln::callbacks::{Callback, Logs, Training};
use kiln::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{BenchError, Result};
use crate::mnist::{self, first_examples};
use crate::payload::Section;
use crate::rows::Row;
use crate::timing::median;
use crate::w1_mlp::{self, BATCH};

/// Steps after the first one.
const STEADY_STEPS: usize = 40;
/// Leading steady steps left out of the median (the peers' `steady[10:]`).
const STEADY_SKIPPED: usize = 10;
/// The seed of the permutation the batches are drawn from (the peers use 1).
const BATCH_SEED: u64 = 1;
/// Marks the child's result line, as the peers' `run_child`.
const CHILD_PREFIX: &str = "CHILD_JSON ";

/// What the child measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChildTimes {
    /// `Model::compile` plus the first training step, in seconds.
    first_step_s: f64,
    /// The median of steady steps 11-40.
    steady_step_s: f64,
    /// `first_step_s - steady_step_s`: the row's time.
    compile_overhead_s: f64,
    /// `Model::compile` alone (building the training graph: autodiff, optimizer).
    compile_call_s: f64,
    /// The first step of `fit` alone (compiling the step to native code and running it).
    first_fit_step_s: f64,
    /// Every steady step, in order.
    steady_steps_s: Vec<f64>,
}

/// Records when each training step of a `fit` call ends.
#[derive(Default)]
struct StepClock {
    ends: Vec<Instant>,
}

impl Callback for StepClock {
    fn on_batch_end(
        &mut self,
        _batch: usize,
        _logs: &Logs,
        _t: &mut Training<'_>,
    ) -> kiln::Result<()> {
        self.ends.push(Instant::now());
        Ok(())
    }
}

/// The child's work: load MNIST, compile W1, train `1 + STEADY_STEPS` steps, print the
/// times as one `CHILD_JSON` line.
pub fn child_main() -> Result<()> {
    let data = mnist::load()?;
    let steps = first_examples(
        &data.train.clone().shuffled(BATCH_SEED),
        (1 + STEADY_STEPS) * BATCH,
    )?;
    let mut clock = StepClock::default();
    let mut model = w1_mlp::model();
    let start = Instant::now();
    w1_mlp::compile(&mut model)?;
    let fit_start = Instant::now();
    let options = FitOptions::new(1, BATCH)
        .shuffle(false)
        .verbose(0u8)
        .callback(&mut clock);
    model.fit_with(&steps, options)?;
    let ends = &clock.ends;
    let steady_steps_s: Vec<f64> = ends
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let first_step_s = (ends[0] - start).as_secs_f64();
    let steady_step_s = median(&steady_steps_s[STEADY_SKIPPED..]);
    let times = ChildTimes {
        first_step_s,
        steady_step_s,
        compile_overhead_s: first_step_s - steady_step_s,
        compile_call_s: (fit_start - start).as_secs_f64(),
        first_fit_step_s: (ends[0] - fit_start).as_secs_f64(),
        steady_steps_s,
    };
    let line = serde_json::to_string(&times).map_err(|source| BenchError::Json {
        what: "the W4 child's times",
        source,
    })?;
    println!("{CHILD_PREFIX}{line}");
    Ok(())
}

/// Run the child process and read its times.
fn run_child() -> Result<ChildTimes> {
    let exe = std::env::current_exe().map_err(|source| BenchError::Io {
        what: "finding",
        path: "this program".into(),
        source,
    })?;
    let output = Command::new(&exe)
        .arg("--w4-child")
        .output()
        .map_err(|source| BenchError::Io {
            what: "running",
            path: exe.clone(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(CHILD_PREFIX));
    match line {
        Some(line) if output.status.success() => {
            serde_json::from_str(line).map_err(|source| BenchError::Json {
                what: "the W4 child's line",
                source,
            })
        }
        _ => Err(BenchError::Child(format!(
            "failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// Measure W4 in a fresh child process.
pub fn run() -> Result<Section> {
    let times = run_child()?;
    println!(
        "  W4 kiln first {:.3} s (compile {:.3} s + first step {:.3} s), steady {:.2} ms, \
         overhead {:.3} s",
        times.first_step_s,
        times.compile_call_s,
        times.first_fit_step_s,
        times.steady_step_s * 1e3,
        times.compile_overhead_s
    );
    let row = Row::w4(times.compile_overhead_s, times.steady_step_s);
    Ok(Section {
        results: json!(times),
        note: "fresh process; first step = Model::compile + the first step of one fit call \
               (41 steps of batch 100, unshuffled, from a seeded permutation of the 57000 \
               images), step ends taken by an on_batch_end callback; steady = median of \
               steps 11-40 of the same call",
        rows: vec![row],
    })
}
