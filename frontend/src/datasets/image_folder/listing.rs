//! The files of an image folder, in Keras' order: the class sub-folders sorted by name (or in
//! the order of the class names given), and inside each, every PNG/JPEG file of the
//! sub-folder and of its own sub-folders, folders sorted by path, files by name (as Keras'
//! `index_directory`). Does not open the images.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Extensions read (compared without case). Keras also reads `.bmp` and `.gif`; a file with
/// those extensions is an error here rather than silently left out.
const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];
const UNSUPPORTED_EXTENSIONS: &[&str] = &["bmp", "gif"];

/// The image files and their class indices.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub class_names: Vec<String>,
    pub files: Vec<PathBuf>,
    pub labels: Vec<usize>,
}

/// Lists `root`: one class per sub-folder (`class_names` chooses and orders them, else all,
/// sorted).
pub(crate) fn list(
    root: &Path,
    class_names: Option<&[String]>,
    follow_links: bool,
) -> Result<Listing> {
    let found = sub_folders(root, follow_links)?;
    let class_names = match class_names {
        None => found,
        Some(names) => {
            if let Some(missing) = names.iter().find(|n| !found.contains(n)) {
                return Err(Error::InvalidArgument {
                    name: "class_names",
                    msg: format!(
                        "`{missing}` is not a sub-folder of {} (found: {})",
                        root.display(),
                        found.join(", ")
                    ),
                });
            }
            names.to_vec()
        }
    };
    if class_names.is_empty() {
        return Err(Error::InvalidArgument {
            name: "directory",
            msg: format!("{} has no class sub-folders", root.display()),
        });
    }
    let mut listing = Listing::default();
    for (label, class) in class_names.iter().enumerate() {
        let mut files = Vec::new();
        walk(&root.join(class), follow_links, &mut files)?;
        listing
            .labels
            .extend(std::iter::repeat_n(label, files.len()));
        listing.files.extend(files);
    }
    listing.class_names = class_names;
    Ok(listing)
}

/// The names of the sub-folders of `root`, sorted.
fn sub_folders(root: &Path, follow_links: bool) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in read_dir(root)? {
        if is_folder(&entry, follow_links) {
            names.push(utf8_name(&entry)?);
        }
    }
    names.sort();
    Ok(names)
}

/// Appends the image files under `dir` in Keras' order: this folder's files sorted by name,
/// then each sub-folder's (walked the same way) in the order of their paths.
fn walk(dir: &Path, follow_links: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for entry in read_dir(dir)? {
        if is_folder(&entry, follow_links) {
            folders.push(entry);
        } else if is_image(&entry)? {
            files.push(entry);
        }
    }
    files.sort();
    out.extend(files);
    folders.sort();
    for folder in folders {
        walk(&folder, follow_links, out)?;
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()).map_err(io))
        .collect()
}

/// A folder; a link to one only when links are followed.
fn is_folder(path: &Path, follow_links: bool) -> bool {
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    path.is_dir() && (follow_links || !is_link)
}

/// Whether `path` has an image extension; an error for `.bmp`/`.gif`.
fn is_image(path: &Path) -> Result<bool> {
    let Some(extension) = path.extension().and_then(|e| e.to_str()) else {
        return Ok(false);
    };
    let extension = extension.to_ascii_lowercase();
    if UNSUPPORTED_EXTENSIONS.contains(&extension.as_str()) {
        return Err(Error::Image {
            path: path.to_path_buf(),
            msg: format!(".{extension} images are not supported (PNG and JPEG are)"),
        });
    }
    Ok(IMAGE_EXTENSIONS.contains(&extension.as_str()))
}

fn utf8_name(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| Error::InvalidArgument {
            name: "directory",
            msg: format!("the folder name of {} is not UTF-8", path.display()),
        })
}
