//! How long a gradient sum takes and how much of it hides behind computation, for each
//! [`Overlap`] mode: `mpirun -np 2 --bind-to core target/release/examples/allreduce_overlap`.
//!
//! For each buffer size (default: the seed MLP's 266,610 gradients; `--floats N` for another)
//! it measures, on every rank, the median of
//! - `sum`: a blocking `all_reduce_sum`;
//! - `compute`: a fixed amount of arithmetic on the calling thread (about 2× `sum`), alone;
//! - `both`: `start_all_reduce_sum`, the same arithmetic, then `wait`.
//!
//! The sum time hidden is `sum + compute − both` (all of `sum` when `both` = `compute`), printed
//! by rank 0 as a share of `sum`. It does NOT train: it measures the transport alone.

use std::hint::black_box;
use std::time::Instant;

use kiln::distributed::Communicator;
use kiln_mpi::{MpiComm, Overlap};

const REPEATS: usize = 15;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// `rounds` rounds of dependent multiply-adds over a small array (compute-bound, no memory
/// traffic that would compete with the sum's copies).
fn compute(rounds: usize) -> f32 {
    let mut acc = [1.0f32; 64];
    for r in 0..rounds {
        for (i, a) in acc.iter_mut().enumerate() {
            *a = a.mul_add(0.999_9, (i + r) as f32 * 1e-7);
        }
    }
    black_box(acc.iter().sum())
}

/// Seconds of `f`, median of `REPEATS`, after one warm-up; ranks start each run together.
fn time(comm: &MpiComm, mut f: impl FnMut()) -> f64 {
    f();
    let mut runs = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        comm.all_reduce_sum(&mut [0.0]).expect("barrier");
        let start = Instant::now();
        f();
        runs.push(start.elapsed().as_secs_f64());
    }
    median(runs)
}

/// Rounds of `compute` that take about `seconds`.
fn calibrate(seconds: f64) -> usize {
    let start = Instant::now();
    compute(10_000);
    let per_round = start.elapsed().as_secs_f64() / 10_000.0;
    ((seconds / per_round) as usize).max(1)
}

fn measure(comm: &MpiComm, floats: usize) {
    let grads = vec![1.0f32; floats];
    let sum = time(comm, || {
        let mut b = grads.clone();
        comm.all_reduce_sum(&mut b).expect("sum");
    });
    let rounds = calibrate(2.0 * sum);
    let alone = time(comm, || {
        black_box(grads.clone());
        compute(rounds);
    });
    let both = time(comm, || {
        let pending = comm.start_all_reduce_sum(grads.clone()).expect("start");
        compute(rounds);
        black_box(pending.wait().expect("wait"));
    });
    let hidden = (sum + alone - both).clamp(0.0, sum);
    if comm.rank() == 0 {
        println!(
            "{:?}: {floats} floats ({:.2} MB): sum {:.3} ms, compute {:.3} ms, both {:.3} ms; hidden {:.3} ms = {:.0} % of the sum",
            comm.overlap(),
            floats as f64 * 4.0 / 1e6,
            sum * 1e3,
            alone * 1e3,
            both * 1e3,
            hidden * 1e3,
            100.0 * hidden / sum
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let floats = match args.iter().position(|a| a == "--floats") {
        Some(i) => args.get(i + 1).ok_or("--floats takes a number")?.parse()?,
        None => 266_610,
    };
    let mpi = kiln_mpi::init()?;
    for overlap in [Overlap::Blocking, Overlap::Immediate, Overlap::HelperThread] {
        let world = mpi.world_with(overlap)?;
        measure(&world, floats);
    }
    Ok(())
}
