//! Constant tensors of an import ([`Const`]: f32 or i64 data with dims, and for i64 data
//! which elements came from the batch size) and reading them from ONNX `TensorProto`s:
//! `raw_data`, the typed fields, and external data files. Every declared size is checked
//! with checked arithmetic against the bytes actually present before anything is allocated.
//! It does not evaluate ops ([`super::fold`] does).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

use kiln_onnx_proto::TensorProto;

use super::error::{ImportResult, tensor_error};

/// ONNX element types the importer reads.
pub(crate) mod dtype {
    /// FLOAT.
    pub const FLOAT: i32 = 1;
    /// UINT8.
    pub const UINT8: i32 = 2;
    /// INT8.
    pub const INT8: i32 = 3;
    /// INT32.
    pub const INT32: i32 = 6;
    /// INT64.
    pub const INT64: i32 = 7;
    /// BOOL.
    pub const BOOL: i32 = 9;
    /// DOUBLE.
    pub const DOUBLE: i32 = 11;
}

/// The values of a constant tensor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    /// Floating point (FLOAT, DOUBLE read as f32).
    F32(Vec<f32>),
    /// Integers and booleans.
    I64(Vec<i64>),
}

/// Where an integer came from: a plain constant, the batch size itself (from `Shape` of a
/// tensor with a batch axis), or arithmetic on the batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A constant of the file.
    Plain,
    /// The batch size, moved around unchanged.
    Batch,
    /// Computed from the batch size.
    FromBatch,
}

/// A tensor whose value is known at import.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Const {
    /// Its dims (row-major).
    pub dims: Vec<usize>,
    /// Its values.
    pub data: Data,
    /// Per element where it came from (empty: all [`Mark::Plain`]).
    pub marks: Vec<Mark>,
}

impl Const {
    /// A tensor of f32 values.
    pub(crate) fn f32(dims: Vec<usize>, data: Vec<f32>) -> Const {
        Const {
            dims,
            data: Data::F32(data),
            marks: Vec::new(),
        }
    }

    /// A tensor of integers.
    pub(crate) fn i64(dims: Vec<usize>, data: Vec<i64>) -> Const {
        Const {
            dims,
            data: Data::I64(data),
            marks: Vec::new(),
        }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }

    /// The mark of element `i`.
    pub(crate) fn mark(&self, i: usize) -> Mark {
        self.marks.get(i).copied().unwrap_or(Mark::Plain)
    }

    /// Whether any element depends on the batch size.
    pub(crate) fn depends_on_batch(&self) -> bool {
        self.marks.iter().any(|m| *m != Mark::Plain)
    }

    /// The values as f32.
    pub(crate) fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The values as i64 (floats truncated toward zero, as ONNX `Cast`).
    pub(crate) fn to_i64(&self) -> Vec<i64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I64(v) => v.clone(),
        }
    }
}

/// Bytes per element of a `raw_data` encoding.
fn elem_size(data_type: i32) -> Option<usize> {
    match data_type {
        dtype::FLOAT | dtype::INT32 => Some(4),
        dtype::INT64 | dtype::DOUBLE => Some(8),
        dtype::UINT8 | dtype::INT8 | dtype::BOOL => Some(1),
        _ => None,
    }
}

/// The element count of `dims`, refusing negative dims and overflow.
pub(crate) fn checked_numel(name: &str, dims: &[i64]) -> ImportResult<(Vec<usize>, usize)> {
    let mut numel: usize = 1;
    let mut out = Vec::with_capacity(dims.len().min(64));
    for &d in dims {
        let d = usize::try_from(d)
            .map_err(|_| tensor_error(name, format!("has a negative dimension in {dims:?}")))?;
        numel = numel
            .checked_mul(d)
            .ok_or_else(|| tensor_error(name, format!("dims {dims:?} overflow")))?;
        out.push(d);
    }
    Ok((out, numel))
}

/// Reads a `TensorProto` (initializer or Constant value); `dir` is the `.onnx` file's
/// folder, where external data files are looked up.
pub(crate) fn read_tensor(t: &TensorProto, dir: &Path) -> ImportResult<Const> {
    let name = t.name.clone().unwrap_or_default();
    let data_type = t.data_type.unwrap_or(0);
    let (dims, numel) = checked_numel(&name, &t.dims)?;
    if t.segment.is_some() {
        return Err(tensor_error(&name, "segmented tensors are not supported"));
    }
    let size = elem_size(data_type).ok_or_else(|| {
        tensor_error(
            &name,
            format!("element type {data_type} is not supported (float, double, int and bool are)"),
        )
    })?;
    let nbytes = numel
        .checked_mul(size)
        .ok_or_else(|| tensor_error(&name, "byte size overflows"))?;
    if t.data_location == Some(1) {
        let bytes = read_external(t, &name, dir, nbytes)?;
        return Ok(from_raw(&bytes, data_type, dims));
    }
    if let Some(raw) = &t.raw_data {
        if raw.len() != nbytes {
            return Err(tensor_error(
                &name,
                format!(
                    "raw_data holds {} bytes, but dims {:?} of type {data_type} need {nbytes}",
                    raw.len(),
                    t.dims
                ),
            ));
        }
        return Ok(from_raw(raw, data_type, dims));
    }
    from_typed(t, &name, data_type, dims, numel)
}

/// Values from the typed repeated fields, their count checked against the dims.
fn from_typed(
    t: &TensorProto,
    name: &str,
    data_type: i32,
    dims: Vec<usize>,
    numel: usize,
) -> ImportResult<Const> {
    let (count, value) = match data_type {
        dtype::FLOAT => (t.float_data.len(), Data::F32(t.float_data.clone())),
        dtype::DOUBLE => (
            t.double_data.len(),
            Data::F32(t.double_data.iter().map(|&x| x as f32).collect()),
        ),
        dtype::INT64 => (t.int64_data.len(), Data::I64(t.int64_data.clone())),
        _ => (
            t.int32_data.len(),
            Data::I64(t.int32_data.iter().map(|&x| i64::from(x)).collect()),
        ),
    };
    if count != numel {
        return Err(tensor_error(
            name,
            format!(
                "holds {count} values, but its dims {:?} need {numel}",
                t.dims
            ),
        ));
    }
    Ok(Const {
        dims,
        data: value,
        marks: Vec::new(),
    })
}

/// Little-endian raw bytes (length already checked) as a constant.
fn from_raw(raw: &[u8], data_type: i32, dims: Vec<usize>) -> Const {
    let data = match data_type {
        dtype::FLOAT => Data::F32(
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        dtype::DOUBLE => Data::F32(
            raw.chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
        ),
        dtype::INT64 => Data::I64(
            raw.chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
        ),
        dtype::INT32 => Data::I64(
            raw.chunks_exact(4)
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        ),
        dtype::INT8 => Data::I64(raw.iter().map(|&b| i64::from(b as i8)).collect()),
        _ => Data::I64(raw.iter().map(|&b| i64::from(b)).collect()),
    };
    Const {
        dims,
        data,
        marks: Vec::new(),
    }
}

/// The `nbytes` bytes an external-data tensor points to, after checking its location stays
/// inside `dir` and its offset and length lie inside the data file.
fn read_external(t: &TensorProto, name: &str, dir: &Path, nbytes: usize) -> ImportResult<Vec<u8>> {
    let entry = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key.as_deref() == Some(key))
            .and_then(|e| e.value.clone())
    };
    let location =
        entry("location").ok_or_else(|| tensor_error(name, "external data without a location"))?;
    let number = |key: &str| -> ImportResult<Option<u64>> {
        entry(key)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    tensor_error(name, format!("external data {key} `{v}` is not a number"))
                })
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    if let Some(length) = number("length")?
        && length != nbytes as u64
    {
        return Err(tensor_error(
            name,
            format!("external data length {length} differs from the {nbytes} bytes its dims need"),
        ));
    }
    let rel = Path::new(&location);
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(tensor_error(
            name,
            format!("external data location `{location}` leaves the model's folder"),
        ));
    }
    let path = dir.join(rel);
    let io = |e: std::io::Error| {
        tensor_error(name, format!("external data file {}: {e}", path.display()))
    };
    let real_dir = dir.canonicalize().map_err(io)?;
    let real = path.canonicalize().map_err(io)?;
    if !real.starts_with(&real_dir) {
        return Err(tensor_error(
            name,
            format!("external data location `{location}` leaves the model's folder"),
        ));
    }
    let mut file = File::open(&real).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let end = offset.checked_add(nbytes as u64);
    if end.is_none_or(|end| end > len) {
        return Err(tensor_error(
            name,
            format!(
                "external data offset {offset} + length {nbytes} lies past the end of {} \
                 ({len} bytes)",
                path.display()
            ),
        ));
    }
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut bytes = vec![0u8; nbytes];
    file.read_exact(&mut bytes).map_err(io)?;
    Ok(bytes)
}
