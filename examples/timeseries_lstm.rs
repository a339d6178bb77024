//! Forecasting a real series with an LSTM: monthly sunspot numbers, 12 months ahead.
//!
//! `cargo run --release -p kiln-examples --example timeseries_lstm` — loads the monthly mean
//! sunspot numbers of 1749–2009 from `datasets/sunspots` (3126 months), and from each window
//! of 48 past months forecasts the next 12 with Input(48, 1) → LSTM(32) → Dense(12) (values
//! divided by 100, mean absolute error loss, Adam(0.005), 20 epochs of batch 32). It trains
//! on the windows whose targets lie in the first 80 % of the series, printing one line per
//! epoch, then forecasts from every origin in the last 20 % and prints the mean absolute
//! error over all 12 horizons (in sunspot units) beside the naive forecast's (the window's
//! last value, repeated), their ratio and the improvement. The forecast is the mean of 5
//! such models trained from seeds 42..46 (one model's result moves by a few points with its
//! seed; each member's own MAE is printed too). It fails unless the forecast is at least
//! 20 % better than the naive one.
//!
//! `--validate` never touches the last 20 %: it trains on the first 80 % of the training
//! part and scores the origins in the rest of it (how the settings here were chosen).
//! `--epochs=N`, `--units=N`, `--lr=X`, `--seed=N` (the first member's) and `--members=N`
//! override the settings.

use kiln::losses::MeanAbsoluteError;
use kiln::metrics::Metric;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use kiln_examples::sunspots::{monthly_sunspots, windows};

/// Past months the model sees.
const WINDOW: usize = 48;
/// Months forecast.
const HORIZON: usize = 12;
/// Inputs and targets are multiplied by this (sunspot numbers are 0..~250).
const SCALE: f32 = 0.01;
/// The fraction of the series trained on.
const TRAIN_FRACTION: (usize, usize) = (8, 10);
/// Examples per training step.
const BATCH_SIZE: usize = 32;
/// The improvement over the naive forecast the example must reach.
const REQUIRED_IMPROVEMENT: f64 = 0.20;

/// What can be chosen on the command line, with the defaults chosen by `--validate` runs.
#[derive(Debug, Clone, Copy)]
struct Settings {
    epochs: usize,
    units: usize,
    learning_rate: f32,
    seed: u64,
    members: usize,
    validate: bool,
}

impl Settings {
    /// The defaults, overridden by `--epochs=N`, `--units=N`, `--lr=X`, `--seed=N` and
    /// `--validate`.
    fn from_args() -> Result<Settings> {
        let mut s = Settings {
            epochs: 20,
            units: 32,
            learning_rate: 0.005,
            seed: 42,
            validate: false,
            members: 5,
        };
        for arg in std::env::args().skip(1) {
            let (key, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
            let bad = || Error::InvalidArgument {
                name: "command line",
                msg: format!("cannot use `{arg}`"),
            };
            match key {
                "--validate" => s.validate = true,
                "--epochs" => s.epochs = value.parse().map_err(|_| bad())?,
                "--units" => s.units = value.parse().map_err(|_| bad())?,
                "--lr" => s.learning_rate = value.parse().map_err(|_| bad())?,
                "--members" => s.members = value.parse().map_err(|_| bad())?,
                "--seed" => s.seed = value.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        Ok(s)
    }
}

fn main() -> Result<()> {
    let settings = Settings::from_args()?;
    let path = kiln_examples::dataset_dir("sunspots").join("sunspots_monthly.dat");
    let series = monthly_sunspots(&path)?;
    let split = series.len() * TRAIN_FRACTION.0 / TRAIN_FRACTION.1;
    // In --validate mode the training part plays the whole series.
    let (end, what) = if settings.validate {
        (split, "validation tail of the training part")
    } else {
        (series.len(), "test part (last 20 %)")
    };
    let cut = end * TRAIN_FRACTION.0 / TRAIN_FRACTION.1;
    let train = windows(&series, WINDOW..=cut - HORIZON, WINDOW, HORIZON, SCALE)?;
    let test = windows(&series, cut..=end - HORIZON, WINDOW, HORIZON, SCALE)?;
    println!(
        "{} months; training on {} windows (targets in months 0..{cut}), scoring {} forecast \
         origins in the {what} (months {cut}..{end}); {settings:?}",
        series.len(),
        train.len(),
        test.len(),
    );

    let features = Tensor {
        shape: Shape::new(vec![test.len(), WINDOW, 1]),
        data: test.features().to_vec(),
    };
    let mut forecasts = vec![0.0; test.labels().len()];
    for member in 0..settings.members {
        let seed = settings.seed + member as u64;
        let model = train_model(&train, settings, seed, member == 0)?;
        let member_forecasts = model.predict(&features, 256)?;
        let single = mean_absolute_error(&member_forecasts.data, test.labels()) / f64::from(SCALE);
        println!("Member {} (seed {seed}) alone: MAE {single:.2}", member + 1);
        for (sum, f) in forecasts.iter_mut().zip(&member_forecasts.data) {
            *sum += f / settings.members as f32;
        }
    }
    report(&forecasts, &test, settings.validate)
}

/// A new forecaster trained on `train` from `seed`, printing its epochs (and its summary
/// when `summary`).
fn train_model(
    train: &Dataset,
    settings: Settings,
    seed: u64,
    summary: bool,
) -> Result<Sequential> {
    let mut model = sequential![
        Input::new([WINDOW, 1]),
        LSTM::new(settings.units),
        Dense::new(HORIZON),
    ]
    .named("sunspot_forecaster")
    .with_seed(seed);
    model.compile(
        Adam::default().learning_rate(settings.learning_rate),
        MeanAbsoluteError,
        [] as [Box<dyn Metric>; 0],
    )?;
    if summary {
        print!("{}", model.summary()?);
    }
    println!("Training with seed {seed}:");
    let options = FitOptions::new(settings.epochs, BATCH_SIZE).verbose(2);
    let history = model.fit_with(train, options)?;
    let seconds: f64 = history.epoch_seconds.iter().sum();
    println!(
        "Training: {seconds:.1} s ({:.2} s per epoch)",
        seconds / settings.epochs.max(1) as f64
    );
    Ok(model)
}

/// Scores `forecasts` (scaled; a row of [`HORIZON`] per origin) and the naive forecast on
/// `test`, prints both and fails unless the model is [`REQUIRED_IMPROVEMENT`] better (only
/// when scoring the real test part).
fn report(forecasts: &[f32], test: &Dataset, validate: bool) -> Result<()> {
    let naive: Vec<f32> = test
        .features()
        .chunks(WINDOW)
        .flat_map(|window| [window[WINDOW - 1]; HORIZON])
        .collect();
    let model_mae = mean_absolute_error(forecasts, test.labels()) / f64::from(SCALE);
    let naive_mae = mean_absolute_error(&naive, test.labels()) / f64::from(SCALE);
    let ratio = model_mae / naive_mae;
    println!(
        "MAE over {} origins x {HORIZON} horizons (sunspot units):",
        test.len()
    );
    println!("  naive (last value repeated): {naive_mae:.2}");
    println!("  LSTM:                        {model_mae:.2}");
    println!(
        "  ratio LSTM/naive: {ratio:.3} ({:.1} % lower than naive; required {:.0} %)",
        100.0 * (1.0 - ratio),
        100.0 * REQUIRED_IMPROVEMENT
    );
    if !validate && 1.0 - ratio < REQUIRED_IMPROVEMENT {
        return Err(Error::Model {
            model: "sunspot_forecaster".into(),
            msg: format!(
                "the forecast is only {:.1} % better than the naive one",
                100.0 * (1.0 - ratio)
            ),
        });
    }
    Ok(())
}

/// The mean of `|a - b|`, summed in f64.
fn mean_absolute_error(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).sum();
    sum / a.len().max(1) as f64
}
