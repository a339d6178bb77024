//! A rank that dies mid-job (exits with an error, aborts, or exits 0 without finalizing MPI)
//! ends the whole job with a non-zero status within a bounded time, and the launcher names the
//! dead rank; a job whose ranks all finish exits 0. It does NOT test training's checkpoints
//! (tests/training.rs does).
//!
//! Run WITHOUT mpirun (`cargo test --test faults`): each test launches
//! `mpirun -np 2` on this same test binary's ignored `worker` test, which reads its scenario
//! from `KILN_MPI_FAULT`. The wording checked is Open MPI's (the MPI CI installs).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln::distributed::Communicator;

const SCENARIO: &str = "KILN_MPI_FAULT";
/// How long a job may take before the test calls it a hang (a healthy one takes ~2 s).
const BOUND: Duration = Duration::from_secs(60);
/// Sums each rank runs in the worker (the dying rank stops after `DIE_AFTER`).
const SUMS: usize = 100_000;
const DIE_AFTER: usize = 20;

/// What the worker ranks do: sums in a loop, rank 1 dying after `DIE_AFTER` as the scenario says.
#[test]
#[ignore = "the ranks of the jobs the other tests launch"]
fn worker() {
    let scenario = std::env::var(SCENARIO).expect("launched by a fault test");
    let mpi = kiln_mpi::init().expect("MPI starts");
    let world = mpi.world().expect("the world communicator");
    let sums = if scenario == "finish" {
        DIE_AFTER
    } else {
        SUMS
    };
    for step in 0..sums {
        if world.rank() == 1 && step == DIE_AFTER {
            match scenario.as_str() {
                "exit" => std::process::exit(3),
                "abort" => std::process::abort(),
                "exit0" => std::process::exit(0),
                other => panic!("unknown scenario {other}"),
            }
        }
        let pending = world
            .start_all_reduce_sum(vec![1.0; 10_000])
            .expect("sum started");
        let sum = pending.wait().expect("sum finished");
        assert_eq!(sum[0], world.world_size() as f32);
    }
    drop(world);
    drop(mpi);
}

/// Launches the two-rank job; returns its exit code (None: killed by a signal), its stdout and
/// stderr together, and how long it took. Kills it and fails past `BOUND`.
fn launch(scenario: &str) -> (Option<i32>, String, Duration) {
    let exe = std::env::current_exe().expect("this test binary");
    let start = Instant::now();
    let mut job = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "2"])
        .arg(exe)
        .args([
            "--ignored",
            "--exact",
            "worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO, scenario)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun is installed (Debian: openmpi-bin)");
    let status = loop {
        if let Some(status) = job.try_wait().expect("waiting for mpirun") {
            break status;
        }
        if start.elapsed() > BOUND {
            let _ = job.kill();
            let _ = job.wait();
            panic!("scenario {scenario}: the job still ran after {BOUND:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    job.stdout.take().map(|mut s| s.read_to_string(&mut output));
    job.stderr.take().map(|mut s| s.read_to_string(&mut output));
    (status.code(), output, start.elapsed())
}

/// The job failed, in time, and the launcher's report names rank 1.
fn assert_named_failure(scenario: &str, wording: &str) {
    let (code, output, took) = launch(scenario);
    eprintln!("scenario {scenario}: exit {code:?} after {took:?}; mpirun said:\n{output}");
    assert_ne!(code, Some(0), "scenario {scenario}: the job exited 0");
    assert!(
        output.contains(wording),
        "scenario {scenario}: mpirun's report lacks {wording:?}"
    );
}

#[test]
fn a_job_whose_ranks_finish_exits_zero() {
    let (code, output, _) = launch("finish");
    assert_eq!(code, Some(0), "mpirun said:\n{output}");
}

#[test]
fn a_rank_exiting_with_an_error_ends_the_job() {
    // Open MPI names it as "Process name: [[jobid,1],1]" (the last number is the rank).
    assert_named_failure("exit", "],1]");
}

#[test]
fn an_aborting_rank_ends_the_job() {
    assert_named_failure("abort", "rank 1");
}

#[test]
fn a_rank_exiting_zero_without_finalize_ends_the_job() {
    assert_named_failure("exit0", "rank 1");
}
