//! Drawing the panels with `plotters` on any backend (SVG or bitmap): per panel, a titled
//! chart with epochs on x (whole numbers, from 1), the value on y (the finite values of both
//! series with a margin), the training series in blue and the validation series in orange,
//! each a line with a dot per epoch, and a legend in the corner the curves leave free.
//! A non-finite value leaves a gap in its line. Does not choose panels or encode files.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::panels::{Layout, Panel};

const TRAINING: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(255, 127, 14);

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws every panel into its cell of `root`.
pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Panel<'_>],
    layout: &Layout,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let cells = root.split_evenly((layout.rows, layout.columns));
    for (panel, cell) in panels.iter().zip(&cells) {
        draw_panel(cell, panel)?;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel<'_>,
) -> DrawResult<DB> {
    let epochs = panel.epochs() as i32;
    let x_range = if epochs == 1 { 0..2 } else { 1..epochs };
    let (lo, hi) = panel.value_range().unwrap_or((0.0, 1.0));
    let pad = if hi > lo {
        (hi - lo) * 0.08
    } else {
        lo.abs().max(1.0) * 0.05
    };
    let mut chart = ChartBuilder::on(area)
        .caption(panel.name, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(62)
        .build_cartesian_2d(x_range, (lo - pad)..(hi + pad))?;
    let decimals = decimals(hi - lo);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels((epochs as usize).clamp(2, 10))
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.decimals$}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    let series = [
        ("training", panel.training, TRAINING),
        ("validation", panel.validation, VALIDATION),
    ];
    for (label, values, color) in series {
        let Some(values) = values else { continue };
        for segment in finite_segments(values) {
            chart.draw_series(LineSeries::new(segment.clone(), color.stroke_width(2)))?;
            chart.draw_series(
                segment
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .draw_series(std::iter::empty::<Circle<(i32, f32), i32>>())?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(legend_position(panel))
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(190, 190, 190))
        .draw()?;
    Ok(())
}

/// Runs of consecutive finite values as `(epoch, value)` points, epochs from 1.
fn finite_segments(values: &[f32]) -> Vec<Vec<(i32, f32)>> {
    let mut segments = vec![Vec::new()];
    for (i, &v) in values.iter().enumerate() {
        if v.is_finite() {
            segments
                .last_mut()
                .expect("never empty")
                .push((i as i32 + 1, v));
        } else if !segments.last().expect("never empty").is_empty() {
            segments.push(Vec::new());
        }
    }
    segments.retain(|s| !s.is_empty());
    segments
}

/// Decimals of the y labels for a value span: enough to tell six ticks apart.
fn decimals(span: f32) -> usize {
    let step = f64::from(span) / 6.0;
    if step.is_nan() || step <= 0.0 {
        return 2;
    }
    (-step.log10().floor()).clamp(0.0, 6.0) as usize
}

/// Upper right for falling curves (a loss), lower right for rising ones (an accuracy).
fn legend_position(panel: &Panel<'_>) -> SeriesLabelPosition {
    let series = panel.training.or(panel.validation).unwrap_or(&[]);
    let finite: Vec<f32> = series.iter().copied().filter(|v| v.is_finite()).collect();
    match (finite.first(), finite.last()) {
        (Some(first), Some(last)) if last > first => SeriesLabelPosition::LowerRight,
        _ => SeriesLabelPosition::UpperRight,
    }
}
