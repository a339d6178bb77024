//! Kiln's graph-to-graph passes.
