//! Simplification passes: each is a free function `fn(&Graph) -> Result<Graph, PassError>`
//! that builds a new graph with the same `outputs` and `updates` (remapped) and the same
//! values under the reference interpreter.
//!
//! - [`dce()`]: drop nodes no output or update needs;
//! - [`cse()`]: merge nodes that compute the same op on the same operands;
//! - [`const_fold()`]: evaluate ops whose operands are all constants;
//! - [`algebraic()`]: remove identities such as `x * 1` and `neg(neg(x))`.

pub mod algebraic;
pub mod const_fold;
pub mod cse;
pub mod dce;

pub use algebraic::algebraic;
pub use const_fold::const_fold;
pub use cse::cse;
pub use dce::dce;
