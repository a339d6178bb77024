//! `onnx_model`: an ONNX `ModelProto` imported as a Kiln model (`Model::load_onnx`: the
//! protobuf decoder, opset and op checks, initializers, constant folding, the layer build).

use kiln::Model;

use crate::scratch;

/// Imports `data` as an ONNX model.
pub fn onnx_model(data: &[u8]) {
    let path = scratch::write("onnx/fuzz.onnx", data);
    let _ = Model::load_onnx(&path);
}
