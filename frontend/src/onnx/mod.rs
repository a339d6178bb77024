//! ONNX model files: importing an ONNX graph as a Kiln [`Model`](crate::Model) and exporting
//! a Kiln model as an ONNX graph. The protobuf messages come from `kiln-onnx-proto`.

pub mod import;

pub use import::{ImportOptions, import, import_with};
