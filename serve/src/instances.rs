//! The JSON of a predict request and its answer: reading `{"instances": [x1, x2, …]}`
//! straight into one flat row-major buffer (no intermediate JSON tree), each instance either
//! nested arrays in the model's input shape or one flat array of all its values, every number
//! a finite 32-bit float; and writing `{"predictions": [y1, …]}` nested in the output shape.
//! It does NOT know HTTP: `api.rs` turns its errors into answers.

use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The instances of one request: `count` examples, their values one after another.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Instances {
    pub(crate) values: Vec<f32>,
    pub(crate) count: usize,
}

/// Why a request body holds no usable instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InstancesError {
    /// Not JSON, not the expected object, a wrong shape or a non-finite number.
    Invalid(String),
    /// More instances than the service takes in one request.
    TooMany(usize),
}

/// The instances of `body`, each of per-example shape `dims`; at most `max` of them.
pub(crate) fn read_instances(
    body: &[u8],
    dims: &[usize],
    max: usize,
) -> Result<Instances, InstancesError> {
    let mut state = State {
        dims,
        numel: dims.iter().product(),
        max,
        values: Vec::new(),
        count: 0,
        too_many: false,
        levels: Vec::new(),
    };
    let mut json = serde_json::Deserializer::from_slice(body);
    let read = Body(&mut state)
        .deserialize(&mut json)
        .and_then(|()| json.end());
    match read {
        Ok(()) if state.count == 0 => Err(InstancesError::Invalid(
            "`instances` is empty: send at least one instance".into(),
        )),
        Ok(()) => Ok(Instances {
            values: state.values,
            count: state.count,
        }),
        Err(_) if state.too_many => Err(InstancesError::TooMany(max)),
        Err(e) => Err(InstancesError::Invalid(e.to_string())),
    }
}

/// What one depth of the instance being read holds: arrays (and their length) or numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Arrays(usize),
    Numbers,
}

/// The reader's progress through a body.
struct State<'a> {
    dims: &'a [usize],
    numel: usize,
    max: usize,
    values: Vec<f32>,
    count: usize,
    too_many: bool,
    /// What each depth of the current instance holds, by depth (0: the instance itself).
    levels: Vec<Option<Level>>,
}

impl State<'_> {
    /// Records that depth `depth` holds `level`; an error if it held something else.
    fn see<E: de::Error>(&mut self, depth: usize, level: Level) -> Result<(), E> {
        if self.levels.len() <= depth {
            self.levels.resize(depth + 1, None);
        }
        match self.levels[depth] {
            None => self.levels[depth] = Some(level),
            Some(seen) if seen == level => {}
            Some(seen) => {
                return Err(E::custom(format!(
                    "instance {} is ragged: {} and {} at depth {depth}",
                    self.count,
                    describe(seen),
                    describe(level)
                )));
            }
        }
        Ok(())
    }

    /// The shape of the instance just read, checked against the model's input.
    fn finish_instance<E: de::Error>(&mut self, first: usize) -> Result<(), E> {
        let shape: Vec<usize> = self
            .levels
            .iter()
            .map_while(|level| match level {
                Some(Level::Arrays(n)) => Some(*n),
                _ => None,
            })
            .collect();
        let has_numbers = self.levels.get(shape.len()) == Some(&Some(Level::Numbers));
        let fits = shape == self.dims || shape == [self.numel];
        if !has_numbers || !fits || self.values.len() - first != self.numel {
            return Err(E::custom(format!(
                "instance {} has shape {shape:?} but the model takes {:?} (or {} values in one \
                 flat array)",
                self.count, self.dims, self.numel
            )));
        }
        self.count += 1;
        Ok(())
    }
}

fn describe(level: Level) -> String {
    match level {
        Level::Arrays(n) => format!("an array of {n}"),
        Level::Numbers => "a number".into(),
    }
}

/// The body: an object with one field, `instances`.
struct Body<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Body<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Body<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a JSON object {"instances": [instance, ...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key != "instances" {
                return Err(de::Error::unknown_field(&key, &["instances"]));
            }
            if seen {
                return Err(de::Error::duplicate_field("instances"));
            }
            seen = true;
            map.next_value_seed(List(&mut *self.0))?;
        }
        if !seen {
            return Err(de::Error::missing_field("instances"));
        }
        Ok(())
    }
}

/// The `instances` array.
struct List<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for List<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for List<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of instances")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.0.count == self.0.max {
                // One more element is an error; the end of the array is not.
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    self.0.too_many = true;
                    return Err(de::Error::custom(format!(
                        "more than {} instances in one request",
                        self.0.max
                    )));
                }
                return Ok(());
            }
            self.0.levels.clear();
            let first = self.0.values.len();
            if seq.next_element_seed(Node(&mut *self.0, 0))?.is_none() {
                return Ok(());
            }
            self.0.finish_instance(first)?;
        }
    }
}

/// A value at `depth` inside an instance: an array or a number.
struct Node<'s, 'a>(&'s mut State<'a>, usize);

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Node<'_, '_> {
    fn number<E: de::Error>(self, value: f64) -> Result<(), E> {
        let Node(state, depth) = self;
        if depth == 0 {
            return Err(E::custom(format!(
                "instance {} is a number; an instance is an array",
                state.count
            )));
        }
        state.see(depth, Level::Numbers)?;
        let x = value as f32;
        if !x.is_finite() {
            return Err(E::custom(format!(
                "instance {} holds {value}, which is not a finite 32-bit float",
                state.count
            )));
        }
        state.values.push(x);
        Ok(())
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or an array of numbers")
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        self.number(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.number(value as f64)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.number(value as f64)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Node(state, depth) = self;
        let first = state.values.len();
        let mut len = 0;
        while seq
            .next_element_seed(Node(&mut *state, depth + 1))?
            .is_some()
        {
            len += 1;
            if state.values.len() - first > state.numel {
                return Err(de::Error::custom(format!(
                    "instance {} holds more than the model's {} input values",
                    state.count, state.numel
                )));
            }
        }
        state.see(depth, Level::Arrays(len))
    }
}

/// `{"predictions": [...]}` for `count` examples of per-example shape `dims`, their values
/// one after another; a non-finite value is written `null`.
pub(crate) fn write_predictions(values: &[f32], count: usize, dims: &[usize]) -> String {
    let numel: usize = dims.iter().product();
    let mut out = String::with_capacity(16 + values.len() * 12);
    out.push_str(r#"{"predictions":["#);
    for k in 0..count {
        if k > 0 {
            out.push(',');
        }
        write_nested(&mut out, &values[k * numel..(k + 1) * numel], dims);
    }
    out.push_str("]}");
    out
}

/// `values` (of shape `dims`) as nested JSON arrays.
fn write_nested(out: &mut String, values: &[f32], dims: &[usize]) {
    let Some((&outer, inner)) = dims.split_first() else {
        match values.first() {
            Some(x) if x.is_finite() => write!(out, "{x:?}").expect("writing to a String"),
            _ => out.push_str("null"),
        }
        return;
    };
    let step: usize = inner.iter().product();
    out.push('[');
    for i in 0..outer {
        if i > 0 {
            out.push(',');
        }
        write_nested(out, &values[i * step..(i + 1) * step], inner);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<Instances, InstancesError> {
        read_instances(body.as_bytes(), &[2, 3], 3)
    }

    fn invalid(body: &str) -> String {
        match read(body) {
            Err(InstancesError::Invalid(msg)) => msg,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn nested_and_flat_instances_read_row_major() {
        let got = read(r#"{"instances": [[[1, 2, 3], [4, 5, 6]], [7, 8, 9, 10, 11, 12.5]]}"#);
        let want: Vec<f32> = vec![1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.5];
        assert_eq!(
            got,
            Ok(Instances {
                values: want,
                count: 2
            })
        );
    }

    #[test]
    fn wrong_bodies_say_what_is_wrong() {
        let cases = [
            (r#"{"instances": [[[1, 2], [3, 4]]]}"#, "has shape [2, 2]"),
            (r#"{"instances": [[[1, 2, 3], [4, 5]]]}"#, "ragged"),
            (r#"{"instances": [[[1, 2, 3], 4]]}"#, "ragged"),
            (r#"{"instances": [[1, 2, 3, 4, 5]]}"#, "has shape [5]"),
            (
                r#"{"instances": [[1, 2, 3, 4, 5, 6, 7]]}"#,
                "more than the model's 6",
            ),
            (r#"{"instances": [1]}"#, "is a number"),
            (
                r#"{"instances": [[1, 2, 3, 4, 5, "6"]]}"#,
                "invalid type: string",
            ),
            (r#"{"instances": [[1, 2, 3, 4, 5, 1e39]]}"#, "not a finite"),
            (
                r#"{"instances": [[1, 2, 3, 4, 5, 1e999]]}"#,
                "number out of range",
            ),
            (r#"{"instances": [[1, 2, 3, 4, 5, NaN]]}"#, "expected value"),
            (r#"{"instances": []}"#, "is empty"),
            (r#"{"instances": [[]]}"#, "has shape [0]"),
            (r#"{"inputs": []}"#, "unknown field `inputs`"),
            (r#"{}"#, "missing field `instances`"),
            (r#"[1, 2]"#, "expected a JSON object"),
            (
                r#"{"instances": [[1, 2, 3, 4, 5, 6]]} x"#,
                "trailing characters",
            ),
            (r#"{"instances": [[1, 2, 3, 4, 5, 6]"#, "EOF"),
        ];
        for (body, want) in cases {
            let msg = invalid(body);
            assert!(msg.contains(want), "{body}: {msg}");
        }
    }

    #[test]
    fn more_instances_than_allowed_are_counted_apart() {
        let one = "[1, 2, 3, 4, 5, 6]";
        let three = format!(r#"{{"instances": [{one}, {one}, {one}]}}"#);
        assert_eq!(read(&three).map(|i| i.count), Ok(3));
        let four = format!(r#"{{"instances": [{one}, {one}, {one}, {one}]}}"#);
        assert_eq!(read(&four), Err(InstancesError::TooMany(3)));
    }

    #[test]
    fn predictions_nest_in_the_output_shape() {
        let json = write_predictions(&[1.0, 0.5, f32::NAN, 1e-7, 2.0, 3.0], 1, &[3, 2]);
        assert_eq!(
            json,
            r#"{"predictions":[[[1.0,0.5],[null,1e-7],[2.0,3.0]]]}"#
        );
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["predictions"][0][2][1], 3.0);
        assert_eq!(
            write_predictions(&[1.0, 2.0], 2, &[]),
            r#"{"predictions":[1.0,2.0]}"#
        );
    }
}
