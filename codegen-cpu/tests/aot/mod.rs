//! Helpers for the ahead-of-time tests: a scratch directory, compiling and running a C
//! program against a model object and the runtime library, raw f32 files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory under the system temp dir, named after `test`.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-aot-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Write `model` (with the host runtime library) into `dir`, compile `main_c` there with
/// the header's link line and return the executable's path.
pub fn build(dir: &Path, model: &codegen_cpu::AotModel, main_c: &str) -> PathBuf {
    let runtime = codegen_cpu::aot::runtime_library().expect("cargo built the runtime library");
    model.write(dir, Some(&runtime)).unwrap();
    std::fs::write(dir.join("main.c"), main_c).unwrap();
    let out = Command::new("cc")
        .current_dir(dir)
        .args([
            "-std=c99",
            "-Wall",
            "-Werror",
            "main.c",
            &format!("{}.o", model.name),
            "libkiln_cpu_runtime.a",
        ])
        .args(["-lpthread", "-ldl", "-lm", "-o", "main"])
        .output()
        .expect("a C compiler (`cc`) is needed to link the object");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("main")
}

/// Run `exe` in `dir` with `args`; its stderr on failure.
pub fn run(dir: &Path, exe: &Path, args: &[&str]) -> std::process::Output {
    Command::new(exe)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Write raw little-endian f32s.
pub fn write_f32(path: &Path, data: &[f32]) {
    std::fs::write(
        path,
        data.iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
}

/// Read raw little-endian f32s.
pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
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
