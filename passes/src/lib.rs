//! Kiln's graph-to-graph passes: autodiff, simplification, fusion, memory planning, and the
//! pipeline that runs them in order.
//!
//! Every pass takes a verified [`ir::Graph`] and returns a new verified graph (or a memory
//! plan) that the reference interpreter evaluates to the same results.

pub mod autodiff;
pub mod error;
pub mod fuse;
pub mod memory_plan;
pub mod pipeline;
pub mod rebuild;
pub mod simplify;
pub mod stats;

pub use error::PassError;
