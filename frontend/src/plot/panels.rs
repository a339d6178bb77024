//! Which panels a set of series makes, and where they go: one panel per quantity (`loss`
//! first, then the others sorted), holding the quantity's series and its `val_` series; the
//! panels in rows of at most three. Does not draw.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Panel width and height in pixels.
const PANEL_SIZE: (u32, u32) = (480, 340);
/// Most panels in one row.
const MAX_COLUMNS: usize = 3;

/// One quantity's curves.
#[derive(Debug)]
pub(crate) struct Panel<'s> {
    pub name: &'s str,
    pub training: Option<&'s [f32]>,
    pub validation: Option<&'s [f32]>,
}

impl Panel<'_> {
    /// Number of epochs shown (the longer series).
    pub fn epochs(&self) -> usize {
        let len = |s: Option<&[f32]>| s.map_or(0, <[f32]>::len);
        len(self.training).max(len(self.validation))
    }

    /// The smallest and largest finite values of both series, if any.
    pub fn value_range(&self) -> Option<(f32, f32)> {
        self.training
            .into_iter()
            .chain(self.validation)
            .flatten()
            .filter(|v| v.is_finite())
            .fold(None, |range, &v| match range {
                None => Some((v, v)),
                Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
            })
    }
}

/// The panels of `series`, `loss` first. Fails on no series or only empty ones.
pub(crate) fn panels(series: &BTreeMap<String, Vec<f32>>) -> Result<Vec<Panel<'_>>> {
    let mut names: Vec<&str> = series
        .keys()
        .map(|k| k.strip_prefix("val_").unwrap_or(k))
        .collect();
    names.sort_by_key(|&n| (n != "loss", n));
    names.dedup();
    let panels: Vec<Panel<'_>> = names
        .into_iter()
        .map(|name| Panel {
            name,
            training: series.get(name).map(Vec::as_slice),
            validation: series.get(&format!("val_{name}")).map(Vec::as_slice),
        })
        .filter(|p| p.epochs() > 0)
        .collect();
    if panels.is_empty() {
        return Err(Error::InvalidArgument {
            name: "series",
            msg: "no values to plot (train for at least one epoch)".into(),
        });
    }
    Ok(panels)
}

/// The grid of panels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub columns: usize,
    pub rows: usize,
}

impl Layout {
    /// At most three panels per row.
    pub fn for_panels(count: usize) -> Layout {
        let columns = count.clamp(1, MAX_COLUMNS);
        Layout {
            columns,
            rows: count.div_ceil(columns),
        }
    }

    /// The picture's size in pixels.
    pub fn size(&self) -> (u32, u32) {
        (
            PANEL_SIZE.0 * self.columns as u32,
            PANEL_SIZE.1 * self.rows as u32,
        )
    }
}
