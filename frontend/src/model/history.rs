//! [`History`]: what `fit` returns — per-epoch loss, metrics and validation values — and its
//! JSON form (read and written with serde).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};
use crate::progress::Logs;

/// Per-epoch training record, like Keras' `History.history`: a series per key (`loss`,
/// each metric name, and `val_`-prefixed ones when validating), one value per epoch.
///
/// Serialises (serde) as `{"history": {"loss": [...], ...}, "epoch_seconds": [...],
/// "epoch": [...]}`, the keys sorted (`epoch` may be absent when reading: it is then empty);
/// a NaN or infinite value is written as `null` and read back as NaN (JSON has
/// no such numbers).
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// let mut history = kiln::model::History::default();
/// history.history.insert("loss".into(), vec![0.5, 0.25]);
/// history.epoch_seconds = vec![1.5, 1.25];
/// history.epoch = vec![0, 1];
/// let json = history.to_json();
/// assert_eq!(
///     json,
///     r#"{"history":{"loss":[0.5,0.25]},"epoch_seconds":[1.5,1.25],"epoch":[0,1]}"#
/// );
/// assert_eq!(kiln::model::History::from_json(&json)?, history);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Series by key, in epoch order.
    #[serde(with = "nullable_series")]
    pub history: BTreeMap<String, Vec<f32>>,
    /// Wall-clock seconds of each epoch (training and validation).
    pub epoch_seconds: Vec<f64>,
    /// The number of each recorded epoch (Keras' `History.epoch`): `initial_epoch..`.
    #[serde(default)]
    pub epoch: Vec<usize>,
}

impl History {
    /// The series for `key` (`"loss"`, `"accuracy"`, `"val_loss"`, ...).
    pub fn get(&self, key: &str) -> Option<&[f32]> {
        self.history.get(key).map(Vec::as_slice)
    }

    /// Number of epochs recorded.
    pub fn epochs(&self) -> usize {
        self.epoch_seconds.len()
    }

    /// Append epoch `epoch`'s values in the given order.
    pub(crate) fn record(&mut self, epoch: usize, logs: &Logs, seconds: f64) {
        self.epoch.push(epoch);
        for (key, value) in logs.iter() {
            self.history.entry(key.to_string()).or_default().push(value);
        }
        self.epoch_seconds.push(seconds);
    }

    /// The JSON form (compact, one line).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a History always serialises")
    }

    /// A history from its JSON form.
    pub fn from_json(json: &str) -> Result<History> {
        serde_json::from_str(json).map_err(|e| Error::InvalidArgument {
            name: "json",
            msg: format!("not a History: {e}"),
        })
    }

    /// Writes the JSON form to `path` (atomically).
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), self.to_json().as_bytes())
    }

    /// Draws the training curves (one panel per quantity, training and validation) to `path`,
    /// an `.svg` or `.png` file; see [`crate::plot`].
    #[cfg(feature = "plot")]
    pub fn save_curves(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::plot::save_training_curves(&self.history, path)
    }

    /// Reads a history written by [`History::save_json`].
    pub fn load_json(path: impl AsRef<Path>) -> Result<History> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| Error::InvalidArgument {
            name: "path",
            msg: format!("{} does not hold a History: {e}", path.display()),
        })
    }
}

/// The series with non-finite values as JSON `null` (read back as NaN).
mod nullable_series {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        series: &BTreeMap<String, Vec<f32>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let nullable: BTreeMap<&str, Vec<Option<f32>>> = series
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    v.iter().map(|x| x.is_finite().then_some(*x)).collect(),
                )
            })
            .collect();
        nullable.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Vec<f32>>, D::Error> {
        let nullable = BTreeMap::<String, Vec<Option<f32>>>::deserialize(deserializer)?;
        Ok(nullable
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|x| x.unwrap_or(f32::NAN)).collect()))
            .collect())
    }
}
