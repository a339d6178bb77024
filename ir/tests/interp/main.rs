//! Tests of the reference interpreter against hand-computed values, independent brute-force
//! references, adjoint identities and finite differences.

mod contraction;
mod depthwise;
mod elementwise;
mod fused;
mod indexing;
mod movement;
mod nan;
mod pool;
mod reduce;
mod run;
mod support;
