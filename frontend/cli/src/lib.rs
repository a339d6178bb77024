//! The library half of `kiln-cli`: [`model_files`], reading a model file of any format Kiln
//! reads (recognised by content) and writing one, shared by the `kiln` command and the
//! `serve` example (package `kiln-serve`). It does NOT parse command lines: `main.rs` does.

pub mod model_files;
