//! Datasets: in-memory examples, mini-batches, and loaders for files on disk.
//!
//! - [`Dataset`] ([`dataset`]): features and labels in two contiguous f32 buffers; split,
//!   shuffle, one-hot, scaling. [`Dataset::batches`] ([`batches`]) yields borrowed batches.
//! - [`idx`]: the gzip IDX reader; [`Dataset::from_idx_files`] ([`idx_dataset`]) turns an
//!   image/label file pair into a dataset.
//! - [`MultiDataset`] ([`multi`]): several feature and label tensors, for models with
//!   several inputs or outputs.
//! - [`mnist`] and [`fashion_mnist`]: `load(dir) -> (train, test)`.
//! - [`image_folder`]: one sub-folder of PNG/JPEG images per class ([`ImageFolder`]).
//! - [`csv_file`]: a CSV file with a header, columns chosen by name ([`CsvLoader`]).
//! - [`Generator`] ([`generator`]): batches from an iterator or a background thread, for
//!   data larger than memory; [`Label`] ([`labels`]): the label element types arrays may hold.
//!
//! ```no_run
//! # fn main() -> kiln::Result<()> {
//! let (train, test) = kiln::datasets::mnist::load("datasets/mnist")?;
//! let (train, validation) = train.split(0.95)?;
//! for batch in train.shuffled(7).batches(100)? {
//!     assert_eq!(batch.features_shape()[1..], [28, 28, 1]);
//! }
//! # let _ = (test, validation);
//! # Ok(())
//! # }
//! ```

pub mod batches;
pub mod csv_file;
pub mod dataset;
pub mod generator;
pub mod idx;
pub mod idx_dataset;
pub mod image_folder;
pub mod labels;
pub mod mnist;
pub mod multi;
#[cfg(feature = "ndarray")]
mod ndarray_support;
mod permutation;

pub use batches::{Batch, Batches};
pub use csv_file::CsvLoader;
pub use dataset::Dataset;
pub use generator::{Generator, GeneratorItem};
pub use idx_dataset::LabelEncoding;
pub use image_folder::ImageFolder;
pub use labels::Label;
pub use multi::MultiDataset;

/// Fashion-MNIST (Zalando): the same four file names and format as MNIST, ten clothing
/// classes; loaded by the MNIST loader.
pub mod fashion_mnist {
    pub use super::mnist::{NUM_CLASSES, create_train_and_test, load, load_with};
}
