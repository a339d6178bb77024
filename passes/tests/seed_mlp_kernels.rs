//! The seed MLP's training step (`tests/data/optimize/seed_mlp_step.ir`, as the frontend
//! builds it: three Dense layers, softmax cross-entropy, accuracy, Adam; batch 100) fuses to
//! at most 15 kernels, and kernel merging cuts both the kernels and the bytes they move
//! compared with the node rules alone.

use passes::stats::kernel_stats;

/// The most kernels the fused step may have (issue 12: "≤ 15 kernels for that step").
const MAX_KERNELS: usize = 15;

#[test]
fn the_seed_mlp_step_is_at_most_15_kernels() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/optimize/seed_mlp_step.ir"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let graph = ir::text::parse(&text).unwrap();
    let optimized = passes::pipeline::optimize(&graph).unwrap();
    let merged = kernel_stats(&optimized);
    // The same pipeline with the node rules only: what fusion did before kernel merging.
    let simplified = passes::pipeline::run(
        &graph,
        &[
            ("const_fold", passes::simplify::const_fold),
            ("algebraic", passes::simplify::algebraic),
            ("cse", passes::simplify::cse),
            ("dce", passes::simplify::dce),
        ],
    )
    .unwrap();
    let nodes_only = kernel_stats(
        &passes::simplify::dce(&passes::fuse::fuse_nodes(&simplified).unwrap()).unwrap(),
    );
    assert!(
        merged.kernels <= MAX_KERNELS,
        "{} kernels:\n{}",
        merged.kernels,
        ir::text::print(&optimized)
    );
    assert!(
        merged.kernels * 2 < nodes_only.kernels,
        "{merged:?} vs {nodes_only:?}"
    );
    assert!(
        merged.bytes_moved() < nodes_only.bytes_moved(),
        "{merged:?} vs {nodes_only:?}"
    );
}
