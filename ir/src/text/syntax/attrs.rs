//! Attributes as written: one value ([`AttrValue`]), and the set a parsed op carries
//! ([`Attrs`]), read back by typed getters that reject missing, repeated, ill-formed and
//! unknown attributes.

use super::atoms::{checked_shape, parse_f32, parse_usize};
use super::names::reduce_op_named;
use crate::op::{Conv2dAttrs, Padding, Pool2dAttrs, PoolKind, ReduceOp};
use crate::shape::Shape;

/// An attribute's value as written.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::text) enum AttrValue {
    /// A bare key: the boolean attribute is true.
    Flag,
    /// `key=atom`: a number or a word.
    Atom(String),
    /// `key=[a, b, ...]`.
    List(Vec<String>),
}

/// Attributes as parsed, consumed by the typed getters that `decode` calls; any left unread
/// is unknown.
#[derive(Debug, Default)]
pub(in crate::text) struct Attrs {
    entries: Vec<(String, AttrValue, bool)>,
}

impl Attrs {
    /// Record `key`; a key given twice is an error.
    pub(in crate::text) fn insert(&mut self, key: String, value: AttrValue) -> Result<(), String> {
        if self.entries.iter().any(|(k, _, _)| *k == key) {
            return Err(format!("attribute `{key}` given twice"));
        }
        self.entries.push((key, value, false));
        Ok(())
    }

    fn take(&mut self, key: &str) -> Option<&AttrValue> {
        let entry = self.entries.iter_mut().find(|(k, _, _)| k == key)?;
        entry.2 = true;
        Some(&entry.1)
    }

    pub(super) fn atom(&mut self, key: &str) -> Result<String, String> {
        match self.take(key) {
            Some(AttrValue::Atom(a)) => Ok(a.clone()),
            Some(_) => Err(format!(
                "attribute `{key}` needs a single value like `{key}=1`"
            )),
            None => Err(format!("missing attribute `{key}`")),
        }
    }

    pub(super) fn flag(&mut self, key: &str) -> Result<bool, String> {
        match self.take(key) {
            None => Ok(false),
            Some(AttrValue::Flag) => Ok(true),
            Some(_) => Err(format!("attribute `{key}` is a flag and takes no value")),
        }
    }

    pub(super) fn ints(&mut self, key: &str) -> Result<Vec<usize>, String> {
        match self.take(key) {
            Some(AttrValue::List(items)) => items
                .iter()
                .map(|i| parse_usize(i))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("attribute `{key}`: {e}")),
            Some(_) => Err(format!(
                "attribute `{key}` needs a list like `{key}=[1, 2]`"
            )),
            None => Err(format!("missing attribute `{key}`")),
        }
    }

    /// `key=[..]` as integers, `None` when the attribute is absent.
    pub(super) fn optional_ints(&mut self, key: &str) -> Result<Option<Vec<usize>>, String> {
        if self.entries.iter().any(|(k, _, _)| k == key) {
            self.ints(key).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `key=[..]`, the items as written.
    pub(super) fn words(&mut self, key: &str) -> Result<Vec<String>, String> {
        match self.take(key) {
            Some(AttrValue::List(items)) => Ok(items.clone()),
            Some(_) => Err(format!(
                "attribute `{key}` needs a list like `{key}=[a, b]`"
            )),
            None => Err(format!("missing attribute `{key}`")),
        }
    }

    pub(super) fn int(&mut self, key: &str) -> Result<usize, String> {
        parse_usize(&self.atom(key)?).map_err(|e| format!("attribute `{key}`: {e}"))
    }

    pub(super) fn float(&mut self, key: &str) -> Result<f32, String> {
        parse_f32(&self.atom(key)?).map_err(|e| format!("attribute `{key}`: {e}"))
    }

    fn fixed<const N: usize>(&mut self, key: &str) -> Result<[usize; N], String> {
        let v = self.ints(key)?;
        v.try_into().map_err(|v: Vec<usize>| {
            format!("attribute `{key}` needs {N} entries, got {}", v.len())
        })
    }

    pub(super) fn shape(&mut self, key: &str) -> Result<Shape, String> {
        checked_shape(self.ints(key)?).map_err(|e| format!("attribute `{key}`: {e}"))
    }

    fn padding(&mut self, key: &str) -> Result<Padding, String> {
        if matches!(
            self.entries.iter().find(|(k, _, _)| k == key),
            Some((_, AttrValue::List(_), _))
        ) {
            return self.fixed::<4>(key).map(Padding::Explicit);
        }
        match self.atom(key)?.as_str() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            other => Err(format!(
                "attribute `{key}`: `{other}` is not `valid`, `same` or `[top, bottom, left, right]`"
            )),
        }
    }

    pub(super) fn conv(&mut self) -> Result<Conv2dAttrs, String> {
        Ok(Conv2dAttrs {
            strides: self.fixed("strides")?,
            dilation: self.fixed("dilation")?,
            padding: self.padding("padding")?,
        })
    }

    pub(super) fn pool(&mut self) -> Result<Pool2dAttrs, String> {
        let kind = match self.atom("kind")?.as_str() {
            "max" => PoolKind::Max,
            "avg" => PoolKind::Avg,
            other => return Err(format!("attribute `kind`: `{other}` is not `max` or `avg`")),
        };
        Ok(Pool2dAttrs {
            kind,
            window: self.fixed("window")?,
            strides: self.fixed("strides")?,
            padding: self.padding("padding")?,
        })
    }

    pub(super) fn reduce_op(&mut self) -> Result<ReduceOp, String> {
        let name = self.atom("op")?;
        reduce_op_named(&name).ok_or_else(|| format!("attribute `op`: unknown reduction `{name}`"))
    }

    pub(in crate::text) fn finish(&self) -> Result<(), String> {
        match self.entries.iter().find(|(_, _, used)| !used) {
            Some((key, _, _)) => Err(format!("unknown attribute `{key}`")),
            None => Ok(()),
        }
    }
}
