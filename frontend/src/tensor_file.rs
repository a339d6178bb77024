//! Tensors in files: the JSON tensor format Keras fixtures and the `kiln predict` command use.
//!
//! A tensor file is a JSON object `{"dtype": "float32", "shape": [..], "data": [..]}` with the
//! values inline in row-major order, or `{"dtype": "float32", "shape": [..], "file": "x.bin",
//! "byte_order": "little"}` pointing to raw little-endian f32 values in a file next to the JSON
//! file (a relative `file` is resolved against the JSON file's folder). Only `float32` exists.
//!
//! Sizes are checked before anything is read or reserved: the shape's element count with
//! checked arithmetic ([`ir::size`]), and a raw file's length against the shape's byte size
//! (the read is bounded by it). An inline number beyond float32's range (`3.5e38`) is an error
//! naming the file and the element, never a silent infinity; NaN and infinities have no JSON
//! form and need the binary encoding.
//!
//! ```
//! use kiln::tensor_file::{read_tensor, write_tensor, Encoding};
//! use kiln::Tensor;
//! let dir = std::env::temp_dir().join(format!("kiln-doc-tensor-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let t = Tensor::new([2, 2], vec![1.0, 2.5, -3.0, 4.0]).unwrap();
//! write_tensor(dir.join("t.json"), &t, Encoding::Binary).unwrap();
//! assert_eq!(read_tensor(dir.join("t.json")).unwrap(), t);
//! # std::fs::remove_dir_all(&dir).ok();
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use ir::{Shape, Tensor};
use serde_json::{Map, Value, json};

use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};

/// How [`write_tensor`] stores the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// In the JSON file, as a `data` array of numbers (exact: f32 values print round-trip).
    Inline,
    /// In a raw little-endian f32 file beside the JSON file (same stem, `.bin`), named by `file`.
    Binary,
}

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::TensorFile {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Reads the tensor described by the JSON file at `path` (see the module doc). Errors name the
/// file and what is wrong: not JSON, a dtype other than float32, a shape that does not match
/// the number of values, a missing or short binary file.
pub fn read_tensor(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| bad(path, format!("not valid JSON: {e}")))?;
    tensor_from_json(path, &value)
}

/// The tensor a parsed tensor-JSON object describes; `path` is the JSON file it came from
/// (used for errors and to resolve a relative `file`).
pub fn tensor_from_json(path: &Path, value: &Value) -> Result<Tensor> {
    let object = value
        .as_object()
        .ok_or_else(|| bad(path, "a tensor file must hold a JSON object"))?;
    match object.get("dtype").and_then(Value::as_str) {
        Some("float32") => {}
        other => {
            return Err(bad(
                path,
                format!(
                    "dtype must be \"float32\", got {}",
                    display(other.map(|s| json!(s)))
                ),
            ));
        }
    }
    let shape = read_shape(path, object)?;
    let count = shape
        .checked_numel()
        .map_err(|e| bad(path, format!("`shape`: {e}")))?;
    let data = match (object.get("data"), object.get("file")) {
        (Some(data), None) => read_inline(path, data)?,
        (None, Some(Value::String(file))) => read_binary(path, object, file, count)?,
        (None, Some(other)) => {
            return Err(bad(path, format!("`file` must be a string, got {other}")));
        }
        (Some(_), Some(_)) => return Err(bad(path, "give either `data` or `file`, not both")),
        (None, None) => return Err(bad(path, "needs a `data` array or a `file` name")),
    };
    if data.len() != count {
        return Err(bad(
            path,
            format!("shape {shape} needs {count} values, found {}", data.len()),
        ));
    }
    Ok(Tensor { shape, data })
}

fn display(v: Option<Value>) -> String {
    v.map_or_else(|| "nothing".to_string(), |v| v.to_string())
}

fn read_shape(path: &Path, object: &Map<String, Value>) -> Result<Shape> {
    let dims = object
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(path, "needs a `shape` array"))?;
    let dims = dims
        .iter()
        .map(|d| {
            d.as_u64().map(|d| d as usize).ok_or_else(|| {
                bad(
                    path,
                    format!("shape entries must be whole numbers >= 0, got {d}"),
                )
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    Ok(Shape::new(dims))
}

fn read_inline(path: &Path, data: &Value) -> Result<Vec<f32>> {
    let values = data
        .as_array()
        .ok_or_else(|| bad(path, "`data` must be an array of numbers"))?;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = v
                .as_f64()
                .ok_or_else(|| bad(path, format!("data[{i}] is not a number: {v}")))?;
            f32_of(x).ok_or_else(|| {
                bad(
                    path,
                    format!(
                        "data[{i}] = {v} is outside the float32 range (largest magnitude {:e}); \
                         non-finite values need the binary encoding",
                        f32::MAX
                    ),
                )
            })
        })
        .collect()
}

/// `x` as the nearest f32, or `None` when it is beyond f32's range: a finite JSON number never
/// silently becomes an infinity. (Values that round to `±f32::MAX`, as `f32::MAX` printed with
/// 9 digits does, are kept; values too small for f32 become 0 or a subnormal, as in numpy.)
fn f32_of(x: f64) -> Option<f32> {
    let y = x as f32;
    y.is_finite().then_some(y)
}

/// The `count` f32 values of the raw file `file` names. Its length is compared with the
/// declared shape's byte size before anything is read, and the read is bounded by that size,
/// so a file larger than its shape says (or one that grows meanwhile) is refused, not loaded.
fn read_binary(
    path: &Path,
    object: &Map<String, Value>,
    file: &str,
    count: usize,
) -> Result<Vec<f32>> {
    match object.get("byte_order").and_then(Value::as_str) {
        None | Some("little") => {}
        Some(other) => {
            return Err(bad(
                path,
                format!("byte_order must be \"little\", got \"{other}\""),
            ));
        }
    }
    let bin = binary_path(path, file);
    let io = |source| Error::Io {
        path: bin.clone(),
        source,
    };
    // `count` passed `checked_numel`, so its bytes fit in a u64 (and an isize).
    let needed = count as u64 * 4;
    let reader = std::fs::File::open(&bin).map_err(io)?;
    let length = reader.metadata().map_err(io)?.len();
    check_binary_length(&bin, length, needed, count)?;
    let mut bytes = Vec::with_capacity(needed as usize);
    reader
        .take(needed + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_binary_length(&bin, bytes.len() as u64, needed, count)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// An error naming `bin` unless it holds exactly `needed` bytes (`count` f32 values).
fn check_binary_length(bin: &Path, length: u64, needed: u64, count: usize) -> Result<()> {
    if length == needed {
        return Ok(());
    }
    let whole = if length.is_multiple_of(4) {
        String::new()
    } else {
        ", not a whole number of f32 values".to_string()
    };
    Err(bad(
        bin,
        format!(
            "holds {length} bytes{whole}; the declared shape needs {count} float32 values ({needed} bytes)"
        ),
    ))
}

fn binary_path(json_path: &Path, file: &str) -> PathBuf {
    let file = Path::new(file);
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        json_path.parent().unwrap_or(Path::new(".")).join(file)
    }
}

/// Writes `tensor` to the JSON file `path` (and, for [`Encoding::Binary`], its values to
/// `path` with the extension `.bin`). Each file is replaced atomically.
pub fn write_tensor(path: impl AsRef<Path>, tensor: &Tensor, encoding: Encoding) -> Result<()> {
    let path = path.as_ref();
    let dims = tensor.shape.dims();
    let json = match encoding {
        Encoding::Inline => {
            let data: Vec<Value> = tensor
                .data
                .iter()
                .map(|&v| f32_json(v, path))
                .collect::<Result<_>>()?;
            json!({"dtype": "float32", "shape": dims, "data": data})
        }
        Encoding::Binary => {
            let bin = path.with_extension("bin");
            let bytes: Vec<u8> = tensor.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            write_atomically(&bin, &bytes)?;
            let name = bin
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            json!({"dtype": "float32", "shape": dims, "file": name, "byte_order": "little"})
        }
    };
    write_atomically(path, json.to_string().as_bytes())
}

/// A JSON number that reads back as exactly `v` (NaN and infinities have no JSON form).
fn f32_json(v: f32, path: &Path) -> Result<Value> {
    serde_json::Number::from_f64(f64::from(v))
        .map(Value::Number)
        .ok_or_else(|| {
            bad(
                path,
                format!("{v} has no JSON number form; write the tensor with the binary encoding"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kiln-tensor-file-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn both_encodings_round_trip_exactly() {
        let dir = temp_dir("round");
        let t = Tensor::new(
            [2, 3],
            vec![0.1, -2.5e-8, 3.0, f32::MAX, f32::MIN_POSITIVE, -0.0],
        )
        .unwrap();
        for (name, encoding) in [
            ("inline.json", Encoding::Inline),
            ("bin.json", Encoding::Binary),
        ] {
            write_tensor(dir.join(name), &t, encoding).unwrap();
            let back = read_tensor(dir.join(name)).unwrap();
            assert_eq!(back.shape, t.shape);
            let bits = |x: &Tensor| x.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&back), bits(&t), "{name}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn malformed_files_name_the_problem() {
        let dir = temp_dir("bad");
        let cases = [
            ("{", "not valid JSON"),
            (
                r#"{"dtype":"float64","shape":[1],"data":[1]}"#,
                "dtype must be \"float32\"",
            ),
            (
                r#"{"dtype":"float32","shape":[2],"data":[1]}"#,
                "needs 2 values, found 1",
            ),
            (
                r#"{"dtype":"float32","shape":[-1],"data":[1]}"#,
                "whole numbers",
            ),
            (
                r#"{"dtype":"float32","shape":[1],"data":["a"]}"#,
                "data[0] is not a number",
            ),
            (
                r#"{"dtype":"float32","shape":[1]}"#,
                "needs a `data` array or a `file`",
            ),
            (
                r#"{"dtype":"float32","shape":[1],"file":"missing.bin"}"#,
                "missing.bin",
            ),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let path = dir.join(format!("case{i}.json"));
            std::fs::write(&path, text).unwrap();
            let err = read_tensor(&path).unwrap_err().to_string();
            assert!(err.contains(want), "case {i}: {err}");
        }
        std::fs::write(dir.join("short.bin"), [0u8; 6]).unwrap();
        std::fs::write(
            dir.join("short.json"),
            r#"{"dtype":"float32","shape":[2],"file":"short.bin"}"#,
        )
        .unwrap();
        let err = read_tensor(dir.join("short.json")).unwrap_err().to_string();
        assert!(err.contains("6 bytes"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn non_finite_values_need_the_binary_encoding() {
        let dir = temp_dir("nan");
        let t = Tensor::new([1], vec![f32::NAN]).unwrap();
        let err = write_tensor(dir.join("n.json"), &t, Encoding::Inline).unwrap_err();
        assert!(err.to_string().contains("binary encoding"), "{err}");
        write_tensor(dir.join("n.json"), &t, Encoding::Binary).unwrap();
        assert!(read_tensor(dir.join("n.json")).unwrap().data[0].is_nan());
        std::fs::remove_dir_all(&dir).ok();
    }
}
