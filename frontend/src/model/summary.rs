//! [`Model::summary`]: the model table in Keras' (2.13+) exact text format.
//!
//! A sequential model, and a functional one whose layers form a chain, print
//! "sequential-like" rows (layer, output shape, parameter count; 65 characters wide by
//! default, columns ending at 45%, 85% and 100% of the width). Other functional models add
//! a "Connected to" column (98 wide by default, columns at 30%, 60%, 70%, 100%). A field
//! too long for its column wraps onto continuation lines (cut at the column width, or just
//! after a `),`-style separator). Each layer row is followed by a blank row. A sequential
//! model does not list its `Input`; a functional one does, its shape printed as a list
//! (`[(None, 28, 28, 1)]`). Trainable counts leave out frozen layers and moving
//! statistics. Sizes count 4 bytes per parameter.

use super::Model;
use super::graph::{LayerGraph, LayerShapes, ModelKind};
use crate::error::Result;
use crate::layers::{ParamSpec, keras_shape};

/// Default width of a sequential-like table.
const SEQUENTIAL_LINE_LENGTH: usize = 65;
/// Default width of a table with the "Connected to" column.
const FUNCTIONAL_LINE_LENGTH: usize = 98;
/// Where the columns of a sequential-like table end, as fractions of the width.
const SEQUENTIAL_POSITIONS: [f64; 3] = [0.45, 0.85, 1.0];
/// Where the columns of a table with connections end.
const FUNCTIONAL_POSITIONS: [f64; 4] = [0.3, 0.6, 0.7, 1.0];

/// One table row, wrapped over as many lines as its longest field needs; `positions` are
/// where the columns end.
fn print_row(fields: &[&str], positions: &[usize], out: &mut String) {
    let mut left: Vec<Vec<char>> = fields.iter().map(|f| f.chars().collect()).collect();
    while left.iter().any(|f| !f.is_empty()) {
        let mut line: Vec<char> = Vec::new();
        for col in 0..positions.len() {
            let start = if col == 0 { 0 } else { positions[col - 1] };
            let last = col == positions.len() - 1;
            let space = if last { 0 } else { 2 };
            let mut cutoff = (positions[col] - start).saturating_sub(space + usize::from(!last));
            let fit: String = left[col].iter().take(cutoff).collect();
            if let Some(cut) = ["),", "},", "],", "',"]
                .iter()
                .filter_map(|sep| fit.find(sep).map(|i| i + sep.len()))
                .min()
            {
                cutoff = fit[..cut].chars().count();
            }
            cutoff = cutoff.min(left[col].len());
            if col == 0 {
                line.push(' ');
            }
            line.extend(left[col].drain(..cutoff));
            line.extend(std::iter::repeat_n(' ', space));
            let pad = positions[col].saturating_sub(line.len());
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

/// Python's `str` of a list of strings: `['a[0][0]', 'b[0][0]']`.
fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

impl LayerGraph {
    /// Whether Keras prints this model without the "Connected to" column: a sequential
    /// model, or a functional chain (one input, one output, every layer fed by one layer
    /// and feeding at most one).
    fn is_sequential_like(&self) -> bool {
        if self.kind() == ModelKind::Sequential {
            return true;
        }
        let count = self.layers().len();
        let mut consumers = vec![0usize; count];
        for i in 0..count {
            for p in self.inbound(i) {
                consumers[p.layer] += 1;
            }
        }
        self.inputs().len() == 1
            && self.outputs().len() == 1
            && (0..count).all(|i| self.inbound(i).len() <= 1)
            && consumers.iter().all(|&c| c <= 1)
    }
}

/// The layout of one summary table: its width, where its columns end, and whether it has
/// the "Connected to" column.
struct Table {
    line_length: usize,
    positions: Vec<usize>,
    connections: bool,
}

impl Table {
    /// A line of `c` across the table.
    fn rule(&self, c: char, out: &mut String) {
        out.extend(std::iter::repeat_n(c, self.line_length));
        out.push('\n');
    }

    /// One row (wrapped) followed by a blank row.
    fn layer_row(&self, fields: &[&str], out: &mut String) {
        print_row(fields, &self.positions, out);
        out.push_str(&" ".repeat(self.line_length));
        out.push('\n');
    }
}

impl Model {
    /// The model table in Keras' format at Keras' default width (`Model: "name"`, one row
    /// per layer with its output shape and parameter count — and its inbound layers for a
    /// branching functional model — then totals with sizes). Fails like
    /// [`Model::compile`] when the model is malformed.
    pub fn summary(&self) -> Result<String> {
        let width = if self.graph.is_sequential_like() {
            SEQUENTIAL_LINE_LENGTH
        } else {
            FUNCTIONAL_LINE_LENGTH
        };
        self.summary_with_line_length(width)
    }

    /// [`Model::summary`] `line_length` characters wide (Keras' `line_length`).
    pub fn summary_with_line_length(&self, line_length: usize) -> Result<String> {
        let shapes = self.layer_shapes()?;
        let specs = self.param_specs()?;
        let connections = !self.graph.is_sequential_like();
        let fractions: &[f64] = if connections {
            &FUNCTIONAL_POSITIONS
        } else {
            &SEQUENTIAL_POSITIONS
        };
        let table = Table {
            line_length,
            positions: fractions
                .iter()
                .map(|p| (line_length as f64 * p) as usize)
                .collect(),
            connections,
        };
        let mut header = vec!["Layer (type)", "Output Shape", "Param #"];
        if connections {
            header.push("Connected to");
        }
        let mut out = format!("Model: \"{}\"\n", self.name());
        table.rule('_', &mut out);
        print_row(&header, &table.positions, &mut out);
        table.rule('=', &mut out);
        for (i, s) in shapes.iter().enumerate() {
            self.layer_rows(&table, i, s, &mut out);
        }
        table.rule('=', &mut out);
        totals(&specs, &mut out);
        table.rule('_', &mut out);
        Ok(out)
    }

    /// The row of the layer at `index` (none for the `Input` of a sequential model).
    fn layer_rows(&self, table: &Table, index: usize, shapes: &LayerShapes, out: &mut String) {
        let layer = &self.graph.layers()[index];
        let is_input = self.graph.inbound(index).is_empty();
        // A shared layer has one row; its "Connected to" lists every call's inputs.
        if (is_input && self.kind() == ModelKind::Sequential) || self.is_shared_call(index) {
            return;
        }
        let count: usize = shapes
            .params
            .iter()
            .map(|p| p.shape.numel())
            .fold(0, usize::saturating_add);
        let label = format!(
            "{} ({})",
            layer.name().unwrap_or_default(),
            layer.class_name()
        );
        let shape = if is_input || shapes.outputs.len() > 1 {
            let each: Vec<String> = shapes.outputs.iter().map(keras_shape).collect();
            format!("[{}]", each.join(", "))
        } else {
            keras_shape(&shapes.output)
        };
        let count = count.to_string();
        let inbound = self
            .calls_of(index)
            .into_iter()
            .flat_map(|call| self.inbound_refs(call));
        let connections = python_list(
            &inbound
                .map(|(name, node, output)| format!("{name}[{node}][{output}]"))
                .collect::<Vec<_>>(),
        );
        let mut fields = vec![label.as_str(), shape.as_str(), count.as_str()];
        if table.connections {
            fields.push(&connections);
        }
        table.layer_row(&fields, out);
    }
}

/// The "Total / Trainable / Non-trainable params" lines, with sizes.
fn totals(specs: &[(String, ParamSpec)], out: &mut String) {
    let total: usize = specs
        .iter()
        .map(|(_, p)| p.shape.numel())
        .fold(0, usize::saturating_add);
    let trainable: usize = specs
        .iter()
        .filter(|(_, p)| p.trainable)
        .map(|(_, p)| p.shape.numel())
        .fold(0, usize::saturating_add);
    for (what, count) in [
        ("Total", total),
        ("Trainable", trainable),
        ("Non-trainable", total - trainable),
    ] {
        out.push_str(&format!(
            "{what} params: {count} ({})\n",
            readable_size(count as f64 * 4.0)
        ));
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
            &["max_pooling2d (MaxPooling2D)", "(None, 14, 14, 8)", "0"],
            &[29, 55, 65],
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

    #[test]
    fn connections_print_as_a_python_list() {
        assert_eq!(python_list(&[]), "[]");
        assert_eq!(
            python_list(&["a[0][0]".into(), "b[0][0]".into()]),
            "['a[0][0]', 'b[0][0]']"
        );
    }
}
