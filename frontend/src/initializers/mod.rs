//! Weight initializers with Keras' formulas, seeded and deterministic.
//!
//! The variance-scaling family (Glorot, He, LeCun × normal/uniform) is one table of
//! `(name, scale, fan mode, distribution)` rows resolved to [`Initializer::VarianceScaling`].
//! Random numbers come from the counter-based generator of [`ir::random`], so the same seed
//! gives the same weights on every machine. Normals use Box–Muller; the `*_normal` members of
//! the family draw from a normal truncated at two standard deviations, as Keras 2 does.

use std::str::FromStr;

mod keras_json;

use ir::{Shape, Tensor};

use crate::error::{Error, Result};

pub use keras_json::{initializer_json, read_initializer};

/// Which fan a variance-scaling initializer divides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanMode {
    /// Number of input units.
    FanIn,
    /// Number of output units.
    FanOut,
    /// Their mean.
    FanAvg,
}

/// The distribution of a variance-scaling initializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Normal truncated at ±2σ, σ corrected so the result has the target variance.
    TruncatedNormal,
    /// Plain normal.
    UntruncatedNormal,
    /// Uniform on `[-limit, limit]`, `limit = sqrt(3 · variance)`.
    Uniform,
}

/// How a parameter tensor is filled before training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Initializer {
    /// All zeros (Keras' bias default).
    Zeros,
    /// All ones.
    Ones,
    /// Every element `value`.
    Constant(f32),
    /// Normal with the given mean and standard deviation (Keras default 0, 0.05).
    RandomNormal {
        /// Mean.
        mean: f32,
        /// Standard deviation.
        stddev: f32,
    },
    /// Uniform on `[minval, maxval)` (Keras default -0.05, 0.05).
    RandomUniform {
        /// Lower bound.
        minval: f32,
        /// Upper bound.
        maxval: f32,
    },
    /// Normal truncated at two standard deviations from the mean (Keras default 0, 0.05).
    TruncatedNormal {
        /// Mean.
        mean: f32,
        /// Standard deviation before truncation.
        stddev: f32,
    },
    /// Variance `scale / fan` drawn from `distribution`.
    VarianceScaling {
        /// Scale of the variance.
        scale: f32,
        /// Which fan divides it.
        mode: FanMode,
        /// The distribution drawn from.
        distribution: Distribution,
    },
    /// `glorot_normal`: variance `1 / fan_avg`, truncated normal.
    GlorotNormal,
    /// `glorot_uniform` (Keras' kernel default): variance `1 / fan_avg`, uniform.
    GlorotUniform,
    /// `he_normal`: variance `2 / fan_in`, truncated normal.
    HeNormal,
    /// `he_uniform`: variance `2 / fan_in`, uniform.
    HeUniform,
    /// `lecun_normal`: variance `1 / fan_in`, truncated normal.
    LecunNormal,
    /// `lecun_uniform`: variance `1 / fan_in`, uniform.
    LecunUniform,
    /// A (semi-)orthogonal matrix over `[prod(shape[..-1]), shape[-1]]`, times `gain`.
    Orthogonal {
        /// Multiplier.
        gain: f32,
    },
    /// `gain` times the identity; 2-D shapes only.
    Identity {
        /// Multiplier.
        gain: f32,
    },
}

/// The variance-scaling family: name, variant, scale, fan mode, distribution.
const VARIANCE_SCALING: &[(&str, Initializer, f32, FanMode, Distribution)] = &[
    (
        "glorot_normal",
        Initializer::GlorotNormal,
        1.0,
        FanMode::FanAvg,
        Distribution::TruncatedNormal,
    ),
    (
        "glorot_uniform",
        Initializer::GlorotUniform,
        1.0,
        FanMode::FanAvg,
        Distribution::Uniform,
    ),
    (
        "he_normal",
        Initializer::HeNormal,
        2.0,
        FanMode::FanIn,
        Distribution::TruncatedNormal,
    ),
    (
        "he_uniform",
        Initializer::HeUniform,
        2.0,
        FanMode::FanIn,
        Distribution::Uniform,
    ),
    (
        "lecun_normal",
        Initializer::LecunNormal,
        1.0,
        FanMode::FanIn,
        Distribution::TruncatedNormal,
    ),
    (
        "lecun_uniform",
        Initializer::LecunUniform,
        1.0,
        FanMode::FanIn,
        Distribution::Uniform,
    ),
];

/// The other named initializers with their Keras defaults.
const NAMED: &[(&str, Initializer)] = &[
    ("zeros", Initializer::Zeros),
    ("ones", Initializer::Ones),
    ("constant", Initializer::Constant(0.0)),
    (
        "random_normal",
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: 0.05,
        },
    ),
    (
        "random_uniform",
        Initializer::RandomUniform {
            minval: -0.05,
            maxval: 0.05,
        },
    ),
    (
        "truncated_normal",
        Initializer::TruncatedNormal {
            mean: 0.0,
            stddev: 0.05,
        },
    ),
    ("orthogonal", Initializer::Orthogonal { gain: 1.0 }),
    ("identity", Initializer::Identity { gain: 1.0 }),
];

/// `stddev` of a unit normal truncated at ±2: the factor Keras divides by.
const TRUNCATED_STDDEV_CORRECTION: f64 = 0.879_625_661_034_239_8;

/// Keras' `(fan_in, fan_out)`: scalars 1/1, vectors their length, matrices `[in, out]`,
/// conv kernels `[.., in, out]` times the receptive field.
pub fn fans(shape: &Shape) -> (f64, f64) {
    let d = shape.dims();
    match d.len() {
        0 => (1.0, 1.0),
        1 => (d[0] as f64, d[0] as f64),
        n => {
            let receptive: usize = d[..n - 2].iter().product();
            ((d[n - 2] * receptive) as f64, (d[n - 1] * receptive) as f64)
        }
    }
}

/// A stream of uniform numbers from [`ir::random::uniform`] at successive indices.
struct Stream {
    seed: u32,
    index: u32,
}

impl Stream {
    fn new(seed: u64) -> Self {
        let folded =
            ir::random::mix32(seed as u32) ^ ir::random::mix32((seed >> 32) as u32 ^ 0x5bd1_e995);
        Stream {
            seed: folded,
            index: 0,
        }
    }

    fn uniform(&mut self) -> f64 {
        let u = ir::random::uniform(self.seed, self.index);
        self.index = self.index.wrapping_add(1);
        u as f64
    }

    /// A standard normal by Box–Muller (one of the pair).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A standard normal conditioned on `|z| <= 2`, by rejection.
    fn truncated_normal(&mut self) -> f64 {
        loop {
            let z = self.normal();
            if z.abs() <= 2.0 {
                return z;
            }
        }
    }
}

impl Initializer {
    /// The variance-scaling parameters of a family member, `None` for the others.
    fn as_variance_scaling(&self) -> Option<(f32, FanMode, Distribution)> {
        if let Initializer::VarianceScaling {
            scale,
            mode,
            distribution,
        } = *self
        {
            return Some((scale, mode, distribution));
        }
        VARIANCE_SCALING
            .iter()
            .find(|row| row.1 == *self)
            .map(|row| (row.2, row.3, row.4))
    }

    /// The Keras name of this initializer's kind.
    pub fn keras_name(&self) -> &'static str {
        if let Some(row) = VARIANCE_SCALING.iter().find(|row| row.1 == *self) {
            return row.0;
        }
        if matches!(self, Initializer::VarianceScaling { .. }) {
            return "variance_scaling";
        }
        NAMED
            .iter()
            .find(|row| std::mem::discriminant(&row.1) == std::mem::discriminant(self))
            .map(|row| row.0)
            .expect("every initializer is named in a table")
    }

    /// A tensor of `shape` filled by this initializer from `seed`. The same seed gives the
    /// same values. Fails for `identity` on a non-matrix and `orthogonal` on a rank < 2 shape.
    pub fn initialize(&self, shape: &Shape, seed: u64) -> Result<Tensor> {
        let n = shape.numel();
        let mut rng = Stream::new(seed);
        let data: Vec<f32> = if let Some((scale, mode, distribution)) = self.as_variance_scaling() {
            let (fan_in, fan_out) = fans(shape);
            let fan = match mode {
                FanMode::FanIn => fan_in,
                FanMode::FanOut => fan_out,
                FanMode::FanAvg => (fan_in + fan_out) / 2.0,
            };
            let variance = scale as f64 / fan.max(1.0);
            match distribution {
                Distribution::TruncatedNormal => {
                    let stddev = variance.sqrt() / TRUNCATED_STDDEV_CORRECTION;
                    (0..n)
                        .map(|_| (rng.truncated_normal() * stddev) as f32)
                        .collect()
                }
                Distribution::UntruncatedNormal => (0..n)
                    .map(|_| (rng.normal() * variance.sqrt()) as f32)
                    .collect(),
                Distribution::Uniform => {
                    let limit = (3.0 * variance).sqrt();
                    (0..n)
                        .map(|_| ((2.0 * rng.uniform() - 1.0) * limit) as f32)
                        .collect()
                }
            }
        } else {
            match *self {
                Initializer::Zeros => vec![0.0; n],
                Initializer::Ones => vec![1.0; n],
                Initializer::Constant(value) => vec![value; n],
                Initializer::RandomNormal { mean, stddev } => (0..n)
                    .map(|_| (mean as f64 + rng.normal() * stddev as f64) as f32)
                    .collect(),
                Initializer::RandomUniform { minval, maxval } => (0..n)
                    .map(|_| (minval as f64 + rng.uniform() * (maxval - minval) as f64) as f32)
                    .collect(),
                Initializer::TruncatedNormal { mean, stddev } => (0..n)
                    .map(|_| (mean as f64 + rng.truncated_normal() * stddev as f64) as f32)
                    .collect(),
                Initializer::Orthogonal { gain } => orthogonal(shape, gain, &mut rng)?,
                Initializer::Identity { gain } => {
                    let [rows, cols] = shape.dims() else {
                        return Err(Error::InvalidArgument {
                            name: "initializer",
                            msg: format!("identity needs a 2-D shape, got {shape}"),
                        });
                    };
                    (0..rows * cols)
                        .map(|i| if i / cols == i % cols { gain } else { 0.0 })
                        .collect()
                }
                _ => unreachable!("variance-scaling members are handled above"),
            }
        };
        Ok(Tensor {
            shape: shape.clone(),
            data,
        })
    }
}

/// Keras' orthogonal initializer: a normal matrix `[max(r, c), min(r, c)]` orthonormalised
/// column by column (Gram–Schmidt with re-orthogonalisation, so R's diagonal is positive as
/// after Keras' sign fix), transposed when `r < c`, times `gain`.
fn orthogonal(shape: &Shape, gain: f32, rng: &mut Stream) -> Result<Vec<f32>> {
    let dims = shape.dims();
    if dims.len() < 2 {
        return Err(Error::InvalidArgument {
            name: "initializer",
            msg: format!("orthogonal needs rank >= 2, got {shape}"),
        });
    }
    let cols = dims[dims.len() - 1];
    let rows = shape.numel() / cols.max(1);
    let (tall, narrow) = (rows.max(cols), rows.min(cols));
    // Column-major: column j is q[j * tall .. (j + 1) * tall].
    let mut q: Vec<f64> = (0..tall * narrow).map(|_| rng.normal()).collect();
    for j in 0..narrow {
        for _pass in 0..2 {
            for k in 0..j {
                let dot: f64 = (0..tall).map(|i| q[k * tall + i] * q[j * tall + i]).sum();
                for i in 0..tall {
                    q[j * tall + i] -= dot * q[k * tall + i];
                }
            }
        }
        let norm = (0..tall)
            .map(|i| q[j * tall + i].powi(2))
            .sum::<f64>()
            .sqrt();
        if norm < 1e-12 {
            return Err(Error::InvalidArgument {
                name: "initializer",
                msg: format!("orthogonal: degenerate random matrix for {shape}"),
            });
        }
        for i in 0..tall {
            q[j * tall + i] /= norm;
        }
    }
    // Element (r, c) of the result.
    let value = |r: usize, c: usize| {
        if rows >= cols {
            q[c * tall + r]
        } else {
            q[r * tall + c]
        }
    };
    Ok((0..rows * cols)
        .map(|i| (gain as f64 * value(i / cols, i % cols)) as f32)
        .collect())
}

impl FromStr for Initializer {
    type Err = Error;

    /// Parse a Keras initializer name with Keras' default arguments.
    fn from_str(name: &str) -> Result<Self> {
        VARIANCE_SCALING
            .iter()
            .map(|row| (row.0, row.1))
            .chain(NAMED.iter().copied())
            .find(|row| row.0 == name)
            .map(|row| row.1)
            .ok_or_else(|| Error::UnknownName {
                kind: "initializer",
                name: name.to_string(),
                known: VARIANCE_SCALING
                    .iter()
                    .map(|r| r.0)
                    .chain(NAMED.iter().map(|r| r.0))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}
