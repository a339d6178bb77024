//! `tensor_file`: a tensor JSON file and the raw little-endian f32 file beside it
//! (`kiln::tensor_file::read_tensor`). The input is split at its first NUL byte: the JSON
//! before, the raw file (`t.bin`, which a `"file": "t.bin"` names) after.

use kiln::tensor_file::read_tensor;

use crate::scratch;

/// Reads the tensor `data` describes.
pub fn tensor_file(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let json = scratch::write("tensor/t.json", &data[..split]);
    scratch::write("tensor/t.bin", data.get(split + 1..).unwrap_or(&[]));
    if let Ok(tensor) = read_tensor(&json) {
        assert_eq!(
            Some(tensor.data.len()),
            tensor.shape.checked_numel().ok(),
            "the values fit the shape"
        );
    }
}
