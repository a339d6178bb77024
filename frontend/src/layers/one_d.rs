//! The 1-D layers as their 2-D counterparts over an image of height 1: one generic
//! [`OneD`] wrapper around a 2-D layer ([`Lift`] says how its Keras config differs) gives
//! `Conv1D`, `Conv1DTranspose`, `MaxPooling1D`, `AveragePooling1D`,
//! `GlobalAveragePooling1D`, `GlobalMaxPooling1D`, `ZeroPadding1D`, `Cropping1D` and
//! `UpSampling1D`. A sequence `(None, steps, channels)` is reshaped to
//! `(None, 1, steps, channels)`, the 2-D layer lowers itself, and the result is reshaped
//! back; kernels keep Keras' 1-D layout (`[k, in, out]`) and are reshaped to `[1, k, in, out]`
//! inside the graph. Keras' `causal` padding of `Conv1D` pads `dilation·(k - 1)` steps on the
//! left before a `valid` convolution. The 2-D layers' own logic is not here.

use ir::{Graph, NodeId, Op, Shape};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::layers::conv2d::{Conv2D, Padding, Size2D};
use crate::layers::conv2d_transpose::Conv2DTranspose;
use crate::layers::global_pooling::GlobalPooling2D;
use crate::layers::kernel_options::kernel_option_setters;
use crate::layers::pooling::{Average, Max, Pooling2D, PoolingKind};
use crate::layers::upsampling::UpSampling2D;
use crate::layers::zero_padding::{Border2D, BorderKind, Crop, Pad};
use crate::layers::{ConfigReader, Layer, LayerContext, ParamSpec, keras_shape, layer_error};

/// How a config field of a 1-D layer maps onto its 2-D counterpart's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A window, stride or dilation: `k` or `[k]` ↔ `[1, k]`; the 1-D default when absent.
    Window(Option<usize>),
    /// An output padding: `p` or `[p]` ↔ `[0, p]`; `null` stays `null`.
    Offset,
    /// A border: `n` or `[left, right]` ↔ `[[0, 0], [left, right]]`; 1 on each side when
    /// absent.
    Border,
    /// Like [`Form::Window`], but Keras writes the 1-D value as a bare integer.
    Int(usize),
}

/// A 2-D layer that has a 1-D form in Keras.
pub trait Lift: Layer + Clone + PartialEq + 'static {
    /// Keras' class name of the 1-D form.
    const CLASS_1D: &'static str;
    /// Whether the 1-D form accepts `padding: "causal"` (convolutions).
    const CAUSAL: bool = false;
    /// The config fields whose 1-D form differs, and how.
    fn fields() -> Vec<(&'static str, Form)>;
    /// Fields of the 2-D config that the 1-D form does not write.
    fn dropped() -> &'static [&'static str] {
        &[]
    }
    /// The 2-D layer a (rewritten) 2-D config describes.
    fn from_config_2d(c: &ConfigReader) -> Result<Self>;
    /// The left padding of causal padding, `dilation·(k - 1)` (convolutions only).
    fn causal_padding(&self) -> usize {
        0
    }
}

/// A 1-D layer: the 2-D layer `inner` over `(1, steps)` images, optionally causal.
#[derive(Debug, Clone, PartialEq)]
pub struct OneD<L: Lift> {
    inner: L,
    causal: bool,
}

/// Keras' `Conv1D`: input `(None, steps, c)`, kernel `[k, c, filters]`.
pub type Conv1D = OneD<Conv2D>;
/// Keras' `Conv1DTranspose`: input `(None, steps, c)`, kernel `[k, filters, c]`.
pub type Conv1DTranspose = OneD<Conv2DTranspose>;
/// Keras' `MaxPooling1D`.
pub type MaxPooling1D = OneD<Pooling2D<Max>>;
/// Keras' alias `MaxPool1D`.
pub type MaxPool1D = MaxPooling1D;
/// Keras' `AveragePooling1D`.
pub type AveragePooling1D = OneD<Pooling2D<Average>>;
/// Keras' alias `AvgPool1D`.
pub type AvgPool1D = AveragePooling1D;
/// Keras' `GlobalAveragePooling1D`: `(None, steps, c)` → `(None, c)`.
pub type GlobalAveragePooling1D = OneD<GlobalPooling2D<Average>>;
/// Keras' `GlobalMaxPooling1D`: `(None, steps, c)` → `(None, c)`.
pub type GlobalMaxPooling1D = OneD<GlobalPooling2D<Max>>;
/// Keras' `ZeroPadding1D`.
pub type ZeroPadding1D = OneD<Border2D<Pad>>;
/// Keras' `Cropping1D`.
pub type Cropping1D = OneD<Border2D<Crop>>;
/// Keras' `UpSampling1D`: every step repeated `size` times.
pub type UpSampling1D = OneD<UpSampling2D>;

/// Keras' padding of `Conv1D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding1D {
    /// No padding.
    #[default]
    Valid,
    /// TensorFlow's `same` padding.
    Same,
    /// `dilation·(k - 1)` zeros before the sequence, none after: output `t` sees inputs up
    /// to `t` only.
    Causal,
}

impl Form {
    /// The 2-D form of a 1-D config value.
    fn to_2d(self, value: &Value) -> Result<Value, String> {
        let single = |v: &Value| -> Result<u64, String> {
            match v {
                Value::Array(items) if items.len() == 1 => items[0].as_u64(),
                other => other.as_u64(),
            }
            .ok_or_else(|| format!("expected an integer or a list of one, got {v}"))
        };
        match self {
            Form::Window(_) | Form::Int(_) => Ok(json!([1, single(value)?])),
            Form::Offset => Ok(json!([0, single(value)?])),
            Form::Border => match value {
                Value::Array(items) if items.len() == 2 => Ok(json!([[0, 0], items])),
                other => {
                    let n = other.as_u64().ok_or_else(|| {
                        format!("expected an integer or [left, right], got {other}")
                    })?;
                    Ok(json!([[0, 0], [n, n]]))
                }
            },
        }
    }

    /// The 1-D form of a 2-D config value (the second axis).
    fn to_1d(self, value: &Value) -> Value {
        let second = value.get(1).cloned().unwrap_or(Value::Null);
        match (self, value) {
            (_, Value::Null) => Value::Null,
            (Form::Int(_), _) | (Form::Border, _) => second,
            (Form::Window(_) | Form::Offset, _) => json!([second]),
        }
    }

    /// The 1-D value used when the config has none.
    fn default_1d(self) -> Option<Value> {
        match self {
            Form::Window(default) => default.map(|d| json!(d)),
            Form::Int(default) => Some(json!(default)),
            Form::Border => Some(json!(1)),
            Form::Offset => None,
        }
    }
}

impl<L: Lift> OneD<L> {
    /// The 1-D form of a 2-D layer configured for height 1.
    fn lift(inner: L) -> Self {
        OneD {
            inner,
            causal: false,
        }
    }

    /// The same layer with an explicit name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.inner.set_name(name.into());
        self
    }

    /// The layer a Keras 1-D config describes (Keras' defaults for missing fields).
    pub fn from_config(c: &ConfigReader) -> Result<Self> {
        let mut fields: Map<String, Value> = c.fields().clone();
        let causal = c
            .get("padding")
            .and_then(Value::as_str)
            .is_some_and(|p| p.eq_ignore_ascii_case("causal"));
        if causal {
            if !L::CAUSAL {
                return Err(c.error("padding", "causal padding is only for convolutions"));
            }
            fields.insert("padding".into(), json!("valid"));
        }
        for (field, form) in L::fields() {
            let value = match c.get(field) {
                Some(v) => Some(v.clone()),
                None => form.default_1d(),
            };
            if let Some(value) = value {
                let lifted = form.to_2d(&value).map_err(|msg| c.error(field, msg))?;
                fields.insert(field.into(), lifted);
            }
        }
        let lifted = Value::Object(fields);
        let reader = ConfigReader::new(c.class(), &lifted)?;
        Ok(OneD {
            inner: L::from_config_2d(&reader)?,
            causal,
        })
    }

    /// `(steps, channels)` of a per-example shape; any other rank is an error.
    fn sequence_dims(&self, input: &Shape) -> Result<[usize; 2]> {
        match *input.dims() {
            [steps, channels] => Ok([steps, channels]),
            _ => Err(layer_error(
                self,
                format!(
                    "expects a 2-D input per example (steps, channels), got {}",
                    keras_shape(input)
                ),
            )),
        }
    }

    /// The left padding in use: causal padding or none.
    fn left_padding(&self) -> usize {
        if self.causal {
            self.inner.causal_padding()
        } else {
            0
        }
    }

    /// The inner layer's per-example input: `(1, steps + left padding, channels)`.
    fn lifted(&self, input: &Shape) -> Result<Shape> {
        let [steps, channels] = self.sequence_dims(input)?;
        Ok(Shape::from([
            1,
            steps.saturating_add(self.left_padding()),
            channels,
        ]))
    }

    /// An error of the inner layer, told as this layer's (with the sequence shape `input`
    /// where the inner layer printed its image shape).
    fn relabel(&self, error: Error, input: &Shape) -> Error {
        match (error, self.lifted(input)) {
            (Error::Layer { msg, .. }, Ok(lifted)) => layer_error(
                self,
                msg.replace(&keras_shape(&lifted), &keras_shape(input)),
            ),
            (Error::Layer { msg, .. }, Err(_)) => layer_error(self, msg),
            (other, _) => other,
        }
    }
}

/// A 2-D shape of the inner layer without its height-1 axis: `[1, a, b]` → `[a, b]`,
/// `[1, a, b, c]` (a kernel) → `[a, b, c]`; other shapes unchanged.
fn unlift(shape: &Shape) -> Shape {
    match shape.dims() {
        [1, rest @ ..] if shape.rank() >= 3 => Shape::from(rest),
        _ => shape.clone(),
    }
}

impl<L: Lift> Layer for OneD<L> {
    fn class_name(&self) -> &'static str {
        L::CLASS_1D
    }

    fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    fn set_name(&mut self, name: String) {
        self.inner.set_name(name);
    }

    fn output_shape(&self, input: &Shape) -> Result<Shape> {
        let lifted = self.lifted(input)?;
        let out = self
            .inner
            .output_shape(&lifted)
            .map_err(|e| self.relabel(e, input))?;
        Ok(unlift(&out))
    }

    fn params(&self, input: &Shape) -> Vec<ParamSpec> {
        let Ok(lifted) = self.lifted(input) else {
            return Vec::new();
        };
        let mut params = self.inner.params(&lifted);
        for p in &mut params {
            p.shape = unlift(&p.shape);
        }
        params
    }

    fn config(&self) -> Value {
        let mut config = self.inner.config();
        if let Value::Object(fields) = &mut config {
            for (field, form) in L::fields() {
                if let Some(value) = fields.get(field) {
                    let one_d = form.to_1d(value);
                    fields.insert(field.into(), one_d);
                }
            }
            for field in L::dropped() {
                fields.remove(*field);
            }
            if self.causal {
                fields.insert("padding".into(), json!("causal"));
            }
        }
        config
    }

    fn build(&self, g: &mut Graph, x: NodeId, ctx: LayerContext<'_>) -> Result<NodeId> {
        let dims = g.shape(x).dims().to_vec();
        let input = Shape::from(&dims[1..]);
        let lifted = self.lifted(&input)?;
        let mut x = x;
        let pad = self.left_padding();
        if pad > 0 {
            let op = Op::Pad {
                before: vec![0, pad, 0],
                after: vec![0, 0, 0],
                value: 0.0,
            };
            x = g.add(op, &[x])?;
        }
        let mut image = vec![dims[0]];
        image.extend(lifted.dims());
        let x = g.reshape(x, Shape::from(image.as_slice()))?;
        let specs = self.inner.params(&lifted);
        let mut params = Vec::with_capacity(ctx.params.len());
        for (node, spec) in ctx.params.iter().zip(&specs) {
            params.push(match g.shape(*node) == &spec.shape {
                true => *node,
                false => g.reshape(*node, spec.shape.clone())?,
            });
        }
        let ctx = LayerContext {
            params: &params,
            ..ctx
        };
        let y = self
            .inner
            .build(g, x, ctx)
            .map_err(|e| self.relabel(e, &input))?;
        let out = g.shape(y).dims().to_vec();
        if out.len() == 4 {
            let mut sequence = vec![out[0]];
            sequence.extend(&out[2..]);
            return Ok(g.reshape(y, Shape::from(sequence.as_slice()))?);
        }
        Ok(y)
    }
}

/// Setters of a 1-D layer that call the inner 2-D layer's setter of the same name: with
/// `[1, value]` or `[0, value]` for a step count (`name([1, _]);`), or with the value as it is
/// (`name(Type);`).
macro_rules! lifted_setters {
    ($($(#[$doc:meta])* $setter:ident($($arg:tt)*);)*) => {$(
        lifted_setters!(@one $(#[$doc])* $setter($($arg)*));
    )*};
    (@one $(#[$doc:meta])* $setter:ident([$other:literal, _])) => {
        $(#[$doc])*
        pub fn $setter(mut self, $setter: usize) -> Self {
            self.inner = self.inner.$setter([$other, $setter]);
            self
        }
    };
    (@one $(#[$doc:meta])* $setter:ident($value:ty)) => {
        $(#[$doc])*
        pub fn $setter(mut self, $setter: $value) -> Self {
            self.inner = self.inner.$setter($setter);
            self
        }
    };
}

impl Lift for Conv2D {
    const CLASS_1D: &'static str = "Conv1D";
    const CAUSAL: bool = true;

    fn fields() -> Vec<(&'static str, Form)> {
        vec![
            ("kernel_size", Form::Window(None)),
            ("strides", Form::Window(Some(1))),
            ("dilation_rate", Form::Window(Some(1))),
        ]
    }

    fn from_config_2d(c: &ConfigReader) -> Result<Self> {
        // Grouped 1-D convolutions are not checked against Keras yet.
        if super::conv2d::read_groups(c)? != 1 {
            return Err(c.error("groups", "only 1 group is supported"));
        }
        Conv2D::from_config(c)
    }

    fn causal_padding(&self) -> usize {
        self.dilated_kernel()[1] - 1
    }
}

impl Conv1D {
    /// `filters` output channels from a window of `kernel_size` steps.
    ///
    /// ```
    /// use kiln::layers::{Conv1D, Layer, Padding1D};
    /// use kiln::Shape;
    /// let conv = Conv1D::new(16, 3).padding(Padding1D::Causal).dilation_rate(2);
    /// assert_eq!(conv.output_shape(&Shape::from([10, 4])).unwrap(), Shape::from([10, 16]));
    /// ```
    pub fn new(filters: usize, kernel_size: usize) -> Self {
        OneD::lift(Conv2D::new(filters, [1, kernel_size]))
    }

    lifted_setters! {
        /// Set the stride (default 1).
        strides([1, _]);
        /// Set the dilation rate (default 1; more than 1 needs a stride of 1).
        dilation_rate([1, _]);
    }

    /// Set the padding (default `valid`).
    pub fn padding(mut self, padding: Padding1D) -> Self {
        self.causal = padding == Padding1D::Causal;
        self.inner = self.inner.padding(match padding {
            Padding1D::Same => Padding::Same,
            Padding1D::Valid | Padding1D::Causal => Padding::Valid,
        });
        self
    }

    kernel_option_setters!(inner.options);

    /// Number of output channels.
    pub fn filters(&self) -> usize {
        self.inner.filters()
    }
}

impl Lift for Conv2DTranspose {
    const CLASS_1D: &'static str = "Conv1DTranspose";

    fn fields() -> Vec<(&'static str, Form)> {
        vec![
            ("kernel_size", Form::Window(None)),
            ("strides", Form::Window(Some(1))),
            ("dilation_rate", Form::Window(Some(1))),
            ("output_padding", Form::Offset),
        ]
    }

    fn from_config_2d(c: &ConfigReader) -> Result<Self> {
        Conv2DTranspose::from_config(c)
    }
}

impl Conv1DTranspose {
    /// `filters` output channels from a window of `kernel_size` steps.
    pub fn new(filters: usize, kernel_size: usize) -> Self {
        OneD::lift(Conv2DTranspose::new(filters, [1, kernel_size]))
    }

    lifted_setters! {
        /// Set the stride (default 1).
        strides([1, _]);
        /// Set the dilation rate (default 1; more than 1 needs a stride of 1).
        dilation_rate([1, _]);
    }

    lifted_setters! {
        /// Set the padding (default `valid`).
        padding(Padding);
        /// Set the output padding (default none; smaller than the stride).
        output_padding([0, _]);
    }

    kernel_option_setters!(inner.options);
}

impl<K: PoolingKind> Lift for Pooling2D<K> {
    const CLASS_1D: &'static str = K::WINDOWED_1D_CLASS;

    fn fields() -> Vec<(&'static str, Form)> {
        vec![
            ("pool_size", Form::Window(Some(2))),
            ("strides", Form::Window(None)),
        ]
    }

    fn from_config_2d(c: &ConfigReader) -> Result<Self> {
        Pooling2D::from_config(c)
    }
}

impl<K: PoolingKind> Default for OneD<Pooling2D<K>> {
    fn default() -> Self {
        OneD::<Pooling2D<K>>::new(2)
    }
}

impl<K: PoolingKind> OneD<Pooling2D<K>> {
    /// Pooling over windows of `pool_size` steps, the stride equal to the window.
    pub fn new(pool_size: usize) -> Self {
        OneD::lift(Pooling2D::new([1, pool_size]))
    }

    lifted_setters! {
        /// Set the stride (default: the pool size).
        strides([1, _]);
        /// Set the padding (default `valid`).
        padding(Padding);
    }
}

impl<K: PoolingKind> Lift for GlobalPooling2D<K> {
    const CLASS_1D: &'static str = K::GLOBAL_1D_CLASS;

    fn fields() -> Vec<(&'static str, Form)> {
        Vec::new()
    }

    fn from_config_2d(c: &ConfigReader) -> Result<Self> {
        GlobalPooling2D::from_config(c)
    }
}

impl<K: PoolingKind> Default for OneD<GlobalPooling2D<K>> {
    fn default() -> Self {
        OneD::lift(GlobalPooling2D::new())
    }
}

impl<K: PoolingKind> OneD<GlobalPooling2D<K>> {
    /// A global pooling layer over the steps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep the steps axis as size 1 (default false).
    pub fn keepdims(mut self, keepdims: bool) -> Self {
        self.inner = self.inner.keepdims(keepdims);
        self
    }
}

impl<K: BorderKind> Lift for Border2D<K> {
    const CLASS_1D: &'static str = K::CLASS_1D;

    fn fields() -> Vec<(&'static str, Form)> {
        vec![(K::FIELD, Form::Border)]
    }

    fn from_config_2d(c: &ConfigReader) -> Result<Self> {
        Border2D::from_config(c)
    }
}

impl<K: BorderKind> Default for OneD<Border2D<K>> {
    fn default() -> Self {
        OneD::<Border2D<K>>::new(1)
    }
}

impl<K: BorderKind> OneD<Border2D<K>> {
    /// `border` steps at both ends.
    pub fn new(border: usize) -> Self {
        Self::explicit([border, border])
    }

    /// `[left, right]` steps at the start and the end.
    pub fn explicit(border: [usize; 2]) -> Self {
        OneD::lift(Border2D::explicit([[0, 0], border]))
    }
}

impl Lift for UpSampling2D {
    const CLASS_1D: &'static str = "UpSampling1D";

    fn fields() -> Vec<(&'static str, Form)> {
        vec![("size", Form::Int(2))]
    }

    fn dropped() -> &'static [&'static str] {
        &["data_format", "interpolation"]
    }

    fn from_config_2d(c: &ConfigReader) -> Result<Self> {
        UpSampling2D::from_config(c)
    }
}

impl Default for UpSampling1D {
    fn default() -> Self {
        UpSampling1D::new(2)
    }
}

impl UpSampling1D {
    /// Every step repeated `size` times.
    pub fn new(size: usize) -> Self {
        OneD::lift(UpSampling2D::new(Size2D([1, size])))
    }
}
