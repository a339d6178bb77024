//! A small character-level transformer language model on Cicero's *De finibus*, book I
//! (Latin, 49 KB, `datasets/text/de_finibus_liber_primus.txt`).
//!
//! `cargo run --release --example text_transformer` — reads the text, holds out its last
//! 10 % (contiguous, so no held-out character is seen in training), cuts the training part
//! into windows of 64 characters every 16 and the held-out part into disjoint windows, and
//! trains the prediction of the next character at every position of a window (labels: the
//! window shifted by one; a sequence output `[64, vocab]` with one class index per position):
//!
//! Input(64 ids) → Embedding(vocab, 64) → Conv1D(64, 4, causal) (the position information:
//! there is no position-embedding layer, and a causal convolution gives each step its
//! three predecessors in order without seeing the future) → one transformer block
//! [MultiHeadAttention(4 heads, key_dim 16, causal mask) → Dropout(0.1) → Add →
//! LayerNormalization → Dense(256, relu) → Dense(64) → Dropout(0.1) → Add →
//! LayerNormalization] → Dense(vocab) logits. (`BLOCKS` stacks more blocks; on 44 KB of
//! text two blocks overfit: lower held-out accuracy after twice the time.)
//!
//! Sparse softmax cross-entropy, AdamW with a cosine schedule after a linear warm-up. It
//! prints the summary, loss and accuracy per epoch, the held-out accuracy next to the
//! unigram baseline (always predicting the most frequent character), and a short text
//! sampled with a seeded temperature sampler after a prompt taken from the held-out text.

use kiln::layers::Add;
use kiln::losses::SparseCategoricalCrossentropy;
use kiln::metrics::SparseCategoricalAccuracy;
use kiln::optimizers::{AdamW, CosineDecay};
use kiln::prelude::*;
use kiln::{Shape, Tensor};
use kiln_examples::chars::{self, Sampler, Vocabulary};

const WINDOW: usize = 64;
const STRIDE: usize = WINDOW / 4;
const WIDTH: usize = 64;
const HEADS: usize = 4;
const BLOCKS: usize = 1;
const DROPOUT: f32 = 0.1;
const EPOCHS: usize = 15;
const BATCH_SIZE: usize = 32;
const SAMPLE_CHARS: usize = 240;
const TEMPERATURE: f32 = 0.6;
const SEED: u64 = 7;
const ACCURACY: &str = "sparse_categorical_accuracy";

fn main() -> kiln::Result<()> {
    let path = kiln_examples::dataset_dir("text").join("de_finibus_liber_primus.txt");
    let text = chars::read_text(&path)?;
    let vocab = Vocabulary::of(&text);
    let ids = vocab.encode(&text)?;
    let split = ids.len() * 9 / 10;
    let (train_ids, held_ids) = ids.split_at(split);
    let train = chars::shifted_windows(train_ids, WINDOW, STRIDE)?;
    let held_out = chars::shifted_windows(held_ids, WINDOW, WINDOW)?;
    println!(
        "{} characters, vocabulary {}; {} training windows, {} held-out windows of {WINDOW}",
        ids.len(),
        vocab.len(),
        train.len(),
        held_out.len()
    );

    let mut model = transformer(vocab.len())?;
    let steps = (EPOCHS * train.len().div_ceil(BATCH_SIZE)) as f32;
    let warmup = steps / 10.0;
    let schedule = CosineDecay::new(1e-4, steps - warmup)
        .alpha(0.05)
        .warmup(3e-3, warmup);
    model.compile(
        AdamW::new().learning_rate(schedule).weight_decay(0.01),
        SparseCategoricalCrossentropy::new().from_logits(true),
        [SparseCategoricalAccuracy],
    )?;
    print!("{}", model.summary()?);
    let history = model.fit_with(
        &train,
        FitOptions::new(EPOCHS, BATCH_SIZE)
            .validation_data(&held_out)
            .verbose(Verbosity::EpochLine),
    )?;
    report(&history);

    let accuracy = model.evaluate(&held_out, BATCH_SIZE)?.metrics[ACCURACY];
    let held_labels: Vec<usize> = held_out.labels().iter().map(|&l| l as usize).collect();
    let (common, baseline) = vocab.unigram_baseline(train_ids, &held_labels);
    println!(
        "Held-out accuracy: {accuracy:.4} (unigram baseline, always {:?}: {baseline:.4})",
        vocab.char(common).unwrap_or('?')
    );
    if accuracy < 2.0 * baseline as f32 {
        return Err(Error::Model {
            model: model.name().to_string(),
            msg: format!("held-out accuracy {accuracy} is not twice the baseline {baseline}"),
        });
    }
    // The prompt: the first window of the held-out text, which the model has not seen.
    let prompt = vocab.decode(&held_ids[..WINDOW]);
    println!(
        "Sample (temperature {TEMPERATURE}, seed {SEED}) after the held-out prompt {prompt:?}:"
    );
    println!("{}", sample(&model, &vocab, &prompt, SAMPLE_CHARS)?);
    Ok(())
}

/// Input(WINDOW ids) → Embedding → causal Conv1D → BLOCKS transformer blocks → Dense(vocab):
/// the logits of the next character at every position.
fn transformer(vocab: usize) -> kiln::Result<Model> {
    let mut f = Functional::builder("text_transformer").with_seed(SEED);
    let x = f.input(Input::new([WINDOW]).named("chars"));
    let h = f.apply(Embedding::new(vocab, WIDTH), x)?;
    let mut h = f.apply(
        Conv1D::new(WIDTH, 4)
            .padding(Padding1D::Causal)
            .named("positions"),
        h,
    )?;
    for _ in 0..BLOCKS {
        h = transformer_block(&mut f, h)?;
    }
    let y = f.apply(Dense::new(vocab).named("logits"), h)?;
    f.build(&[x], &[y])
}

/// Causal self-attention → Dropout → Add → LayerNormalization → Dense(4·WIDTH, relu) →
/// Dense(WIDTH) → Dropout → Add → LayerNormalization (post-norm, as in "Attention is all
/// you need").
fn transformer_block(f: &mut Functional, h: TensorRef) -> kiln::Result<TensorRef> {
    let a = f.apply(
        MultiHeadAttention::new(HEADS, WIDTH / HEADS).use_causal_mask(true),
        h,
    )?;
    let a = f.apply(Dropout::new(DROPOUT), a)?;
    let h = f.apply_many(Add::new(), &[h, a])?;
    let h = f.apply(LayerNormalization::new(), h)?;
    let ff = f.apply(Dense::new(4 * WIDTH).activation(Activation::Relu), h)?;
    let ff = f.apply(Dense::new(WIDTH), ff)?;
    let ff = f.apply(Dropout::new(DROPOUT), ff)?;
    let h = f.apply_many(Add::new(), &[h, ff])?;
    f.apply(LayerNormalization::new(), h)
}

/// The loss and accuracy of the first and last epochs, and the mean epoch time.
fn report(history: &History) {
    let series = |key: &str| history.get(key).unwrap_or(&[]).to_vec();
    let (loss, accuracy) = (series("loss"), series(ACCURACY));
    let mean_epoch = history.epoch_seconds.iter().sum::<f64>() / history.epochs().max(1) as f64;
    println!(
        "Loss {:.4} -> {:.4}, training accuracy {:.4} -> {:.4}; {mean_epoch:.1} s per epoch",
        loss.first().unwrap_or(&f32::NAN),
        loss.last().unwrap_or(&f32::NAN),
        accuracy.first().unwrap_or(&f32::NAN),
        accuracy.last().unwrap_or(&f32::NAN),
    );
}

/// `prompt` continued by `count` characters, each drawn from the model's logits at the last
/// position of the window of the latest `WINDOW` characters.
fn sample(model: &Model, vocab: &Vocabulary, prompt: &str, count: usize) -> kiln::Result<String> {
    let mut ids = vocab.encode(prompt)?;
    if ids.len() < WINDOW {
        return Err(Error::InvalidArgument {
            name: "prompt",
            msg: format!("needs at least {WINDOW} characters"),
        });
    }
    let mut sampler = Sampler::new(SEED, TEMPERATURE);
    let mut generated = Vec::with_capacity(count);
    for _ in 0..count {
        let window = &ids[ids.len() - WINDOW..];
        let features = Tensor {
            shape: Shape::new(vec![1, WINDOW]),
            data: window.iter().map(|&i| i as f32).collect(),
        };
        let logits = model.predict(&features, 1)?;
        let next = sampler.sample(&logits.data[(WINDOW - 1) * vocab.len()..]);
        ids.push(next);
        generated.push(next);
    }
    Ok(vocab.decode(&generated))
}
