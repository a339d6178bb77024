//! [`ImageFolder`]: a [`Dataset`] from a folder of images with one sub-folder per class, as
//! Keras' `image_dataset_from_directory`.
//!
//! - Classes: the sub-folder names, sorted (or the order given by
//!   [`ImageFolder::class_names`]); labels as class indices, one-hot rows or one 0/1 value
//!   ([`LabelMode`]).
//! - Files: PNG and JPEG (`.png`, `.jpg`, `.jpeg`, any case) anywhere below a class folder
//!   (`listing.rs`), decoded with the `image` crate, converted to the [`ColorMode`] and resized
//!   to `image_size` ([`decode`]). Pixel values are 0 to 255, as in Keras: scale them with
//!   [`Dataset::scale_features`] or a `Rescaling` layer.
//! - Bounded memory: each file's width and height are read from its header and checked
//!   against [`ImageFolder::max_pixels`] (default [`DEFAULT_MAX_PIXELS`]) before any pixel is
//!   decoded; a damaged, unsupported or oversized file is an [`Error::Image`] naming it.
//! - Order and split: the files are shuffled with the seed, then the last
//!   `⌊validation_split · n⌋` form the validation subset, the rest the training subset.
//! - Cache: the whole dataset is held in memory once loaded. [`ImageFolder::cache`] adds an
//!   on-disk cache ([`cache`]): the decoded, resized pixels of every file in one file, read
//!   back by later loads (other subsets, later runs) while the folder and the options are
//!   unchanged.
//!
//! Does not augment (augmentation layers do that inside the model) and does not stream:
//! every image of the requested subset is decoded into memory.
//!
//! ```no_run
//! # fn main() -> kiln::Result<()> {
//! use kiln::datasets::image_folder::{ColorMode, ImageFolder, LabelMode};
//! let (train, validation) = ImageFolder::new("datasets/fashion_folder")
//!     .image_size(28, 28)
//!     .color_mode(ColorMode::Grayscale)
//!     .label_mode(LabelMode::Categorical)
//!     .validation_split(0.2)
//!     .seed(7)
//!     .load_split()?;
//! assert_eq!(train.dataset.feature_shape(), [28, 28, 1]);
//! println!("classes: {:?}", train.class_names);
//! # let _ = validation;
//! # Ok(())
//! # }
//! ```

pub mod cache;
pub mod decode;
mod listing;

use std::path::{Path, PathBuf};

pub use decode::{ColorMode, Interpolation};

use crate::datasets::dataset::Dataset;
use crate::datasets::permutation::permutation;
use crate::error::{Error, Result};
use decode::DecodeSpec;

/// The default limit on the pixels (width × height) of one image file: 2²⁶, e.g. 8192 × 8192.
/// Decoding one such RGBA file needs about 256 MiB.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;

/// How class labels are given, Keras' `label_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelMode {
    /// The class index as an f32, label shape `[]` (Keras' `"int"`, the default; for the
    /// sparse losses).
    #[default]
    Int,
    /// One-hot rows, label shape `[num_classes]` (Keras' `"categorical"`).
    Categorical,
    /// One value, 0 or 1, label shape `[1]`; exactly two classes (Keras' `"binary"`).
    Binary,
}

/// Which part of a split folder to load, Keras' `subset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subset {
    /// All but the last `⌊validation_split · n⌋` files (after shuffling).
    Training,
    /// The last `⌊validation_split · n⌋` files (after shuffling).
    Validation,
}

/// A loaded image folder: the dataset, the class names (label `i` is `class_names[i]`) and
/// the file of each example, in the dataset's order.
#[derive(Debug, Clone)]
pub struct ImageFolderDataset {
    /// Features `[n, height, width, channels]` (0 to 255) and labels as the label mode says.
    pub dataset: Dataset,
    /// The classes, in label order.
    pub class_names: Vec<String>,
    /// The file of each example.
    pub file_paths: Vec<PathBuf>,
}

/// Options of an image-folder load; Keras' defaults (RGB, 256 × 256, bilinear, int labels,
/// shuffled). See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct ImageFolder {
    directory: PathBuf,
    class_names: Option<Vec<String>>,
    label_mode: LabelMode,
    color_mode: ColorMode,
    height: usize,
    width: usize,
    interpolation: Interpolation,
    shuffle: bool,
    seed: Option<u64>,
    validation_split: Option<f64>,
    follow_links: bool,
    max_pixels: u64,
    cache: Option<PathBuf>,
}

impl ImageFolder {
    /// The folder `directory`, with Keras' defaults.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        ImageFolder {
            directory: directory.into(),
            class_names: None,
            label_mode: LabelMode::Int,
            color_mode: ColorMode::Rgb,
            height: 256,
            width: 256,
            interpolation: Interpolation::Bilinear,
            shuffle: true,
            seed: None,
            validation_split: None,
            follow_links: false,
            max_pixels: DEFAULT_MAX_PIXELS,
            cache: None,
        }
    }

    /// The classes and their order (each must be a sub-folder); by default every sub-folder,
    /// sorted by name.
    pub fn class_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.class_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// How labels are given (default [`LabelMode::Int`]).
    pub fn label_mode(mut self, mode: LabelMode) -> Self {
        self.label_mode = mode;
        self
    }

    /// The channels of the features (default [`ColorMode::Rgb`]).
    pub fn color_mode(mut self, mode: ColorMode) -> Self {
        self.color_mode = mode;
        self
    }

    /// The size every image is resized to (default 256 × 256).
    pub fn image_size(mut self, height: usize, width: usize) -> Self {
        (self.height, self.width) = (height, width);
        self
    }

    /// The resize method (default [`Interpolation::Bilinear`]).
    pub fn interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// Whether to shuffle the files (default true). Unshuffled, the order is the listing's.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The shuffle seed. Without one, a seed is drawn from the clock; a split loaded one
    /// subset at a time needs one (else the subsets could overlap).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The fraction of files kept for validation, in `(0, 1)`.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = Some(fraction);
        self
    }

    /// Whether to enter linked sub-folders (default false; linked files are always read).
    pub fn follow_links(mut self, follow: bool) -> Self {
        self.follow_links = follow;
        self
    }

    /// The most pixels (width × height) one file may declare (default
    /// [`DEFAULT_MAX_PIXELS`]); checked from the header before decoding.
    pub fn max_pixels(mut self, max_pixels: u64) -> Self {
        self.max_pixels = max_pixels;
        self
    }

    /// Keep the decoded pixels of the whole folder in the file `path` and read them from
    /// there while the folder and the options are unchanged (see [`cache`]).
    pub fn cache(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache = Some(path.into());
        self
    }

    /// Loads every file. Fails when a validation split is set (load a subset then).
    pub fn load(&self) -> Result<ImageFolderDataset> {
        if self.validation_split.is_some() {
            return Err(Error::InvalidArgument {
                name: "subset",
                msg: "a validation_split is set: use load_subset or load_split".into(),
            });
        }
        let (all, order) = self.load_all()?;
        self.select(&all, &order)
    }

    /// Loads one subset of the split (Keras' `subset="training"` or `"validation"`). Needs
    /// a validation split, and a seed when shuffling.
    pub fn load_subset(&self, subset: Subset) -> Result<ImageFolderDataset> {
        let split = self.split_fraction()?;
        if self.shuffle && self.seed.is_none() {
            return Err(Error::InvalidArgument {
                name: "seed",
                msg: "loading one subset of a shuffled split needs a seed, so that the \
                      training and validation subsets do not overlap"
                    .into(),
            });
        }
        let (all, order) = self.load_all()?;
        let (training, validation) = split_order(&order, split);
        match subset {
            Subset::Training => self.select(&all, training),
            Subset::Validation => self.select(&all, validation),
        }
    }

    /// Loads both subsets of the split, `(training, validation)`, decoding each file once
    /// (Keras' `subset="both"`).
    pub fn load_split(&self) -> Result<(ImageFolderDataset, ImageFolderDataset)> {
        let split = self.split_fraction()?;
        let (all, order) = self.load_all()?;
        let (training, validation) = split_order(&order, split);
        Ok((self.select(&all, training)?, self.select(&all, validation)?))
    }

    fn split_fraction(&self) -> Result<f64> {
        match self.validation_split {
            Some(split) if split > 0.0 && split < 1.0 => Ok(split),
            Some(split) => Err(Error::InvalidArgument {
                name: "validation_split",
                msg: format!("{split} is not in (0, 1)"),
            }),
            None => Err(Error::InvalidArgument {
                name: "validation_split",
                msg: "a subset needs a validation_split".into(),
            }),
        }
    }

    fn spec(&self) -> Result<DecodeSpec> {
        if self.height == 0 || self.width == 0 {
            return Err(Error::InvalidArgument {
                name: "image_size",
                msg: format!("{} × {} has no pixels", self.height, self.width),
            });
        }
        Ok(DecodeSpec {
            height: self.height,
            width: self.width,
            color_mode: self.color_mode,
            interpolation: self.interpolation,
            max_pixels: self.max_pixels,
        })
    }

    /// Every file's pixels in listing order, and the shuffled order of the examples.
    fn load_all(&self) -> Result<(Decoded, Vec<usize>)> {
        let spec = self.spec()?;
        let listing = listing::list(
            &self.directory,
            self.class_names.as_deref(),
            self.follow_links,
        )?;
        if self.label_mode == LabelMode::Binary && listing.class_names.len() != 2 {
            return Err(Error::InvalidArgument {
                name: "label_mode",
                msg: format!(
                    "binary labels need exactly 2 classes, {} has {}: {}",
                    self.directory.display(),
                    listing.class_names.len(),
                    listing.class_names.join(", ")
                ),
            });
        }
        let pixels = self.pixels(&listing.files, &spec)?;
        let order = if self.shuffle {
            permutation(listing.files.len(), self.seed.unwrap_or_else(clock_seed))
        } else {
            (0..listing.files.len()).collect()
        };
        let example_size = spec.height * spec.width * spec.color_mode.channels();
        Ok((
            Decoded {
                listing,
                pixels,
                example_size,
            },
            order,
        ))
    }

    /// The pixels of `files`, from the cache when it is current, else decoded (and cached).
    fn pixels(&self, files: &[PathBuf], spec: &DecodeSpec) -> Result<Vec<f32>> {
        let example_size = spec.height * spec.width * spec.color_mode.channels();
        let total = files.len().checked_mul(example_size).ok_or_else(|| {
            Error::DatasetShape(format!("{} images of {example_size} values", files.len()))
        })?;
        let key = match &self.cache {
            Some(path) => {
                let key = cache::cache_key(files, spec)?;
                if let Some(pixels) = cache::read(path, &key, total) {
                    return Ok(pixels);
                }
                Some((path, key))
            }
            None => None,
        };
        let mut pixels = Vec::with_capacity(total);
        for file in files {
            decode::decode_into(file, spec, &mut pixels)?;
        }
        if let Some((path, key)) = key {
            cache::write(path, &key, &pixels)?;
        }
        Ok(pixels)
    }

    /// The examples `order` picks from `all`, as a dataset with labels in the label mode.
    fn select(&self, all: &Decoded, order: &[usize]) -> Result<ImageFolderDataset> {
        let size = all.example_size;
        let mut features = Vec::with_capacity(order.len() * size);
        for &i in order {
            features.extend_from_slice(&all.pixels[i * size..(i + 1) * size]);
        }
        let labels: Vec<f32> = order
            .iter()
            .map(|&i| all.listing.labels[i] as f32)
            .collect();
        let features_shape = [
            order.len(),
            self.height,
            self.width,
            self.color_mode.channels(),
        ];
        let labels_shape: &[usize] = match self.label_mode {
            LabelMode::Binary => &[order.len(), 1],
            _ => &[order.len()],
        };
        let mut dataset = Dataset::new(features, &features_shape, labels, labels_shape)?;
        if self.label_mode == LabelMode::Categorical {
            dataset = dataset.one_hot(all.listing.class_names.len())?;
        }
        Ok(ImageFolderDataset {
            dataset,
            class_names: all.listing.class_names.clone(),
            file_paths: order
                .iter()
                .map(|&i| all.listing.files[i].clone())
                .collect(),
        })
    }
}

/// Every listed file's pixels, in listing order.
struct Decoded {
    listing: listing::Listing,
    pixels: Vec<f32>,
    example_size: usize,
}

/// `(training, validation)`: the validation subset is the last `⌊split · n⌋` of `order`.
fn split_order(order: &[usize], split: f64) -> (&[usize], &[usize]) {
    let validation = (split * order.len() as f64) as usize;
    order.split_at(order.len() - validation)
}

/// A seed from the clock, for shuffles without one.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl ImageFolderDataset {
    /// The dataset alone.
    pub fn into_dataset(self) -> Dataset {
        self.dataset
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}

/// The folder `path` as [`ImageFolder::new`] with the given size (height, width), for the
/// common case; Keras' `image_dataset_from_directory(path, image_size=...)` with no split.
pub fn image_dataset_from_directory(
    path: impl AsRef<Path>,
    image_size: (usize, usize),
) -> Result<ImageFolderDataset> {
    ImageFolder::new(path.as_ref())
        .image_size(image_size.0, image_size.1)
        .load()
}
