//! The `Normalization` layer (Keras' preprocessing layer): `y = (x - mean) / max(√variance,
//! 1e-7)` per feature, or the inverse `y = mean + x · max(√variance, 1e-7)` with `invert`.
//!
//! `axis` names the axes that KEEP their own statistics (Keras' meaning; default -1, the
//! feature axis; counting the batch axis as 0; `null` for one mean and variance over
//! everything). The statistics are either given in the config (`mean`, `variance`: numbers
//! or lists, then constants of the graph, no weights) or weights `mean`, `variance` and
//! `count` (Keras' int64 sample count, held as a float) that a Keras file supplies. They are
//! never trained: training and inference compute the same thing. [`Normalization::adapt`]
//! computes them from data (Keras' `adapt`) into the weights' initial values; it does NOT
//! update the weights of a model already built (adapt the layer before adding it).

use ir::{BinaryOp, Graph, NodeId, Shape, Tensor, UnaryOp};
use serde_json::{Value, json};

use crate::datasets::Dataset;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layers::moments::Moments;
use crate::layers::naming::{name_methods, named_builder};
use crate::layers::{
    ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_config, layer_error,
};

/// Keras' `backend.epsilon()`, the floor of the standard deviation.
const EPSILON: f32 = 1e-7;

/// Keras' `Normalization(axis=-1, mean=None, variance=None, invert=False)`.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::prelude::*;
/// use kiln::layers::Normalization;
/// // Statistics given: no weights.
/// let given = Normalization::new().statistics(vec![1.0, 2.0], vec![4.0, 16.0]);
/// let model = Sequential::of([Input::new([2]).into(), given.into()]);
/// assert_eq!(model.count_params()?, 0);
/// let y = model.predict(&kiln::Tensor::new([1, 2], vec![3.0, 6.0]).unwrap(), 1)?;
/// assert_eq!(y.data, vec![1.0, 1.0]);
/// // Statistics as weights: mean, variance (2 each) and the count.
/// let weights = Sequential::of([Input::new([2]).into(), Normalization::new().into()]);
/// assert_eq!(weights.count_params()?, 5);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// The kept axes (batch axis 0); `None` for Keras' `axis=None`.
    axis: Option<Vec<i64>>,
    /// The mean and variance given in the config, if any.
    given: Option<(Vec<f32>, Vec<f32>)>,
    /// The statistics `adapt` computed: the weights' initial values.
    adapted: Option<Adapted>,
    invert: bool,
    name: Option<String>,
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization {
            axis: Some(vec![-1]),
            given: None,
            adapted: None,
            invert: false,
            name: None,
        }
    }
}

/// What [`Normalization::adapt`] computed: per kept feature the mean and the (population)
/// variance, and how many values each summarises.
#[derive(Debug, Clone, PartialEq)]
struct Adapted {
    /// The statistics' shape (the kept axes' sizes).
    shape: Shape,
    mean: Vec<f32>,
    variance: Vec<f32>,
    count: f32,
}

impl Normalization {
    /// Per-feature statistics over the last axis, held as weights.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep statistics for these axes (batch axis 0; Keras' `axis`); `None` for one mean
    /// and variance over all axes.
    pub fn axes(mut self, axes: Option<&[i64]>) -> Self {
        self.axis = axes.map(<[i64]>::to_vec);
        self
    }

    /// Fixed statistics (Keras' `mean=`, `variance=`): one value each, or one per kept
    /// feature. The layer then has no weights.
    pub fn statistics(mut self, mean: Vec<f32>, variance: Vec<f32>) -> Self {
        self.given = Some((mean, variance));
        self
    }

    /// Undo the normalisation instead (Keras' `invert=True`).
    pub fn invert(mut self, invert: bool) -> Self {
        self.invert = invert;
        self
    }

    named_builder!();

    /// Keras' `adapt`: the mean and variance of `data`'s features over the batch and every
    /// axis not kept, as numpy's `mean` and `var` compute them; they become the initial
    /// values of the `mean`, `variance` and `count` weights (so `adapt` before building the
    /// model). An error for a layer with given statistics or for no data.
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// use kiln::layers::Normalization;
    /// use kiln::prelude::*;
    /// let data = kiln::datasets::Dataset::new(vec![1.0, 10.0, 3.0, 30.0], &[2, 2], vec![0.0; 2], &[2, 1])?;
    /// let mut norm = Normalization::new();
    /// norm.adapt(&data)?;
    /// let model = Sequential::of([Input::new([2]).into(), norm.into()]);
    /// let y = model.predict(&kiln::Tensor::new([1, 2], vec![2.0, 20.0]).unwrap(), 1)?;
    /// assert_eq!(y.data, vec![0.0, 0.0]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn adapt(&mut self, data: &Dataset) -> Result<()> {
        let step = 1024 * data.feature_size().max(1);
        self.adapt_batches(data.feature_shape(), data.features().chunks(step))
    }

    /// [`Normalization::adapt`] on a tensor whose first axis is the batch.
    pub fn adapt_tensor(&mut self, data: &Tensor) -> Result<()> {
        let dims = data.shape.dims();
        if dims.is_empty() {
            return Err(layer_error(self, "adapt needs a batch axis, got a scalar"));
        }
        self.adapt_batches(&dims[1..], [data.data.as_slice()])
    }

    /// [`Normalization::adapt`] on data that arrives in pieces (a generator, files): each
    /// item holds whole examples of shape `example_shape` (no batch axis), one after another.
    pub fn adapt_batches<'a>(
        &mut self,
        example_shape: &[usize],
        batches: impl IntoIterator<Item = &'a [f32]>,
    ) -> Result<()> {
        if self.given.is_some() {
            return Err(layer_error(
                self,
                "cannot adapt: its mean and variance are given",
            ));
        }
        let input = Shape::from(example_shape);
        let (stats, _) = self.shapes(&input)?;
        let kept = self.kept_axes(&input)?;
        let feature_of = feature_indices(example_shape, &kept);
        let mut moments = Moments::new(stats.numel());
        for batch in batches {
            if batch.len() % feature_of.len().max(1) != 0 {
                return Err(layer_error(
                    self,
                    format!(
                        "adapt: a batch of {} values is not whole examples of shape {}",
                        batch.len(),
                        keras_shape(&input)
                    ),
                ));
            }
            moments.add(batch, &feature_of);
        }
        if moments.count() == 0.0 {
            return Err(layer_error(self, "adapt: no data"));
        }
        let (mean, variance) = moments.mean_variance();
        self.adapted = Some(Adapted {
            shape: stats,
            mean,
            variance,
            count: moments.count() as f32,
        });
        Ok(())
    }

    /// The adapted `(mean, variance)`, if [`Normalization::adapt`] ran.
    pub fn adapted_statistics(&self) -> Option<(&[f32], &[f32])> {
        self.adapted
            .as_ref()
            .map(|a| (a.mean.as_slice(), a.variance.as_slice()))
    }

    /// The layer a Keras `Normalization` config describes.
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let axis = match c.fields().get("axis") {
            Some(Value::Null) => None,
            None => Some(vec![-1]),
            Some(v) => Some(integers(v).ok_or_else(|| {
                c.error(
                    "axis",
                    format!("expected an integer, a list or null, got {v}"),
                )
            })?),
        };
        let numbers = |field: &str| -> Result<Option<Vec<f32>>> {
            c.get(field)
                .map(|v| {
                    floats(v).ok_or_else(|| {
                        c.error(field, format!("expected a number or a list, got {v}"))
                    })
                })
                .transpose()
        };
        let given = match (numbers("mean")?, numbers("variance")?) {
            (Some(mean), Some(variance)) => Some((mean, variance)),
            (None, None) => None,
            _ => return Err(c.error("mean", "mean and variance must be given together")),
        };
        Ok(Normalization {
            axis,
            given,
            adapted: None,
            invert: c.bool_or("invert", false)?,
            name: Some(c.name().to_string()),
        })
    }

    /// The kept axes of a batched tensor (1-based per-example axes), sorted; an error for
    /// the batch axis or one out of range.
    fn kept_axes(&self, input: &Shape) -> Result<Vec<usize>> {
        let Some(axis) = &self.axis else {
            return Ok(Vec::new());
        };
        let rank = input.rank() as i64 + 1;
        let mut kept = Vec::with_capacity(axis.len());
        for &a in axis {
            let resolved = if a < 0 { a + rank } else { a };
            if !(1..rank).contains(&resolved) {
                return Err(layer_error(
                    self,
                    format!(
                        "axis {a} is the batch axis or out of range for the input {}",
                        keras_shape(input)
                    ),
                ));
            }
            if !kept.contains(&(resolved as usize)) {
                kept.push(resolved as usize);
            }
        }
        kept.sort_unstable();
        Ok(kept)
    }

    /// The statistics' shape (the kept axes' sizes) and their broadcast shape (batched).
    fn shapes(&self, input: &Shape) -> Result<(Shape, Shape)> {
        let kept = self.kept_axes(input)?;
        let stats: Vec<usize> = kept.iter().map(|&a| input.dims()[a - 1]).collect();
        let mut broadcast = vec![1; input.rank() + 1];
        for &a in &kept {
            broadcast[a] = input.dims()[a - 1];
        }
        Ok((Shape::new(stats), Shape::new(broadcast)))
    }

    /// The given statistic `values` as a tensor of `shape` (one value fills it).
    fn given_tensor(&self, what: &str, values: &[f32], shape: &Shape) -> Result<Tensor> {
        let n = shape.numel();
        let data = match values {
            [one] => vec![*one; n],
            many if many.len() == n => many.to_vec(),
            _ => {
                return Err(layer_error(
                    self,
                    format!("{what} has {} values, the kept axes need {n}", values.len()),
                ));
            }
        };
        Ok(Tensor::new(shape.clone(), data).expect("sized above"))
    }
}

/// For each element of an example of shape `dims`, the index of its statistic: its
/// position along the `kept` axes (1-based, sorted), row-major.
fn feature_indices(dims: &[usize], kept: &[usize]) -> Vec<usize> {
    let numel: usize = dims.iter().product();
    (0..numel)
        .map(|mut i| {
            let mut index = vec![0; dims.len()];
            for (a, &d) in dims.iter().enumerate().rev() {
                index[a] = i % d;
                i /= d;
            }
            kept.iter()
                .fold(0, |acc, &a| acc * dims[a - 1] + index[a - 1])
        })
        .collect()
}

/// The integers of a number or a list of numbers.
fn integers(v: &Value) -> Option<Vec<i64>> {
    match v {
        Value::Array(items) => items.iter().map(Value::as_i64).collect(),
        other => other.as_i64().map(|a| vec![a]),
    }
}

/// The floats of a number or a list of numbers.
fn floats(v: &Value) -> Option<Vec<f32>> {
    match v {
        Value::Array(items) => items.iter().map(|x| x.as_f64().map(|f| f as f32)).collect(),
        other => other.as_f64().map(|f| vec![f as f32]),
    }
}

/// `[1.5]` → `1.5`, longer lists as lists.
fn numbers_json(values: &[f32]) -> Value {
    let json_of = |x: f32| crate::config_json::f32_json(x);
    match values {
        [one] => json_of(*one),
        many => Value::Array(many.iter().map(|&x| json_of(x)).collect()),
    }
}

impl Layer for Normalization {
    fn class_name(&self) -> &'static str {
        "Normalization"
    }

    name_methods!();

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let (stats, _) = self.shapes(input)?;
        if let Some((mean, variance)) = &self.given {
            self.given_tensor("mean", mean, &stats)?;
            self.given_tensor("variance", variance, &stats)?;
        }
        Ok(input.clone())
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        if self.given.is_some() {
            return Vec::new();
        }
        let stats = self
            .shapes(input)
            .map_or_else(|_| Shape::from([0]), |(s, _)| s);
        let spec = |name, shape: Shape, initializer| ParamSpec {
            name,
            shape,
            initializer,
            trainable: false,
            regularizer: None,
        };
        vec![
            spec("mean", stats.clone(), Initializer::Zeros),
            spec("variance", stats, Initializer::Ones),
            spec("count", Shape::new(Vec::new()), Initializer::Zeros),
        ]
    }

    fn initial_value(&self, spec: &ParamSpec, seed: u64) -> Result<Tensor> {
        let Some(adapted) = &self.adapted else {
            return spec.initializer.initialize(&spec.shape, seed);
        };
        if spec.name != "count" && spec.shape != adapted.shape {
            return Err(layer_error(
                self,
                format!(
                    "adapted to statistics of shape {:?}, but its input needs {:?}",
                    adapted.shape.dims(),
                    spec.shape.dims()
                ),
            ));
        }
        let (shape, data) = match spec.name {
            "mean" => (adapted.shape.clone(), adapted.mean.clone()),
            "variance" => (adapted.shape.clone(), adapted.variance.clone()),
            _ => (spec.shape.clone(), vec![adapted.count]),
        };
        Ok(Tensor::new(shape, data).expect("sized by adapt"))
    }

    fn config(&self) -> Value {
        let (mean, variance) = match &self.given {
            Some((m, v)) => (numbers_json(m), numbers_json(v)),
            None => (Value::Null, Value::Null),
        };
        layer_config(
            self,
            json!({"axis": self.axis, "invert": self.invert, "mean": mean, "variance": variance}),
        )
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let per_example = Shape::new(g.shape(x).dims()[1..].to_vec());
        let (stats, broadcast) = self.shapes(&per_example)?;
        let (mean, variance) = match (&self.given, ctx.params) {
            (Some((m, v)), []) => (
                g.constant(self.given_tensor("mean", m, &stats)?),
                g.constant(self.given_tensor("variance", v, &stats)?),
            ),
            (None, [m, v, _count]) => (*m, *v),
            (_, params) => {
                return Err(layer_error(
                    self,
                    format!("given {} parameter nodes", params.len()),
                ));
            }
        };
        let mean = g.reshape(mean, broadcast.clone())?;
        let variance = g.reshape(variance, broadcast)?;
        let std = g.unary(UnaryOp::Sqrt, variance)?;
        let floor = g.scalar(EPSILON);
        let std = g.binary(BinaryOp::Max, std, floor)?;
        if self.invert {
            let scaled = g.binary(BinaryOp::Mul, x, std)?;
            return Ok(g.binary(BinaryOp::Add, mean, scaled)?);
        }
        let centered = g.binary(BinaryOp::Sub, x, mean)?;
        Ok(g.binary(BinaryOp::Div, centered, std)?)
    }
}
