//! Character-level text for the language-model examples: reading a text file (as is, or
//! lowercased with its whitespace normalised: [`read_normalised`]), its character
//! vocabulary ([`Vocabulary`]: ids ↔ chars, counts, the unigram baseline), cutting id
//! sequences into training windows ([`next_char_windows`]: one label per window,
//! [`shifted_windows`]: one label per position), and drawing the next character from a
//! model's logits with a seeded temperature sampler ([`Sampler`]).
//!
//! Model-agnostic: nothing here builds, trains or runs a model. Ids are carried as `f32`
//! values, the way `Embedding` and the sparse losses take them.

use std::collections::BTreeMap;
use std::path::Path;

use kiln::{Dataset, Error, Result};

/// Reads a UTF-8 text file.
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

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

/// The distinct characters of a text, sorted; id `i` is the `i`-th character.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    chars: Vec<char>,
    ids: BTreeMap<char, usize>,
}

impl Vocabulary {
    /// The vocabulary of every character in `text`.
    ///
    /// ```
    /// let v = kiln_examples::chars::Vocabulary::of("abracadabra");
    /// assert_eq!(v.len(), 5);
    /// assert_eq!(v.decode(&v.encode("cab").unwrap()), "cab");
    /// ```
    pub fn of(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        let ids = chars.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        Vocabulary { chars, ids }
    }

    /// The number of distinct characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether the vocabulary has no characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The character with id `id` (`None` out of range).
    pub fn char(&self, id: usize) -> Option<char> {
        self.chars.get(id).copied()
    }

    /// The ids of `text`'s characters; an error names the first one not in the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.chars()
            .map(|c| {
                self.ids
                    .get(&c)
                    .copied()
                    .ok_or_else(|| Error::InvalidArgument {
                        name: "text",
                        msg: format!("character {c:?} is not in the vocabulary"),
                    })
            })
            .collect()
    }

    /// The text of `ids` (ids out of range become `'?'`).
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter().map(|&i| self.char(i).unwrap_or('?')).collect()
    }

    /// How often each id occurs in `ids` (indexed by id).
    pub fn counts(&self, ids: &[usize]) -> Vec<usize> {
        let mut counts = vec![0; self.len()];
        for &i in ids {
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        counts
    }

    /// The unigram baseline: the id most frequent in `fit` (ties: the lowest id) and the
    /// fraction of `eval`'s ids equal to it — the accuracy of always predicting it.
    pub fn unigram_baseline(&self, fit: &[usize], eval: &[usize]) -> (usize, f64) {
        let counts = self.counts(fit);
        let best = (0..counts.len())
            .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
            .unwrap_or(0);
        let hits = eval.iter().filter(|&&i| i == best).count();
        (best, hits as f64 / eval.len().max(1) as f64)
    }
}

/// The start offsets of the windows of `window + 1` ids every `stride` ids of `len` ids.
fn window_starts(len: usize, window: usize, stride: usize) -> Result<Vec<usize>> {
    if window == 0 || stride == 0 {
        return Err(Error::InvalidArgument {
            name: "window",
            msg: format!("window ({window}) and stride ({stride}) must be at least 1"),
        });
    }
    if len <= window {
        return Err(Error::DatasetShape(format!(
            "{len} ids are too few for one window of {window} ids and its next id"
        )));
    }
    Ok((0..len - window).step_by(stride).collect())
}

fn as_f32(ids: &[usize]) -> impl Iterator<Item = f32> + '_ {
    ids.iter().map(|&i| i as f32)
}

/// Windows of `window` ids every `stride` ids, each labelled with the id that follows it:
/// features `[n, window]`, labels `[n]` (class indices).
///
/// ```
/// let d = kiln_examples::chars::next_char_windows(&[0, 1, 2, 3, 4], 2, 2).unwrap();
/// assert_eq!(d.features(), [0.0, 1.0, 2.0, 3.0]);
/// assert_eq!(d.labels(), [2.0, 4.0]);
/// ```
pub fn next_char_windows(ids: &[usize], window: usize, stride: usize) -> Result<Dataset> {
    let starts = window_starts(ids.len(), window, stride)?;
    let features = starts
        .iter()
        .flat_map(|&s| as_f32(&ids[s..s + window]))
        .collect();
    let labels = starts.iter().map(|&s| ids[s + window] as f32).collect();
    Dataset::new(features, &[starts.len(), window], labels, &[starts.len()])
}

/// Windows of `window` ids every `stride` ids, each position labelled with the id after it
/// (the window shifted by one): features and labels `[n, window]` — the training data of a
/// language model that predicts at every position.
///
/// ```
/// let d = kiln_examples::chars::shifted_windows(&[0, 1, 2, 3, 4], 2, 2).unwrap();
/// assert_eq!(d.features(), [0.0, 1.0, 2.0, 3.0]);
/// assert_eq!(d.labels(), [1.0, 2.0, 3.0, 4.0]);
/// ```
pub fn shifted_windows(ids: &[usize], window: usize, stride: usize) -> Result<Dataset> {
    let starts = window_starts(ids.len(), window, stride)?;
    let features = starts
        .iter()
        .flat_map(|&s| as_f32(&ids[s..s + window]))
        .collect();
    let labels = starts
        .iter()
        .flat_map(|&s| as_f32(&ids[s + 1..s + window + 1]))
        .collect();
    let n = starts.len();
    Dataset::new(features, &[n, window], labels, &[n, window])
}

/// A seeded sampler of the next id from logits (SplitMix64 random numbers): the same seed
/// draws the same text.
#[derive(Debug, Clone)]
pub struct Sampler {
    state: u64,
    temperature: f32,
}

impl Sampler {
    /// A sampler at `temperature` (> 0; lower is more conservative, 1 samples the model's
    /// own distribution).
    pub fn new(seed: u64, temperature: f32) -> Self {
        Sampler {
            state: seed,
            temperature,
        }
    }

    /// A uniform number in `[0, 1)`.
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An id drawn from `softmax(logits / temperature)`.
    ///
    /// ```
    /// let mut s = kiln_examples::chars::Sampler::new(1, 0.01);
    /// assert_eq!(s.sample(&[0.0, 5.0, 1.0]), 1);
    /// ```
    pub fn sample(&mut self, logits: &[f32]) -> usize {
        let t = f64::from(self.temperature.max(1e-6));
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let weights: Vec<f64> = logits
            .iter()
            .map(|&l| (f64::from(l - max) / t).exp())
            .collect();
        let mut r = self.uniform() * weights.iter().sum::<f64>();
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        logits.len().saturating_sub(1)
    }
}
