//! `graph_diff`: the differential fuzzer's target — a small graph generated from the input
//! ([`crate::graphs::generate`]) run on the CPU JIT and on the interpreter; a difference
//! beyond the stated tolerance panics with both values.

use crate::graphs;

/// Generates a graph from `data` and compares the two backends on it.
pub fn graph_diff(data: &[u8]) {
    if let Err(mismatch) = graphs::run_case(data) {
        panic!("{mismatch}");
    }
}
