//! A character-level LSTM language model on Latin prose, then a sampled paragraph.
//!
//! `cargo run --release -p kiln-examples --example text_lstm` — reads the first book of
//! Cicero's *De finibus* from `datasets/text` (lowercased, whitespace runs made single
//! spaces, paragraph breaks single line breaks), cuts it into windows of 40 characters (every
//! 3rd start) labelled with the character after each, holds out the last 10 % of the windows
//! for validation, and trains Input(40) → Embedding(vocabulary, 32) → LSTM(128) →
//! Dense(vocabulary) with sparse softmax cross-entropy on the logits and Adam. It prints one
//! line per epoch (loss and accuracy, validation too), then per epoch the per-character
//! perplexity beside a uniform guess's, and finally 300 characters sampled one by one with
//! `predict_one` at temperature 0.5 (seeded xorshift) after the corpus' first 40 characters.
//! It fails unless the training loss fell by at least a third from the untrained model's.
//!
//! `--epochs=N` overrides the number of epochs.

use kiln::losses::SparseCategoricalCrossentropy;
use kiln::metrics::SparseCategoricalAccuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln_examples::chars::{Sampler, Vocabulary, next_char_windows, read_normalised};

/// Characters the model sees.
const WINDOW: usize = 40;
/// Characters between the starts of consecutive training windows.
const STRIDE: usize = 3;
/// Length of a character's embedding.
const EMBEDDING: usize = 32;
/// LSTM units.
const UNITS: usize = 128;
/// Examples per training step.
const BATCH_SIZE: usize = 64;
/// Adam's learning rate.
const LEARNING_RATE: f32 = 0.005;
/// Passes over the training windows (unless `--epochs=N`).
const EPOCHS: usize = 10;
/// Characters sampled after the seed text.
const SAMPLE_LENGTH: usize = 300;
/// Softmax temperature of the sampling.
const TEMPERATURE: f32 = 0.5;
/// Seed of the model (weights, shuffling) and of the sampler.
const SEED: u64 = 7;

fn main() -> Result<()> {
    let epochs = epochs_from_args()?;
    let path = kiln_examples::dataset_dir("text").join("de_finibus_liber_primus.txt");
    let text = read_normalised(&path)?;
    let vocabulary = Vocabulary::of(&text);
    let ids = vocabulary.encode(&text)?;
    let windows = next_char_windows(&ids, WINDOW, STRIDE)?;
    println!(
        "{} characters, vocabulary of {} ({:?}); {} windows of {WINDOW} (stride {STRIDE}), the last 10 % for validation",
        ids.len(),
        vocabulary.len(),
        (0..vocabulary.len())
            .filter_map(|i| vocabulary.char(i))
            .collect::<String>(),
        windows.len(),
    );

    let mut model = sequential![
        Input::new([WINDOW]),
        Embedding::new(vocabulary.len(), EMBEDDING),
        LSTM::new(UNITS),
        Dense::new(vocabulary.len()),
    ]
    .named("char_lstm")
    .with_seed(SEED);
    model.compile(
        Adam::default().learning_rate(LEARNING_RATE),
        SparseCategoricalCrossentropy::new().from_logits(true),
        [SparseCategoricalAccuracy],
    )?;
    print!("{}", model.summary()?);
    let initial_loss = model.evaluate(&windows, 256)?.loss;
    println!("Loss before training: {initial_loss:.3}");
    let history = model.fit_with(
        &windows,
        FitOptions::new(epochs, BATCH_SIZE)
            .validation_split(0.1)
            .verbose(2),
    )?;
    report_losses(&history, initial_loss, vocabulary.len())?;

    let seed_text: String = text.chars().take(WINDOW).collect();
    let sample = generate(&model, &vocabulary, &seed_text)?;
    println!("Sampled at temperature {TEMPERATURE} after \"{seed_text}\":\n{seed_text}{sample}");
    Ok(())
}

/// The number of epochs: [`EPOCHS`] unless `--epochs=N`.
fn epochs_from_args() -> Result<usize> {
    match std::env::args().nth(1) {
        None => Ok(EPOCHS),
        Some(arg) => arg
            .strip_prefix("--epochs=")
            .and_then(|n| n.parse().ok())
            .ok_or(Error::InvalidArgument {
                name: "command line",
                msg: format!("cannot use `{arg}` (only --epochs=N)"),
            }),
    }
}

/// Prints the per-character perplexity per epoch and the loss's fall; fails unless the
/// training loss fell by at least a third from `initial` (the untrained model's).
fn report_losses(history: &History, initial: f32, vocabulary: usize) -> Result<()> {
    let losses = history.get("loss").unwrap_or_default();
    let val_losses = history.get("val_loss").unwrap_or_default();
    println!("Per-character perplexity (a uniform guess: {vocabulary}); seconds per epoch:");
    for (epoch, loss) in losses.iter().enumerate() {
        let val = val_losses.get(epoch).map_or(f32::NAN, |v| v.exp());
        println!(
            "  epoch {:>2}: train {:6.2}  validation {val:6.2}  ({:.1} s)",
            epoch + 1,
            loss.exp(),
            history.epoch_seconds[epoch]
        );
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    let uniform = (vocabulary as f32).ln();
    println!(
        "Training loss: {initial:.3} untrained, {first:.3} over epoch 1, {last:.3} over the last \
         ({:.0} % below untrained; a uniform guess: {uniform:.3}); total {:.1} s",
        100.0 * (1.0 - last / initial),
        history.epoch_seconds.iter().sum::<f64>()
    );
    if last > initial * 2.0 / 3.0 {
        return Err(Error::Model {
            model: "char_lstm".into(),
            msg: format!("the training loss only fell from {initial:.3} to {last:.3}"),
        });
    }
    Ok(())
}

/// [`SAMPLE_LENGTH`] characters drawn one at a time after `seed_text` ([`WINDOW`]
/// characters), each from the model's logits given the last [`WINDOW`] characters.
fn generate(model: &Sequential, vocabulary: &Vocabulary, seed_text: &str) -> Result<String> {
    let mut sampler = Sampler::new(SEED, TEMPERATURE);
    let mut context = vocabulary.encode(seed_text)?;
    let mut out = String::with_capacity(SAMPLE_LENGTH);
    for _ in 0..SAMPLE_LENGTH {
        let window: Vec<f32> = context[context.len() - WINDOW..]
            .iter()
            .map(|&id| id as f32)
            .collect();
        let id = sampler.sample(&model.predict_one(&window)?);
        out.extend(vocabulary.char(id));
        context.push(id);
    }
    Ok(out)
}
