//! Models built directly in IR, shared by the benchmarks and the end-to-end tests of the
//! compiler core (before any Keras-style frontend is involved).

pub mod mlp;
