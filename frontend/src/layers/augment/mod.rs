//! Keras' image augmentation layers: `RandomFlip`, `RandomCrop`, `RandomTranslation`,
//! `RandomRotation`, `RandomZoom`, `RandomContrast`.
//!
//! Like `Dropout`, they act only in the training graph and are the identity in `evaluate`
//! and `predict` — except `RandomCrop`, whose output is smaller: at inference it takes the
//! largest centred window of the target aspect ratio and resizes it (Keras' `smart_resize`).
//! Their random numbers come from the IR's `RandomUniform`, seeded by the optimizer's step
//! counter plus a per-layer offset (the layer's Keras `seed`, else the model's seed), so CPU
//! and GPU draw the same numbers and every step draws new ones.
//!
//! Geometric layers lower to a resampling built from existing IR ops ([`resample`]):
//! source coordinates per output pixel, the fill mode's mapping, and `gather`s of the pixel
//! rows, blended bilinearly (TensorFlow's `ImageProjectiveTransformV3`, which Keras uses).
//! The gradient with respect to the input flows through `gather` (as `scatter_add`).
//! This module does NOT own `Rescaling`, `Normalization` (and its `adapt`) or resizing layers.

mod contrast;
mod crop;
mod flip;
mod options;
mod resample;
mod rotation;
mod translation;
mod trig;
mod zoom;

pub use contrast::RandomContrast;
pub use crop::RandomCrop;
pub use flip::{FlipMode, RandomFlip};
pub use options::{Factor, FillMode, TransformOptions};
pub use rotation::RandomRotation;
pub use translation::RandomTranslation;
pub use zoom::RandomZoom;
