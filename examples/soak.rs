//! Soak run: does memory stay flat over long training and many single predictions?
//!
//! `cargo run --release --example soak [-- EPOCHS PREDICTIONS]` — trains the seed MLP of
//! `mnist_mlp` on MNIST for 50 epochs (batch 100, Adam), then calls `predict_one` 100,000
//! times on test images, and prints the process's resident memory (VmRSS from
//! `/proc/self/status`, Linux only) after the first epoch, every 10 epochs, and every 20,000
//! predictions. Growth after warm-up would be a leak; the run ends with an error if the
//! resident memory at the end exceeds the warmed-up figure by more than 10%.
//!
//! What it does not do: measure speed (see `benches/`), or run on the GPU.

use kiln::callbacks::{Callback, Logs, Training};
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;

const BATCH_SIZE: usize = 100;
/// Allowed growth of the resident memory from the warmed-up figure to the end.
const ALLOWED_GROWTH: f64 = 0.10;

fn main() -> kiln::Result<()> {
    let mut args = std::env::args().skip(1);
    let epochs = parse_count(args.next(), 50, "EPOCHS")?;
    let predictions = parse_count(args.next(), 100_000, "PREDICTIONS")?;

    let mut model = kiln_examples::mnist_mlp();
    let (train, test) = kiln::datasets::mnist::load(kiln_examples::dataset_dir("mnist"))?;
    model.compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])?;
    println!("start: rss {} KiB", rss_kib());

    let options = FitOptions::new(epochs, BATCH_SIZE)
        .verbose(Verbosity::Silent)
        .callback(MemoryLog);
    let history = model.fit_with(&train, options)?;
    let last = history.epochs().saturating_sub(1);
    println!("training done: loss {:.4}", history.history["loss"][last]);

    let warmed_up = rss_kib();
    let mut correct = 0usize;
    for i in 0..predictions {
        let Some((image, labels)) = test.example(i % test.len()) else {
            break;
        };
        let scores = model.predict_one(image)?;
        // Labels are one-hot ([10] per example) or a class index ([]).
        let truth = if labels.len() == 1 {
            labels[0] as usize
        } else {
            argmax(labels)
        };
        correct += usize::from(argmax(&scores) == truth);
        if (i + 1).is_multiple_of(20_000) {
            println!("predict_one {:>6}: rss {} KiB", i + 1, rss_kib());
        }
    }
    let end = rss_kib();
    println!(
        "predictions {predictions}, accuracy {:.4}; rss after training {warmed_up} KiB, at the end {end} KiB",
        correct as f64 / predictions.max(1) as f64
    );
    if warmed_up > 0 && end as f64 > warmed_up as f64 * (1.0 + ALLOWED_GROWTH) {
        return Err(Error::InvalidArgument {
            name: "soak",
            msg: format!("resident memory grew from {warmed_up} KiB to {end} KiB"),
        });
    }
    Ok(())
}

/// Prints the resident memory after the first epoch and every 10th.
#[derive(Default)]
struct MemoryLog;

impl Callback for MemoryLog {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        _: &mut Training<'_>,
    ) -> kiln::Result<()> {
        if epoch == 0 || (epoch + 1).is_multiple_of(10) {
            let loss = logs.get("loss").unwrap_or(f32::NAN);
            println!(
                "epoch {:>3}: loss {loss:.4}, rss {} KiB",
                epoch + 1,
                rss_kib()
            );
        }
        Ok(())
    }
}

/// The process's resident memory in KiB (0 where `/proc` is unavailable).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0)
}

fn parse_count(arg: Option<String>, default: usize, name: &'static str) -> kiln::Result<usize> {
    arg.map_or(Ok(default), |text| {
        text.parse().map_err(|_| Error::InvalidArgument {
            name,
            msg: format!("must be a count, got {text:?}"),
        })
    })
}
