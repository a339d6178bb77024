//! The crate layering of ARCHITECTURE.md, checked from `cargo metadata`: dependencies between
//! Kiln's own crates flow one way (`passes → ir`, `codegen-* → ir`, `kiln → ir, passes,
//! codegen-*`, the CLI, benchmarks and examples on top), and nothing depends on a crate above
//! it. Dev-dependencies (what tests, benchmarks and examples use) are checked against their
//! own explicit list: a test may reach a crate below its own or a test-only helper, never one
//! above (the codegen crates' tests build their graphs from `ir` and `passes`, not through
//! `kiln`).

use std::collections::BTreeMap;
use std::process::Command;

/// Internal crates and the internal crates each may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("kiln-ir", &[]),
    ("kiln-passes", &["kiln-ir"]),
    ("kiln-cpu-runtime", &["kiln-ir"]),
    ("kiln-codegen-cpu", &["kiln-ir", "kiln-cpu-runtime"]),
    ("kiln-codegen-gpu", &["kiln-ir"]),
    ("kiln-c-harness", &[]),
    ("kiln-onnx-proto", &[]),
    (
        "kiln",
        &[
            "kiln-ir",
            "kiln-passes",
            "kiln-codegen-cpu",
            "kiln-codegen-gpu",
            "kiln-onnx-proto",
        ],
    ),
    ("kiln-cli", &["kiln"]),
    ("kiln-serve", &["kiln"]),
    (
        "kiln-benches",
        &[
            "kiln-ir",
            "kiln-passes",
            "kiln-codegen-cpu",
            "kiln-cpu-runtime",
            "kiln-codegen-gpu",
            "kiln",
        ],
    ),
    ("kiln-examples", &["kiln"]),
    // The fuzz harnesses drive every parser and loader, the differential fuzzer the JIT,
    // the interpreter and the pass pipeline.
    (
        "kiln-fuzz",
        &[
            "kiln-ir",
            "kiln-passes",
            "kiln-codegen-cpu",
            "kiln",
            "kiln-cli",
            "kiln-serve",
        ],
    ),
];

/// Internal crates and the internal crates their tests, benchmarks and examples may use
/// besides their normal dependencies (dev-dependencies).
const ALLOWED_DEV: &[(&str, &[&str])] = &[
    ("kiln-ir", &[]),
    ("kiln-passes", &[]),
    ("kiln-cpu-runtime", &[]),
    // Codegen tests build graphs with `passes` (pipeline, autodiff, memory plan) and link
    // AOT objects from C with the harness.
    ("kiln-codegen-cpu", &["kiln-passes", "kiln-c-harness"]),
    ("kiln-codegen-gpu", &["kiln-passes"]),
    ("kiln-c-harness", &[]),
    ("kiln-onnx-proto", &[]),
    ("kiln", &["kiln-c-harness"]),
    ("kiln-cli", &[]),
    // The `serve` example reads model files with the `kiln` tool's `model_files`.
    ("kiln-serve", &["kiln-cli"]),
    // The CNN benchmark trains the examples' shared CNN.
    ("kiln-benches", &["kiln-c-harness", "kiln-examples"]),
    ("kiln-examples", &["kiln-c-harness"]),
    ("kiln-fuzz", &[]),
];

/// The internal dependencies of every internal crate, by kind: `(normal, dev)`.
type Edges = BTreeMap<String, (Vec<String>, Vec<String>)>;

fn internal_edges() -> Edges {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages array");
    let names: Vec<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let deps_of = |p: &serde_json::Value, kind: Option<&str>| -> Vec<String> {
        p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].as_str() == kind)
            .map(|d| d["name"].as_str().unwrap().to_string())
            .filter(|d| names.contains(d))
            .collect()
    };
    packages
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap().to_string();
            (name, (deps_of(p, None), deps_of(p, Some("dev"))))
        })
        .collect()
}

/// The allowed list of `krate` in `table`, or a failure asking for a row.
fn allowed<'t>(table: &'t [(&str, &'t [&'t str])], krate: &str) -> &'t [&'t str] {
    table
        .iter()
        .find(|(name, _)| *name == krate)
        .unwrap_or_else(|| {
            panic!(
                "crate {krate} is not in the layering tables; add it to ARCHITECTURE.md and here"
            )
        })
        .1
}

#[test]
fn internal_dependencies_flow_one_way() {
    let edges = internal_edges();
    for (krate, (deps, _)) in &edges {
        let allowed = allowed(ALLOWED, krate);
        for dep in deps {
            assert!(
                allowed.contains(&dep.as_str()),
                "forbidden dependency edge {krate} -> {dep}"
            );
        }
    }
    assert!(
        edges.contains_key("kiln-ir") && edges["kiln-ir"].0.is_empty(),
        "ir depends on no internal crate"
    );
}

#[test]
fn tests_reach_only_the_crates_their_list_allows() {
    for (krate, (_, dev_deps)) in &internal_edges() {
        let allowed = allowed(ALLOWED_DEV, krate);
        for dep in dev_deps {
            assert!(
                allowed.contains(&dep.as_str()),
                "forbidden dev-dependency edge {krate} -> {dep} (tests respect the layering: build the graphs from lower crates)"
            );
        }
    }
}

#[test]
fn no_crate_depends_on_one_above_it_even_in_tests() {
    // A dev-dependency on a crate that depends on this one (directly or not) is a cycle.
    let edges = internal_edges();
    let reaches = |from: &str, to: &str| {
        let mut stack = vec![from.to_string()];
        let mut seen = Vec::new();
        while let Some(k) = stack.pop() {
            if k == to {
                return true;
            }
            if !seen.contains(&k) {
                stack.extend(edges.get(&k).map(|e| e.0.clone()).unwrap_or_default());
                seen.push(k);
            }
        }
        false
    };
    for (krate, (_, dev_deps)) in &edges {
        for dep in dev_deps {
            assert!(
                !reaches(dep, krate),
                "{krate}'s tests use {dep}, which depends on {krate}: a cycle through dev-dependencies"
            );
        }
    }
}
