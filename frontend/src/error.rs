//! The crate's error type [`enum@Error`]: every failure names the file, argument or shape at fault.
//!
//! One enum for the whole `kiln` crate. Dataset loading comes first; model building and
//! training add their own variants here. Errors from the IR core pass through unchanged.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong in the `kiln` crate.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A file expected to be gzip-compressed does not start with the gzip magic bytes.
    #[error("{} is not a gzip file (starts with {found:02x?})", path.display())]
    NotGzip {
        /// The file.
        path: PathBuf,
        /// Its first bytes (at most two).
        found: Vec<u8>,
    },
    /// A gzip stream is corrupt or cut off.
    #[error("corrupt gzip data in {}: {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// An IDX file's magic number is not the one expected (wrong element type or rank).
    #[error("{}: IDX magic number is {found} (0x{found:08x}), expected {expected} (0x{expected:08x})", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number required here (2051 for images, 2049 for labels).
        expected: u32,
        /// The magic number found.
        found: u32,
    },
    /// An IDX file holds fewer bytes than its header promises.
    #[error("{}: truncated IDX data: need {expected} bytes, found {found}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes needed (header plus payload).
        expected: usize,
        /// Bytes present after decompression.
        found: usize,
    },
    /// An IDX file holds more bytes than its header describes.
    #[error("{}: unexpected bytes after the IDX data (at least {extra})", path.display())]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// How many bytes follow the payload (counted up to 1 MiB, so a gzip bomb is not
        /// decompressed to count them).
        extra: usize,
    },
    /// An image file and a label file disagree on the number of examples.
    #[error("{} holds {n_images} images but {} holds {n_labels} labels", images.display(), labels.display())]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Number of images.
        n_images: usize,
        /// Number of labels.
        n_labels: usize,
    },
    /// A label file holds a class index outside `0..num_classes`.
    #[error("{}: label {label} of example {index} is outside 0..{num_classes}", path.display())]
    LabelOutOfRange {
        /// The label file.
        path: PathBuf,
        /// The example's position in the file.
        index: usize,
        /// The label found.
        label: u8,
        /// The number of classes asked for.
        num_classes: usize,
    },
    /// An in-memory label is not a whole number in `0..num_classes`.
    #[error("label {value} of example {index} is not a class index in 0..{num_classes}")]
    InvalidLabel {
        /// The example's position in the dataset.
        index: usize,
        /// The label value found.
        value: f32,
        /// The number of classes asked for.
        num_classes: usize,
    },
    /// An image file of an image-folder dataset cannot be used: not PNG or JPEG, damaged, or
    /// larger than the loader's pixel limit.
    #[error("image {}: {msg}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A CSV file cannot be turned into a dataset: a missing column, a malformed row, a value
    /// that is not a number. `line` is 1-based (the header is line 1); `column` names the
    /// column when one is at fault.
    #[error("{}:{line}{}: {msg}", path.display(), column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The 1-based line (0 when the file as a whole is at fault).
        line: u64,
        /// The column at fault, if one is.
        column: Option<String>,
        /// What is wrong.
        msg: String,
    },
    /// Data and shapes given to a dataset do not fit together.
    #[error("dataset shape error: {0}")]
    DatasetShape(String),
    /// A batch generator failed (its background thread panicked) or ran out of batches.
    #[error("data generator: {0}")]
    Generator(String),
    /// Distributed training failed: ranks disagree (model, batch size, data), or the
    /// communicator reported an error (a dead rank, a transport failure).
    #[error("distributed training: {0}")]
    Distributed(String),
    /// An argument is out of its valid range.
    #[error("invalid argument `{name}`: {msg}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What is wrong with it.
        msg: String,
    },
    /// An optimizer, loss or metric cannot be added to the training graph (a bad
    /// hyper-parameter, param, gradient or label shape).
    #[error("{component}: {msg}")]
    TrainingGraph {
        /// The optimizer, loss or metric, by its Keras name.
        component: String,
        /// What is wrong.
        msg: String,
    },
    /// A file could not be written (a missing or read-only directory, a full disk).
    #[error("cannot write {}: {source}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A saved model file is damaged, foreign, or does not fit the model it is loaded into.
    #[error("{}: {msg}", path.display())]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A tensor file (the JSON tensor format of [`crate::tensor_file`]) is malformed or does
    /// not match the data it points to.
    #[error("{}: {msg}", path.display())]
    TensorFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A Keras-style config (layer, optimizer, loss, metric) has a missing, mistyped or
    /// unsupported field.
    #[error("config of {owner} ({class}): field `{field}`: {msg}")]
    Config {
        /// The layer's name, or the component's role (`optimizer`, `loss`, `metric`).
        owner: String,
        /// Its class name.
        class: String,
        /// The field at fault.
        field: String,
        /// What is wrong.
        msg: String,
    },
    /// An error from the IR core (graph building, shape inference, verification).
    #[error(transparent)]
    Ir(#[from] ir::IrError),
    /// A name (activation, initializer, ...) that Kiln does not know.
    #[error("unknown {kind} `{name}` (known: {known})")]
    UnknownName {
        /// What kind of thing was named.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names Kiln knows, comma-separated.
        known: String,
    },
    /// A layer cannot be applied to its input (wrong rank, bad configuration).
    #[error("layer {layer}: {msg}")]
    Layer {
        /// The layer, printed as `name (Class)`.
        layer: String,
        /// What is wrong, with the shapes involved.
        msg: String,
    },
    /// The model as a whole is malformed or used out of order (e.g. fit before compile).
    #[error("model `{model}`: {msg}")]
    Model {
        /// The model's name.
        model: String,
        /// What is wrong.
        msg: String,
    },
    /// A compiler pass failed on a graph the model built.
    #[error(transparent)]
    Pass(#[from] passes::PassError),
    /// The CPU backend could not compile or run a model graph.
    #[error(transparent)]
    Codegen(#[from] codegen_cpu::CodegenError),
    /// The GPU backend could not find a GPU, compile a model graph or run it (a missing
    /// adapter says how to install a Vulkan driver).
    #[error(transparent)]
    Gpu(#[from] codegen_gpu::GpuError),
}

/// An [`Error::TrainingGraph`]: the optimizer, loss or metric called `owner` cannot be added
/// to a training graph (a bad hyper-parameter, param, gradient or label shape).
pub(crate) fn training_graph_error(owner: &str, msg: impl std::fmt::Display) -> Error {
    Error::TrainingGraph {
        component: owner.to_string(),
        msg: msg.to_string(),
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
