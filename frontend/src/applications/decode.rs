//! Keras' `imagenet_utils.decode_predictions`: the top classes of each row of a batch of
//! predictions, named from a class index the user supplies in the format of Keras'
//! `imagenet_class_index.json` (`{"0": ["n01440764", "tench"], ...}`). Nothing is
//! downloaded; it reads that one JSON file and computes nothing else.

use std::path::Path;

use ir::Tensor;
use serde_json::Value;

use crate::error::{Error, Result};

/// One decoded prediction: the class id (`n01440764`), its name (`tench`) and the score.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The class id (WordNet id for ImageNet).
    pub class_id: String,
    /// The class's readable name.
    pub name: String,
    /// The predicted score.
    pub score: f32,
}

/// For each row of `preds` (`[samples, classes]`), the `top` highest-scoring classes, best
/// first, named from the class index JSON file at `class_index_file` (keys `"0"`, `"1"`, …,
/// each `[class_id, name]`). Equal scores come higher class index first, as Keras'
/// `argsort()[-top:][::-1]` gives them. Errors: `preds` not 2-D, a class missing from the
/// index, an unreadable or malformed file.
///
/// ```no_run
/// # fn main() -> kiln::Result<()> {
/// # let preds = kiln::Tensor::zeros([1, 1000]);
/// let top5 = kiln::applications::decode_predictions(&preds, 5, "imagenet_class_index.json")?;
/// println!("{} {:.3}", top5[0][0].name, top5[0][0].score);
/// # Ok(())
/// # }
/// ```
pub fn decode_predictions(
    preds: &Tensor,
    top: usize,
    class_index_file: impl AsRef<Path>,
) -> Result<Vec<Vec<Decoded>>> {
    let path = class_index_file.as_ref();
    let [_, classes] = preds.shape.dims()[..] else {
        return Err(Error::InvalidArgument {
            name: "preds",
            msg: format!(
                "decode_predictions needs a 2-D (samples, classes) batch, got shape {}",
                preds.shape
            ),
        });
    };
    let index = read_index(path)?;
    let mut rows = Vec::new();
    for row in preds
        .data
        .chunks(classes.max(1))
        .take(preds.shape.dims()[0])
    {
        let mut order: Vec<usize> = (0..classes).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(b.cmp(&a)));
        let decoded = order
            .into_iter()
            .take(top)
            .map(|i| {
                let (class_id, name) = index.get(i).and_then(Option::as_ref).ok_or_else(|| {
                    file_error(
                        path,
                        format!("has no class {i} (predictions have {classes} classes)"),
                    )
                })?;
                Ok(Decoded {
                    class_id: class_id.clone(),
                    name: name.clone(),
                    score: row[i],
                })
            })
            .collect::<Result<Vec<_>>>()?;
        rows.push(decoded);
    }
    Ok(rows)
}

/// An [`Error::ModelFile`] about the class index file.
fn file_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        msg: format!("class index: {}", msg.into()),
    }
}

/// The class index: entry `i` is class `i`'s `(id, name)`, `None` where the file skips it.
fn read_index(path: &Path) -> Result<Vec<Option<(String, String)>>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let json: Value = serde_json::from_str(&text).map_err(|e| file_error(path, e.to_string()))?;
    let object = json
        .as_object()
        .ok_or_else(|| file_error(path, "is not a JSON object of classes"))?;
    let mut index: Vec<Option<(String, String)>> = Vec::new();
    for (key, entry) in object {
        let i: usize = key
            .parse()
            .map_err(|_| file_error(path, format!("key `{key}` is not a class number")))?;
        let pair = match entry.as_array().map(Vec::as_slice) {
            Some([Value::String(id), Value::String(name)]) => (id.clone(), name.clone()),
            _ => return Err(file_error(path, format!("class `{key}` is not [id, name]"))),
        };
        if i >= object.len() {
            return Err(file_error(
                path,
                format!("class {i} is beyond the {} classes listed", object.len()),
            ));
        }
        if index.len() <= i {
            index.resize(i + 1, None);
        }
        index[i] = Some(pair);
    }
    Ok(index)
}
