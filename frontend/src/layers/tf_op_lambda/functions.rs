//! The TF functions a `TFOpLambda` may wrap: one table from the name Keras writes in the
//! config (`__operators__.add`, `math.reduce_mean`, ...) to what Kiln does, and each
//! function's call arguments parsed from the node's keyword arguments. It does NOT lower
//! anything (that is `call.rs`).

use ir::{BinaryOp, ReduceOp};
use serde_json::{Map, Value};

/// What a wrapped TF function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfFunction {
    /// `f(x, y)` elementwise, `y` a tensor of the same rank (broadcasting) or a number.
    Binary(BinaryOp),
    /// `f(x)` elementwise.
    Unary(Elementwise),
    /// `reduce_*(x, axis, keepdims)` over per-example axes.
    Reduce(ReduceOp),
    /// `reshape(x, shape)` with the batch axis first (`-1`/`None`).
    Reshape,
    /// `transpose(x, perm)` keeping the batch axis first.
    Transpose,
    /// `concat([x, ...], axis)` along a per-example axis.
    Concat,
}

/// The elementwise one-argument functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elementwise {
    /// `max(x, 0)`
    Relu,
    /// `min(max(x, 0), 6)`
    Relu6,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh(x)`
    Tanh,
    /// `x · sigmoid(x)`
    Swish,
}

/// Every supported function by the name Keras writes (`tf.` left out, as Keras does).
const FUNCTIONS: &[(&str, TfFunction)] = &[
    ("__operators__.add", TfFunction::Binary(BinaryOp::Add)),
    ("math.add", TfFunction::Binary(BinaryOp::Add)),
    ("math.subtract", TfFunction::Binary(BinaryOp::Sub)),
    ("math.multiply", TfFunction::Binary(BinaryOp::Mul)),
    ("math.truediv", TfFunction::Binary(BinaryOp::Div)),
    ("math.divide", TfFunction::Binary(BinaryOp::Div)),
    ("math.maximum", TfFunction::Binary(BinaryOp::Max)),
    ("math.minimum", TfFunction::Binary(BinaryOp::Min)),
    ("nn.relu", TfFunction::Unary(Elementwise::Relu)),
    ("nn.relu6", TfFunction::Unary(Elementwise::Relu6)),
    ("math.sigmoid", TfFunction::Unary(Elementwise::Sigmoid)),
    ("nn.sigmoid", TfFunction::Unary(Elementwise::Sigmoid)),
    ("math.tanh", TfFunction::Unary(Elementwise::Tanh)),
    ("nn.tanh", TfFunction::Unary(Elementwise::Tanh)),
    ("nn.swish", TfFunction::Unary(Elementwise::Swish)),
    ("nn.silu", TfFunction::Unary(Elementwise::Swish)),
    ("math.reduce_mean", TfFunction::Reduce(ReduceOp::Mean)),
    ("math.reduce_sum", TfFunction::Reduce(ReduceOp::Sum)),
    ("reshape", TfFunction::Reshape),
    ("transpose", TfFunction::Transpose),
    ("concat", TfFunction::Concat),
];

/// The function Keras calls `name`, or an error listing the supported ones.
pub fn lookup(name: &str) -> Result<TfFunction, String> {
    FUNCTIONS
        .iter()
        .find(|row| row.0 == name)
        .map(|row| row.1)
        .ok_or_else(|| {
            format!(
                "TF function `{name}` is not supported (supported: {})",
                supported().join(", ")
            )
        })
}

/// The supported function names.
pub fn supported() -> Vec<&'static str> {
    FUNCTIONS.iter().map(|row| row.0).collect()
}

/// A function's call arguments besides its tensor inputs, read from the node's kwargs.
#[derive(Debug, Clone, PartialEq)]
pub enum CallArgs {
    /// A binary function's `y` when it is a number; `None` when `y` is a second input.
    Binary(Option<f32>),
    /// No arguments (elementwise functions).
    None,
    /// `axis` (`None`: every axis, refused when lowering) and `keepdims`.
    Reduce(Option<Vec<i64>>, bool),
    /// The target shape, batch axis first.
    Reshape(Vec<i64>),
    /// The permutation, batch axis first.
    Transpose(Vec<usize>),
    /// The concatenation axis.
    Concat(i64),
}

/// An optional list of integers or one integer, as TF takes `axis`.
fn integers(v: &Value) -> Option<Vec<i64>> {
    match v {
        Value::Array(items) => items.iter().map(Value::as_i64).collect(),
        other => other.as_i64().map(|a| vec![a]),
    }
}

/// The keyword arguments `kwargs` of a call of `function`, each checked. Keys a function
/// does not take (other than TF's `name`) are errors naming them.
pub fn call_args(function: TfFunction, kwargs: &Map<String, Value>) -> Result<CallArgs, String> {
    let allowed: &[&str] = match function {
        TfFunction::Binary(_) => &["y"],
        TfFunction::Unary(Elementwise::Swish) => &["beta"],
        TfFunction::Unary(_) => &[],
        TfFunction::Reduce(_) => &["axis", "keepdims"],
        TfFunction::Reshape => &["shape"],
        TfFunction::Transpose => &["perm", "conjugate"],
        TfFunction::Concat => &["axis"],
    };
    if let Some(key) = kwargs
        .iter()
        .find(|(k, v)| *k != "name" && !allowed.contains(&k.as_str()) && !v.is_null())
        .map(|(k, _)| k)
    {
        return Err(format!("argument `{key}` is not supported"));
    }
    let get = |key: &str| kwargs.get(key).filter(|v| !v.is_null());
    let bad = |key: &str, v: &Value, want: &str| format!("`{key}` must be {want}, got {v}");
    Ok(match function {
        TfFunction::Binary(_) => match get("y") {
            None => CallArgs::Binary(None),
            Some(v) => CallArgs::Binary(Some(
                v.as_f64()
                    .ok_or_else(|| bad("y", v, "a tensor or a number"))? as f32,
            )),
        },
        TfFunction::Unary(_) => match get("beta") {
            Some(v) if v.as_f64() != Some(1.0) => return Err(bad("beta", v, "1.0")),
            _ => CallArgs::None,
        },
        TfFunction::Reduce(_) => {
            let axis = get("axis")
                .map(|v| integers(v).ok_or_else(|| bad("axis", v, "integers")))
                .transpose()?;
            let keepdims = match get("keepdims") {
                None => false,
                Some(v) => v.as_bool().ok_or_else(|| bad("keepdims", v, "a boolean"))?,
            };
            CallArgs::Reduce(axis, keepdims)
        }
        TfFunction::Reshape => {
            let v = get("shape").ok_or("`shape` is required")?;
            let dims = v.as_array().ok_or_else(|| bad("shape", v, "a list"))?;
            let shape = dims
                .iter()
                .map(|d| if d.is_null() { Some(-1) } else { d.as_i64() })
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| bad("shape", v, "a list of integers"))?;
            CallArgs::Reshape(shape)
        }
        TfFunction::Transpose => {
            if get("conjugate").is_some_and(|v| v != &Value::Bool(false)) {
                return Err("`conjugate` must be false".into());
            }
            let v = get("perm").ok_or("`perm` is required (the default moves the batch axis)")?;
            let perm = integers(v)
                .and_then(|p| p.into_iter().map(|a| usize::try_from(a).ok()).collect())
                .ok_or_else(|| bad("perm", v, "a list of axes"))?;
            CallArgs::Transpose(perm)
        }
        TfFunction::Concat => {
            let v = get("axis").ok_or("`axis` is required")?;
            CallArgs::Concat(v.as_i64().ok_or_else(|| bad("axis", v, "an integer"))?)
        }
    })
}
