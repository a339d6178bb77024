//! The dataset loaders: `idx_raw` (`kiln::datasets::idx::parse_idx` on the bytes as they
//! are), `idx_gzip` (`read_gz_idx`: gunzip, then the same parser), `csv_dataset`
//! (`CsvLoader`, the label column the header's last name) and `image` (`ImageFolder` over a
//! folder holding the input as its one image, PNG or JPEG by the input's signature).

use std::path::Path;

use kiln::datasets::csv_file::{CategoricalEncoding, CsvLabel, CsvLoader};
use kiln::datasets::idx::{IMAGES_MAGIC, LABELS_MAGIC, parse_idx, read_gz_idx};
use kiln::datasets::image_folder::{ColorMode, ImageFolder, Interpolation, LabelMode};

use crate::scratch;

/// The magic number the loader is asked for: images when the input says rank 3, else labels.
fn expected_magic(raw: &[u8]) -> u32 {
    if raw.get(3) == Some(&3) {
        IMAGES_MAGIC
    } else {
        LABELS_MAGIC
    }
}

/// Parses `data` as an uncompressed IDX file.
pub fn idx_raw(data: &[u8]) {
    if let Ok(array) = parse_idx(Path::new("fuzz.idx"), data.to_vec(), expected_magic(data)) {
        let numel = array
            .dims()
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d));
        assert_eq!(
            numel,
            Some(array.data().len()),
            "the payload fits the dimensions"
        );
    }
}

/// Reads `data` as a gzip-compressed IDX file.
pub fn idx_gzip(data: &[u8]) {
    let path = scratch::write("idx/fuzz.idx.gz", data);
    for magic in [IMAGES_MAGIC, LABELS_MAGIC] {
        let _ = read_gz_idx(&path, magic);
    }
}

/// Loads `data` as a CSV file; the first byte of the file picks the label mode and whether
/// the first column is categorical.
pub fn csv_dataset(data: &[u8]) {
    let pick = data.first().copied().unwrap_or(0);
    let path = scratch::write("csv/data.csv", data);
    let text = String::from_utf8_lossy(data);
    let header: Vec<&str> = text.lines().next().unwrap_or("").split(',').collect();
    let label = header.last().map_or("", |name| name.trim());
    let mode = [CsvLabel::Value, CsvLabel::Int, CsvLabel::Categorical][pick as usize % 3];
    let mut loader = CsvLoader::new(path).label(label, mode);
    if pick & 4 != 0 {
        loader = loader.categorical([header[0].trim()]);
    }
    if pick & 8 != 0 {
        loader = loader.categorical_encoding(CategoricalEncoding::Index);
    }
    if let Ok(loaded) = loader.load() {
        assert_eq!(
            loaded.dataset.feature_shape(),
            [loaded.feature_names.len()],
            "one feature value per feature name"
        );
    }
}

/// Decodes `data` as the one image of a one-class image folder, at 8 × 8 pixels, with a
/// pixel limit of 2^16; the last byte picks the colour mode and the interpolation.
pub fn image(data: &[u8]) {
    let pick = data.last().copied().unwrap_or(0) as usize;
    let png = data.starts_with(b"\x89PNG");
    let (name, other) = if png {
        ("x.png", "x.jpg")
    } else {
        ("x.jpg", "x.png")
    };
    scratch::write(format!("images/a/{name}"), data);
    let folder = scratch::dir().join("images");
    let _ = std::fs::remove_file(folder.join("a").join(other));
    let color = [ColorMode::Grayscale, ColorMode::Rgb, ColorMode::Rgba][pick % 3];
    let interpolation = [Interpolation::Bilinear, Interpolation::Nearest][pick / 3 % 2];
    let loaded = ImageFolder::new(folder)
        .image_size(8, 8)
        .color_mode(color)
        .interpolation(interpolation)
        .label_mode(LabelMode::Int)
        .shuffle(false)
        .max_pixels(1 << 16)
        .load();
    if let Ok(loaded) = loaded {
        assert_eq!(loaded.dataset.feature_shape(), [8, 8, color.channels()]);
    }
}
