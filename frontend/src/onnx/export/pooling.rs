//! Pooling and border layers in channels-first layout: `MaxPooling2D` (`MaxPool`),
//! `AveragePooling2D` (`AveragePool` with `count_include_pad = 0`: Keras' `same` averages
//! leave the padding out), both with explicit `pads` from [`same_pads`];
//! `GlobalAveragePooling2D`/`GlobalMaxPooling2D` (`GlobalAveragePool`/`GlobalMaxPool`, then
//! `Flatten` to `(batch, channels)` unless `keepdims`); `ZeroPadding2D` (`Pad`) and
//! `Cropping2D` (`Slice`).

use super::conv::same_pads;
use super::graph::{Emitter, Layout, Value, int, ints, string};
use super::rules::Site;
use crate::error::Result;

/// `op` over windows of `pool_size` moved by `strides` (default: the pool size).
fn pool(e: &mut Emitter, site: &Site<'_>, op: &str) -> Result<Value> {
    let c = site.reader()?;
    let size = c.usize_pair_or("pool_size", [2, 2])?;
    let strides = c.usize_pair_or("strides", size)?;
    let padding = c.str_or("padding", "valid")?;
    let (x, [h, w, _]) = site.image_input(e)?;
    let pads = same_pads(site, &padding, [h, w], size, strides)?;
    let as_i64 = |v: [usize; 2]| v.map(|x| x as i64);
    let mut attrs = vec![
        ints("kernel_shape", &as_i64(size)),
        ints("strides", &as_i64(strides)),
        ints("pads", &pads),
    ];
    if op == "AveragePool" {
        attrs.push(int("count_include_pad", 0));
    }
    let y = e.node(op, &[&x.name], site.name, attrs);
    Ok(site.output(y, Layout::ChannelsFirst))
}

/// Keras' `MaxPooling2D`.
pub(crate) fn max_pooling2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    pool(e, site, "MaxPool")
}

/// Keras' `AveragePooling2D`.
pub(crate) fn average_pooling2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    pool(e, site, "AveragePool")
}

/// `op` over the whole image: `(batch, c, 1, 1)`, flattened to `(batch, c)` unless the
/// layer keeps the dimensions.
fn global(e: &mut Emitter, site: &Site<'_>, op: &str) -> Result<Value> {
    let keepdims = site.reader()?.bool_or("keepdims", false)?;
    let (x, _) = site.image_input(e)?;
    if keepdims {
        let y = e.node(op, &[&x.name], site.name, vec![]);
        return Ok(site.output(y, Layout::ChannelsFirst));
    }
    let pooled = e.node(op, &[&x.name], &site.named("pooled"), vec![]);
    let y = e.node("Flatten", &[&pooled], site.name, vec![int("axis", 1)]);
    Ok(site.output(y, Layout::Kiln))
}

/// Keras' `GlobalAveragePooling2D`.
pub(crate) fn global_average_pooling2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    global(e, site, "GlobalAveragePool")
}

/// Keras' `GlobalMaxPooling2D`.
pub(crate) fn global_max_pooling2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    global(e, site, "GlobalMaxPool")
}

/// The `[[top, bottom], [left, right]]` border of a `ZeroPadding2D` or `Cropping2D`.
fn border(site: &Site<'_>, field: &str) -> Result<[[i64; 2]; 2]> {
    let value = site.config.get(field);
    let pair = |v: &serde_json::Value| -> Option<[i64; 2]> {
        match v.as_array() {
            Some(a) if a.len() == 2 => Some([a[0].as_i64()?, a[1].as_i64()?]),
            _ => v.as_i64().map(|n| [n, n]),
        }
    };
    let nested = value.and_then(|v| v.as_array()).filter(|a| a.len() == 2);
    let border = match nested {
        Some(rows) if rows.iter().all(|r| r.is_array()) => pair(&rows[0]).zip(pair(&rows[1])),
        Some(rows) => pair(&rows[0])
            .zip(pair(&rows[1]))
            .map(|([h, _], [w, _])| ([h, h], [w, w])),
        None => value
            .and_then(serde_json::Value::as_i64)
            .map(|n| ([n, n], [n, n])),
    };
    border
        .map(|(a, b)| [a, b])
        .ok_or_else(|| site.error(format!("its `{field}` is not a border")))
}

/// Keras' `ZeroPadding2D`: `Pad` with zeros.
pub(crate) fn zero_padding2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let [[top, bottom], [left, right]] = border(site, "padding")?;
    let (x, _) = site.image_input(e)?;
    let pads = e.ints(&site.named("pads"), &[0, 0, top, left, 0, 0, bottom, right]);
    let y = e.node("Pad", &[&x.name, &pads], site.name, vec![]);
    Ok(site.output(y, Layout::ChannelsFirst))
}

/// Keras' `Cropping2D`: `Slice` over height and width.
pub(crate) fn cropping2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let [[top, bottom], [left, right]] = border(site, "cropping")?;
    let (x, [h, w, _]) = site.image_input(e)?;
    let starts = e.ints(&site.named("starts"), &[top, left]);
    let ends = e.ints(&site.named("ends"), &[h as i64 - bottom, w as i64 - right]);
    let axes = e.ints(&site.named("axes"), &[2, 3]);
    let y = e.node(
        "Slice",
        &[&x.name, &starts, &ends, &axes],
        site.name,
        vec![],
    );
    Ok(site.output(y, Layout::ChannelsFirst))
}

/// Keras' `UpSampling2D`: `Resize` by the integer factors `size`.
pub(crate) fn upsampling2d(e: &mut Emitter, site: &Site<'_>) -> Result<Value> {
    let c = site.reader()?;
    let [sh, sw] = c.usize_pair_or("size", [2, 2])?;
    let attrs = match c.str_or("interpolation", "nearest")?.as_str() {
        "nearest" => vec![
            string("mode", "nearest"),
            string("coordinate_transformation_mode", "asymmetric"),
            string("nearest_mode", "floor"),
        ],
        "bilinear" => vec![
            string("mode", "linear"),
            string("coordinate_transformation_mode", "half_pixel"),
        ],
        other => return Err(site.error(format!("interpolation \"{other}\""))),
    };
    let (x, _) = site.image_input(e)?;
    let scales = [1.0, 1.0, sh as f32, sw as f32];
    let scales = e.floats(&site.named("scales"), &[4], &scales);
    let y = e.node("Resize", &[&x.name, "", &scales], site.name, attrs);
    Ok(site.output(y, Layout::ChannelsFirst))
}
