//! One image file to f32 pixels: the header read first (format and dimensions, checked
//! against the pixel limit before any pixel is decoded), then PNG or JPEG decoding with the
//! `image` crate, the colour conversion and the resize to the requested size.
//!
//! Does not list folders, label, shuffle or cache; see the parent module.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::{Error, Result};
use crate::read_limit::read_at_most;

/// The colour channels of a decoded image, Keras' `color_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorMode {
    /// One channel. Colour images are converted as TensorFlow's PNG decoder does (libpng's
    /// `rgb_to_gray` with the weights 0.299, 0.587, 0.114 in 15-bit fixed point, rounded
    /// down: `(9797 R + 19234 G + 3737 B) >> 15`); for colour JPEG files TensorFlow's libjpeg
    /// rounds to nearest instead, so a grey level may differ from Keras' by 1 there.
    Grayscale,
    /// Three channels (Keras' default); a grey image is repeated into all three.
    #[default]
    Rgb,
    /// Four channels; an image without alpha gets alpha 255.
    Rgba,
}

impl ColorMode {
    /// Channels per pixel: 1, 3 or 4.
    pub fn channels(self) -> usize {
        match self {
            ColorMode::Grayscale => 1,
            ColorMode::Rgb => 3,
            ColorMode::Rgba => 4,
        }
    }
}

/// How an image is resized to the requested size, Keras' `interpolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Bilinear with half-pixel centres and no antialiasing, as `tf.image.resize(...,
    /// "bilinear")` (Keras' default).
    #[default]
    Bilinear,
    /// The nearest pixel (half-pixel centres, as `tf.image.resize(..., "nearest")`).
    Nearest,
}

/// What one decode produces and checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeSpec {
    pub height: usize,
    pub width: usize,
    pub color_mode: ColorMode,
    pub interpolation: Interpolation,
    /// The most pixels (width × height) a file may declare in its header.
    pub max_pixels: u64,
}

/// Decodes `path` and appends its `height × width × channels` pixel values (0 to 255, as
/// Keras gives them) to `out`.
pub(crate) fn decode_into(path: &Path, spec: &DecodeSpec, out: &mut Vec<f32>) -> Result<()> {
    let bad = |msg: String| Error::Image {
        path: path.to_path_buf(),
        msg,
    };
    let bytes = read_at_most(
        path,
        max_file_bytes(spec.max_pixels),
        "an image within ImageFolder::max_pixels",
    )?;
    let format = image::guess_format(&bytes)
        .map_err(|_| bad("not a PNG or JPEG file (unknown signature)".into()))?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        return Err(bad(format!(
            "{format:?} images are not supported (PNG and JPEG are)"
        )));
    }
    let (width, height) = reader(&bytes, format, spec)
        .into_dimensions()
        .map_err(|e| bad(format!("unreadable header: {e}")))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 || pixels > spec.max_pixels {
        return Err(bad(format!(
            "{width}×{height} pixels; the limit is 1 to {} pixels (ImageFolder::max_pixels)",
            spec.max_pixels
        )));
    }
    let image = reader(&bytes, format, spec)
        .decode()
        .map_err(|e| bad(format!("cannot decode: {e}")))?;
    let (pixels, channels) = (
        to_channels(image, spec.color_mode),
        spec.color_mode.channels(),
    );
    let source = Pixels {
        data: &pixels,
        height: height as usize,
        width: width as usize,
        channels,
    };
    resize_into(&source, spec, out);
    Ok(())
}

/// The largest image file read for `max_pixels` pixels: 8 bytes per pixel (16-bit RGBA
/// stored uncompressed) plus 16 MiB of metadata and framing.
fn max_file_bytes(max_pixels: u64) -> u64 {
    max_pixels.saturating_mul(8).saturating_add(16 << 20)
}

/// A reader of `bytes` as `format` with the decoder's own allocation limits set from the
/// pixel limit (so a header that lies about its size still cannot allocate without bound).
fn reader<'b>(
    bytes: &'b [u8],
    format: ImageFormat,
    spec: &DecodeSpec,
) -> ImageReader<Cursor<&'b [u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    let side = u32::try_from(spec.max_pixels).unwrap_or(u32::MAX);
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    // 8 bytes per pixel covers 16-bit RGBA, plus the decoders' working buffers.
    limits.max_alloc = Some(spec.max_pixels.saturating_mul(16).max(1 << 20));
    reader.limits(limits);
    reader
}

/// The image's pixels, row-major, with the mode's channels.
fn to_channels(image: DynamicImage, mode: ColorMode) -> Vec<u8> {
    match mode {
        ColorMode::Grayscale if !image.color().has_color() => image.into_luma8().into_raw(),
        ColorMode::Grayscale => image
            .into_rgb8()
            .into_raw()
            .chunks_exact(3)
            .map(|p| {
                let weighted =
                    9797 * u32::from(p[0]) + 19234 * u32::from(p[1]) + 3737 * u32::from(p[2]);
                (weighted >> 15) as u8
            })
            .collect(),
        ColorMode::Rgb => image.into_rgb8().into_raw(),
        ColorMode::Rgba => image.into_rgba8().into_raw(),
    }
}

/// Decoded 8-bit pixels, row-major `height × width × channels`.
struct Pixels<'a> {
    data: &'a [u8],
    height: usize,
    width: usize,
    channels: usize,
}

impl Pixels<'_> {
    fn at(&self, y: usize, x: usize, c: usize) -> f32 {
        f32::from(self.data[(y * self.width + x) * self.channels + c])
    }
}

/// Appends `source` resized to the spec's size. The same size copies the values unchanged.
fn resize_into(source: &Pixels<'_>, spec: &DecodeSpec, out: &mut Vec<f32>) {
    if source.height == spec.height && source.width == spec.width {
        out.extend(source.data.iter().map(|&v| f32::from(v)));
        return;
    }
    let rows = axis_samples(source.height, spec.height, spec.interpolation);
    let cols = axis_samples(source.width, spec.width, spec.interpolation);
    out.reserve(spec.height * spec.width * source.channels);
    for row in &rows {
        for col in &cols {
            for c in 0..source.channels {
                let top = lerp(
                    source.at(row.low, col.low, c),
                    source.at(row.low, col.high, c),
                    col.t,
                );
                let bottom = lerp(
                    source.at(row.high, col.low, c),
                    source.at(row.high, col.high, c),
                    col.t,
                );
                out.push(lerp(top, bottom, row.t));
            }
        }
    }
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// Where one output row or column samples the input: two neighbours and the weight of the
/// second.
struct Sample {
    low: usize,
    high: usize,
    t: f32,
}

/// The samples of an axis of `input` values resized to `output` values, as TensorFlow's
/// half-pixel resize kernels compute them.
fn axis_samples(input: usize, output: usize, interpolation: Interpolation) -> Vec<Sample> {
    let scale = input as f32 / output as f32;
    (0..output)
        .map(|o| match interpolation {
            Interpolation::Bilinear => {
                let centre = (o as f32 + 0.5) * scale - 0.5;
                let floor = centre.floor();
                let low = floor.max(0.0) as usize;
                let high = (centre.ceil().max(0.0) as usize).min(input - 1);
                Sample {
                    low: low.min(input - 1),
                    high,
                    t: centre - floor,
                }
            }
            Interpolation::Nearest => {
                let index = (((o as f32 + 0.5) * scale).floor() as usize).min(input - 1);
                Sample {
                    low: index,
                    high: index,
                    t: 0.0,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_upsampling_of_two_pixels_interpolates_between_them() {
        let source = Pixels {
            data: &[0, 100],
            height: 1,
            width: 2,
            channels: 1,
        };
        let spec = DecodeSpec {
            height: 1,
            width: 4,
            color_mode: ColorMode::Grayscale,
            interpolation: Interpolation::Bilinear,
            max_pixels: 100,
        };
        let mut out = Vec::new();
        resize_into(&source, &spec, &mut out);
        // Centres at -0.25, 0.25, 0.75, 1.25 in input pixels: clamped at both ends.
        assert_eq!(out, [0.0, 25.0, 75.0, 100.0]);
    }

    #[test]
    fn nearest_downsampling_picks_pixels_at_the_output_centres() {
        let axis = axis_samples(4, 2, Interpolation::Nearest);
        let picked: Vec<usize> = axis.iter().map(|s| s.low).collect();
        assert_eq!(picked, [1, 3]);
    }
}
