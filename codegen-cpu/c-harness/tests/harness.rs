//! The harness on small C programs: one is built and run with its output captured, a
//! warning fails the build (`-Wall -Werror`) with the command line and the compiler's message,
//! a failing run names the command and its stderr, and raw f32 files round-trip.

use kiln_c_harness::{CProgram, bits, read_f32, run, run_ok, scratch_dir, write_f32};

const ECHO_C: &str = r#"
#include <stdio.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) printf("%s %d\n", argv[i], VALUE);
    fprintf(stderr, "to stderr\n");
    return argc > 2 ? 3 : 0;
}
"#;

#[test]
fn a_program_is_built_and_run_with_its_output_captured() {
    let dir = scratch_dir("c-harness-echo");
    let exe = CProgram::new(&dir, "echo", ECHO_C)
        .flag("-DVALUE=42")
        .flag("-O2")
        .build();
    assert_eq!(exe, dir.join("echo"));
    let out = run_ok(&dir, &exe, &["hello"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "hello 42\n");
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "to stderr\n");
    let failed = run(&dir, &exe, &["a", "b"]);
    assert_eq!(failed.status.code(), Some(3));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
#[should_panic(expected = "to stderr")]
fn a_failing_run_panics_with_its_stderr() {
    let dir = scratch_dir("c-harness-fails");
    let exe = CProgram::new(&dir, "echo", ECHO_C)
        .flag("-DVALUE=1")
        .build();
    run_ok(&dir, &exe, &["a", "b"]);
}

#[test]
#[should_panic(expected = "unused-variable")]
fn a_warning_fails_the_build_naming_the_command() {
    let dir = scratch_dir("c-harness-warning");
    CProgram::new(&dir, "unused", "int main(void) { int unused; return 0; }").build();
}

#[test]
#[should_panic(expected = "no libkiln_cpu_runtime.a in")]
fn the_runtime_library_must_be_beside_the_program() {
    let dir = scratch_dir("c-harness-runtime");
    CProgram::new(&dir, "main", "int main(void) { return 0; }")
        .with_runtime()
        .build();
}

#[test]
fn raw_f32_files_round_trip_bit_for_bit() {
    let dir = scratch_dir("c-harness-f32");
    let values = [1.5f32, -0.0, f32::MIN_POSITIVE, f32::INFINITY];
    write_f32(&dir.join("v.bin"), &values);
    assert_eq!(std::fs::metadata(dir.join("v.bin")).unwrap().len(), 16);
    assert_eq!(bits(&read_f32(&dir.join("v.bin"))), bits(&values));
    std::fs::remove_dir_all(&dir).ok();
}
