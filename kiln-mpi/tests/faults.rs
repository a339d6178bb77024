//! A rank that dies mid-job (exits with an error, aborts, or exits 0 without finalizing MPI)
//! ends the whole job with a non-zero status within a bounded time, and the launcher names the
//! dead rank; a job whose ranks all finish exits 0; a training job whose rank 1 dies resumes
//! from rank 0's last checkpoint to the same weights as a run that never failed. It does NOT
//! test the collectives' values (tests/collectives.rs) or the replicas' equality with one
//! process (tests/training.rs).
//!
//! Run WITHOUT mpirun (`cargo test --test faults`): each test launches
//! `mpirun -np 2` on this same test binary's ignored `worker` test, which reads its scenario
//! from `KILN_MPI_FAULT`. The wording checked is Open MPI's (the MPI CI installs).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln::callbacks::ModelCheckpoint;
use kiln::distributed::Communicator;
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const SCENARIO: &str = "KILN_MPI_FAULT";
/// How long a job may take before the test calls it a hang (a healthy one takes ~2 s).
const BOUND: Duration = Duration::from_secs(60);
/// Sums each rank runs in the worker (the dying rank stops after `DIE_AFTER`).
const SUMS: usize = 100_000;
const DIE_AFTER: usize = 20;

/// What the worker ranks do: sums in a loop, rank 1 dying after `DIE_AFTER` as the scenario says;
/// or (scenarios `train-*`) the checkpoint-and-resume training of [`train`].
#[test]
#[ignore = "the ranks of the jobs the other tests launch"]
fn worker() {
    let scenario = std::env::var(SCENARIO).expect("launched by a fault test");
    let mpi = kiln_mpi::init().expect("MPI starts");
    if let Some(mode) = scenario.strip_prefix("train-") {
        let world = mpi.world().expect("the world communicator");
        train(mode, &world).expect("training");
        return;
    }
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

const EPOCHS: usize = 4;
/// Rank 1 dies when this epoch begins (after rank 0 saved the epochs before it).
const DIE_AT_EPOCH: usize = 2;

/// Toy data: 96 examples of 6 features, 3 classes.
fn toy() -> Dataset {
    let n = 96;
    let x: Vec<f32> = (0..n * 6)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    let y: Vec<f32> = (0..n * 3)
        .map(|i| f32::from(u8::from(i % 3 == (i / 3) % 3)))
        .collect();
    Dataset::new(x, &[n, 6], y, &[n, 3]).expect("toy data")
}

/// Rank 1 exits with an error when epoch `DIE_AT_EPOCH` begins; before that, every rank meets
/// in one sum, so rank 0's checkpoint of the epoch before is complete on disk.
struct DieAtEpoch<'a>(&'a dyn Communicator);

impl Callback for DieAtEpoch<'_> {
    fn on_epoch_begin(
        &mut self,
        epoch: usize,
        _: &mut kiln::model::Training<'_>,
    ) -> kiln::Result<()> {
        if epoch == DIE_AT_EPOCH {
            self.0.all_reduce_sum(&mut [0.0]).expect("the ranks meet");
            if self.0.rank() == 1 {
                std::process::exit(3);
            }
        }
        Ok(())
    }
}

/// `die`: train `EPOCHS` epochs, checkpointing each (rank 0), rank 1 dying at
/// `DIE_AT_EPOCH`; `resume`: load the checkpoint and train the remaining epochs; `full`: train
/// all epochs at once. The last two print each rank's weight checksum.
fn train(mode: &str, world: &dyn Communicator) -> kiln::Result<()> {
    let dir = std::path::PathBuf::from(std::env::var("KILN_MPI_DIR").expect("a work folder"));
    let checkpoint = dir.join("checkpoint.kiln");
    let (mut model, initial_epoch) = if mode == "resume" {
        (Model::load(&checkpoint)?, DIE_AT_EPOCH)
    } else {
        let mut model = Sequential::of([
            Input::new([6]).into(),
            Dense::new(8).activation(Activation::Relu).into(),
            Dense::new(3).into(),
        ]);
        model.compile(
            Adam::default(),
            SoftmaxCrossEntropyWithLogits,
            [kiln::metrics::Accuracy],
        )?;
        (model, 0)
    };
    let mut options = FitOptions::new(EPOCHS, 12)
        .verbose(Verbosity::Silent)
        .initial_epoch(initial_epoch)
        .distributed(world);
    if mode == "die" {
        options = options
            .callback(ModelCheckpoint::new(
                checkpoint.to_string_lossy().into_owned(),
            ))
            .callback(DieAtEpoch(world));
    }
    model.fit_with(&toy(), options)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, t) in model.weights()? {
        for b in name
            .bytes()
            .chain(t.data.iter().flat_map(|x| x.to_bits().to_le_bytes()))
        {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("rank {}: weights checksum {h:016x}", world.rank());
    Ok(())
}

/// The `rank N: weights checksum X` lines of a job's output (libtest's interleaved text cut
/// off), sorted.
fn checksums(output: &str) -> Vec<String> {
    let mut lines: Vec<String> = output
        .lines()
        .filter(|l| l.contains("checksum"))
        .filter_map(|l| l.rfind("rank ").map(|i| l[i..].to_string()))
        .collect();
    lines.sort();
    lines
}

#[test]
fn training_resumes_from_rank_zeros_checkpoint_after_a_rank_dies() {
    let dir = std::env::temp_dir().join(format!("kiln-mpi-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a work folder");
    let run = |mode: &str| launch_in(&format!("train-{mode}"), &dir);
    let (code, output, _) = run("die");
    assert_ne!(code, Some(0), "the job whose rank died exited 0:\n{output}");
    assert!(
        dir.join("checkpoint.kiln").exists(),
        "rank 0 wrote no checkpoint:\n{output}"
    );
    let (code, resumed, _) = run("resume");
    assert_eq!(code, Some(0), "the resumed job failed:\n{resumed}");
    let (code, full, _) = run("full");
    assert_eq!(code, Some(0), "the uninterrupted job failed:\n{full}");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(checksums(&resumed).len(), 2, "{resumed}");
    assert_eq!(
        checksums(&resumed),
        checksums(&full),
        "resumed and uninterrupted training end with different weights"
    );
}

/// Launches the two-rank job; returns its exit code (None: killed by a signal), its stdout and
/// stderr together, and how long it took. Kills it and fails past `BOUND`.
fn launch(scenario: &str) -> (Option<i32>, String, Duration) {
    launch_in(scenario, &std::env::temp_dir())
}

/// [`launch`] with `KILN_MPI_DIR` set to `dir` for the ranks.
fn launch_in(scenario: &str, dir: &std::path::Path) -> (Option<i32>, String, Duration) {
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
        .env("KILN_MPI_DIR", dir)
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
