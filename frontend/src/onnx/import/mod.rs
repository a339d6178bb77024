//! ONNX import: an `.onnx` file (with its external data files) as a Kiln [`Model`] — a
//! `Functional` model of ordinary Kiln layers, so `predict`, `summary`, freezing, cutting
//! and extending, `fit`, `save`, `save_keras` and AOT compilation all apply.
//!
//! What it does, in order: decode the protobuf (`decode.rs`; every node's op checked first:
//! one error names the first unsupported node, its op type and the opset, and lists every
//! other unsupported node), read initializers and `Constant`s (`tensor.rs`: `raw_data`,
//! typed fields, external data inside the model's folder, every size checked against the
//! bytes present before allocating), evaluate at import every value computable from
//! constants and statically known shapes (`fold.rs`, not tied to one exporter), and map what
//! remains onto layers (`ops/`, one file per op family), tracking each tensor's layout
//! (`graph.rs`): NCHW images run channels-last inside, weights rearranged once; inputs and
//! outputs keep the ONNX layout (one `Permute` at each boundary). The batch axis stays free
//! unless the file fixes it (a `Reshape` to a constant batch size), which adds a
//! [`PinnedBatch`](crate::layers::PinnedBatch) layer: another batch size is an error naming
//! the node ([`ImportOptions::free_batch`] lets such a per-example reshape run at any batch
//! size).
//!
//! Ops mapped onto layers: `Gemm` (transB, alpha, beta; transA refused) and `MatMul` with a
//! constant weight → `Dense`; `Conv` (group 1 → `Conv2D`, group = channels →
//! `DepthwiseConv2D`, other groups → `Conv2D` with Keras' `groups`; pads, strides,
//! dilations, auto_pad) and `ConvTranspose` (group 1;
//! valid, or pads p with kernel − 2p = stride) → `Conv2DTranspose`; `BatchNormalization`;
//! `Relu`, `LeakyRelu`, `Clip` with min 0 (ReLU6), `Sigmoid`, `Tanh`, `Softmax` (opset 13
//! axis semantics; older opsets flatten from the axis); `MaxPool`, `AveragePool`
//! (count_include_pad both ways; asymmetric pads), `GlobalAveragePool`, `GlobalMaxPool`,
//! `ReduceMean` over the spatial axes (axes as attribute or input); `Flatten`, `Reshape`
//! (allowzero), `Transpose`, `Concat`, `Pad` (constant zeros, spatial axes), `Dropout`,
//! `Identity`; `Add`/`Sub`/`Mul`/`Div` (two tensors → merge layers, Div refused; with a
//! constant: folded into the previous `Dense`/`Conv` weights per channel, else a
//! [`ConstantOperand`](crate::layers::ConstantOperand) layer).
//! Ops evaluated at import when their inputs are known: `Constant`, `Shape` (also of model
//! tensors), and every op of `fold::FOLDABLE` (`Identity`, `Dropout`, `Size`, `Gather`,
//! `Concat`, `Unsqueeze`, `Squeeze`, `Expand`, `Cast`, `CastLike`, `ConstantOfShape`,
//! `Reshape`, `Slice`, `Range`, `Flatten`, `Transpose`, `Add`, `Sub`, `Mul`, `Div`, `Max`,
//! `Min`, `Pow`, `Equal`, `Less`, `Greater`, `Where`, `Neg`, `Abs`, `Sqrt`, `Relu`, `Floor`,
//! `Ceil`, `Not`, `Reciprocal`).
//!
//! It does not export (that is `onnx::export`'s job) and does not detect file formats.
//!
//! ```no_run
//! # fn main() -> kiln::Result<()> {
//! let model = kiln::Model::load_onnx("model.onnx")?;
//! println!("{}", model.summary()?);
//! # Ok(())
//! # }
//! ```

mod attrs;
mod build;
mod decode;
mod error;
pub(crate) mod fold;
mod graph;
mod ops;
mod tensor;

use std::path::Path;

use crate::error::Result;
use crate::model::Model;
use crate::read_limit::read_at_most;

/// How [`import_with`] reads a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Run a `Reshape` whose constant target fixes the batch size at any batch size (it is
    /// only accepted where it reshapes each example alone, the batch axis first and
    /// unchanged). Off by default: such a model runs at the exported batch size only, and
    /// cannot be compiled for training (Kiln validates every graph at batch 1).
    pub free_batch: bool,
}

/// Reads an `.onnx` file (external data files are looked up beside it) as a Kiln [`Model`].
/// Every failure is an [`Error::ModelFile`] naming the file and, where one is at fault, the
/// node and its op type.
pub fn import(path: impl AsRef<Path>) -> Result<Model> {
    import_with(path, ImportOptions::default())
}

/// [`import`] with options.
pub fn import_with(path: impl AsRef<Path>, options: ImportOptions) -> Result<Model> {
    let path = path.as_ref();
    let bytes = read_at_most(
        path,
        crate::read_limit::MAX_ONNX_FILE_BYTES,
        "an ONNX protobuf (larger models keep their weights in external data files)",
    )?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    import_bytes(&bytes, path, &dir, options).map_err(|e| e.into_error(path))
}

/// The import of `bytes` read from `path`, external data looked up in `dir`.
fn import_bytes(
    bytes: &[u8],
    path: &Path,
    dir: &Path,
    options: ImportOptions,
) -> error::ImportResult<Model> {
    let decoded = decode::decode(bytes)?;
    let graph = decoded.graph();
    decode::check_ops(graph, decoded.opset)?;
    let name = decode::model_name(graph, path);
    // Folded constants may be larger than the file (a ConstantOfShape of zeros), but not
    // without bound: 64 Ki elements plus 16 per byte of the file.
    let limit = (1 << 16) + bytes.len().saturating_mul(16);
    build::build_model(graph, decoded.opset, &name, dir, (limit, options))
}

impl Model {
    /// Reads an ONNX model file as a Kiln model: see [`mod@crate::onnx::import`].
    pub fn load_onnx(path: impl AsRef<Path>) -> Result<Model> {
        import(path)
    }
}

/// The op types the importer maps onto layers (the rest of what it reads is evaluated at
/// import; see the module documentation).
pub fn mapped_ops() -> Vec<&'static str> {
    ops::mapped_ops().collect()
}
