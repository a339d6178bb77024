//! Filetests: every `tests/data/<pass>/*.ir` file holds an input graph in the IR text form
//! and, after a `; expected:` line, the exact text of the graph `<pass>` makes of it, as a
//! comment block (the parser ignores `;` comments, so the whole file parses as the input).
//!
//! Each file is checked twice:
//! 1. **Precise output**: the pass's result, printed, must equal the expectation; on a
//!    mismatch the test fails with a line diff. Run with `BLESS=1` to rewrite expectations
//!    (then read the diff before committing); a file whose values differ is never blessed.
//! 2. **Same values**: the reference interpreter, on deterministic pseudo-random bindings for
//!    every input and param, gives the same outputs and updates before and after the pass,
//!    within `|a - b| <= tol * max(1, |a|, |b|)` (NaN matches only NaN). `tol` defaults to
//!    [`DEFAULT_TOLERANCE`]; a `; tolerance: 1e-4` line overrides it. Bindings are uniform
//!    in `[-2, 2)` unless a `; range: LO HI` line says otherwise.
//!
//! `<pass>` is the directory name: one of [`PASSES`].

use std::fmt::Write;
use std::path::{Path, PathBuf};

use ir::interp::{Bindings, Evaluation};
use ir::{Graph, Op, Tensor};
use passes::pipeline::Pass;
use passes::{fuse, pipeline, simplify};

/// The passes filetests can run, by directory name.
const PASSES: [(&str, Pass); 6] = [
    ("dce", simplify::dce),
    ("cse", simplify::cse),
    ("const_fold", simplify::const_fold),
    ("algebraic", simplify::algebraic),
    ("fuse", fuse::fuse),
    ("optimize", pipeline::optimize),
];

/// Relative tolerance of the value check when a file states none. The passes only remove
/// work or regroup the same scalar ops, so results agree to rounding.
const DEFAULT_TOLERANCE: f32 = 1e-6;

/// The line that starts the expected output.
const EXPECTED_MARKER: &str = "; expected:";

#[test]
fn filetests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let mut count = 0;
    for (pass_name, pass) in PASSES {
        for path in ir_files(&root.join(pass_name)) {
            count += 1;
            if let Err(msg) = run_file(&path, pass, bless) {
                failures.push(format!("{}: {msg}", path.display()));
            }
        }
    }
    assert!(count > 0, "no filetests found under {}", root.display());
    assert!(
        failures.is_empty(),
        "{} of {count} filetests failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The `.ir` files of `dir`, sorted (none when the directory does not exist).
fn ir_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "ir"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Check (or with `bless`, rewrite) one file.
fn run_file(path: &Path, pass: Pass, bless: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let input = ir::text::parse(&text).map_err(|e| format!("input does not parse: {e}"))?;
    ir::verify::verify(&input).map_err(|e| format!("input does not verify: {e}"))?;
    let output = pass(&input).map_err(|e| format!("pass failed: {e}"))?;
    ir::verify::verify(&output).map_err(|e| format!("output does not verify: {e}"))?;
    check_same_values(&text, &input, &output)?;
    let actual = ir::text::print(&output);

    let (head, expected) = split_expectation(&text);
    if bless {
        let mut blessed = format!("{}\n\n{EXPECTED_MARKER}\n", head.trim_end());
        for line in actual.lines() {
            let _ = writeln!(blessed, "; {line}");
        }
        std::fs::write(path, blessed).map_err(|e| e.to_string())?;
    } else if expected.trim_end() != actual.trim_end() {
        return Err(format!(
            "output differs from the expectation (- expected, + actual; BLESS=1 rewrites):\n{}",
            diff(&expected, &actual)
        ));
    }
    Ok(())
}

/// The file's text before the expectation, and the expectation with its `; ` prefixes removed.
fn split_expectation(text: &str) -> (&str, String) {
    match text.find(&format!("\n{EXPECTED_MARKER}")) {
        None => (text, String::new()),
        Some(at) => {
            let block = &text[at + 1 + EXPECTED_MARKER.len()..];
            let lines: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix(';'))
                .map(|l| l.strip_prefix(' ').unwrap_or(l))
                .collect();
            (&text[..at], lines.join("\n"))
        }
    }
}

/// A line diff that marks every differing line pair.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {
                let _ = writeln!(out, "  {x}");
            }
            (x, y) => {
                if let Some(x) = x {
                    let _ = writeln!(out, "- {x}");
                }
                if let Some(y) = y {
                    let _ = writeln!(out, "+ {y}");
                }
            }
        }
    }
    out
}

/// The value of a `; key: value` directive line, if the file has one.
fn directive<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.lines().find_map(|l| {
        l.strip_prefix(';')
            .map(str::trim)
            .and_then(|l| l.strip_prefix(key))
            .and_then(|l| l.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Interpret `before` and `after` on the same bindings and compare every output and update.
fn check_same_values(text: &str, before: &Graph, after: &Graph) -> Result<(), String> {
    let tol: f32 = directive(text, "tolerance")
        .map_or(Ok(DEFAULT_TOLERANCE), str::parse)
        .map_err(|e| format!("bad tolerance: {e}"))?;
    let (lo, hi) = match directive(text, "range") {
        None => (-2.0, 2.0),
        Some(r) => {
            let v: Vec<f32> = r
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("bad range: {e}"))?;
            match v[..] {
                [lo, hi] => (lo, hi),
                _ => return Err(format!("range needs two numbers, got {r:?}")),
            }
        }
    };
    let bindings = random_bindings(before, lo, hi);
    let want =
        ir::interp::run(before, &bindings).map_err(|e| format!("interpreting the input: {e}"))?;
    let got =
        ir::interp::run(after, &bindings).map_err(|e| format!("interpreting the output: {e}"))?;
    compare(&want, &got, tol)
}

/// Uniform values in `[lo, hi)` for every input and param, a pure function of its name.
fn random_bindings(graph: &Graph, lo: f32, hi: f32) -> Bindings {
    let mut bindings = Bindings::new();
    for id in graph.node_ids() {
        if let Op::Input { name, shape } | Op::Param { name, shape } = graph.op(id) {
            let seed = name
                .bytes()
                .fold(17u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
            let data = (0..shape.numel() as u32)
                .map(|i| lo + (hi - lo) * ir::random::uniform(seed, i))
                .collect();
            bindings.insert(
                name.clone(),
                Tensor {
                    shape: shape.clone(),
                    data,
                },
            );
        }
    }
    bindings
}

fn compare(want: &Evaluation, got: &Evaluation, tol: f32) -> Result<(), String> {
    let pairs = [
        ("output", &want.outputs, &got.outputs),
        ("update", &want.updates, &got.updates),
    ];
    for (kind, want, got) in pairs {
        if want.len() != got.len() {
            return Err(format!(
                "{} {kind}s before the pass, {} after",
                want.len(),
                got.len()
            ));
        }
        for ((name, w), (got_name, g)) in want.iter().zip(got) {
            if name != got_name || w.shape != g.shape {
                return Err(format!(
                    "{kind} {name} {} became {got_name} {}",
                    w.shape, g.shape
                ));
            }
            let close = |a: f32, b: f32| {
                (a.is_nan() && b.is_nan())
                    || a == b
                    || (a - b).abs() <= tol * 1f32.max(a.abs()).max(b.abs())
            };
            if let Some(i) = (0..w.data.len()).find(|&i| !close(w.data[i], g.data[i])) {
                return Err(format!(
                    "{kind} {name}[{i}]: {} before the pass, {} after (tolerance {tol})",
                    w.data[i], g.data[i]
                ));
            }
        }
    }
    Ok(())
}
