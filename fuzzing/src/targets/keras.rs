//! `keras_h5` (a Keras `.h5` file: the HDF5 reader, the model built from its config and
//! checked against its weights, then the same file loaded again as weights into that model)
//! and `keras_zip` (a Keras 3 `.keras` archive, every member's CRC fixed up first so the
//! fuzzer reaches the JSON and HDF5 members behind them).

use std::path::Path;

use kiln::Model;
use kiln::keras::KerasFile;

use crate::{fixup, scratch};

/// Loads `data` as a Keras `.h5` model, then as that model's weights.
pub fn keras_h5(data: &[u8]) {
    let Ok(file) = KerasFile::read_bytes(data.to_vec(), Path::new("fuzz.h5")) else {
        return;
    };
    if let Ok(mut model) = Model::from_keras_file(&file, "fuzz.h5") {
        let path = scratch::write("keras/fuzz.h5", data);
        let _ = model.load_keras_weights(&path);
    }
}

/// Loads `data` (CRCs fixed up) as a Keras 3 `.keras` archive.
pub fn keras_zip(data: &[u8]) {
    let path = scratch::write("keras/fuzz.keras", &fixup::zip_crcs(data));
    let _ = Model::load_keras_archive(&path);
}
