//! Rendering `<model>.h`: a doc comment (target, link line, entry points with their
//! argument shapes and batch sizes, parameters in index order, the weights file format,
//! thread safety) followed by the C declarations and shape constants.

use std::fmt::Write;

use ir::Shape;

use super::spec::{Entry, Io, Spec, c_identifier};
use super::{AotOptions, RUNTIME_LIB_NAME, WeightStorage};

/// The command that links a C program with a model (`{m}` is the model's name).
pub(crate) fn link_line(m: &str) -> String {
    format!("cc main.c {m}.o {RUNTIME_LIB_NAME} -lpthread -ldl -lm -o main")
}

fn dims(shape: &Shape) -> String {
    let d: Vec<String> = shape.dims().iter().map(usize::to_string).collect();
    format!("{{{}}}", d.join(", "))
}

/// `s` as a C string literal: quotes, backslashes and bytes outside printable ASCII escaped
/// (octal).
fn c_string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' | b'\\' => out.extend(['\\', b as char]),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

/// `s` made safe inside a C block comment.
fn in_comment(s: &str) -> String {
    s.replace("*/", "* /")
}

/// An entry point's C parameters after the model pointer: its inputs as `const float *`,
/// then its outputs as `float *`.
fn c_arguments(entry: &Entry<'_>) -> Vec<String> {
    entry
        .inputs
        .iter()
        .map(|io| format!("const float *{}", io.c_name))
        .chain(
            entry
                .outputs
                .iter()
                .map(|io| format!("float *{}", io.c_name)),
        )
        .collect()
}

/// The leading dimension of an entry's first input: its batch size.
fn batch(inputs: &[Io]) -> Option<usize> {
    inputs
        .first()
        .and_then(|io| io.shape.dims().first().copied())
}

/// Floats in the weights of all parameters.
fn weights_len(spec: &Spec) -> usize {
    spec.params.iter().map(|(_, t)| t.data.len()).sum()
}

/// The C header of `spec`: its doc comment (overview, entry points, parameters and
/// weights), the declarations, and the constants.
pub(crate) fn render(spec: &Spec, options: &AotOptions) -> String {
    let mut h = String::new();
    doc_overview(&mut h, spec.name, options);
    doc_entries(&mut h, spec);
    doc_params(&mut h, spec, options);
    declarations(&mut h, spec);
    param_constants(&mut h, spec, options);
    entry_constants(&mut h, spec);
    let up = spec.name.to_ascii_uppercase();
    let _ = writeln!(h, "\n#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {up}_H */");
    h
}

/// The doc comment's opening: what the file is, the target, the link line, how to use the
/// model and what the functions return.
fn doc_overview(h: &mut String, m: &str, options: &AotOptions) {
    let target = options.target.as_deref().map_or(
        "this compiling host, with its CPU features".to_string(),
        |t| format!("{t} (baseline CPU features)"),
    );
    let _ = writeln!(
        h,
        "/* {m}.h: C API of the model `{m}`, compiled ahead of time by Kiln. Generated; do not edit."
    );
    let _ = writeln!(h, " *\n * Target: {target}.\n * Link:   {}", link_line(m));
    let _ = writeln!(
        h,
        " * ({RUNTIME_LIB_NAME} is Kiln's CPU runtime: worker pool, matrix kernels, model instances.)"
    );
    let _ = writeln!(
        h,
        " *\n * Usage:\n *   {m}_t *model = {m}_create(NULL);   // NULL: embedded weights; or a weights file path"
    );
    let _ = writeln!(
        h,
        " *   ... {m}_<entry>(model, inputs..., outputs...) ...\n *   {m}_destroy(model);"
    );
    let _ = writeln!(
        h,
        " * Every function returning int returns 0 on success, -1 on failure (the reason is\n * written to stderr); {m}_create returns NULL on failure."
    );
}

/// The doc comment's entry points: each one's prototype, batch size, inputs and outputs
/// (shapes and graph names), and whether it updates parameters.
fn doc_entries(h: &mut String, spec: &Spec) {
    let m = spec.name;
    let up = m.to_ascii_uppercase();
    let _ = writeln!(
        h,
        " *\n * Entry points (shapes, and so batch sizes, are fixed at compile time; arrays are\n * dense row-major float32):"
    );
    for e in &spec.entries {
        let args = c_arguments(e);
        let _ = writeln!(
            h,
            " *   int {m}_{}({m}_t *model, {});",
            e.name,
            args.join(", ")
        );
        if let Some(b) = batch(&e.inputs) {
            let _ = writeln!(
                h,
                " *     batch size {b} ({up}_{}_BATCH)",
                e.name.to_ascii_uppercase()
            );
        }
        for (kind, ios) in [("input ", &e.inputs), ("output", &e.outputs)] {
            for io in ios.iter() {
                let _ = writeln!(
                    h,
                    " *     {kind} {:<12} shape {} ({} floats) `{}`",
                    io.c_name,
                    io.shape,
                    io.shape.numel(),
                    in_comment(&io.name)
                );
            }
        }
        if !e.graph.updates.is_empty() {
            let _ = writeln!(
                h,
                " *     updates {} parameters of the instance (a training step)",
                e.graph.updates.len()
            );
        }
    }
}

/// The doc comment's end: the parameters by index, where the initial weights are, the
/// weights file's format, and thread safety.
fn doc_params(h: &mut String, spec: &Spec, options: &AotOptions) {
    let m = spec.name;
    let up = m.to_ascii_uppercase();
    let _ = writeln!(
        h,
        " *\n * Parameters (weights and optimizer state), by index, for {m}_get_weights and\n * {m}_set_weights ({m}_param_index finds one by name):"
    );
    for (i, (name, t)) in spec.params.iter().enumerate() {
        let _ = writeln!(
            h,
            " *   {i:>3}  {:<24} shape {} ({} floats)",
            in_comment(name),
            t.shape,
            t.data.len()
        );
    }
    let storage = match options.weights {
        WeightStorage::Embedded => "embedded in the object ({m}_create(NULL) uses them)",
        WeightStorage::External => "NOT embedded: {m}_create(path) reads them from a weights file",
    }
    .replace("{m}", m);
    let _ = writeln!(h, " *\n * Initial weights: {storage}.");
    let _ = writeln!(
        h,
        " * Weights file ({m}.weights): every parameter's values in index order, as raw\n * little-endian float32, no header: {up}_WEIGHTS_LEN floats ({} bytes).",
        weights_len(spec) * 4
    );
    let _ = writeln!(
        h,
        " *\n * Threads: one instance runs one call at a time; separate instances may run on separate\n * threads (they share the runtime's worker pool).\n */"
    );
}

/// The include guard's opening, the instance type and every function's prototype.
fn declarations(h: &mut String, spec: &Spec) {
    let m = spec.name;
    let up = m.to_ascii_uppercase();
    let _ = writeln!(
        h,
        "#ifndef {up}_H\n#define {up}_H\n\n#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {{\n#endif\n"
    );
    let _ = writeln!(
        h,
        "/* A model instance: parameters and scratch buffers. */\ntypedef struct {m}_instance {m}_t;\n"
    );
    let _ = writeln!(
        h,
        "{m}_t *{m}_create(const char *weights_path);\nvoid {m}_destroy({m}_t *model);"
    );
    let _ = writeln!(
        h,
        "int {m}_get_weights(const {m}_t *model, uint64_t index, float *dst);"
    );
    let _ = writeln!(
        h,
        "int {m}_set_weights({m}_t *model, uint64_t index, const float *src);"
    );
    let _ = writeln!(
        h,
        "int64_t {m}_param_index(const char *name); /* -1 when there is none */"
    );
    for e in &spec.entries {
        let args = c_arguments(e);
        let _ = writeln!(h, "int {m}_{}({m}_t *model, {});", e.name, args.join(", "));
    }
}

/// The parameter constants: count, weights length, storage, names and lengths, and one
/// index and length macro per parameter (the first of parameters whose C names collide).
fn param_constants(h: &mut String, spec: &Spec, options: &AotOptions) {
    let up = spec.name.to_ascii_uppercase();
    let _ = writeln!(
        h,
        "\n#define {up}_N_PARAMS {}\n#define {up}_WEIGHTS_LEN {}",
        spec.params.len(),
        weights_len(spec)
    );
    let _ = writeln!(
        h,
        "#define {up}_WEIGHTS_EMBEDDED {}",
        u8::from(options.weights == WeightStorage::Embedded)
    );
    let names: Vec<String> = spec.params.iter().map(|(n, _)| c_string(n)).collect();
    let lens: Vec<String> = spec
        .params
        .iter()
        .map(|(_, t)| t.data.len().to_string())
        .collect();
    let _ = writeln!(
        h,
        "#define {up}_PARAM_NAMES {{{}}}\n#define {up}_PARAM_LENS {{{}}}",
        names.join(", "),
        lens.join(", ")
    );
    let mut taken: Vec<String> = Vec::new();
    for (i, (name, t)) in spec.params.iter().enumerate() {
        let macro_name = format!("{up}_PARAM_{}", c_identifier(name).to_ascii_uppercase());
        if !taken.contains(&macro_name) {
            let _ = writeln!(
                h,
                "#define {macro_name} {i}\n#define {macro_name}_LEN {}",
                t.data.len()
            );
            taken.push(macro_name);
        }
    }
}

/// The entry constants: each entry's batch size and each input's and output's length and
/// shape.
fn entry_constants(h: &mut String, spec: &Spec) {
    let up = spec.name.to_ascii_uppercase();
    for e in &spec.entries {
        let eu = format!("{up}_{}", e.name.to_ascii_uppercase());
        if let Some(b) = batch(&e.inputs) {
            let _ = writeln!(h, "#define {eu}_BATCH {b}");
        }
        for io in e.inputs.iter().chain(&e.outputs) {
            let iu = format!("{eu}_{}", io.c_name.to_ascii_uppercase());
            let _ = writeln!(
                h,
                "#define {iu}_LEN {}\n#define {iu}_SHAPE {}",
                io.shape.numel(),
                dims(&io.shape)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{c_string, in_comment};

    #[test]
    fn names_are_escaped_for_c() {
        assert_eq!(c_string("dense/kernel"), "\"dense/kernel\"");
        assert_eq!(c_string("a\"b\\c\né"), "\"a\\\"b\\\\c\\012\\303\\251\"");
        assert_eq!(in_comment("x*/y"), "x* /y");
    }
}
