//! Model files of either format for the `kiln` tool: recognising a file by its first bytes,
//! loading it, and writing a model in the format an output path asks for.
//!
//! - Keras `.h5` (HDF5 signature `\x89HDF\r\n\x1a\n`): [`Model::load_keras`] /
//!   [`Model::save_keras`];
//! - Kiln's own format (`KILN` magic, [`kiln::saving::container`]): [`Model::load`] /
//!   [`Model::save`] for a compiled model; an uncompiled model is written with
//!   [`Model::save_weights`] (architecture and weights) and read back from its config.

use std::path::Path;

use kiln::saving::{MAGIC, container};
use kiln::{Error, Model, Result};

/// The first bytes of every HDF5 file (at offset 0 when the file has no user block).
const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// The formats the tool reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// A Keras HDF5 model file.
    Keras,
    /// A Kiln model file.
    Kiln,
}

/// An error about the file at `path`.
fn file_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// The format of `bytes` (the file at `path`), from its first bytes.
fn format_of(path: &Path, bytes: &[u8]) -> Result<Format> {
    if bytes.starts_with(HDF5_SIGNATURE) {
        Ok(Format::Keras)
    } else if bytes.starts_with(MAGIC) {
        Ok(Format::Kiln)
    } else {
        let start = &bytes[..bytes.len().min(8)];
        Err(file_error(
            path,
            format!("neither a Keras .h5 file nor a Kiln model file (starts with {start:02x?})"),
        ))
    }
}

/// The model in the file at `path`, Keras or Kiln.
pub fn load_model(path: &Path) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match format_of(path, &bytes)? {
        Format::Keras => Model::load_keras(path),
        Format::Kiln => {
            let file = container::decode(path, &bytes)?;
            if file.training_config.is_null() {
                let mut model = Model::from_config(&file.model_config)
                    .map_err(|e| file_error(path, e.to_string()))?;
                model.load_weights(path)?;
                Ok(model)
            } else {
                Model::load(path)
            }
        }
    }
}

/// Writes `model` to `path`: Keras `.h5` for the extensions `.h5` and `.hdf5`,
/// otherwise a Kiln model file.
pub fn save_model(model: &mut Model, path: &Path) -> Result<()> {
    let keras = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["h5", "hdf5"].contains(&e.to_ascii_lowercase().as_str()));
    if keras {
        model.save_keras(path)
    } else if model.is_compiled() {
        model.save(path)
    } else {
        model.save_weights(path)
    }
}
