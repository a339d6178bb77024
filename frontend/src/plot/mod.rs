//! Training curves as pictures: per-epoch series (a `History`'s `history` map) drawn to SVG
//! and PNG with `plotters`, one panel per quantity — `loss` first, then each metric — each
//! with its training series and, when logged, its `val_` series.
//!
//! Pure Rust: text is laid out with an embedded subset of DejaVu Sans (`font/`, Bitstream
//! Vera licence, in `font/LICENSE.txt`), so no system font or C library is needed; the
//! SVG names the `sans-serif` family and is rendered with the viewer's fonts. Does not show
//! windows or plot anything but training curves. The `TrainingCurves` callback redraws
//! these files after every epoch; `History::save_curves` writes them once.
//!
//! ```
//! # fn main() -> kiln::Result<()> {
//! use std::collections::BTreeMap;
//! let series = BTreeMap::from([
//!     ("loss".to_string(), vec![0.9, 0.5, 0.4]),
//!     ("val_loss".to_string(), vec![0.95, 0.6, 0.55]),
//! ]);
//! let svg = kiln::plot::training_curves_svg(&series)?;
//! assert!(svg.starts_with("<svg"));
//! let png = kiln::plot::training_curves_png(&series)?;
//! assert_eq!(&png[1..4], b"PNG");
//! # Ok(())
//! # }
//! ```

mod draw;
mod panels;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};

use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};
use panels::{Layout, panels};

/// The embedded font (DejaVu Sans, ASCII and Latin-1 only).
static FONT: &[u8] = include_bytes!("font/DejaVuSans-subset.ttf");

/// Registers the embedded font as `sans-serif` (once per process).
fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        let registered =
            plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, FONT);
        assert!(registered.is_ok(), "the embedded font parses");
    });
}

/// The SVG document of the curves of `series` (keys as in `History::history`).
pub fn training_curves_svg(series: &BTreeMap<String, Vec<f32>>) -> Result<String> {
    register_font();
    let panels = panels(series)?;
    let layout = Layout::for_panels(panels.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, layout.size()).into_drawing_area();
        draw::draw(&root, &panels, &layout).map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The PNG file (bytes) of the curves of `series` (keys as in `History::history`).
pub fn training_curves_png(series: &BTreeMap<String, Vec<f32>>) -> Result<Vec<u8>> {
    register_font();
    let panels = panels(series)?;
    let layout = Layout::for_panels(panels.len());
    let (width, height) = layout.size();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw::draw(&root, &panels, &layout).map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &rgb,
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| Error::InvalidArgument {
        name: "series",
        msg: format!("cannot encode the plot as PNG: {e}"),
    })?;
    Ok(png)
}

/// Writes the curves of `series` to `path` (atomically), as SVG or PNG by its extension
/// (`.svg` or `.png`, any case).
pub fn save_training_curves(
    series: &BTreeMap<String, Vec<f32>>,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match extension.as_deref() {
        Some("svg") => training_curves_svg(series)?.into_bytes(),
        Some("png") => training_curves_png(series)?,
        _ => {
            return Err(Error::InvalidArgument {
                name: "path",
                msg: format!("{}: plots are written as .svg or .png", path.display()),
            });
        }
    };
    write_atomically(path, &bytes)
}

fn plot_error(error: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        name: "series",
        msg: format!("cannot draw the training curves: {error}"),
    }
}
