//! Training step times of the models of docs/distributed.md's scaling table (the seed MLP,
//! VGG16, ResNet50), with their gradients summed across ranks — what the expected scaling
//! on a network is computed from, and how much of the allreduce the backward pass hides.
//!
//! `mpirun -np 2 --bind-to core target/release/examples/step_time --model resnet50 --batch 4`
//! trains `--steps N` steps (default 3, after one warm-up step that is not timed) of the model
//! on random data at a global batch of `--batch` (split over the ranks), SGD with momentum, and
//! rank 0 prints the wall time per step of the `fit` call (which also checks the ranks agree
//! and broadcasts rank 0's weights once) and, distributed, the step's parts: gradient step,
//! starting the sums, the wait after backward, the update; how long sums were in flight and
//! how much of that the backward pass hid. `--single` runs
//! one process without MPI (the compute-only step time); `--bucket-mb N` sets the gradient
//! bucket cap (default 25, DDP's); `--overlap thread|immediate|blocking` as in the MNIST
//! examples. Models are Kiln's builders at Keras' default 224×224×3 input and 1000 classes.

use std::time::{Duration, Instant};

use kiln::applications::{self, Options};
use kiln::distributed::Communicator;
use kiln::losses::CategoricalCrossentropy;
use kiln::model::StepTimings;
use kiln::optimizers::SGD;
use kiln::prelude::*;
use kiln_mpi::Overlap;

/// The flags.
struct Args {
    model: String,
    batch: usize,
    steps: usize,
    single: bool,
    bucket_mb: usize,
    overlap: Overlap,
}

fn parse() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = |flag: &str| args.iter().position(|a| a == flag).map(|i| args.get(i + 1));
    let number = |flag: &str, default: usize| -> Result<usize, String> {
        match text(flag) {
            None => Ok(default),
            Some(v) => v
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} takes a number")),
        }
    };
    let overlap = match text("--overlap") {
        None => Overlap::default(),
        Some(Some(v)) if v == "thread" => Overlap::HelperThread,
        Some(Some(v)) if v == "immediate" => Overlap::Immediate,
        Some(Some(v)) if v == "blocking" => Overlap::Blocking,
        Some(_) => return Err("--overlap takes thread, immediate or blocking".into()),
    };
    Ok(Args {
        model: text("--model")
            .flatten()
            .cloned()
            .unwrap_or_else(|| "mlp".into()),
        batch: number("--batch", 4)?,
        steps: number("--steps", 3)?,
        single: args.iter().any(|a| a == "--single"),
        bucket_mb: number("--bucket-mb", 25)?,
        overlap,
    })
}

/// The model named `name`, with its per-example input shape and class count.
fn build(name: &str) -> Result<(Model, Vec<usize>, usize), Box<dyn std::error::Error>> {
    Ok(match name {
        "mlp" => (
            Sequential::of([
                Input::new([28, 28, 1]).into(),
                Flatten::new().into(),
                Dense::new(300).activation(Activation::Relu).into(),
                Dense::new(100).activation(Activation::Relu).into(),
                Dense::new(10).activation(Activation::Softmax).into(),
            ]),
            vec![28, 28, 1],
            10,
        ),
        "vgg16" => (
            applications::vgg16(&Options::new())?,
            vec![224, 224, 3],
            1000,
        ),
        "resnet50" => (
            applications::resnet50(&Options::new())?,
            vec![224, 224, 3],
            1000,
        ),
        other => {
            return Err(format!("--model {other}: expected mlp, vgg16 or resnet50").into());
        }
    })
}

/// `n` random examples of `shape` with one-hot labels over `classes`.
fn random_data(n: usize, shape: &[usize], classes: usize) -> kiln::Result<Dataset> {
    let per: usize = shape.iter().product();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let features: Vec<f32> = (0..n * per).map(|_| next()).collect();
    let mut labels = vec![0.0; n * classes];
    (0..n).for_each(|i| labels[i * classes + i % classes] = 1.0);
    let mut dims = vec![n];
    dims.extend_from_slice(shape);
    Dataset::new(features, &dims, labels, &[n, classes])
}

/// `after - before`, field by field.
fn since(after: StepTimings, before: StepTimings) -> StepTimings {
    StepTimings {
        steps: after.steps - before.steps,
        gradient: after.gradient - before.gradient,
        start_reduce: after.start_reduce - before.start_reduce,
        wait_reduce: after.wait_reduce - before.wait_reduce,
        update: after.update - before.update,
        reduce_in_flight: after.reduce_in_flight - before.reduce_in_flight,
        reduce_hidden: after.reduce_hidden - before.reduce_hidden,
        reduced_bytes: after.reduced_bytes - before.reduced_bytes,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse()?;
    let mpi = if args.single {
        None
    } else {
        Some(kiln_mpi::init()?)
    };
    let world = match &mpi {
        Some(mpi) => Some(mpi.world_with(args.overlap)?),
        None => None,
    };
    let (rank, ranks) = world
        .as_ref()
        .map_or((0, 1), |w| (w.rank(), w.world_size()));
    let (mut model, shape, classes) = build(&args.model)?;
    let t = Instant::now();
    model.compile(
        SGD::default().learning_rate(0.01).momentum(0.9),
        CategoricalCrossentropy::new(),
        Vec::<Box<dyn kiln::metrics::Metric>>::new(),
    )?;
    let data = random_data(args.batch * (args.steps + 1), &shape, classes)?;
    let run = |model: &mut Model, steps: usize| -> kiln::Result<Duration> {
        let options = FitOptions::new(1, args.batch)
            .verbose(Verbosity::Silent)
            .shuffle(false)
            .steps_per_epoch(steps)
            .bucket_bytes(args.bucket_mb << 20);
        let options = match &world {
            Some(w) => options.distributed(w),
            None => options,
        };
        let start = Instant::now();
        model.fit_with(&data, options)?;
        Ok(start.elapsed())
    };
    run(&mut model, 1)?;
    let warm = t.elapsed();
    let before = model.step_timings().unwrap_or_default();
    let elapsed = run(&mut model, args.steps)?;
    if rank == 0 {
        let ms = |d: Duration| d.as_secs_f64() * 1e3 / args.steps as f64;
        println!(
            "{} on {ranks} rank(s), global batch {} ({} per rank): compile + first step {:.1} s, {:.1} ms per step over {} steps (wall time of the fit call)",
            args.model,
            args.batch,
            args.batch / ranks,
            warm.as_secs_f64(),
            ms(elapsed),
            args.steps
        );
        if let Some(after) = model.step_timings() {
            let t = since(after, before);
            let parts = t.gradient + t.start_reduce + t.wait_reduce + t.update;
            println!(
                "per step: {:.1} ms = gradient {:.1} ms + start allreduce {:.2} ms + wait after backward {:.1} ms + update {:.1} ms; allreduce in flight {:.1} ms, hidden behind backward {:.1} ms; {:.1} MB reduced",
                ms(parts),
                ms(t.gradient),
                ms(t.start_reduce),
                ms(t.wait_reduce),
                ms(t.update),
                ms(t.reduce_in_flight),
                ms(t.reduce_hidden),
                t.reduced_bytes as f64 / 1e6 / args.steps as f64
            );
        }
    }
    Ok(())
}
