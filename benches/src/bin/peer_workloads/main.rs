//! `peer_workloads`: Kiln's side of the peer benchmarks W1-W4 defined in
//! `../shared/peers/README.md` (the PyTorch, tf-keras and JAX sides live there), written to
//! `peer-results/kiln-<tag>.json` in the peers' `rows` schema so that
//! `python3 ../shared/peers/summarize.py --tags <tag>` puts Kiln in the same table.
//!
//! `cargo run --release -p kiln-benches --bin peer_workloads -- --workloads w2,w3 --tag run1`
//!
//! This file reads the command line and runs the chosen workloads in order, snapshotting the
//! load around each; the workloads (`w1_mlp.rs` .. `w4_compile.rs`) measure, `rows.rs` and
//! `payload.rs` write the results. It does not run the peers, compare numbers or tune Kiln.

mod args;
mod error;
mod flops;
mod machine;
mod mnist;
mod payload;
mod rows;
mod timing;
mod w1_mlp;
mod w2_cnn;
mod w3_vgg16;
mod w4_compile;

use std::path::PathBuf;
use std::process::ExitCode;

use args::{Args, Workload};
use error::Result;
use payload::{Payload, Section};

/// The peers' thread count; Kiln's comes from the CPUs the process may use.
const PEER_THREADS: usize = 2;

fn main() -> ExitCode {
    let results_dir = std::env::var_os("ANCHORS_RESULTS_DIR")
        .map_or_else(|| PathBuf::from("peer-results"), PathBuf::from);
    let outcome = args::parse(std::env::args().skip(1), &results_dir)
        .map_err(error::BenchError::from)
        .and_then(|args| {
            if args.help {
                println!("{}", args::USAGE);
                Ok(())
            } else if args.w4_child {
                w4_compile::child_main()
            } else {
                run(&args)
            }
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer_workloads: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run the workloads `args` names and write the results file.
fn run(args: &Args) -> Result<()> {
    let threads = machine::kiln_threads();
    let load = machine::loadavg().map_or_else(|| "unknown".into(), |l| format!("{l:?}"));
    println!(
        "load before: {load}  kiln {}, {threads} threads",
        env!("CARGO_PKG_VERSION")
    );
    if threads != PEER_THREADS {
        eprintln!(
            "warning: Kiln will use {threads} threads, the peers {PEER_THREADS}: \
             run under `taskset -c 0,1` to match them"
        );
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; measure with `cargo run --release`");
    }
    let needs_mnist = args
        .workloads
        .iter()
        .any(|w| matches!(w, Workload::W1 | Workload::W2));
    let data = if needs_mnist {
        Some(mnist::load()?)
    } else {
        None
    };
    let reps = args.reps();
    let mut payload = Payload::start();
    for &workload in &args.workloads {
        let before = machine::snap();
        let section: Section = match (workload, &data) {
            (Workload::W1, Some(data)) => w1_mlp::run(data, reps.w1_epochs)?,
            (Workload::W2, Some(data)) => w2_cnn::run(data, reps.w2_timed_epochs)?,
            (Workload::W3, _) => w3_vgg16::run(reps.w3_b1_calls, reps.w3_b8_calls)?,
            (Workload::W4, _) => w4_compile::run()?,
            (Workload::W1 | Workload::W2, None) => unreachable!("MNIST is loaded for W1 and W2"),
        };
        payload.add(workload.key(), section, before, machine::snap());
    }
    print_table(payload.rows());
    payload.write(&args.out)?;
    println!("[json] {}", args.out.display());
    Ok(())
}

/// The rows as the peers print them at the end of a run.
fn print_table(rows: &[rows::Row]) {
    println!();
    println!(
        "{:<12} {:<9} {:<15} {:>8}  {:<20} {:<7} {:>8} {:>6}",
        "workload", "framework", "metric", "time", "throughput", "acc", "GFLOP/s", "%peak"
    );
    let or_dash = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
    for r in rows {
        println!(
            "{:<12} {:<9} {:<15} {:>8.3}  {:<20} {:<7} {:>8} {:>6}",
            r.workload,
            r.framework,
            r.metric,
            r.time,
            r.throughput,
            r.acc,
            or_dash(r.gflops),
            or_dash(r.pct_peak)
        );
    }
}
