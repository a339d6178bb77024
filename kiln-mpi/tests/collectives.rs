//! The MPI communicator's collectives, run on every rank of `mpirun -np N` (N ≥ 1; CI uses 2):
//! sums (blocking and started in each `Overlap` mode, moved on by `progress` and timed),
//! broadcasts, gathers, a bad root. It does
//! NOT train (tests/training.rs does) or kill ranks (tests/faults.rs does).
//!
//! `harness = false`: MPI is initialized once per process and finalized at the end, which the
//! libtest harness (tests on threads, no end hook) cannot do. Every case runs on every rank in
//! the same order; after each, the ranks gather their verdicts so all agree on what failed.
//! Run: `CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="mpirun --allow-run-as-root --oversubscribe
//! -np 2" cargo test --test collectives`.

use kiln::distributed::{CommError, Communicator};
use kiln_mpi::{MpiComm, Overlap};

type Case = fn(&MpiComm) -> Result<(), String>;

/// The value rank `r` contributes at index `i` (exact in f32, distinct per rank).
fn part(rank: usize, i: usize) -> f32 {
    ((rank + 1) * 1000 + i % 997) as f32
}

/// What every rank must get back for index `i` of a sum over `size` ranks.
fn expected(size: usize, i: usize) -> f32 {
    (0..size).map(|r| part(r, i)).sum()
}

fn check_sum(comm: &MpiComm, got: &[f32], len: usize) -> Result<(), String> {
    if got.len() != len {
        return Err(format!(
            "length {} after the sum, expected {len}",
            got.len()
        ));
    }
    match (0..len).find(|&i| got[i] != expected(comm.world_size(), i)) {
        Some(i) => Err(format!(
            "index {i}: got {}, expected {}",
            got[i],
            expected(comm.world_size(), i)
        )),
        None => Ok(()),
    }
}

fn ranks_and_gather(comm: &MpiComm) -> Result<(), String> {
    let all = comm
        .all_gather_u64(comm.rank() as u64 * 10 + 7)
        .map_err(|e| e.to_string())?;
    let want: Vec<u64> = (0..comm.world_size() as u64).map(|r| r * 10 + 7).collect();
    if all == want {
        Ok(())
    } else {
        Err(format!("gathered {all:?}, expected {want:?}"))
    }
}

fn blocking_sum(comm: &MpiComm) -> Result<(), String> {
    for len in [1, 1000, 1 << 20] {
        let mut buffer: Vec<f32> = (0..len).map(|i| part(comm.rank(), i)).collect();
        comm.all_reduce_sum(&mut buffer)
            .map_err(|e| e.to_string())?;
        check_sum(comm, &buffer, len)?;
    }
    Ok(())
}

/// Three sums in flight at once, waited for in reverse order, one dropped unwaited.
fn started_sums(comm: &MpiComm) -> Result<(), String> {
    let lens = [3, 70_000, 1 << 18];
    let mut pending = Vec::new();
    for &len in &lens {
        let buffer: Vec<f32> = (0..len).map(|i| part(comm.rank(), i)).collect();
        pending.push(
            comm.start_all_reduce_sum(buffer)
                .map_err(|e| e.to_string())?,
        );
    }
    let dropped = comm
        .start_all_reduce_sum(vec![1.0; 5])
        .map_err(|e| e.to_string())?;
    drop(dropped);
    for (len, sum) in lens.iter().zip(pending).rev() {
        check_sum(comm, &sum.wait().map_err(|e| e.to_string())?, *len)?;
    }
    // A blocking sum after the started ones still pairs up with the same sum on every rank.
    blocking_sum(comm)
}

/// A started sum moved on by `progress` (MPI_Test for `MPI_Iallreduce`) completes before it is
/// waited for, and `wait_timed` says when (a blocking world's sums are done when started).
fn progressed_sums(comm: &MpiComm, overlap: Overlap) -> Result<(), String> {
    let len = 70_000;
    let buffer: Vec<f32> = (0..len).map(|i| part(comm.rank(), i)).collect();
    let mut sum = comm
        .start_all_reduce_sum(buffer)
        .map_err(|e| e.to_string())?;
    let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
    while std::time::Instant::now() < until {
        sum.progress();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let waited = std::time::Instant::now();
    let (summed, finished) = sum.wait_timed().map_err(|e| e.to_string())?;
    check_sum(comm, &summed, len)?;
    match finished {
        Some(t) if t <= waited => Ok(()),
        other => Err(format!(
            "{overlap:?}: finished at {other:?}, the wait started at {waited:?}"
        )),
    }
}

fn broadcasts(comm: &MpiComm) -> Result<(), String> {
    for root in 0..comm.world_size() {
        let mut buffer: Vec<f32> = (0..100).map(|i| part(comm.rank(), i)).collect();
        comm.broadcast(&mut buffer, root)
            .map_err(|e| e.to_string())?;
        if let Some(i) = (0..100).find(|&i| buffer[i] != part(root, i)) {
            return Err(format!("broadcast from {root}: index {i} is {}", buffer[i]));
        }
    }
    match comm.broadcast(&mut [0.0], comm.world_size()) {
        Err(CommError::BadRank { rank, world_size })
            if rank == comm.world_size() && world_size == comm.world_size() =>
        {
            Ok(())
        }
        other => Err(format!("a root past the last rank gave {other:?}")),
    }
}

fn main() {
    let mpi = kiln_mpi::init().expect("MPI starts with MPI_THREAD_MULTIPLE");
    let cases: [(&str, Case); 5] = [
        ("ranks_and_gather", ranks_and_gather),
        ("blocking_sum", blocking_sum),
        ("started_sums", started_sums),
        ("progressed_sums", |comm| {
            progressed_sums(comm, comm.overlap())
        }),
        ("broadcasts", broadcasts),
    ];
    let (mut passed, mut failed) = (0, 0);
    let mut rank = 0;
    for overlap in [Overlap::HelperThread, Overlap::Immediate, Overlap::Blocking] {
        let comm = mpi
            .world_with(overlap)
            .expect("a duplicate of MPI_COMM_WORLD");
        rank = comm.rank();
        for (name, case) in cases {
            let verdict = case(&comm);
            if let Err(msg) = &verdict {
                eprintln!("rank {rank}: {name} ({overlap:?}) FAILED: {msg}");
            }
            let verdicts = comm
                .all_gather_u64(u64::from(verdict.is_err()))
                .expect("gathering the verdicts");
            let ok = verdicts.iter().all(|&v| v == 0);
            if rank == 0 {
                println!(
                    "test {name} ({overlap:?}) ... {}",
                    if ok { "ok" } else { "FAILED" }
                );
            }
            if ok {
                passed += 1;
            } else {
                failed += 1;
            }
        }
    }
    if rank == 0 {
        println!("{passed} passed, {failed} failed");
    }
    drop(mpi);
    if failed > 0 {
        std::process::exit(1);
    }
}
