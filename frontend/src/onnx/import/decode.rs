//! Reading an `.onnx` file: the bytes (the whole file, nothing more), the protobuf
//! `ModelProto`, its graph and its default-domain opset, and the one up-front check that
//! every node's op is one Kiln evaluates or maps (all unsupported ops listed in one error).
//! It does not read tensors (`tensor.rs`) or build layers.

use std::path::Path;

use kiln_onnx_proto::prost::Message;
use kiln_onnx_proto::{GraphProto, ModelProto};

use super::error::{ImportError, ImportResult, file_error};
use super::fold::FOLDABLE;
use super::ops::mapper;

/// The oldest default-domain opset the importer reads.
pub(crate) const MIN_OPSET: i64 = 7;

/// A decoded model: its graph and default-domain opset.
pub(crate) struct Decoded {
    /// The model.
    pub model: ModelProto,
    /// The default-domain (`ai.onnx`) opset version.
    pub opset: i64,
}

impl Decoded {
    /// The main graph.
    pub(crate) fn graph(&self) -> &GraphProto {
        self.model.graph.as_ref().expect("checked by decode")
    }
}

/// Decodes `bytes` as an ONNX `ModelProto` with a graph and a default-domain opset.
pub(crate) fn decode(bytes: &[u8]) -> ImportResult<Decoded> {
    let model = ModelProto::decode(bytes).map_err(|e| {
        file_error(format!(
            "not an ONNX model: the protobuf ModelProto does not decode ({e})"
        ))
    })?;
    if model.graph.is_none() {
        return Err(file_error("the model has no graph"));
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain.as_deref(), None | Some("") | Some("ai.onnx")))
        .and_then(|o| o.version)
        .ok_or_else(|| file_error("the model imports no default-domain (ai.onnx) opset"))?;
    if opset < MIN_OPSET {
        return Err(file_error(format!(
            "default-domain opset {opset} is older than Kiln reads (opset {MIN_OPSET} and later; \
             11 and later are tested)"
        )));
    }
    Ok(Decoded { model, opset })
}

/// Whether Kiln evaluates or maps `op` of `domain`.
fn known(domain: &str, op: &str) -> bool {
    matches!(domain, "" | "ai.onnx")
        && (op == "Constant" || FOLDABLE.contains(&op) || mapper(op).is_some())
}

/// One error naming the first node whose op Kiln neither evaluates nor maps, listing every
/// other such node of the graph.
pub(crate) fn check_ops(graph: &GraphProto, opset: i64) -> ImportResult<()> {
    let mut bad = graph.node.iter().filter_map(|n| {
        let domain = n.domain.as_deref().unwrap_or("");
        let op = n.op_type.as_deref().unwrap_or("");
        (!known(domain, op)).then(|| {
            let name = n
                .name
                .clone()
                .filter(|s| !s.is_empty())
                .or_else(|| n.output.first().cloned())
                .unwrap_or_default();
            let op = if domain.is_empty() || domain == "ai.onnx" {
                op.to_string()
            } else {
                format!("{domain}::{op}")
            };
            (name, op)
        })
    });
    let Some((node, op)) = bad.next() else {
        return Ok(());
    };
    let rest: Vec<String> = bad.map(|(n, o)| format!("`{n}` ({o})")).collect();
    let others = if rest.is_empty() {
        String::new()
    } else {
        format!("; other unsupported ops in this file: {}", rest.join(", "))
    };
    Err(ImportError::Unsupported {
        node,
        op,
        opset,
        others,
    })
}

/// The model's name: the graph's, else the file stem.
pub(crate) fn model_name(graph: &GraphProto, path: &Path) -> String {
    graph
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "onnx_model".into())
}
