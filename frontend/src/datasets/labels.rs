//! [`Label`]: the element types a label array may hold — f32 values (one-hot rows,
//! regression targets, class indices as floats) and integer class indices (`u8`, `u16`,
//! `u32`, `i32`, `i64`, `usize`), which the sparse losses take without conversion.
//!
//! Labels are stored as f32 inside a [`crate::datasets::Dataset`]; an integer class index is
//! exact in f32 up to 2^24 classes. This module does not check indices against a number of
//! classes (the loss does: an index outside `0..classes` matches no class).

/// An element type of a label array, converted to the f32 a dataset stores.
pub trait Label: Copy {
    /// The value as f32.
    fn to_f32(self) -> f32;
}

/// Implements [`Label`] for types convertible to f32 with `as`, one row per type.
macro_rules! labels {
    ($($ty:ty),*) => {$(
        impl Label for $ty {
            fn to_f32(self) -> f32 {
                self as f32
            }
        }
    )*};
}

labels!(f32, f64, u8, u16, u32, i32, i64, usize);
