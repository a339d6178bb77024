//! `kiln_file`: a Kiln model file (checksum fixed up, so mutations reach the decoder and the
//! model behind it) loaded as the `kiln` tool loads one (`kiln_cli::model_files::load_model`:
//! a whole model with `Model::load`, a weights-only file through its config and
//! `load_weights`).

use crate::{fixup, scratch};

/// Loads `data` (CRC-32 fixed up) as a Kiln model file.
pub fn kiln_file(data: &[u8]) {
    let path = scratch::write("kiln/fuzz.kiln", &fixup::kiln_checksum(data));
    let _ = kiln_cli::model_files::load_model(&path, None);
}
