//! WGSL generation without a GPU: every kernel of every catalogue graph (all node kinds,
//! fused ones included) passes naga's parser and validator, and the WGSL text of a few
//! small graphs matches the snapshots in `tests/snapshots/` (run with `BLESS=1` to rewrite
//! them, then read the diff before committing).

mod common;

use std::path::Path;

use codegen_gpu::{generate, validate};
use ir::MemoryPlan;

#[test]
fn every_kernel_of_every_node_kind_validates() {
    let mut kernels = 0;
    for case in common::catalogue() {
        // The naive plan computes every node (a reshape is a copy); the real one aliases.
        for (naive, plan) in [
            (true, MemoryPlan::naive(&case.graph)),
            (false, passes::memory_plan::plan(&case.graph).unwrap()),
        ] {
            let generated =
                generate(&case.graph, &plan).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert!(!naive || !generated.is_empty(), "{}: no kernels", case.name);
            for kernel in &generated {
                if let Err(e) = validate(kernel) {
                    panic!("{}: {e}\n{}", case.name, kernel.wgsl);
                }
                kernels += 1;
            }
        }
    }
    assert!(kernels > 100, "only {kernels} kernels generated");
}

#[test]
fn the_catalogue_covers_every_fused_kind() {
    let mut kinds: Vec<&str> = common::catalogue()
        .iter()
        .flat_map(|c| common::fused_kinds(&c.graph))
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "fused.conv2d",
            "fused.depthwise_conv2d",
            "fused.elementwise",
            "fused.matmul",
            "fused.multi",
            "fused.pool2d",
            "fused.reduce"
        ]
    );
}

#[test]
fn wgsl_text_matches_the_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for case in common::catalogue() {
        if ![
            "fused_dense",
            "fused_reduce",
            "fused_multi",
            "pool_grad_max_2x2",
            "transpose",
            "random_uniform",
            "gather_scatter_add",
        ]
        .contains(&case.name.as_str())
        {
            continue;
        }
        let plan = passes::memory_plan::plan(&case.graph).unwrap();
        let text: String = generate(&case.graph, &plan)
            .unwrap()
            .iter()
            .map(|k| format!("{}\n", k.wgsl))
            .collect();
        let path = dir.join(format!("{}.wgsl", case.name));
        if bless {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != text {
            let first = expected
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(expected.lines().count().min(text.lines().count()));
            failures.push(format!(
                "{}: differs from line {} (expected {:?}, got {:?})",
                path.display(),
                first + 1,
                expected.lines().nth(first),
                text.lines().nth(first)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "snapshot mismatches (BLESS=1 rewrites them):\n{}",
        failures.join("\n")
    );
}
