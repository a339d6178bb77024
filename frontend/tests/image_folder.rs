//! The image-folder loader on the shipped Fashion-MNIST sample (`datasets/fashion_folder`:
//! labels, shapes, and every pixel of a file against its IDX source, also after a 2× bilinear
//! resize), splits and subsets, label modes, JPEG files, the on-disk cache, and damaged,
//! unsupported and oversized files (an error naming the file, never a panic).

use std::path::{Path, PathBuf};

use kiln::datasets::idx::{IMAGES_MAGIC, read_gz_idx};
use kiln::datasets::image_folder::{ColorMode, ImageFolder, Interpolation, LabelMode, Subset};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/fashion_folder");
const IDX_IMAGES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
);

fn sample() -> ImageFolder {
    ImageFolder::new(SAMPLE)
        .image_size(28, 28)
        .color_mode(ColorMode::Grayscale)
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-image-folder-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The IDX test image that a sample file was written from (its name is its index).
fn idx_pixels(file: &Path) -> Vec<u8> {
    let index: usize = file.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let images = read_gz_idx(Path::new(IDX_IMAGES), IMAGES_MAGIC).unwrap();
    images.data()[index * 784..(index + 1) * 784].to_vec()
}

#[test]
fn the_sample_loads_with_sorted_classes_labels_and_the_idx_pixels() {
    let loaded = sample().shuffle(false).load().unwrap();
    let names = [
        "0_tshirt_top",
        "1_trouser",
        "2_pullover",
        "3_dress",
        "4_coat",
        "5_sandal",
        "6_shirt",
        "7_sneaker",
        "8_bag",
        "9_ankle_boot",
    ];
    assert_eq!(loaded.class_names, names);
    let data = &loaded.dataset;
    assert_eq!(
        (data.len(), data.feature_shape(), data.label_shape()),
        (300, &[28, 28, 1][..], &[][..])
    );
    for (i, file) in loaded.file_paths.iter().enumerate() {
        let class = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(
            data.labels()[i],
            names.iter().position(|n| *n == class).unwrap() as f32
        );
    }
    // Unshuffled: files in class order, sorted by name within a class.
    assert!(
        loaded
            .file_paths
            .windows(2)
            .all(|w| w[0].parent() != w[1].parent() || w[0] < w[1])
    );
    let (features, _) = data.example(37).unwrap();
    let expected: Vec<f32> = idx_pixels(&loaded.file_paths[37])
        .iter()
        .map(|&p| f32::from(p))
        .collect();
    assert_eq!(
        features,
        expected.as_slice(),
        "pixels are 0..255 as in the IDX file"
    );
}

#[test]
fn halving_the_size_averages_each_two_by_two_block() {
    let loaded = sample().image_size(14, 14).shuffle(false).load().unwrap();
    assert_eq!(loaded.dataset.feature_shape(), [14, 14, 1]);
    let source = idx_pixels(&loaded.file_paths[123]);
    let (features, _) = loaded.dataset.example(123).unwrap();
    for y in 0..14 {
        for x in 0..14 {
            let p = |dy, dx| f32::from(source[(2 * y + dy) * 28 + 2 * x + dx]);
            let mean = (p(0, 0) + p(0, 1) + p(1, 0) + p(1, 1)) / 4.0;
            assert!((features[y * 14 + x] - mean).abs() < 1e-4, "({y}, {x})");
        }
    }
}

#[test]
fn rgb_repeats_grey_and_categorical_labels_are_one_hot() {
    let loaded = ImageFolder::new(SAMPLE)
        .image_size(28, 28)
        .label_mode(LabelMode::Categorical)
        .seed(3)
        .load()
        .unwrap();
    let data = &loaded.dataset;
    assert_eq!(
        (data.feature_shape(), data.label_shape()),
        (&[28, 28, 3][..], &[10][..])
    );
    let (features, label) = data.example(0).unwrap();
    assert!(
        features
            .chunks(3)
            .all(|rgb| rgb[0] == rgb[1] && rgb[1] == rgb[2])
    );
    assert_eq!(label.iter().sum::<f32>(), 1.0);
}

#[test]
fn a_split_is_disjoint_covers_every_file_and_matches_its_subsets() {
    let folder = sample().validation_split(0.2).seed(11);
    let (train, validation) = folder.load_split().unwrap();
    assert_eq!((train.dataset.len(), validation.dataset.len()), (240, 60));
    let mut all: Vec<&PathBuf> = train
        .file_paths
        .iter()
        .chain(&validation.file_paths)
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 300);
    let subset = folder.load_subset(Subset::Validation).unwrap();
    assert_eq!(subset.file_paths, validation.file_paths);
    assert_eq!(subset.dataset, validation.dataset);
    let reshuffled = sample()
        .validation_split(0.2)
        .seed(12)
        .load_split()
        .unwrap()
        .1;
    assert_ne!(
        reshuffled.file_paths, validation.file_paths,
        "the seed decides the order"
    );
}

#[test]
fn option_mistakes_are_errors() {
    let unseeded = sample().validation_split(0.2).load_subset(Subset::Training);
    assert!(unseeded.unwrap_err().to_string().contains("seed"));
    let split_without_subset = sample().validation_split(0.2).seed(1).load();
    assert!(
        split_without_subset
            .unwrap_err()
            .to_string()
            .contains("subset")
    );
    let bad_fraction = sample().validation_split(1.5).seed(1).load_split();
    assert!(
        bad_fraction
            .unwrap_err()
            .to_string()
            .contains("validation_split")
    );
    let binary = sample().label_mode(LabelMode::Binary).load();
    assert!(
        binary
            .unwrap_err()
            .to_string()
            .contains("exactly 2 classes")
    );
    let unknown = sample().class_names(["7_sneaker", "cats"]).load();
    assert!(unknown.unwrap_err().to_string().contains("`cats`"));
}

/// Writes a `width × height` RGB image of a smooth gradient as `path` (PNG or JPEG by name).
fn write_image(path: &Path, width: u32, height: u32) {
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).flat_map(move |x| [(x * 4) as u8, (y * 4) as u8, 128]))
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::save_buffer(path, &pixels, width, height, image::ExtendedColorType::Rgb8).unwrap();
}

#[test]
fn jpeg_and_png_classes_with_explicit_order_and_binary_labels() {
    let dir = scratch("jpeg");
    write_image(&dir.join("cats/a.JPG"), 16, 12);
    write_image(&dir.join("dogs/nested/b.png"), 16, 12);
    std::fs::write(dir.join("dogs/notes.txt"), "not an image").unwrap();
    let loaded = ImageFolder::new(&dir)
        .image_size(12, 16)
        .class_names(["dogs", "cats"])
        .label_mode(LabelMode::Binary)
        .shuffle(false)
        .load()
        .unwrap();
    assert_eq!(loaded.dataset.label_shape(), [1]);
    assert_eq!(loaded.dataset.labels(), [0.0, 1.0], "dogs first, as asked");
    let (png, _) = loaded.dataset.example(0).unwrap();
    let (jpeg, _) = loaded.dataset.example(1).unwrap();
    assert_eq!(&png[..6], [0.0, 0.0, 128.0, 4.0, 0.0, 128.0]);
    let worst = png
        .iter()
        .zip(jpeg)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 12.0, "JPEG is lossy but close: {worst}");
}

#[test]
fn damaged_and_unsupported_files_are_errors_naming_them() {
    let mut good = Vec::new();
    let dir = scratch("damaged");
    write_image(&dir.join("ok/good.png"), 8, 8);
    std::io::Read::read_to_end(
        &mut std::fs::File::open(dir.join("ok/good.png")).unwrap(),
        &mut good,
    )
    .unwrap();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "truncated.png",
            good[..good.len() / 2].to_vec(),
            "cannot decode",
        ),
        ("empty.png", Vec::new(), "not a PNG or JPEG"),
        ("text.jpg", b"hello, world".to_vec(), "not a PNG or JPEG"),
        ("header_only.png", good[..33].to_vec(), "unreadable header"),
        (
            "gif_inside.png",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec(),
            "Gif",
        ),
    ];
    for (name, bytes, expected) in cases {
        let case = scratch(&format!("damaged-{name}"));
        std::fs::create_dir_all(case.join("a")).unwrap();
        std::fs::copy(dir.join("ok/good.png"), case.join("a/good.png")).unwrap();
        std::fs::write(case.join("a").join(name), bytes).unwrap();
        let error = ImageFolder::new(&case)
            .image_size(8, 8)
            .load()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(name) && error.contains(expected),
            "{name}: {error}"
        );
    }
    std::fs::write(dir.join("ok/old.bmp"), b"BM").unwrap();
    let error = ImageFolder::new(&dir).load().unwrap_err().to_string();
    assert!(
        error.contains("old.bmp") && error.contains("not supported"),
        "{error}"
    );
}

#[test]
fn an_image_over_the_pixel_limit_is_refused_before_decoding() {
    let dir = scratch("big");
    write_image(&dir.join("a/big.png"), 64, 50);
    let error = ImageFolder::new(&dir)
        .max_pixels(3000)
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("big.png") && error.contains("64×50") && error.contains("3000"),
        "{error}"
    );
    assert!(
        ImageFolder::new(&dir)
            .max_pixels(3200)
            .image_size(5, 5)
            .load()
            .is_ok()
    );
}

#[test]
fn the_cache_is_read_back_and_rebuilt_when_a_file_changes() {
    let dir = scratch("cache");
    write_image(&dir.join("a/one.png"), 8, 8);
    write_image(&dir.join("b/two.png"), 8, 8);
    let cache = dir.join("pixels.cache");
    let folder = ImageFolder::new(dir.join(""))
        .image_size(4, 4)
        .shuffle(false)
        .cache(&cache);
    let first = folder.load().unwrap();
    assert!(cache.is_file());
    // Mark the cache: its last value is the last pixel of the last image.
    let mut bytes = std::fs::read(&cache).unwrap();
    let end = bytes.len();
    bytes[end - 4..].copy_from_slice(&1234.5f32.to_le_bytes());
    std::fs::write(&cache, &bytes).unwrap();
    let cached = folder.load().unwrap();
    assert_eq!(
        *cached.dataset.features().last().unwrap(),
        1234.5,
        "read from the cache"
    );
    let values = first.dataset.features().len();
    assert_eq!(
        cached.dataset.features()[..values - 1],
        first.dataset.features()[..values - 1]
    );
    // A new file makes the cache stale: decoded again.
    write_image(&dir.join("b/three.png"), 8, 8);
    let rebuilt = folder.load().unwrap();
    assert_eq!(rebuilt.dataset.len(), 3);
    assert_ne!(*rebuilt.dataset.features().last().unwrap(), 1234.5);
}

const KERAS_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/image_folder");

/// Resizing and colour conversion against tf-keras 2.21's `image_dataset_from_directory` on
/// two small PNG files (`fixtures/image_folder/make_fixture.py`).
#[test]
fn resizing_matches_keras_image_dataset_from_directory() {
    let text = std::fs::read_to_string(format!("{KERAS_FIXTURE}/expected.json")).unwrap();
    let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
    for case in expected["cases"].as_array().unwrap() {
        let size: Vec<usize> = serde_json::from_value(case["image_size"].clone()).unwrap();
        let interpolation = match case["interpolation"].as_str().unwrap() {
            "bilinear" => Interpolation::Bilinear,
            _ => Interpolation::Nearest,
        };
        let color_mode = match case["color_mode"].as_str().unwrap() {
            "rgb" => ColorMode::Rgb,
            _ => ColorMode::Grayscale,
        };
        let loaded = ImageFolder::new(format!("{KERAS_FIXTURE}/folder"))
            .image_size(size[0], size[1])
            .interpolation(interpolation)
            .color_mode(color_mode)
            .shuffle(false)
            .load()
            .unwrap();
        let want: Vec<f32> = serde_json::from_value(case["features"].clone()).unwrap();
        let got = loaded.dataset.features();
        assert_eq!(got.len(), want.len());
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 2e-3, "{case:?}: worst difference {worst}");
    }
}
