//! [`Sequential::summary`]: the model table in Keras' exact text format.
//!
//! Keras (2.13+) prints rows 65 characters wide with columns ending at 29, 55 and 65; a field
//! too long for its column wraps onto continuation lines (cut at the column width, or just
//! after a `),`-style separator). Each layer row is followed by a blank row; the `Input`
//! layer of a sequential model is not listed. Sizes count 4 bytes per parameter.

use crate::error::Result;
use crate::layers::keras_shape;
use crate::model::Sequential;

/// Total width of the table.
const LINE_LENGTH: usize = 65;
/// Where each column ends.
const POSITIONS: [usize; 3] = [29, 55, 65];

/// One table row, wrapped over as many lines as its longest field needs.
fn print_row(fields: [&str; 3], out: &mut String) {
    let mut left: Vec<Vec<char>> = fields.iter().map(|f| f.chars().collect()).collect();
    while left.iter().any(|f| !f.is_empty()) {
        let mut line: Vec<char> = Vec::new();
        for col in 0..POSITIONS.len() {
            let start = if col == 0 { 0 } else { POSITIONS[col - 1] };
            let last = col == POSITIONS.len() - 1;
            let space = if last { 0 } else { 2 };
            let mut cutoff = POSITIONS[col] - start - space - usize::from(!last);
            let fit: String = left[col].iter().take(cutoff).collect();
            if let Some(cut) = ["),", "},", "],", "',"]
                .iter()
                .filter_map(|sep| fit.find(sep).map(|i| i + sep.len()))
                .min()
            {
                cutoff = cut;
            }
            cutoff = cutoff.min(left[col].len());
            if col == 0 {
                line.push(' ');
            }
            line.extend(left[col].drain(..cutoff));
            line.extend(std::iter::repeat_n(' ', space));
            let pad = POSITIONS[col].saturating_sub(line.len());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.extend(line);
        out.push('\n');
    }
}

/// Keras' `readable_memory_size`: divide by 1024 until below 1024, two decimals.
fn readable_size(bytes: f64) -> String {
    let units = ["Byte", "KB", "MB", "GB", "TB", "PB"];
    let mut size = bytes;
    for unit in units {
        if size / 1024.0 < 1.0 {
            return format!("{size:.2} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.2} {}", units[units.len() - 1])
}

impl Sequential {
    /// The model table in Keras' format (`Model: "name"`, one row per layer with its output
    /// shape and parameter count, totals with sizes). Fails like [`Sequential::compile`] when
    /// the model is malformed.
    pub fn summary(&self) -> Result<String> {
        let shapes = self.layer_shapes()?;
        let mut out = format!("Model: \"{}\"\n", self.name);
        out.push_str(&"_".repeat(LINE_LENGTH));
        out.push('\n');
        print_row(["Layer (type)", "Output Shape", "Param #"], &mut out);
        out.push_str(&"=".repeat(LINE_LENGTH));
        out.push('\n');
        let (mut trainable, mut frozen) = (0usize, 0usize);
        for (layer, s) in self
            .layers
            .iter()
            .zip(&shapes)
            .filter(|(l, _)| l.input_shape().is_none())
        {
            let count: usize = s.params.iter().map(|p| p.shape.numel()).sum();
            for p in &s.params {
                *(if p.trainable {
                    &mut trainable
                } else {
                    &mut frozen
                }) += p.shape.numel();
            }
            let label = format!(
                "{} ({})",
                layer.name().unwrap_or_default(),
                layer.class_name()
            );
            print_row(
                [&label, &keras_shape(&s.output), &count.to_string()],
                &mut out,
            );
            out.push_str(&" ".repeat(LINE_LENGTH));
            out.push('\n');
        }
        out.push_str(&"=".repeat(LINE_LENGTH));
        out.push('\n');
        let total = trainable + frozen;
        for (what, count) in [
            ("Total", total),
            ("Trainable", trainable),
            ("Non-trainable", frozen),
        ] {
            out.push_str(&format!(
                "{what} params: {count} ({})\n",
                readable_size(count as f64 * 4.0)
            ));
        }
        out.push_str(&"_".repeat(LINE_LENGTH));
        out.push('\n');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_keras() {
        assert_eq!(readable_size(0.0), "0.00 Byte");
        assert_eq!(readable_size(266_610.0 * 4.0), "1.02 MB");
        assert_eq!(readable_size(7018.0 * 4.0), "27.41 KB");
    }

    #[test]
    fn long_names_wrap_at_the_column() {
        let mut out = String::new();
        print_row(
            ["max_pooling2d (MaxPooling2D)", "(None, 14, 14, 8)", "0"],
            &mut out,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "{:<29}{:<26}{:<10}",
                " max_pooling2d (MaxPooling2", "(None, 14, 14, 8)", "0"
            )
        );
        assert_eq!(lines[1], format!("{:<65}", " D)"));
    }
}
