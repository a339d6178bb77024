//! The differential fuzzer's seeded pass: `KILN_FUZZ_GRAPHS` (default [`GRAPHS`]) random
//! small graphs, each generated from bytes drawn from a fixed seed
//! (`kiln_fuzz::graphs::generate`), run on the CPU JIT (naive and optimized) and the
//! interpreter; every one must match within the tolerances stated in `kiln_fuzz::graphs`.

use kiln_fuzz::graphs::{Outcome, run_case};
use kiln_fuzz::mutate::Rng;

/// Graphs per run.
const GRAPHS: u64 = 200;

#[test]
fn random_graphs_match_the_interpreter_on_the_cpu_jit() {
    let graphs = std::env::var("KILN_FUZZ_GRAPHS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(GRAPHS);
    let (mut matched, mut trained, mut skipped, mut nodes) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for seed in 0..graphs {
        let mut rng = Rng::new(seed);
        let bytes: Vec<u8> = (0..48).map(|_| rng.next_u64() as u8).collect();
        match run_case(&bytes) {
            Ok(Outcome::Matched { nodes: n, train }) => {
                matched += 1;
                trained += usize::from(train);
                nodes += n;
            }
            Ok(Outcome::Skipped) => skipped += 1,
            Err(e) => failures.push(format!("graph {seed} (bytes {bytes:02x?}): {e}")),
        }
    }
    eprintln!(
        "{graphs} graphs: {matched} matched ({trained} training graphs, {nodes} nodes), {skipped} skipped, {} mismatched",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        matched * 2 > graphs as usize,
        "too few graphs were compared"
    );
}
