//! `Dense` and `Embedding` as ONNX nodes, in Kiln's layout (features last).
//!
//! `Dense` on a batch of vectors is one `Gemm` (kernel `(in, out)` as `B`, bias as `C`); on
//! higher-rank inputs (Dense acts on the last axis) it is `MatMul` then `Add`. Its
//! activation follows. `Embedding` is `Gather(embeddings, Cast(ids, int64), axis=0)`: Kiln
//! feeds ids as floats, so the exported model takes the same float input as `predict`.

use kiln_onnx_proto::tensor_proto::DataType;

use super::activation;
use super::graph::{Emitter, Layout, Value, int};
use super::rules::Site;
use crate::activations::Activation;
use crate::error::Result;

/// Keras' `Dense`.
pub(crate) fn dense(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let act = site
        .reader()?
        .activation_or("activation", Activation::Linear)?;
    let x = site.input_in(e, Layout::Kiln)?;
    let kernel = site.param("kernel")?;
    let w = e.floats(&site.named("kernel"), kernel.shape.dims(), &kernel.data);
    let bias = site
        .maybe_param("bias")
        .map(|b| e.floats(&site.named("bias"), b.shape.dims(), &b.data));
    let base = if act == Activation::Linear {
        site.name.to_string()
    } else {
        site.named("linear")
    };
    let y = match (x.shape.rank(), &bias) {
        (1, Some(b)) => e.node("Gemm", &[&x.name, &w, b], &base, vec![]),
        (1, None) => e.node("Gemm", &[&x.name, &w], &base, vec![]),
        (_, None) => e.node("MatMul", &[&x.name, &w], &base, vec![]),
        (_, Some(b)) => {
            let product = e.node("MatMul", &[&x.name, &w], &site.named("matmul"), vec![]);
            e.node("Add", &[&product, b], &base, vec![])
        }
    };
    Ok(activation::apply(
        e,
        site.output(y, Layout::Kiln),
        act,
        site.name,
    ))
}

/// Keras' `Embedding`: rows of the table picked by the (float) ids.
pub(crate) fn embedding(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let x = site.input_in(e, Layout::Kiln)?;
    let table = site.param("embeddings")?;
    let t = e.floats(&site.named("embeddings"), table.shape.dims(), &table.data);
    let ids = e.node(
        "Cast",
        &[&x.name],
        &site.named("ids"),
        vec![int("to", DataType::Int64 as i64)],
    );
    let y = e.node("Gather", &[&t, &ids], site.name, vec![int("axis", 0)]);
    Ok(site.output(y, Layout::Kiln))
}
