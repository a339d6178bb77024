//! Writes the image-folder sample `datasets/fashion_folder/` from the Fashion-MNIST test set.
//!
//! `cargo run --release --example make_fashion_folder` — reads
//! `datasets/fashion-mnist/t10k-{images-idx3,labels-idx1}-ubyte.gz` and writes the first
//! [`PER_CLASS`] test images of each of the ten classes, in file order, as 8-bit grayscale
//! PNG files `datasets/fashion_folder/<class>/<index>.png`, where `<index>` is the image's
//! 0-based position in the test file (five digits) and `<class>` is the label and the
//! class's name (`0_tshirt_top`, `1_trouser`, ...), so the folders sort in label order.
//! Existing files are overwritten; the output is the same on every run.

use std::path::Path;

use kiln::datasets::idx::{IMAGES_MAGIC, LABELS_MAGIC, read_gz_idx};

/// Images written per class.
const PER_CLASS: usize = 30;

/// The folder of each Fashion-MNIST label.
const CLASSES: [&str; 10] = [
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = kiln_examples::dataset_dir("fashion-mnist");
    let images = read_gz_idx(&source.join("t10k-images-idx3-ubyte.gz"), IMAGES_MAGIC)?;
    let labels = read_gz_idx(&source.join("t10k-labels-idx1-ubyte.gz"), LABELS_MAGIC)?;
    let (rows, cols) = (images.dims()[1], images.dims()[2]);
    let out = source.with_file_name("fashion_folder");
    let mut written = [0usize; 10];
    for (index, &label) in labels.data().iter().enumerate() {
        let class = usize::from(label);
        if written[class] == PER_CLASS {
            continue;
        }
        let pixels = &images.data()[index * rows * cols..(index + 1) * rows * cols];
        let dir = out.join(CLASSES[class]);
        std::fs::create_dir_all(&dir)?;
        write_png(&dir.join(format!("{index:05}.png")), pixels, cols, rows)?;
        written[class] += 1;
        if written.iter().all(|&n| n == PER_CLASS) {
            break;
        }
    }
    println!(
        "wrote {} images to {}",
        written.iter().sum::<usize>(),
        out.display()
    );
    Ok(())
}

fn write_png(path: &Path, pixels: &[u8], width: usize, height: usize) -> image::ImageResult<()> {
    image::save_buffer(
        path,
        pixels,
        width as u32,
        height as u32,
        image::ExtendedColorType::L8,
    )
}
