//! Helpers for the ahead-of-time tests: writing a model with the runtime library and
//! building a C program against it (through `kiln_c_harness`), and the C helpers every test
//! program uses.

use std::path::{Path, PathBuf};

use kiln_c_harness::CProgram;

/// Write `model` (with the host runtime library) into `dir`, compile `main_c` there against
/// the model's object and the runtime library, and return the executable's path.
pub fn build(dir: &Path, model: &codegen_cpu::AotModel, main_c: &str) -> PathBuf {
    let runtime = codegen_cpu::aot::runtime_library().expect("cargo built the runtime library");
    model.write(dir, Some(&runtime)).unwrap();
    CProgram::new(dir, "main", main_c)
        .object(format!("{}.o", model.name))
        .with_runtime()
        .build()
}

/// The C helpers every test program uses: read and write raw f32 files, die on error.
pub const C_PRELUDE: &str = r#"
#include <stdio.h>
#include <stdlib.h>
static void die(const char *what) { fprintf(stderr, "failed: %s\n", what); exit(1); }
static void read_f32(const char *path, float *dst, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f || fread(dst, sizeof(float), n, f) != n) die(path);
    fclose(f);
}
static void write_f32(const char *path, const float *src, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(src, sizeof(float), n, f) != n) die(path);
    fclose(f);
}
"#;
