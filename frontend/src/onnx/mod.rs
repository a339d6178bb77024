//! ONNX model files: importing an ONNX graph as a Kiln [`Model`](crate::Model) ([`mod@import`])
//! and exporting a Kiln model as an ONNX graph ([`mod@export`]). The protobuf messages come from
//! `kiln-onnx-proto`.

pub mod export;
pub mod import;

pub use export::{EXPORT_IR_VERSION, EXPORT_OPSET, exported_classes, to_onnx};
pub use import::{ImportOptions, import, import_with};
