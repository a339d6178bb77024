//! W1, the seed MLP: Flatten(28,28,1) → Dense(300, relu) → Dense(100, relu) → Dense(10)
//! logits, Adam(1e-3), softmax cross-entropy with logits, batch 100, the first 57,000
//! training images shuffled each epoch; one `fit(epochs=1)` per epoch; the metric is the
//! median of epochs 2-4 in seconds per epoch, plus the test accuracy at the end. The model
//! and its compilation are also W4's (`w4_compile.rs`).

use std::time::Instant;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Metric;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use serde_json::json;

use crate::error::Result;
use crate::mnist::{self, Mnist};
use crate::payload::Section;
use crate::rows::Row;
use crate::timing::median;

/// Images per training step in W1, W2 and W4.
pub const BATCH: usize = 100;
/// The model seed (the peers' `common.SEED`; initial weights differ between frameworks anyway).
pub const SEED: u64 = 0;
/// Seeds the untimed reshuffle of the training set before each `fit` call.
const RESHUFFLE_SEED: u64 = 1000;

/// The W1 model, uncompiled.
pub fn model() -> Sequential {
    Sequential::of([
        Input::new([28, 28, 1]).into(),
        Flatten::new().into(),
        Dense::new(300).activation(Activation::Relu).into(),
        Dense::new(100).activation(Activation::Relu).into(),
        Dense::new(10).into(),
    ])
    .with_seed(SEED)
}

/// Compile `model` as every training workload is: Adam (Keras' defaults: 1e-3, ε 1e-7),
/// softmax cross-entropy on the logits, no metrics (the peers compile the loss alone).
pub fn compile(model: &mut Model) -> Result<()> {
    model.compile(
        Adam::default(),
        SoftmaxCrossEntropyWithLogits,
        [] as [Box<dyn Metric>; 0],
    )?;
    Ok(())
}

/// One silent epoch of `train` through `fit`, shuffled afresh: `fit` shuffles with the
/// model's seed and the epoch number, which restarts at 0 each call, so the training set
/// is first reordered (untimed) by `reshuffle_seed`. Returns (`fit`'s epoch seconds, the
/// whole call's seconds).
pub fn fit_one_epoch(
    model: &mut Model,
    train: &mut Dataset,
    reshuffle_seed: u64,
) -> Result<(f64, f64)> {
    train.shuffle(reshuffle_seed);
    let start = Instant::now();
    let history = model.fit_with(train, FitOptions::new(1, BATCH).verbose(0u8))?;
    let call = start.elapsed().as_secs_f64();
    Ok((history.epoch_seconds[0], call))
}

/// Train W1 for `epochs` epochs and measure it.
pub fn run(data: &Mnist, epochs: usize) -> Result<Section> {
    let mut model = model();
    compile(&mut model)?;
    let mut train = data.train.clone();
    let (mut epoch_seconds, mut call_seconds) = (Vec::new(), Vec::new());
    for epoch in 0..epochs {
        let (seconds, call) = fit_one_epoch(&mut model, &mut train, RESHUFFLE_SEED + epoch as u64)?;
        println!(
            "  W1 epoch {:2} kiln {seconds:7.3} s (fit call {call:.3} s)",
            epoch + 1
        );
        epoch_seconds.push(seconds);
        call_seconds.push(call);
    }
    let metric = median(&epoch_seconds[1..epochs.min(4)]);
    let accuracy = mnist::accuracy(&model, &data.test)?;
    let row = Row::w1(metric, accuracy);
    let results = json!({
        "epoch_times_s": epoch_seconds,
        "fit_call_times_s": call_seconds,
        "sec_per_epoch_median_ep2_4": metric,
        "sec_per_epoch_median_ep2_end": median(&epoch_seconds[1..]),
        "samples_per_s": train.len() as f64 / metric,
        "test_acc_after_epochs": accuracy,
        "epochs": epochs,
        "seed": SEED,
        "gflops": row.gflops,
        "pct_peak": row.pct_peak,
    });
    Ok(Section {
        results,
        note: "epoch time = History::epoch_seconds of one Model::fit_with(epochs 1, batch 100, \
               shuffled, silent) call per epoch; the training set is also reordered before \
               each call (untimed), since fit's own shuffle restarts with each call; labels \
               one-hot, loss SoftmaxCrossEntropyWithLogits, no metrics compiled in",
        rows: vec![row],
    })
}
