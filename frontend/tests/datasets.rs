//! Dataset tests: the real MNIST files, broken IDX files written to a temp dir, and the
//! in-memory operations (split, shuffle, batches, one-hot, scaling).

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder, write::GzEncoder};
use kiln::datasets::{LabelEncoding, idx, mnist};
use kiln::{Dataset, Error};

const MNIST_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/mnist");

/// A fresh, empty directory for one test's files.
fn temp_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("datasets-tests")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Uncompressed IDX bytes: magic, big-endian dims, payload.
fn idx_bytes(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|dim| bytes.extend(dim.to_be_bytes()));
    bytes.extend_from_slice(payload);
    bytes
}

/// Writes `content` gzip-compressed with no file name in the header (as Fashion-MNIST).
fn write_gz(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut encoder = GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        Compression::default(),
    );
    encoder.write_all(content).unwrap();
    encoder.finish().unwrap();
    path
}

/// Three 2x2 images (pixels 0, 51, ..., 255 pattern) and their labels [2, 0, 1].
fn small_images() -> Vec<u8> {
    idx_bytes(
        idx::IMAGES_MAGIC,
        &[3, 2, 2],
        &[0, 51, 102, 255, 255, 0, 0, 0, 1, 2, 3, 4],
    )
}

fn small_labels() -> Vec<u8> {
    idx_bytes(idx::LABELS_MAGIC, &[3], &[2, 0, 1])
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(0, |best, (i, &x)| if x > row[best] { i } else { best })
}

#[test]
fn mnist_loads_with_the_published_counts_labels_and_pixel_range() {
    let start = std::time::Instant::now();
    let (train, test) = mnist::load(MNIST_DIR).unwrap();
    eprintln!("mnist::load took {:?}", start.elapsed());
    assert_eq!((train.len(), test.len()), (60000, 10000));
    assert_eq!(train.feature_shape(), [28, 28, 1]);
    assert_eq!(train.label_shape(), [10]);
    assert_eq!(train.features().len(), 60000 * 784);

    let first_test: Vec<usize> = test.labels().chunks(10).take(10).map(argmax).collect();
    assert_eq!(first_test, [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    let mut counts = [0usize; 10];
    for row in train.labels().chunks(10) {
        assert_eq!(row.iter().sum::<f32>(), 1.0, "one-hot row {row:?}");
        counts[argmax(row)] += 1;
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );

    assert_eq!(train.feature_range(), Some((0.0, 1.0)));
    assert_eq!(test.feature_range(), Some((0.0, 1.0)));
    // Every pixel is k / 255 for a whole k.
    let (features, _) = test.example(0).unwrap();
    assert!(
        features
            .iter()
            .all(|&x| ((x * 255.0).round() - x * 255.0).abs() < 1e-4)
    );
}

#[test]
fn mnist_test_files_load_with_class_index_labels() {
    let dir = Path::new(MNIST_DIR);
    let test = Dataset::from_idx_files_with(
        dir.join(mnist::TEST_IMAGES),
        dir.join(mnist::TEST_LABELS),
        LabelEncoding::ClassIndex { num_classes: 10 },
    )
    .unwrap();
    assert_eq!(test.label_shape(), [] as [usize; 0]);
    assert_eq!(
        test.labels()[..10],
        [7.0, 2.0, 1.0, 0.0, 4.0, 1.0, 4.0, 9.0, 5.0, 9.0]
    );
    let mut counts = [0usize; 10];
    test.labels()
        .iter()
        .for_each(|&label| counts[label as usize] += 1);
    assert_eq!(
        counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
}

#[test]
fn gzip_without_a_stored_file_name_loads_exact_values() {
    let dir = temp_dir("no_fname");
    let images = write_gz(&dir, "images.gz", &small_images());
    let labels = write_gz(&dir, "labels.gz", &small_labels());
    assert_eq!(
        std::fs::read(&images).unwrap()[3] & 0x08,
        0,
        "FNAME flag must be clear"
    );
    let dataset = Dataset::from_idx_files(&images, &labels, 3).unwrap();
    assert_eq!(dataset.len(), 3);
    assert_eq!(dataset.feature_shape(), [2, 2, 1]);
    let expected: Vec<f32> = [0, 51, 102, 255, 255, 0, 0, 0, 1, 2, 3, 4]
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect();
    assert_eq!(dataset.features(), expected);
    assert_eq!(dataset.labels(), [0., 0., 1., 1., 0., 0., 0., 1., 0.]);
}

#[test]
fn gzip_with_a_stored_file_name_and_comment_loads() {
    let dir = temp_dir("fname");
    let path = dir.join("labels.gz");
    let mut encoder = GzBuilder::new()
        .filename("labels-idx1-ubyte")
        .comment("a header comment")
        .write(std::fs::File::create(&path).unwrap(), Compression::best());
    encoder.write_all(&small_labels()).unwrap();
    encoder.finish().unwrap();
    let array = idx::read_gz_idx(&path, idx::LABELS_MAGIC).unwrap();
    assert_eq!(array.dims(), [3]);
    assert_eq!(array.data(), [2, 0, 1]);

    // A file of two gzip members (as `cat a.gz b.gz`) decodes to their concatenation.
    let bytes = small_labels();
    let head = std::fs::read(write_gz(&dir, "head.gz", &bytes[..5])).unwrap();
    let tail = std::fs::read(write_gz(&dir, "tail.gz", &bytes[5..])).unwrap();
    let joined = dir.join("joined.gz");
    std::fs::write(&joined, [head, tail].concat()).unwrap();
    assert_eq!(idx::read_gz_idx(&joined, idx::LABELS_MAGIC).unwrap(), array);
}

/// Asserts that the error's message names `path`'s file.
fn assert_names(err: &Error, path: &Path) {
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        err.to_string().contains(name),
        "`{err}` does not name {name}"
    );
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one catalogue of damaged files, a few asserted lines each"
)]
fn broken_files_give_the_right_error_naming_the_file() {
    let dir = temp_dir("broken");
    let labels = write_gz(&dir, "labels.gz", &small_labels());
    let load =
        |images: &Path, labels: &Path| Dataset::from_idx_files(images, labels, 3).unwrap_err();

    let wrong_magic = write_gz(&dir, "wrong-magic.gz", &small_labels());
    let err = load(&wrong_magic, &labels);
    assert!(
        matches!(
            err,
            Error::BadMagic {
                expected: 2051,
                found: 2049,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &wrong_magic);

    let mut short = small_images();
    short.pop();
    let truncated = write_gz(&dir, "truncated.gz", &short);
    let err = load(&truncated, &labels);
    assert!(
        matches!(
            err,
            Error::Truncated {
                expected: 28,
                found: 27,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &truncated);

    let header_only = write_gz(
        &dir,
        "header-only.gz",
        &idx_bytes(idx::IMAGES_MAGIC, &[3, 2], &[]),
    );
    let err = load(&header_only, &labels);
    assert!(
        matches!(
            err,
            Error::Truncated {
                expected: 16,
                found: 12,
                ..
            }
        ),
        "{err:?}"
    );

    let mut long = small_images();
    long.extend([9, 9]);
    let trailing = write_gz(&dir, "trailing.gz", &long);
    let err = load(&trailing, &labels);
    assert!(
        matches!(err, Error::TrailingData { extra: 2, .. }),
        "{err:?}"
    );
    assert_names(&err, &trailing);

    let two_labels = write_gz(
        &dir,
        "two-labels.gz",
        &idx_bytes(idx::LABELS_MAGIC, &[2], &[0, 1]),
    );
    let images = write_gz(&dir, "images.gz", &small_images());
    let err = load(&images, &two_labels);
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                n_images: 3,
                n_labels: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &images);
    assert_names(&err, &two_labels);

    let plain = dir.join("plain.idx");
    std::fs::write(&plain, small_images()).unwrap();
    let err = load(&plain, &labels);
    assert!(
        matches!(&err, Error::NotGzip { found, .. } if found == &[0, 0]),
        "{err:?}"
    );
    assert_names(&err, &plain);

    let compressed = std::fs::read(&images).unwrap();
    let cut = dir.join("cut.gz");
    std::fs::write(&cut, &compressed[..compressed.len() / 2]).unwrap();
    let err = load(&cut, &labels);
    assert!(matches!(err, Error::Gzip { .. }), "{err:?}");
    assert_names(&err, &cut);

    let garbage_after_gzip = dir.join("garbage-after.gz");
    std::fs::write(&garbage_after_gzip, [&compressed[..], b"junk"].concat()).unwrap();
    let err = load(&garbage_after_gzip, &labels);
    assert!(matches!(err, Error::Gzip { .. }), "{err:?}");
    assert_names(&err, &garbage_after_gzip);

    let missing = dir.join("missing.gz");
    let err = load(&missing, &labels);
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert_names(&err, &missing);

    let err = Dataset::from_idx_files(&images, &labels, 2).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LabelOutOfRange {
                index: 0,
                label: 2,
                num_classes: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &labels);
}

#[test]
fn mnist_loader_reports_a_missing_directory() {
    let err = mnist::load(temp_dir("empty")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

/// Five examples: features [i, 10 i], class-index labels i % 3.
fn five() -> Dataset {
    let features: Vec<f32> = (0..5).flat_map(|i| [i as f32, 10.0 * i as f32]).collect();
    let labels: Vec<f32> = (0..5).map(|i| (i % 3) as f32).collect();
    Dataset::new(features, &[5, 2], labels, &[5]).unwrap()
}

#[test]
fn constructors_validate_shapes() {
    let err = Dataset::new(vec![0.0; 6], &[3, 3], vec![0.0; 3], &[3]).unwrap_err();
    assert!(
        matches!(&err, Error::DatasetShape(msg) if msg.contains("[3, 3]") && msg.contains('6')),
        "{err}"
    );
    let err = Dataset::from_slices(&[0.0; 6], &[3, 2], &[0.0; 2], &[2]).unwrap_err();
    assert!(
        matches!(&err, Error::DatasetShape(msg) if msg.contains("[3, 2]") && msg.contains("[2]")),
        "{err}"
    );
    let err = Dataset::new(vec![1.0], &[], vec![1.0], &[1]).unwrap_err();
    assert!(matches!(err, Error::DatasetShape(_)), "{err}");
    let dataset = Dataset::from_slices(&[1.0, 2.0], &[2, 1], &[0.0, 1.0], &[2, 1]).unwrap();
    assert_eq!(
        (
            dataset.len(),
            dataset.feature_shape(),
            dataset.label_shape()
        ),
        (2, &[1][..], &[1][..])
    );
    assert_eq!(dataset.example(1), Some((&[2.0][..], &[1.0][..])));
    assert_eq!(dataset.example(2), None);
}

#[test]
fn split_keeps_order_and_truncates_the_first_part() {
    let (first, rest) = five().split(0.5).unwrap();
    assert_eq!((first.len(), rest.len()), (2, 3));
    assert_eq!(first.features(), [0.0, 0.0, 1.0, 10.0]);
    assert_eq!(rest.features(), [2.0, 20.0, 3.0, 30.0, 4.0, 40.0]);
    assert_eq!(rest.labels(), [2.0, 0.0, 1.0]);
    assert_eq!(rest.feature_shape(), [2]);
    let (all, none) = five().split(1.0).unwrap();
    assert_eq!((all.len(), none.len(), none.features().len()), (5, 0, 0));
    let (none, all) = five().split(0.0).unwrap();
    assert_eq!((none.len(), all), (0, five()));
    for ratio in [-0.1, 1.5, f64::NAN] {
        let err = five().split(ratio).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { name: "ratio", .. }),
            "{err}"
        );
    }
}

#[test]
fn shuffle_permutes_examples_keeping_features_with_their_labels() {
    let shuffled = five().shuffled(3);
    assert_eq!(shuffled, five().shuffled(3));
    assert_ne!(shuffled.features(), five().features());
    assert_ne!(five().shuffled(3), five().shuffled(4));
    let mut seen: Vec<usize> = (0..5)
        .map(|i| {
            let (features, labels) = shuffled.example(i).unwrap();
            let original = features[0] as usize;
            assert_eq!(features[1], 10.0 * features[0]);
            assert_eq!(labels[0], (original % 3) as f32);
            original
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
}

#[test]
fn batches_are_slices_into_the_data_with_a_partial_last_batch() {
    let dataset = five();
    let batches: Vec<_> = dataset.batches(2).unwrap().collect();
    assert_eq!(dataset.batches(2).unwrap().len(), 3);
    assert_eq!(
        batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    assert_eq!(batches[0].features_shape(), [2, 2]);
    assert_eq!(batches[2].features_shape(), [1, 2]);
    assert_eq!(batches[2].labels_shape(), [1]);
    assert_eq!(batches[2].features(), [4.0, 40.0]);
    assert_eq!(batches[1].labels(), [2.0, 0.0]);
    // No copies: batch k starts 2k rows into the dataset's buffer.
    let base = dataset.features().as_ptr();
    for (k, batch) in batches.iter().enumerate() {
        assert_eq!(batch.features().as_ptr(), base.wrapping_add(k * 2 * 2));
    }
    assert_eq!(dataset.batches(5).unwrap().count(), 1);
    assert_eq!(dataset.batches(100).unwrap().next().unwrap().len(), 5);
    let err = dataset.batches(0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "batch_size",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn one_hot_encodes_class_indices_and_rejects_bad_labels() {
    let encoded = five().one_hot(3).unwrap();
    assert_eq!(encoded.label_shape(), [3]);
    assert_eq!(
        encoded.labels(),
        [1., 0., 0., 0., 1., 0., 0., 0., 1., 1., 0., 0., 0., 1., 0.]
    );
    assert_eq!(encoded.features(), five().features());

    let err = five().one_hot(2).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidLabel {
                index: 2,
                value: 2.0,
                num_classes: 2
            }
        ),
        "{err}"
    );
    let fractional = Dataset::new(vec![0.0], &[1, 1], vec![0.5], &[1]).unwrap();
    assert!(matches!(
        fractional.one_hot(2),
        Err(Error::InvalidLabel { index: 0, .. })
    ));
    let err = encoded.one_hot(3).unwrap_err();
    assert!(
        matches!(&err, Error::DatasetShape(msg) if msg.contains("[3]")),
        "{err}"
    );
    assert!(matches!(
        five().one_hot(0),
        Err(Error::InvalidArgument {
            name: "num_classes",
            ..
        })
    ));
}

#[test]
fn scaling_helpers_transform_every_feature() {
    let scaled = five().scale_features(0.5);
    assert_eq!(
        scaled.features(),
        [0.0, 0.0, 0.5, 5.0, 1.0, 10.0, 1.5, 15.0, 2.0, 20.0]
    );
    assert_eq!(scaled.feature_range(), Some((0.0, 20.0)));
    let shifted = five().map_features(|x| x - 1.0);
    assert_eq!(shifted.feature_range(), Some((-1.0, 39.0)));
    assert_eq!(shifted.labels(), five().labels());
    let empty = Dataset::new(vec![], &[0, 2], vec![], &[0]).unwrap();
    assert_eq!(empty.feature_range(), None);
    assert!(empty.is_empty());
}
