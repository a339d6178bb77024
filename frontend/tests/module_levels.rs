//! The module levels of the `kiln` crate (ARCHITECTURE.md, "Levels inside `kiln`"), checked:
//! every `crate::…`, `$crate::…`, `super::…` and `self::…` path in the code of every module
//! under `src/` — in `use` lines, expressions, types and macros alike — must name its own
//! module or one on a lower level. A path into a higher level, or into another module of
//! the same level, fails the test with the file, the line and both levels.
//!
//! What is read: the code of each file up to its `#[cfg(test)]` module (unit tests may use
//! anything), without comments and string literals (doc links may point anywhere). The crate
//! root (`lib.rs`) declares and re-exports the modules and is not checked. A `crate::` path
//! must start with the module that defines the item (`crate::error::Error`, not the root
//! re-export `crate::Error`), so every edge is visible.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The levels, bottom to top. Each entry is a module path and its rank; a module belongs to
/// the entry with the longest matching prefix. Modules inside `model/` have their own order
/// (the layer graph and the runner at its bottom, the training state above them, the rest of
/// `model` above that); an equal rank means "may not name each other".
const LEVELS: &[(&str, (u8, u8))] = &[
    // 0: foundations (the error type first: every module returns it).
    ("error", (0, 0)),
    ("builder", (0, 1)),
    ("atomic_file", (0, 1)),
    ("read_limit", (0, 1)),
    ("config_json", (0, 1)),
    // 1: the vocabulary of Keras objects, devices and data.
    ("activations", (1, 0)),
    ("initializers", (1, 0)),
    ("regularizers", (1, 0)),
    ("device", (1, 0)),
    ("datasets", (1, 0)),
    ("distributed", (1, 0)),
    ("tensor_file", (1, 0)),
    // 2: training-graph builders.
    ("optimizers", (2, 0)),
    ("losses", (2, 0)),
    // 3: layers and metrics (Dropout reads the optimizer's step counter; metrics reuse
    // the losses' formulas).
    ("layers", (3, 0)),
    ("metrics", (3, 0)),
    // 4: what `fit` reports and prints.
    ("progress", (4, 0)),
    ("plot", (4, 0)),
    // 5: models.
    ("model::graph", (5, 0)),
    ("model::runner", (5, 0)),
    ("model::training", (5, 1)),
    ("model", (5, 2)),
    // 6: the stock callbacks.
    ("callbacks", (6, 0)),
    // 7: Keras' JSON configs of a model and of its compile settings.
    ("keras_config", (7, 0)),
    // 8: model files (Kiln's own; Keras `.h5` and `.keras` archives; ONNX).
    ("saving", (8, 0)),
    ("keras", (8, 0)),
    ("onnx", (8, 0)),
    // 9: ahead-of-time compilation; the application zoo (builds models, reads `.h5` weights).
    ("aot", (9, 0)),
    ("applications", (9, 0)),
    // 10: the prelude.
    ("prelude", (10, 0)),
];

/// One path that breaks the levels.
#[derive(Debug, PartialEq)]
struct Violation {
    line: usize,
    from: String,
    to: String,
    why: String,
}

/// The level entry a module belongs to: the longest prefix in [`LEVELS`].
fn entry_of(module: &[String]) -> Option<(&'static str, (u8, u8))> {
    LEVELS
        .iter()
        .filter(|(prefix, _)| {
            let parts: Vec<&str> = prefix.split("::").collect();
            parts.len() <= module.len() && parts.iter().zip(module).all(|(p, m)| p == m)
        })
        .max_by_key(|(prefix, _)| prefix.split("::").count())
        .copied()
}

/// The module path of a source file: `src/model/graph/forward.rs` → `model::graph::forward`,
/// `src/model/mod.rs` → `model`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// `source` with comments and string/char literals blanked (lines kept), cut at the first
/// `#[cfg(test)]`.
fn code_of(source: &str) -> String {
    let source = source.split("#[cfg(test)]").next().unwrap_or_default();
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = |k: usize| chars.get(i + k).copied().unwrap_or(' ');
        let end = if chars[i] == '/' && rest(1) == '/' {
            (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len())
        } else if chars[i] == '/' && rest(1) == '*' {
            block_comment_end(&chars, i)
        } else if chars[i] == '"' {
            string_end(&chars, i)
        } else if chars[i] == '\'' && (rest(2) == '\'' || (rest(1) == '\\' && rest(3) == '\'')) {
            i + if rest(1) == '\\' { 4 } else { 3 }
        } else {
            out.push(chars[i]);
            i += 1;
            continue;
        };
        out.extend(
            chars[i..end]
                .iter()
                .map(|&c| if c == '\n' { '\n' } else { ' ' }),
        );
        i = end;
    }
    out
}

/// The index after the `*/` closing the block comment opened at `start` (nesting counted).
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let (mut depth, mut j) = (0usize, start);
    while j + 1 < chars.len() {
        if chars[j] == '/' && chars[j + 1] == '*' {
            depth += 1;
            j += 2;
        } else if chars[j] == '*' && chars[j + 1] == '/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    chars.len()
}

/// The index after the `"` closing the string opened at `start` (raw strings: `r"…"` and
/// `r#"…"#` are opened by the `"` after `r`/`#`, which this handles as plain strings
/// without escapes only when no `\"` occurs inside them).
fn string_end(chars: &[char], start: usize) -> usize {
    let raw_hashes = (0..start).rev().take_while(|&k| chars[k] == '#').count();
    let is_raw = start > raw_hashes && chars[start - raw_hashes - 1] == 'r';
    let mut j = start + 1;
    while j < chars.len() {
        if !is_raw && chars[j] == '\\' {
            j += 2;
            continue;
        }
        if chars[j] == '"' && (0..raw_hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
            return j + 1 + raw_hashes;
        }
        j += 1;
    }
    chars.len()
}

/// Every path starting with `crate`, `$crate`, `super` or `self` in `code`, expanded over
/// `{…}` groups, with its line number: `use super::{a::B, c}` gives `super::a::B` and
/// `super::c`.
fn paths_in(code: &str) -> Vec<(usize, Vec<String>)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let word_start = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let head = ["$crate::", "crate::", "super::", "self::"]
            .into_iter()
            .find(|h| word_start && chars[i..].starts_with(&h.chars().collect::<Vec<_>>()));
        let Some(head) = head else {
            i += 1;
            continue;
        };
        let line = chars[..i].iter().filter(|&&c| c == '\n').count() + 1;
        let root = head
            .trim_end_matches("::")
            .trim_start_matches('$')
            .to_string();
        let mut paths = Vec::new();
        i = read_path(&chars, i + head.len(), vec![root], &mut paths);
        found.extend(paths.into_iter().map(|p| (line, p)));
    }
    found
}

/// Read the rest of a path from `i` (after a `::`), appending each complete path (a group
/// gives several) to `out`; returns the index after it.
fn read_path(
    chars: &[char],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        if chars.get(i) == Some(&'{') {
            i += 1;
            loop {
                while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    i += 1;
                }
                match chars.get(i) {
                    None => return i,
                    Some('}') => return i + 1,
                    _ => i = read_path(chars, i, prefix.clone(), out),
                }
            }
        }
        let start = i;
        while chars
            .get(i)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '*')
        {
            i += 1;
        }
        if i > start {
            prefix.push(chars[start..i].iter().collect());
        }
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            continue;
        }
        out.push(prefix);
        return i;
    }
}

/// The modules of a crate and the `#[macro_export]` macros (which live at the crate root) with
/// the module defining each.
struct Crate {
    modules: Vec<Vec<String>>,
    exported_macros: Vec<(String, Vec<String>)>,
}

/// The module a path points into: the longest prefix of the resolved path that is a known
/// module (or the module defining an exported macro named at the crate root).
fn target_of(from: &[String], path: &[String], krate: &Crate) -> Option<Vec<String>> {
    let mut absolute: Vec<String> = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("self") => {
            absolute = from.to_vec();
            rest = &path[1..];
        }
        Some("super") => {
            absolute = from.to_vec();
            while rest.first().map(String::as_str) == Some("super") {
                absolute.pop();
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    absolute.extend(rest.iter().cloned());
    if let [name] = absolute.as_slice()
        && let Some((_, module)) = krate.exported_macros.iter().find(|(m, _)| m == name)
    {
        return Some(module.clone());
    }
    (1..=absolute.len())
        .rev()
        .map(|n| absolute[..n].to_vec())
        .find(|candidate| krate.modules.contains(candidate))
}

/// The paths of `source` (the file of module `from`) that break the levels.
fn violations(from: &[String], source: &str, krate: &Crate) -> Vec<Violation> {
    let (from_entry, from_rank) = entry_of(from).unwrap_or_else(|| {
        panic!(
            "module {} is not in LEVELS: give it a level here and in ARCHITECTURE.md",
            from.join("::")
        )
    });
    let mut out = Vec::new();
    for (line, path) in paths_in(&code_of(source)) {
        let text = path.join("::");
        let Some(target) = target_of(from, &path, krate) else {
            if path[0] == "crate" {
                out.push(Violation {
                    line,
                    from: from.join("::"),
                    to: text,
                    why: "a crate:: path must start with the module that defines the item".into(),
                });
            }
            continue;
        };
        let Some((to_entry, to_rank)) = entry_of(&target) else {
            continue; // the crate root
        };
        if to_entry != from_entry && to_rank >= from_rank {
            out.push(Violation {
                line,
                from: format!("{} (level {from_rank:?})", from.join("::")),
                to: format!("{text} (level {to_rank:?})"),
                why: if to_rank == from_rank {
                    "modules of one level may not name each other".into()
                } else {
                    "this names a module of a higher level".into()
                },
            });
        }
    }
    out
}

/// Every source file of the library under `src/` with its module path (the crate root
/// excluded).
fn sources() -> (Vec<(PathBuf, Vec<String>)>, Crate) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && path != src.join("lib.rs") {
                let module = module_of(&src, &path);
                files.push((path, module));
            }
        }
    }
    files.sort();
    let modules = files.iter().map(|(_, m)| m.clone()).collect();
    let mut exported_macros = Vec::new();
    for (file, module) in &files {
        let source = std::fs::read_to_string(file).expect("a readable source file");
        for part in source.split("#[macro_export]").skip(1) {
            let name = part
                .split("macro_rules!")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .expect("#[macro_export] comes before a macro_rules! definition");
            exported_macros.push((name.trim_end_matches('{').to_string(), module.clone()));
        }
    }
    (
        files,
        Crate {
            modules,
            exported_macros,
        },
    )
}

#[test]
fn no_module_names_a_module_above_it_or_beside_it() {
    let (files, krate) = sources();
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut report = BTreeMap::new();
    for (file, module) in &files {
        let source = std::fs::read_to_string(file).expect("a readable source file");
        for v in violations(module, &source, &krate) {
            report.insert(
                (file.display().to_string(), v.line),
                format!("{} -> {}: {}", v.from, v.to, v.why),
            );
        }
    }
    let lines: Vec<String> = report
        .iter()
        .map(|((file, line), what)| format!("{file}:{line}: {what}"))
        .collect();
    assert!(
        lines.is_empty(),
        "imports against the module levels:\n{}",
        lines.join("\n")
    );
}

/// A crate for the checker's own tests.
fn toy_crate() -> Crate {
    let modules = [
        "error",
        "layers",
        "layers::dense",
        "model",
        "model::graph",
        "model::fit",
        "keras",
    ];
    Crate {
        modules: modules.iter().map(|m| module(m)).collect(),
        exported_macros: vec![("sequential".into(), module("model"))],
    }
}

fn module(path: &str) -> Vec<String> {
    path.split("::").map(str::to_string).collect()
}

#[test]
fn the_checker_catches_upward_and_sideways_paths_anywhere_in_code() {
    let krate = toy_crate();
    let upward = "use crate::error::Result;\nfn f() { crate::model::fit::run(); }\n";
    let found = violations(&module("layers::dense"), upward, &krate);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, 2);
    assert!(found[0].why.contains("higher level"), "{found:?}");
    let grouped = "use super::{graph::LayerGraph, fit::Rows};";
    let found = violations(&module("model::graph"), grouped, &krate);
    assert_eq!(
        found.len(),
        1,
        "model::graph may not name model::fit: {found:?}"
    );
    let macro_from_above = "fn f() { crate::sequential![]; }";
    assert_eq!(
        violations(&module("layers"), macro_from_above, &krate).len(),
        1
    );
    let root_reexport = "use crate::Error;";
    assert_eq!(violations(&module("keras"), root_reexport, &krate).len(), 1);
}

#[test]
fn the_checker_ignores_comments_strings_tests_and_own_module() {
    let krate = toy_crate();
    let source = r#"
//! See [`crate::keras`].
/* crate::keras::x */
fn f() -> &'static str { let _c = '"'; "crate::keras::read" }
use super::dense;
use crate::layers::Layer;
#[cfg(test)]
mod tests { use crate::keras::Thing; }
"#;
    assert_eq!(violations(&module("layers::dense"), source, &krate), vec![]);
}
