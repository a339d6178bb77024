//! Text for the character-level language-model examples: reading a corpus from `datasets/text`,
//! normalising it, its character [`Vocabulary`], the `window → next character` training
//! windows, and drawing characters from a model's logits with a temperature and a seeded
//! xorshift generator ([`Sampler`]). Builds and trains no model.

use std::path::Path;

use kiln::{Dataset, Error, Result};

/// The text of `path`, lowercased, each run of whitespace turned into one space, or into one
/// line break where the run holds a blank line (a paragraph break).
pub fn read_normalised(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = String::with_capacity(text.len());
    let mut newlines: Option<usize> = None;
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_whitespace() {
            *newlines.get_or_insert(0) += usize::from(c == '\n');
        } else {
            if let Some(n) = newlines.take() {
                out.push(if n >= 2 { '\n' } else { ' ' });
            }
            out.push(c);
        }
    }
    Ok(out)
}

/// The characters of a text, sorted; a character's id is its index.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    chars: Vec<char>,
}

impl Vocabulary {
    /// The characters present in `text`.
    pub fn of(text: &str) -> Vocabulary {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocabulary { chars }
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The ids of `text`'s characters (as f32, as an `Embedding` takes them); an error names
    /// the first character not in the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<f32>> {
        text.chars()
            .map(|c| {
                self.chars
                    .binary_search(&c)
                    .map(|id| id as f32)
                    .map_err(|_| Error::InvalidArgument {
                        name: "text",
                        msg: format!("character {c:?} is not in the vocabulary"),
                    })
            })
            .collect()
    }

    /// The character of id `id`.
    pub fn char(&self, id: usize) -> char {
        self.chars[id]
    }
}

/// Training windows over the ids of a text: every `stride`-th run of `window` ids (features
/// `[window]`) with the id after it as the label (a class index, label shape `[]`).
pub fn next_char_windows(ids: &[f32], window: usize, stride: usize) -> Result<Dataset> {
    if window == 0 || stride == 0 || ids.len() <= window {
        return Err(Error::DatasetShape(format!(
            "{} ids cannot give windows of {window} (stride {stride}) with a next id",
            ids.len()
        )));
    }
    let starts: Vec<usize> = (0..ids.len() - window).step_by(stride).collect();
    let mut features = Vec::with_capacity(starts.len() * window);
    let mut labels = Vec::with_capacity(starts.len());
    for &s in &starts {
        features.extend_from_slice(&ids[s..s + window]);
        labels.push(ids[s + window]);
    }
    Dataset::new(features, &[starts.len(), window], labels, &[starts.len()])
}

/// Draws ids from logits, seeded: xorshift64* uniform numbers and a softmax with a
/// temperature (below 1 sharper, above 1 flatter).
#[derive(Debug, Clone)]
pub struct Sampler {
    state: u64,
    temperature: f32,
}

impl Sampler {
    /// A sampler from `seed` (any value) at `temperature` (> 0).
    pub fn new(seed: u64, temperature: f32) -> Sampler {
        Sampler {
            // xorshift must not start at zero; mix the seed so nearby seeds differ.
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            temperature,
        }
    }

    /// A uniform number in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let bits = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        bits as f64 / (1u64 << 53) as f64
    }

    /// An id drawn from `softmax(logits / temperature)`.
    pub fn draw(&mut self, logits: &[f32]) -> usize {
        let t = f64::from(self.temperature);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let weights: Vec<f64> = logits
            .iter()
            .map(|&l| (f64::from(l - max) / t).exp())
            .collect();
        let mut target = self.uniform() * weights.iter().sum::<f64>();
        for (id, w) in weights.iter().enumerate() {
            if target < *w {
                return id;
            }
            target -= w;
        }
        weights.len() - 1
    }
}
