//! The crate layering of ARCHITECTURE.md, checked: dependencies between Kiln's own crates flow
//! one way (`passes → ir`, `codegen-* → ir`, `kiln → all`), and nothing depends on a crate above it.

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
    (
        "kiln",
        &[
            "kiln-ir",
            "kiln-passes",
            "kiln-codegen-cpu",
            "kiln-cpu-runtime",
            "kiln-codegen-gpu",
        ],
    ),
    (
        "kiln-benches",
        &[
            "kiln-ir",
            "kiln-passes",
            "kiln-codegen-cpu",
            "kiln-cpu-runtime",
            "kiln-codegen-gpu",
            "kiln",
            "kiln-examples",
        ],
    ),
    ("kiln-examples", &["kiln"]),
    ("kiln-cli", &["kiln"]),
];

fn internal_edges() -> BTreeMap<String, Vec<String>> {
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
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null()) // normal dependencies; dev-dependencies may reach further
                .map(|d| d["name"].as_str().unwrap().to_string())
                .filter(|d| names.contains(d))
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn internal_dependencies_flow_one_way() {
    let edges = internal_edges();
    for (krate, deps) in &edges {
        let allowed = ALLOWED
            .iter()
            .find(|(name, _)| name == krate)
            .unwrap_or_else(|| {
                panic!(
                    "crate {krate} is not in the layering table; add it to ARCHITECTURE.md and here"
                )
            })
            .1;
        for dep in deps {
            assert!(
                allowed.contains(&dep.as_str()),
                "forbidden dependency edge {krate} -> {dep}"
            );
        }
    }
    assert!(
        edges.contains_key("kiln-ir") && edges["kiln-ir"].is_empty(),
        "ir depends on no internal crate"
    );
}
