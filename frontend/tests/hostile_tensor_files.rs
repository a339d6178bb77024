//! Hostile tensor files (`kiln::tensor_file`, issue 16 findings 2, 3 and 5): a shape whose
//! element count wraps must fail the count check; a raw `"file"` is compared with the declared
//! shape before it is read and read with a bound; a JSON number beyond float32's range is an
//! error naming the file and the element, never a silent infinity.
//!
//! What this file does not test: the well-formed round trips and the ordinary malformed files
//! (the unit tests of `tensor_file.rs`), nor `kiln predict` itself (the CLI tests).

use std::path::{Path, PathBuf};

use kiln::tensor_file::read_tensor;

mod alloc_probe;

#[global_allocator]
static PROBE: alloc_probe::Probe = alloc_probe::Probe;

fn scratch_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kiln-hostile-tensor-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The error of reading the tensor file `dir/name` holding `json`, checked to name the file
/// (`names`, the JSON file or the raw file it points to) and to mention each of `words`.
fn refused(dir: &Path, name: &str, json: &str, names: &str, words: &[&str]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, json).unwrap();
    let err = read_tensor(&path)
        .expect_err("a hostile tensor file must not load")
        .to_string();
    assert!(err.contains(names), "the error must name {names}: {err}");
    for word in words {
        assert!(err.contains(word), "the error must mention {word:?}: {err}");
    }
    err
}

#[test]
fn a_shape_whose_element_count_wraps_fails_the_count_check() {
    let dir = scratch_dir("wrap");
    // 2^60 · 16 = 2^64: zero values in wrapping arithmetic, which an empty `data` matches.
    refused(
        &dir,
        "batch.json",
        r#"{"dtype": "float32", "shape": [1152921504606846976, 16], "data": []}"#,
        "batch.json",
        &["too many elements"],
    );
    // The same shape pointing to an empty raw file.
    std::fs::write(dir.join("empty.bin"), []).unwrap();
    refused(
        &dir,
        "raw.json",
        r#"{"dtype": "float32", "shape": [1152921504606846976, 16], "file": "empty.bin"}"#,
        "raw.json",
        &["too many elements"],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_raw_file_is_checked_against_the_shape_before_it_is_read() {
    let dir = scratch_dir("raw");
    // 8 MiB of data for a shape of 2 values: refused from its length, not read into memory.
    let big = 8 << 20;
    std::fs::write(dir.join("big.bin"), vec![0u8; big]).unwrap();
    let path = dir.join("small.json");
    std::fs::write(
        &path,
        r#"{"dtype": "float32", "shape": [2], "file": "big.bin"}"#,
    )
    .unwrap();
    let (result, largest) = alloc_probe::largest_allocation(|| read_tensor(&path));
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("big.bin") && err.contains("2 float32 values"),
        "{err}"
    );
    assert!(
        largest < big / 2,
        "read {largest} bytes at once for a 2-value shape: {err}"
    );
    // Too short, and not a whole number of values: both refused, naming the raw file.
    std::fs::write(dir.join("short.bin"), [0u8; 7]).unwrap();
    refused(
        &dir,
        "short.json",
        r#"{"dtype": "float32", "shape": [2], "file": "short.bin"}"#,
        "short.bin",
        &["7 bytes", "8 bytes"],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_number_beyond_float32_is_an_error_naming_the_element() {
    let dir = scratch_dir("overflow");
    for (name, value) in [
        ("over.json", "3.5e38"),
        ("under.json", "-1e39"),
        ("huge.json", "1e300"),
    ] {
        let json = format!(r#"{{"dtype": "float32", "shape": [3], "data": [1.0, 2.0, {value}]}}"#);
        refused(&dir, name, &json, name, &["data[2]", "float32"]);
    }
    // f32::MAX as it prints (3.4028235e38, just above it in f64) still reads as f32::MAX, and
    // values below float32's smallest subnormal read as zero, as numpy converts them.
    let path = dir.join("edge.json");
    std::fs::write(
        &path,
        r#"{"dtype": "float32", "shape": [3], "data": [3.4028235e38, -3.4028235e38, 1e-50]}"#,
    )
    .unwrap();
    let t = read_tensor(&path).unwrap();
    assert_eq!(t.data, vec![f32::MAX, f32::MIN, 0.0]);
    std::fs::remove_dir_all(&dir).ok();
}
