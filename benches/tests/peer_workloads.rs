//! The `peer_workloads` program end to end on its shortest workload: W4 (which re-runs the
//! program as a fresh child process and trains 41 W1 steps, about a second in a debug build)
//! writes a results file in the peers' schema; a bad command line fails with a message.
//! The long workloads (W1-W3) are not run here.

use std::process::Command;

use serde_json::Value;

const PROGRAM: &str = env!("CARGO_BIN_EXE_peer_workloads");

#[test]
fn w4_writes_a_row_and_its_steady_step_in_the_peers_schema() {
    let dir = std::env::temp_dir().join(format!("kiln-peer-workloads-{}", std::process::id()));
    let out = dir.join("kiln-test.json");
    let output = Command::new(PROGRAM)
        .args(["--workloads", "w4", "--out"])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the program starts");
    assert!(
        output.status.success(),
        "peer_workloads --workloads w4 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&out).expect("the results file was written");
    std::fs::remove_dir_all(&dir).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();

    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["workload"], "W4 compile");
    assert_eq!(rows[0]["framework"], "kiln");
    assert_eq!(rows[0]["metric"], "first-steady s");
    let times = &doc["w4"]["results"]["kiln"];
    let get = |key: &str| {
        times[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {times}"))
    };
    let (first, steady) = (get("first_step_s"), get("steady_step_s"));
    assert!(first > 0.0 && steady > 0.0, "{times}");
    // The JSON holds rounded decimals: compare to a relative 1e-9.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
    let overhead = first - steady;
    assert!(
        close(rows[0]["time"].as_f64().unwrap(), overhead),
        "{times}"
    );
    assert!(close(get("compile_overhead_s"), overhead), "{times}");
    assert_eq!(times["steady_steps_s"].as_array().unwrap().len(), 40);
}

#[test]
fn a_bad_command_line_fails_and_says_why() {
    let output = Command::new(PROGRAM)
        .args(["--workloads", "w9"])
        .output()
        .expect("the program starts");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown workload `w9`"), "{stderr}");
}
