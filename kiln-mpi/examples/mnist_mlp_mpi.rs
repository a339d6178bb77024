//! The seed MLP of `examples/mnist_mlp.rs`, trained data-parallel over MPI.
//!
//! `mpirun -np 2 --bind-to core target/release/examples/mnist_mlp_mpi` — every rank builds
//! Input(28,28,1) → Flatten → Dense(300, relu) → Dense(100, relu) → Dense(10), takes rank 0's
//! initial weights, and trains with Adam and softmax cross-entropy for 10 epochs at the seed's
//! global batch of 100 (50 per rank with 2 ranks) on its half of each epoch of MNIST's 60000
//! training images. Rank 0 prints the test accuracy, the throughput per rank and where a step's
//! time went (gradient, allreduce started and waited for, update); every rank then prints its
//! weight checksum (a line with `checksum`; equal on every rank).
//!
//! `--single` trains the same way in one process without MPI (the baseline; with
//! `taskset -c 0`, one core). `--epochs N` and `--limit N` (the first N training images)
//! shorten a run.

#[path = "common/mod.rs"]
mod common;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const EPOCHS: usize = 10;
const GLOBAL_BATCH: usize = 100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::Args::parse(EPOCHS)?;
    let mpi = common::start(&args)?;
    let world = mpi.as_ref().map(|(_, world)| world);
    let mut model = Sequential::of([
        Input::new([28, 28, 1]).into(),
        Flatten::new().into(),
        Dense::new(300).activation(Activation::Relu).into(),
        Dense::new(100).activation(Activation::Relu).into(),
        Dense::new(10).into(),
    ]);
    let (train, test) = common::mnist(args.limit)?;
    model.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    let options = FitOptions::new(args.epochs, GLOBAL_BATCH).verbose(Verbosity::EpochLine);
    common::train_and_report(&mut model, &train, &test, options, world, args.bucket_kb)?;
    Ok(())
}
