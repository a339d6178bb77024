//! The short seeded fuzz pass CI runs (README's test command): every target of
//! `kiln_fuzz::TARGETS` over each file of its corpus (`corpus/<target>/`) and
//! `KILN_FUZZ_MUTANTS` (default [`MUTANTS`]) deterministic mutants of each
//! (`kiln_fuzz::mutate`; `graph_diff` runs its seeds only, see `tests/graph_diff.rs`). A panic names the target, the seed file and the mutant; rerun one
//! with `KILN_FUZZ_ONLY=<target>`. Coverage-guided fuzzing is `fuzz/` (libFuzzer).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use kiln_fuzz::{TARGETS, Target, mutate};

/// Mutants per seed file (the whole pass stays under a minute on two cores).
const MUTANTS: u64 = 48;

/// The corpus files of `target`, sorted.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no seed", dir.display());
    files
}

/// Runs `target` on `data`; a panic is re-raised naming `what`.
fn run_one(target: &Target, data: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| (target.run)(data))).is_err() {
        let saved = std::env::temp_dir().join(format!("kiln-fuzz-failure-{}", target.name));
        let _ = std::fs::write(&saved, data);
        panic!(
            "target `{}` panicked on {what} (input saved to {}; `cargo fuzz run {} {}` replays it)",
            target.name,
            saved.display(),
            target.name,
            saved.display()
        );
    }
}

#[test]
fn every_target_survives_its_corpus_and_seeded_mutants() {
    let mutants = std::env::var("KILN_FUZZ_MUTANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(MUTANTS);
    let only = std::env::var("KILN_FUZZ_ONLY").ok();
    for target in TARGETS {
        if only.as_deref().is_some_and(|o| o != target.name) {
            continue;
        }
        // The differential fuzzer compiles every input twice: its seeds run here, its own
        // seeded pass (tests/graph_diff.rs) draws more graphs.
        let mutants = if target.name == "graph_diff" {
            0
        } else {
            mutants
        };
        let start = Instant::now();
        let files = corpus(target.name);
        let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        let others: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        for (file, seed) in files.iter().zip(&seeds) {
            let name = file.file_name().unwrap().to_string_lossy();
            run_one(target, seed, &format!("seed {name}"));
            for index in 0..mutants {
                let data = mutate::mutant(seed, &others, index);
                run_one(target, &data, &format!("mutant {index} of seed {name}"));
            }
        }
        eprintln!(
            "{}: {} seeds, {} inputs in {:.2?}",
            target.name,
            seeds.len(),
            seeds.len() as u64 * (1 + mutants),
            start.elapsed()
        );
    }
}
