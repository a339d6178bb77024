//! MNIST and Fashion-MNIST: four gzip IDX files in a directory, under the standard names.
//!
//! Both datasets use the same file names and format, so one loader serves both
//! (`kiln::datasets::fashion_mnist` re-exports it). Mirrors KotlinDL's
//! `Dataset.createTrainAndTestDatasets(trainImages, trainLabels, testImages, testLabels, numClasses, ...)`.

use std::path::Path;

use crate::datasets::dataset::Dataset;
use crate::datasets::idx_dataset::LabelEncoding;
use crate::error::Result;

/// File name of the training images.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
/// File name of the training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
/// File name of the test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
/// File name of the test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";
/// Number of classes (digits 0–9, or ten kinds of clothing).
pub const NUM_CLASSES: usize = 10;

/// Loads `(train, test)` from the four standard files in `dir`: images `[n, 28, 28, 1]`
/// scaled to `[0, 1]`, labels one-hot `[n, 10]`. 60000 training and 10000 test examples.
pub fn load(dir: impl AsRef<Path>) -> Result<(Dataset, Dataset)> {
    load_with(
        dir,
        LabelEncoding::OneHot {
            num_classes: NUM_CLASSES,
        },
    )
}

/// Like [`load`], with the label form chosen by `encoding`.
pub fn load_with(dir: impl AsRef<Path>, encoding: LabelEncoding) -> Result<(Dataset, Dataset)> {
    let dir = dir.as_ref();
    create_train_and_test(
        dir.join(TRAIN_IMAGES),
        dir.join(TRAIN_LABELS),
        dir.join(TEST_IMAGES),
        dir.join(TEST_LABELS),
        encoding,
    )
}

/// Loads a training and a test dataset from explicit image and label file paths. The two
/// are decoded on two threads.
pub fn create_train_and_test(
    train_images: impl AsRef<Path>,
    train_labels: impl AsRef<Path>,
    test_images: impl AsRef<Path>,
    test_labels: impl AsRef<Path>,
    encoding: LabelEncoding,
) -> Result<(Dataset, Dataset)> {
    let (test_images, test_labels) = (test_images.as_ref(), test_labels.as_ref());
    let (train, test) = std::thread::scope(|scope| {
        let test =
            scope.spawn(move || Dataset::from_idx_files_with(test_images, test_labels, encoding));
        let train = Dataset::from_idx_files_with(train_images, train_labels, encoding);
        (train, test.join())
    });
    let test = test.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    Ok((train?, test?))
}
