//! What both MNIST MPI examples share: their flags, MPI or not (`--single`), the data, training
//! at a global batch, and the report (test accuracy, throughput per rank, the step's time
//! split, and every rank's weight checksum). It does NOT define the models (each example does).

use std::time::Instant;

use kiln::Dataset;
use kiln::distributed::Communicator;
use kiln::prelude::*;
use kiln_mpi::{Mpi, MpiComm, Overlap};

/// The examples' flags: `--single` (one process, no MPI), `--epochs N`, `--limit N` (the first
/// N training images only: a short run, as CI's), `--overlap thread|immediate|blocking` (how
/// started sums run: [`Overlap`]), `--bucket-kb N` (the gradient bucket cap, default DDP's
/// 25 MiB; smaller buckets start sooner during backward).
pub struct Args {
    /// One process without MPI: the baseline.
    pub single: bool,
    /// Epochs to train.
    pub epochs: usize,
    /// Training images used (all by default).
    pub limit: Option<usize>,
    /// How started sums run (default: a helper thread).
    pub overlap: Overlap,
    /// The gradient bucket cap in KiB, when given.
    pub bucket_kb: Option<usize>,
}

impl Args {
    /// Parses the process's flags; `epochs` when `--epochs` is absent.
    pub fn parse(epochs: usize) -> Result<Self, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let value = |flag: &str| -> Result<Option<usize>, String> {
            match args.iter().position(|a| a == flag) {
                None => Ok(None),
                Some(i) => args
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .map(Some)
                    .ok_or_else(|| format!("{flag} takes a positive number")),
            }
        };
        let overlap = match args.iter().position(|a| a == "--overlap") {
            None => Overlap::default(),
            Some(i) => match args.get(i + 1).map(String::as_str) {
                Some("thread") => Overlap::HelperThread,
                Some("immediate") => Overlap::Immediate,
                Some("blocking") => Overlap::Blocking,
                _ => return Err("--overlap takes thread, immediate or blocking".into()),
            },
        };
        Ok(Self {
            overlap,
            single: args.iter().any(|a| a == "--single"),
            epochs: value("--epochs")?.unwrap_or(epochs),
            limit: value("--limit")?,
            bucket_kb: value("--bucket-kb")?,
        })
    }
}

/// MPI and this rank's communicator, or neither with `--single`.
pub fn start(args: &Args) -> Result<Option<(Mpi, MpiComm)>, Box<dyn std::error::Error>> {
    if args.single {
        return Ok(None);
    }
    let mpi = kiln_mpi::init()?;
    let world = mpi.world_with(args.overlap)?;
    Ok(Some((mpi, world)))
}

/// MNIST's training images (the first `limit`, if given) and test images.
pub fn mnist(limit: Option<usize>) -> kiln::Result<(Dataset, Dataset)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/mnist");
    let (train, test) = kiln::datasets::mnist::load(dir)?;
    let len = train.len();
    let train = match limit {
        Some(n) if n < len => train.split(n as f64 / len as f64)?.0,
        _ => train,
    };
    Ok((train, test))
}

/// A 64-bit FNV-1a hash of every weight's name and bits, in name order: equal on every rank
/// exactly when the replicas are identical.
pub fn weights_checksum(model: &mut Model) -> kiln::Result<u64> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut add = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (name, tensor) in model.weights()? {
        add(name.as_bytes());
        for x in &tensor.data {
            add(&x.to_bits().to_le_bytes());
        }
    }
    Ok(h)
}

/// Trains `model` (compiled) for `epochs` at the global `batch`, evaluates it on `test`, and
/// prints rank 0's report and every rank's checksum line; `bucket_kb` caps the gradient buckets.
pub fn train_and_report(
    model: &mut Model,
    train: &Dataset,
    test: &Dataset,
    options: FitOptions<'_>,
    world: Option<&MpiComm>,
    bucket_kb: Option<usize>,
) -> kiln::Result<()> {
    let (rank, ranks) = world.map_or((0, 1), |w| (w.rank(), w.world_size()));
    let batch = options.batch_size;
    let options = match world {
        Some(w) => options.distributed(w),
        None => options,
    };
    let options = match bucket_kb {
        Some(kb) => options.bucket_bytes(kb * 1024),
        None => options,
    };
    let start = Instant::now();
    let history = model.fit_with(train, options)?;
    let seconds = start.elapsed().as_secs_f64();
    let accuracy = match world {
        Some(w) => model.evaluate_distributed(test, batch, w)?,
        None => model.evaluate(test, batch)?,
    }
    .metrics["accuracy"];
    let local_examples = (train.len() / batch * batch / ranks * history.epochs()) as f64;
    if rank == 0 {
        println!(
            "Ranks: {ranks}, global batch {batch} ({} per rank)",
            batch / ranks
        );
        println!("Test accuracy: {accuracy:.4}");
        println!(
            "Throughput per rank: {:.0} examples/s ({seconds:.2} s for {} epochs)",
            local_examples / seconds,
            history.epochs()
        );
        if let Some(t) = model.step_timings() {
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3 / t.steps.max(1) as f64;
            println!(
                "Per step (rank 0, {} steps): gradient {:.3} ms, start allreduce {:.3} ms, wait allreduce {:.3} ms, update {:.3} ms, {} bytes reduced",
                t.steps,
                ms(t.gradient),
                ms(t.start_reduce),
                ms(t.wait_reduce),
                ms(t.update),
                t.reduced_bytes / t.steps.max(1) as u64
            );
            println!(
                "Allreduce in flight {:.3} ms per step, of which hidden behind backward {:.3} ms ({:.0} %)",
                ms(t.reduce_in_flight),
                ms(t.reduce_hidden),
                100.0 * t.reduce_hidden.as_secs_f64() / t.reduce_in_flight.as_secs_f64().max(1e-12)
            );
        }
    }
    println!(
        "rank {rank}: weights checksum {:016x}",
        weights_checksum(model)?
    );
    Ok(())
}
