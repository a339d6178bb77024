//! Model files of every format the `kiln` tool reads, recognised by their CONTENT (never
//! their extension), and writing a model in the format an output path's extension asks
//! for. One table, `FORMATS`, lists the formats: a new one (ONNX, say) is a new
//! [`Format`] variant, a row with its content test, and its loader.
//!
//! - Keras 3 `.keras` archive (a zip file with a `config.json` member):
//!   [`Model::load_keras_archive`] / [`Model::save_keras_archive`];
//! - Keras `.h5` (HDF5 signature `\x89HDF\r\n\x1a\n`): [`Model::load_keras`] /
//!   [`Model::save_keras`];
//! - Kiln's own format (`KILN` magic, [`kiln::saving::container`]): [`Model::load`] /
//!   [`Model::save`] for a compiled model; an uncompiled model is written with
//!   [`Model::save_weights`] (architecture and weights) and read back from its config;
//! - ONNX (a protobuf `ModelProto`: its first field is `ir_version`, tag byte `0x08`, a
//!   small version number): [`Model::load_onnx`] / [`Model::save_onnx`];
//! - a Keras JSON model config (`model.to_json()`; the text starts with `{`):
//!   [`Model::load_keras_json`], with the weights of `--weights` (a Keras 3 `.weights.h5`
//!   or a Keras 2 `.h5`), else the layers' initial values.

use std::path::Path;

use kiln::keras::archive::CONFIG_MEMBER;
use kiln::keras::archive::zip_io::{is_zip, member_names};
use kiln::read_limit::{MAX_MODEL_FILE_BYTES, read_at_most};
use kiln::saving::{MAGIC, container};
use kiln::{Error, Model, Result};

/// The first bytes of every HDF5 file (at offset 0 when the file has no user block).
const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// The formats the tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Keras 3 `.keras` zip archive.
    KerasArchive,
    /// A Keras HDF5 model file.
    KerasH5,
    /// A Kiln model file.
    Kiln,
    /// A Keras JSON model config (`model.to_json()`).
    KerasJson,
    /// An ONNX model (`ModelProto`).
    Onnx,
}

/// One readable format: what it is called in messages and how its content is recognised.
struct FormatRow {
    format: Format,
    name: &'static str,
    detect: fn(&[u8]) -> bool,
}

/// Every format the tool reads, tried in order.
const FORMATS: &[FormatRow] = &[
    FormatRow {
        format: Format::KerasArchive,
        name: "a Keras 3 .keras archive (zip with config.json)",
        // A damaged zip goes to the archive reader too, for its precise error.
        detect: |b| {
            is_zip(b) && member_names(b).is_none_or(|n| n.iter().any(|m| m == CONFIG_MEMBER))
        },
    },
    FormatRow {
        format: Format::KerasH5,
        name: "a Keras .h5 file",
        detect: |b| b.starts_with(HDF5_SIGNATURE),
    },
    FormatRow {
        format: Format::Kiln,
        name: "a Kiln model file",
        detect: |b| b.starts_with(MAGIC),
    },
    FormatRow {
        format: Format::KerasJson,
        name: "a Keras JSON model config (model.to_json())",
        detect: |b| b.trim_ascii_start().starts_with(b"{"),
    },
    FormatRow {
        format: Format::Onnx,
        name: "an ONNX model (protobuf ModelProto)",
        detect: looks_like_onnx,
    },
];

/// Whether `bytes` start as ONNX writers start a `ModelProto`: field 1 (`ir_version`, a
/// varint, tag byte `0x08`) first, with a version from 1 to 63. The importer checks the rest.
fn looks_like_onnx(bytes: &[u8]) -> bool {
    matches!(bytes, [0x08, version, ..] if (1..64).contains(version))
}

/// An error about the file at `path`.
fn file_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// The format of `bytes` (the file at `path`), from its content.
pub fn format_of(path: &Path, bytes: &[u8]) -> Result<Format> {
    if let Some(row) = FORMATS.iter().find(|row| (row.detect)(bytes)) {
        return Ok(row.format);
    }
    let start = &bytes[..bytes.len().min(8)];
    let known: Vec<&str> = FORMATS.iter().map(|row| row.name).collect();
    Err(file_error(
        path,
        format!(
            "not a model file Kiln reads (starts with {start:02x?}); it reads {}",
            known.join(", ")
        ),
    ))
}

/// The model in the file at `path`, of any format in `FORMATS`; `weights` (a Keras
/// weights file) replaces the model's weights after loading — the usual use is with a
/// JSON config, which holds none.
pub fn load_model(path: &Path, weights: Option<&Path>) -> Result<Model> {
    let bytes = read_at_most(path, MAX_MODEL_FILE_BYTES, "a model file")?;
    let mut model = match format_of(path, &bytes)? {
        Format::KerasArchive => Model::load_keras_archive(path)?,
        Format::KerasH5 => Model::load_keras(path)?,
        Format::KerasJson => return Model::load_keras_json(path, weights),
        Format::Onnx => Model::load_onnx(path)?,
        Format::Kiln => {
            let file = container::decode(path, &bytes)?;
            if file.training_config.is_null() {
                let mut model = Model::from_config(&file.model_config)
                    .map_err(|e| file_error(path, e.to_string()))?;
                model.load_weights(path)?;
                model
            } else {
                Model::load(path)?
            }
        }
    };
    if let Some(weights) = weights {
        model.load_keras_weights(weights)?;
    }
    Ok(model)
}

/// Writes `model` to `path`: a Keras 3 archive for the extension `.keras`, Keras `.h5` for
/// `.h5` and `.hdf5`, ONNX for `.onnx`, otherwise a Kiln model file.
pub fn save_model(model: &mut Model, path: &Path) -> Result<()> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "keras" => model.save_keras_archive(path),
        "h5" | "hdf5" => model.save_keras(path),
        "onnx" => model.save_onnx(path),
        _ if model.is_compiled() => model.save(path),
        _ => model.save_weights(path),
    }
}
