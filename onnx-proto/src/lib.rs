//! The ONNX file format's protobuf messages ([`ModelProto`], [`GraphProto`], [`NodeProto`],
//! [`TensorProto`], ...) as Rust types, decoded and encoded with `prost`.
//!
//! `src/onnx.rs` is generated from `proto/onnx.proto` (copied from the `onnx` 1.23.2 Python
//! package, Apache-2.0) by `regenerate/` and committed, so building Kiln needs no protobuf
//! compiler. Regenerate after updating the schema:
//! `cd onnx-proto/regenerate && cargo run && cp out/onnx.rs ../src/onnx.rs && cargo fmt`.
//!
//! This crate only holds the data types: reading ONNX graphs into Kiln models and writing
//! them lives in the `kiln` crate.
//!
//! ```
//! use kiln_onnx_proto::{ModelProto, prost::Message};
//! let model = ModelProto { ir_version: Some(8), ..Default::default() };
//! let bytes = model.encode_to_vec();
//! assert_eq!(ModelProto::decode(bytes.as_slice()).unwrap().ir_version, Some(8));
//! ```

pub use prost;

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod onnx;

pub use onnx::*;
