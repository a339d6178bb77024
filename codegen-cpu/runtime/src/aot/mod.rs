//! Instances of ahead-of-time compiled models.
//!
//! An object file emitted by Kiln's ahead-of-time compiler holds the compiled steps, a
//! [`desc::ModelDesc`] describing them (buffer sizes, where outputs and parameter updates
//! are, the parameters and their embedded initial values) and small exported wrappers
//! (`<model>_create`, `<model>_infer`, ...) that call the C-ABI functions of [`ffi`] with
//! that description. [`instance`] owns the buffers and runs steps, in safe Rust over the
//! description.

pub mod desc;
pub mod ffi;
pub mod instance;

pub use instance::{AotError, Instance};
