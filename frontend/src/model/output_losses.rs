//! [`OutputLosses`]: which loss, loss weight and metrics each output of a model gets, as
//! Keras' `compile(loss=..., loss_weights=..., metrics=...)` says it — one loss for every
//! output, a list in output order, or a map by output name — and its resolution into the
//! training heads when the model is compiled ([`Model::compile_outputs`]).
//!
//! This file only assigns; the loss and metric ops are built by the training heads.

use std::sync::Arc;

use super::Model;
use super::training::{Head, LOSS_OUTPUT};
use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::optimizers::Optimizer;

/// A value for every output, a list in output order, or values by output name.
#[derive(Debug, Clone)]
enum PerOutput<T> {
    All(T),
    List(Vec<T>),
    ByName(Vec<(String, T)>),
}

/// The outputs a metric is reported for.
#[derive(Debug, Clone)]
enum Target {
    All,
    Output(String),
}

/// The losses, loss weights and metrics of a model's outputs (Keras' `compile` arguments for
/// models with several outputs). The total loss is the weighted sum of the outputs' losses
/// (plus regularizer penalties); `fit` and `evaluate` report it as `loss`, each output's own
/// loss as `<output>_loss` and each metric as `<output>_<metric>`, where `<output>` is the
/// output layer's name, as tf-keras 2 does.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::prelude::*;
/// use kiln::losses::{MeanSquaredError, SoftmaxCrossEntropyWithLogits};
/// use kiln::metrics::Accuracy;
/// use kiln::model::OutputLosses;
/// use kiln::optimizers::SGD;
/// let mut f = Functional::builder("two_heads");
/// let x = f.input(Input::new([4]));
/// let class = f.apply(Dense::new(3).named("class"), x)?;
/// let score = f.apply(Dense::new(1).named("score"), x)?;
/// let mut model = f.build(&[x], &[class, score])?;
/// let losses = OutputLosses::by_name([
///     ("class", Box::new(SoftmaxCrossEntropyWithLogits) as Box<dyn kiln::losses::Loss>),
///     ("score", Box::new(MeanSquaredError)),
/// ])
/// .loss_weights([1.0, 0.5])
/// .output_metric("class", Accuracy);
/// model.compile_outputs(SGD::default().learning_rate(0.1), losses)?;
/// assert_eq!(model.metric_names(), ["class_loss", "score_loss", "class_accuracy"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct OutputLosses {
    losses: PerOutput<Arc<dyn Loss>>,
    weights: Option<PerOutput<f32>>,
    metrics: Vec<(Target, Arc<dyn Metric>)>,
}

impl OutputLosses {
    /// The same loss for every output (Keras' `loss="mse"` on a model with several).
    pub fn same(loss: impl Loss + 'static) -> Self {
        Self::with(PerOutput::All(Arc::new(loss)))
    }

    /// One loss per output, in the model's output order (Keras' `loss=[...]`).
    pub fn list(losses: impl IntoIterator<Item = Box<dyn Loss>>) -> Self {
        Self::with(PerOutput::List(losses.into_iter().map(Arc::from).collect()))
    }

    /// Losses by output name (Keras' `loss={"name": ...}`); every output needs one.
    pub fn by_name<S: Into<String>>(losses: impl IntoIterator<Item = (S, Box<dyn Loss>)>) -> Self {
        Self::with(PerOutput::ByName(
            losses
                .into_iter()
                .map(|(name, loss)| (name.into(), Arc::from(loss)))
                .collect(),
        ))
    }

    fn with(losses: PerOutput<Arc<dyn Loss>>) -> Self {
        OutputLosses {
            losses,
            weights: None,
            metrics: Vec::new(),
        }
    }

    /// The outputs' factors in the total loss, in output order (Keras' `loss_weights=[...]`;
    /// 1 for each by default).
    pub fn loss_weights(mut self, weights: impl IntoIterator<Item = f32>) -> Self {
        self.weights = Some(PerOutput::List(weights.into_iter().collect()));
        self
    }

    /// The outputs' factors by output name (Keras' `loss_weights={...}`); an output not
    /// named keeps 1.
    pub fn loss_weights_by_name<S: Into<String>>(
        mut self,
        weights: impl IntoIterator<Item = (S, f32)>,
    ) -> Self {
        let weights = weights.into_iter().map(|(n, w)| (n.into(), w)).collect();
        self.weights = Some(PerOutput::ByName(weights));
        self
    }

    /// Report `metric` for every output (Keras' `metrics=["accuracy"]`).
    pub fn metric(mut self, metric: impl Metric + 'static) -> Self {
        self.metrics.push((Target::All, Arc::new(metric)));
        self
    }

    /// Report `metric` for the output called `output` (Keras' `metrics={"name": [...]}`).
    pub fn output_metric(
        mut self,
        output: impl Into<String>,
        metric: impl Metric + 'static,
    ) -> Self {
        self.metrics
            .push((Target::Output(output.into()), Arc::new(metric)));
        self
    }

    /// Report `metrics` for the output called `output`, in order (a saved configuration's
    /// metrics of one output).
    pub(crate) fn output_metrics(mut self, output: &str, metrics: Vec<Box<dyn Metric>>) -> Self {
        let each = metrics
            .into_iter()
            .map(|m| (Target::Output(output.to_string()), Arc::from(m)));
        self.metrics.extend(each);
        self
    }

    /// Report `metrics` for every output, in order.
    pub(crate) fn metrics_for_all(mut self, metrics: Vec<Box<dyn Metric>>) -> Self {
        let all = metrics.into_iter().map(|m| (Target::All, Arc::from(m)));
        self.metrics.extend(all);
        self
    }
}

/// One output's compile settings as a compiled model holds them (what the saved
/// training configurations describe).
pub(crate) struct CompiledOutput<'a> {
    /// The output's name (its layer's).
    pub name: &'a str,
    /// Its loss.
    pub loss: &'a dyn Loss,
    /// Its factor in the total loss.
    pub weight: f32,
    /// Its metrics, in order.
    pub metrics: &'a [Arc<dyn Metric>],
}

/// The value `values` gives output `k` called `name`, `default` where a map leaves it out;
/// `what` names the argument in errors.
fn value_for<T: Clone>(
    values: &PerOutput<T>,
    k: usize,
    name: &str,
    default: Option<&T>,
) -> std::result::Result<T, String> {
    match values {
        PerOutput::All(value) => Ok(value.clone()),
        PerOutput::List(list) => list.get(k).cloned().ok_or_else(String::new),
        PerOutput::ByName(map) => map
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| default.cloned())
            .ok_or_else(|| format!("output `{name}` is not given one")),
    }
}

impl Model {
    /// The optimizer and every output's loss, weight and metrics, in output order, of a
    /// compiled model; `None` when not compiled.
    pub(crate) fn compiled_outputs(&self) -> Option<(&dyn Optimizer, Vec<CompiledOutput<'_>>)> {
        let state = self.training.as_ref()?;
        let outputs = state
            .heads()
            .iter()
            .map(|h| CompiledOutput {
                name: &h.name,
                loss: h.loss.as_ref(),
                weight: h.weight,
                metrics: &h.metrics,
            })
            .collect();
        Some((state.optimizer(), outputs))
    }

    /// The heads `spec` gives this model's outputs, checked: lists as long as the outputs,
    /// names that are outputs, finite weights, unique reported names.
    pub(crate) fn resolve_heads(&self, spec: OutputLosses) -> Result<Vec<Head>> {
        let names: Vec<String> = self.output_names().iter().map(|s| s.to_string()).collect();
        self.check_named(&spec, &names)?;
        let fail = |what: &'static str, msg: String| Error::InvalidArgument { name: what, msg };
        let mut heads = Vec::with_capacity(names.len());
        for (k, name) in names.iter().enumerate() {
            let loss = value_for(&spec.losses, k, name, None).map_err(|m| fail("loss", m))?;
            let weight = match &spec.weights {
                None => 1.0,
                Some(w) => {
                    value_for(w, k, name, Some(&1.0)).map_err(|m| fail("loss_weights", m))?
                }
            };
            if !weight.is_finite() {
                return Err(fail(
                    "loss_weights",
                    format!("output `{name}`: {weight} is not finite"),
                ));
            }
            let metrics = spec
                .metrics
                .iter()
                .filter(|(t, _)| {
                    matches!(t, Target::All) || matches!(t, Target::Output(o) if o == name)
                })
                .map(|(_, m)| m.clone())
                .collect();
            heads.push(Head {
                output: k,
                name: name.clone(),
                loss,
                weight,
                metrics,
            });
        }
        self.check_reported_names(&heads)?;
        Ok(heads)
    }

    /// An error for a list whose length is not the number of outputs, or a name that is
    /// not an output's.
    fn check_named(&self, spec: &OutputLosses, names: &[String]) -> Result<()> {
        let count = names.len();
        let lists = [
            ("loss", list_len(&spec.losses)),
            ("loss_weights", spec.weights.as_ref().and_then(list_len)),
        ];
        for (what, len) in lists {
            if let Some(len) = len.filter(|&len| len != count) {
                return Err(Error::InvalidArgument {
                    name: what,
                    msg: format!("gives {len} values for a model with {count} outputs"),
                });
            }
        }
        let mut given: Vec<(&'static str, &str)> = Vec::new();
        given.extend(map_names(&spec.losses).into_iter().map(|n| ("loss", n)));
        if let Some(w) = &spec.weights {
            given.extend(map_names(w).into_iter().map(|n| ("loss_weights", n)));
        }
        for (target, _) in &spec.metrics {
            if let Target::Output(n) = target {
                given.push(("metrics", n));
            }
        }
        match given
            .into_iter()
            .find(|(_, n)| !names.iter().any(|o| o == n))
        {
            Some((what, n)) => Err(Error::InvalidArgument {
                name: what,
                msg: format!(
                    "names `{n}`, which is not an output (outputs: {})",
                    names.join(", ")
                ),
            }),
            None => Ok(()),
        }
    }

    /// An error if two reported values share a name (or a metric is called `loss`).
    fn check_reported_names(&self, heads: &[Head]) -> Result<()> {
        let mut seen = vec![LOSS_OUTPUT.to_string()];
        for (name, _) in super::training::reported_names(heads).into_iter().skip(1) {
            if seen.contains(&name) {
                return Err(self.model_error(format!("metric `{name}` is given twice")));
            }
            seen.push(name);
        }
        Ok(())
    }
}

/// The length of a list, `None` otherwise.
fn list_len<T>(values: &PerOutput<T>) -> Option<usize> {
    match values {
        PerOutput::List(list) => Some(list.len()),
        _ => None,
    }
}

/// The names of a map, none otherwise.
fn map_names<T>(values: &PerOutput<T>) -> Vec<&str> {
    match values {
        PerOutput::ByName(map) => map.iter().map(|(n, _)| n.as_str()).collect(),
        _ => Vec::new(),
    }
}
