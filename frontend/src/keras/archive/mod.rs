//! Keras 3 `.keras` archives (what `model.save("m.keras")` writes) and Keras 3
//! `save_weights("x.weights.h5")` files: reading them into Kiln models and writing Kiln
//! models as archives Keras 3's `keras.models.load_model` opens.
//!
//! An archive is a zip file with three members ([`KerasArchive`]):
//! - `config.json`: the model, `{"module", "class_name": "Sequential" | "Functional",
//!   "config": {"name", "layers": [...], ...}, "registered_name", "compile_config"}` (Keras
//!   3's form; read through [`super::normalize_model_config`], written by [`config3`]);
//!   `compile_config` (`{}` when uncompiled) holds the optimizer, loss and metrics;
//! - `metadata.json`: `{"keras_version", "date_saved"}`;
//! - `model.weights.h5`: the weights by object path ([`paths`]): `/layers/<key>/vars/<i>`,
//!   sub-layers nested by attribute (`cell/vars`, `forward_layer/cell/vars`, `layer/vars`,
//!   `query_dense/vars`, ...), `/vars` for the model, `/optimizer` (skipped on reading).
//!
//! **What Kiln writes** ([`crate::Model::save_keras_archive`]): a zip with the members
//! `metadata.json` (`{"keras_version": "3.15.1", "date_saved": ...}`), `config.json` (the
//! model's config in Keras 3's form, `compile_config` from its compile settings or `{}`),
//! `model.weights.h5` (HDF5 1.8 format: every layer of `model.layers` — a Sequential
//! model's `InputLayer` left out, as Keras does — with its `vars` groups, each carrying a
//! `name` attribute, and float32 datasets; the model's `/vars`; no optimizer state), in
//! that order, stored uncompressed; written atomically (a temporary file renamed over the
//! target).
//!
//! Files are untrusted: every malformation — not a zip, truncated, a member missing or
//! claiming more bytes than the archive holds, non-JSON config, missing or extra
//! weights — is an [`crate::Error::ModelFile`] naming the file.

pub mod config3;
pub mod model_io;
pub mod paths;
pub mod weights_read;
pub mod weights_write;
pub mod zip_io;

use std::path::Path;

use serde_json::Value;

use crate::error::Result;
use crate::read_limit::read_at_most;
use zip_io::{archive_error, read_members, write_members};

/// The member holding the model config.
pub const CONFIG_MEMBER: &str = "config.json";
/// The member holding the Keras version and save date.
pub const METADATA_MEMBER: &str = "metadata.json";
/// The member holding the weights.
pub const WEIGHTS_MEMBER: &str = "model.weights.h5";

/// The `keras_version` Kiln writes into `metadata.json`.
pub const ARCHIVE_KERAS_VERSION: &str = "3.15.1";

/// The members of a `.keras` archive.
#[derive(Debug, Clone, PartialEq)]
pub struct KerasArchive {
    /// `config.json`: the model (Keras 3's form, `compile_config` included).
    pub config: Value,
    /// `metadata.json` (`keras_version`, `date_saved`); `Value::Null` when absent.
    pub metadata: Value,
    /// `model.weights.h5`: the object-path HDF5 weights file, as bytes.
    pub weights: Vec<u8>,
}

impl KerasArchive {
    /// Reads the archive at `path`. Errors name the file (and the member at fault).
    pub fn read(path: impl AsRef<Path>) -> Result<KerasArchive> {
        let path = path.as_ref();
        let bytes = read_at_most(
            path,
            crate::read_limit::MAX_MODEL_FILE_BYTES,
            "a Keras .keras archive",
        )?;
        KerasArchive::from_bytes(&bytes, path)
    }

    /// The archive in `bytes`; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<KerasArchive> {
        let members = read_members(
            bytes,
            path,
            &[CONFIG_MEMBER, METADATA_MEMBER, WEIGHTS_MEMBER],
        )?;
        let [config, metadata, weights]: [Option<Vec<u8>>; 3] = members
            .try_into()
            .map_err(|_| archive_error(path, "internal: wrong member count"))?;
        let config = config.ok_or_else(|| {
            archive_error(
                path,
                format!("no `{CONFIG_MEMBER}` member: not a Keras 3 archive"),
            )
        })?;
        let config = parse_json(&config, path, CONFIG_MEMBER)?;
        if !config.is_object() {
            return Err(archive_error(
                path,
                format!("`{CONFIG_MEMBER}` is not a JSON object"),
            ));
        }
        let metadata = match metadata {
            Some(bytes) => parse_json(&bytes, path, METADATA_MEMBER)?,
            None => Value::Null,
        };
        let weights = weights.ok_or_else(|| {
            archive_error(
                path,
                format!("no `{WEIGHTS_MEMBER}` member: the archive holds no weights"),
            )
        })?;
        Ok(KerasArchive {
            config,
            metadata,
            weights,
        })
    }

    /// The archive as zip bytes (members in the order [the module docs](self) give).
    pub fn to_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        let metadata = self.metadata.to_string();
        let config = self.config.to_string();
        write_members(&[
            (METADATA_MEMBER, metadata.as_bytes()),
            (CONFIG_MEMBER, config.as_bytes()),
            (WEIGHTS_MEMBER, &self.weights),
        ])
        .map_err(|msg| archive_error(path, msg))
    }
}

/// Member `member` of `path` as JSON.
fn parse_json(bytes: &[u8], path: &Path, member: &str) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| archive_error(path, format!("`{member}` is not valid JSON: {e}")))
}
