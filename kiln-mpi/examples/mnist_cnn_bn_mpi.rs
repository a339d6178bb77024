//! A convolutional network with BatchNormalization on MNIST, trained data-parallel over MPI.
//!
//! `mpirun -np 2 --bind-to core target/release/examples/mnist_cnn_bn_mpi` — every rank builds
//! Input(28,28,1) → Conv2D(16, 3) → BatchNormalization → ReLU → MaxPool2D → Conv2D(32, 3) →
//! BatchNormalization → ReLU → MaxPool2D → Flatten → Dense(10) and trains it with Adam (1e-3)
//! and softmax cross-entropy for 2 epochs at a global batch of 100 (50 per rank with 2 ranks).
//! Batch statistics stay per rank (as DDP without SyncBatchNorm); the moving mean and
//! variance are averaged across ranks, so every rank evaluates and saves the same model. Rank 0
//! prints the test accuracy, throughput per rank and the step's time split; every rank prints
//! its weight checksum (a line with `checksum`, moving statistics included).
//!
//! `--single` is the one-process baseline; `--epochs N` and `--limit N` shorten a run.

#[path = "common/mod.rs"]
mod common;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const EPOCHS: usize = 2;
const GLOBAL_BATCH: usize = 100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::Args::parse(EPOCHS)?;
    let mpi = common::start(&args)?;
    let world = mpi.as_ref().map(|(_, world)| world);
    let mut model = kiln::sequential![
        Input::new([28, 28, 1]),
        Conv2D::new(16, 3),
        BatchNormalization::new(),
        ReLU::new(),
        MaxPool2D::default(),
        Conv2D::new(32, 3),
        BatchNormalization::new(),
        ReLU::new(),
        MaxPool2D::default(),
        Flatten::new(),
        Dense::new(10),
    ];
    let (train, test) = common::mnist(args.limit)?;
    model.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    let options = FitOptions::new(args.epochs, GLOBAL_BATCH).verbose(Verbosity::EpochLine);
    common::train_and_report(&mut model, &train, &test, options, world, args.bucket_kb)?;
    Ok(())
}
