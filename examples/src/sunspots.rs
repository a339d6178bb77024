//! The monthly sunspot series shipped in `datasets/sunspots/` (format and provenance in
//! `datasets/README.md`) as numbers, and the sliding windows a forecasting example trains on.
//! Reads and slices the data; fits nothing and scores nothing (the example does).

use std::ops::RangeInclusive;
use std::path::Path;

use kiln::{Dataset, Error, Result};

/// The monthly means of `sunspots_monthly.dat`, oldest first: every line that starts with a
/// four-digit year contributes the numbers after the year (the last year is partial). Other
/// lines (the header and footer) are skipped.
pub fn monthly_sunspots(path: &Path) -> Result<Vec<f32>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut values = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let is_year = fields
            .next()
            .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
        if !is_year {
            continue;
        }
        for field in fields {
            let value = field.parse::<f32>().map_err(|e| {
                Error::DatasetShape(format!(
                    "{} line {}: `{field}` is not a number ({e})",
                    path.display(),
                    number + 1
                ))
            })?;
            values.push(value);
        }
    }
    if values.is_empty() {
        return Err(Error::DatasetShape(format!(
            "{} holds no year lines",
            path.display()
        )));
    }
    Ok(values)
}

/// The windows of `series` for the forecast origins `origins`: for origin `t`, the features
/// are the `window` values before `t` (shape `[window, 1]`, one feature per step) and the
/// labels the `horizon` values from `t` on (shape `[horizon]`), both multiplied by `scale`.
/// Fails if an origin lacks `window` values before it or `horizon` values from it.
pub fn windows(
    series: &[f32],
    origins: RangeInclusive<usize>,
    window: usize,
    horizon: usize,
    scale: f32,
) -> Result<Dataset> {
    let (start, end) = (*origins.start(), *origins.end());
    if start < window || end + horizon > series.len() || start > end {
        return Err(Error::DatasetShape(format!(
            "forecast origins {start}..={end} need {window} values before and {horizon} from \
             each in a series of {}",
            series.len()
        )));
    }
    let (mut past, mut future) = (Vec::new(), Vec::new());
    for t in origins {
        past.extend(series[t - window..t].iter().map(|v| v * scale));
        future.extend(series[t..t + horizon].iter().map(|v| v * scale));
    }
    let n = end - start + 1;
    Dataset::new(past, &[n, window, 1], future, &[n, horizon])
}
