//! [`NodeCtx`]: one ONNX node as the importer reads it: its name for errors, op type, opset,
//! input and output names, and typed attribute lookups. It does not interpret any op.

use kiln_onnx_proto::{AttributeProto, NodeProto, TensorProto};

use super::error::ImportError;

/// A node and the default-domain opset it is read under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeCtx<'a> {
    /// The node.
    pub node: &'a NodeProto,
    /// The model's opset for the node's domain.
    pub opset: i64,
}

impl<'a> NodeCtx<'a> {
    /// The node's name, or its first output when unnamed.
    pub(crate) fn name(&self) -> String {
        match self.node.name.as_deref() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => self.node.output.first().cloned().unwrap_or_default(),
        }
    }

    /// The op type.
    pub(crate) fn op(&self) -> &'a str {
        self.node.op_type.as_deref().unwrap_or("")
    }

    /// An error about this node.
    pub(crate) fn error(&self, msg: impl Into<String>) -> ImportError {
        ImportError::Node {
            node: self.name(),
            op: self.op().to_string(),
            msg: msg.into(),
        }
    }

    /// Input `i`'s name; `None` when absent or empty (an omitted optional input).
    pub(crate) fn input(&self, i: usize) -> Option<&'a str> {
        self.node
            .input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Input `i`'s name, required.
    pub(crate) fn required_input(&self, i: usize) -> Result<&'a str, ImportError> {
        self.input(i)
            .ok_or_else(|| self.error(format!("input {i} is missing")))
    }

    /// Output `i`'s name, required.
    pub(crate) fn output(&self, i: usize) -> Result<&'a str, ImportError> {
        self.node
            .output
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.error(format!("output {i} is missing")))
    }

    /// The attribute called `name`.
    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
    }

    /// An integer attribute.
    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.attr(name).and_then(|a| a.i)
    }

    /// An integer attribute with a default.
    pub(crate) fn int_or(&self, name: &str, default: i64) -> i64 {
        self.int(name).unwrap_or(default)
    }

    /// A float attribute with a default.
    pub(crate) fn float_or(&self, name: &str, default: f32) -> f32 {
        self.attr(name).and_then(|a| a.f).unwrap_or(default)
    }

    /// A list-of-integers attribute, if present.
    pub(crate) fn ints(&self, name: &str) -> Option<&'a [i64]> {
        self.attr(name).map(|a| a.ints.as_slice())
    }

    /// A list-of-floats attribute, if present.
    pub(crate) fn floats(&self, name: &str) -> Option<&'a [f32]> {
        self.attr(name).map(|a| a.floats.as_slice())
    }

    /// A string attribute, if present (lossy UTF-8).
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.attr(name)
            .and_then(|a| a.s.as_ref())
            .map(|s| String::from_utf8_lossy(s).into_owned())
    }

    /// A tensor attribute, if present.
    pub(crate) fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.attr(name).and_then(|a| a.t.as_ref())
    }

    /// Names of the attributes the node sets.
    pub(crate) fn attr_names(&self) -> impl Iterator<Item = &'a str> {
        self.node.attribute.iter().filter_map(|a| a.name.as_deref())
    }
}
