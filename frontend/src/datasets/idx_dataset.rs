//! Building a [`Dataset`] from a pair of IDX files: u8 images and u8 class labels.

use std::path::Path;

use crate::datasets::dataset::Dataset;
use crate::datasets::idx::{IMAGES_MAGIC, IdxArray, LABELS_MAGIC, read_gz_idx};
use crate::error::{Error, Result};

/// How class labels are stored in a loaded dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelEncoding {
    /// One-hot rows: label shape `[num_classes]` (what softmax cross-entropy expects).
    OneHot {
        /// Number of classes; every label must be below it.
        num_classes: usize,
    },
    /// The class index as an f32: label shape `[]` (sparse form).
    ClassIndex {
        /// Number of classes; every label must be below it.
        num_classes: usize,
    },
}

impl LabelEncoding {
    fn num_classes(self) -> usize {
        match self {
            LabelEncoding::OneHot { num_classes } | LabelEncoding::ClassIndex { num_classes } => {
                num_classes
            }
        }
    }
}

impl Dataset {
    /// Loads gzip-compressed IDX images (magic 2051, `[n, rows, cols]` u8) and labels (magic
    /// 2049, `[n]` u8) into a dataset with features `[n, rows, cols, 1]` scaled to `[0, 1]`
    /// and one-hot labels `[n, num_classes]`.
    pub fn from_idx_files(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        num_classes: usize,
    ) -> Result<Dataset> {
        Dataset::from_idx_files_with(images, labels, LabelEncoding::OneHot { num_classes })
    }

    /// Like [`Dataset::from_idx_files`], with the label form chosen by `encoding`.
    pub fn from_idx_files_with(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        encoding: LabelEncoding,
    ) -> Result<Dataset> {
        let (images, labels) = (images.as_ref(), labels.as_ref());
        let num_classes = encoding.num_classes();
        if num_classes == 0 {
            return Err(Error::InvalidArgument {
                name: "num_classes",
                msg: "must be at least 1".into(),
            });
        }
        let image_array = read_gz_idx(images, IMAGES_MAGIC)?;
        let label_array = read_gz_idx(labels, LABELS_MAGIC)?;
        let (n_images, n_labels) = (image_array.dims()[0], label_array.dims()[0]);
        if n_images != n_labels {
            return Err(Error::CountMismatch {
                images: images.to_path_buf(),
                labels: labels.to_path_buf(),
                n_images,
                n_labels,
            });
        }
        let class_labels = checked_labels(labels, &label_array, num_classes)?;
        let features = image_array
            .data()
            .iter()
            .map(|&pixel| f32::from(pixel) / 255.0)
            .collect();
        let features_shape = [n_images, image_array.dims()[1], image_array.dims()[2], 1];
        let dataset = Dataset::new(features, &features_shape, class_labels, &[n_labels])?;
        match encoding {
            LabelEncoding::OneHot { num_classes } => dataset.one_hot(num_classes),
            LabelEncoding::ClassIndex { .. } => Ok(dataset),
        }
    }
}

/// The labels as f32 class indices, after checking each is below `num_classes`.
fn checked_labels(path: &Path, labels: &IdxArray, num_classes: usize) -> Result<Vec<f32>> {
    if let Some(index) = labels
        .data()
        .iter()
        .position(|&label| usize::from(label) >= num_classes)
    {
        let label = labels.data()[index];
        return Err(Error::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label,
            num_classes,
        });
    }
    Ok(labels
        .data()
        .iter()
        .map(|&label| f32::from(label))
        .collect())
}
