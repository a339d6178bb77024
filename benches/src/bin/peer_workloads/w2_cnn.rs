//! W2, small-CNN training: Conv2D(32, 3, relu, valid) → MaxPool(2) → Conv2D(64, 3, relu) →
//! MaxPool(2) → Flatten → Dense(128, relu) → Dense(10), Adam, batch 100; one epoch is the
//! first 10,000 training images = 100 steps; one warm-up epoch, then timed epochs; the
//! metric is their median in seconds per 100 steps. (Not the `mnist_cnn` example's model.)

use kiln::prelude::*;
use serde_json::json;

use crate::error::Result;
use crate::mnist::{Mnist, first_examples};
use crate::payload::Section;
use crate::rows::Row;
use crate::timing::median;
use crate::w1_mlp::{self, BATCH, SEED};

/// Images per epoch: 100 steps of [`BATCH`].
const IMAGES: usize = 100 * BATCH;
/// Seeds the untimed reshuffle before each epoch (see [`w1_mlp::fit_one_epoch`]).
const RESHUFFLE_SEED: u64 = 2000;

/// The W2 model, uncompiled.
fn model() -> Sequential {
    Sequential::of([
        Input::new([28, 28, 1]).into(),
        Conv2D::new(32, 3).activation(Activation::Relu).into(),
        MaxPool2D::default().into(),
        Conv2D::new(64, 3).activation(Activation::Relu).into(),
        MaxPool2D::default().into(),
        Flatten::new().into(),
        Dense::new(128).activation(Activation::Relu).into(),
        Dense::new(10).into(),
    ])
    .with_seed(SEED)
}

/// Train W2 for one warm-up and `timed_epochs` timed epochs and measure it.
pub fn run(data: &Mnist, timed_epochs: usize) -> Result<Section> {
    let mut model = model();
    w1_mlp::compile(&mut model)?;
    let mut train = first_examples(&data.train, IMAGES)?;
    let (warm_up, warm_up_call) = w1_mlp::fit_one_epoch(&mut model, &mut train, RESHUFFLE_SEED)?;
    println!("  W2 warm-up   kiln {warm_up:7.3} s / 100 steps (fit call {warm_up_call:.2} s)");
    let mut times = Vec::new();
    for rep in 1..=timed_epochs {
        let (seconds, _) =
            w1_mlp::fit_one_epoch(&mut model, &mut train, RESHUFFLE_SEED + rep as u64)?;
        println!("  W2 rep {rep}     kiln {seconds:7.3} s / 100 steps");
        times.push(seconds);
    }
    let metric = median(&times);
    let row = Row::w2(metric);
    let results = json!({
        "times_s_per_100_steps": times,
        "sec_per_100_steps_median": metric,
        "warm_up_s": warm_up,
        "images_per_s": IMAGES as f64 / metric,
        "gflops": row.gflops,
        "pct_peak": row.pct_peak,
    });
    Ok(Section {
        results,
        note: "one Model::fit_with(epochs 1, batch 100, shuffled, silent) call per epoch over \
               the first 10000 training images, timed by History::epoch_seconds; the images \
               are reordered before each call (untimed); the warm-up epoch compiles the step",
        rows: vec![row],
    })
}
