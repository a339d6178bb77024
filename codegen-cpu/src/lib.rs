//! Kiln's Cranelift CPU backend: a fused, memory-planned [`ir::Graph`] becomes one compiled
//! step function.
//!
//! ```text
//! compile(graph, plan)      -> Executable   (JIT; run it with a State per caller)
//! emit_object(graph, plan)  -> object bytes (AOT; link with the kernels' static library)
//! ```
//!
//! Map: [`abi`] is the calling convention; `module` lowers a graph into any
//! `cranelift_module::Module` (one lowering for both paths), dispatching per node in
//! `node` to `lower::{elementwise, reduce, pool, movement, random, contraction}`;
//! `lower::program` is the elementwise op table and `lower::math` the vectorised
//! transcendentals; [`contract`] holds the tuned matmul/conv kernels the code calls;
//! `parallel` is the worker pool behind `kiln_parallel_for`; `runtime` runs steps.
//!
//! Architecture invariant: compiled code never reads or writes out of bounds — every
//! offset comes from the checked memory plan and static shapes, and [`Executable::run`]
//! checks every input's length before any compiled code runs.

pub mod abi;
mod aot;
pub mod contract;
pub mod error;
mod jit;
mod lower;
mod module;
mod node;
mod parallel;
mod runtime;

pub use aot::emit_object;
pub use error::CodegenError;
pub use jit::compile;
pub use parallel::kiln_parallel_for;
pub use runtime::{Executable, Leaf, State};
