//! The passes `fit`, `evaluate` and validation share: running one step on a batch
//! ([`Model::run_step`]), running steps over a [`Feed`] while averaging the loss and metrics
//! (`Means`), and checking data against the model's input and label shapes.
//!
//! This module does not loop over epochs nor call callbacks (that is `fit`).

use ir::Tensor;

use super::Model;
use super::distributed::reduce_f64;
use super::feed::{Feed, Rows, StepBatch};
use super::training::{LOSS_OUTPUT, Role};
use crate::datasets::Dataset;
use crate::distributed::Communicator;
use crate::error::{Error, Result};
use crate::metrics::Aggregation;
use crate::progress::Logs;

/// The running values of the loss and each metric over a pass: example-weighted means, or
/// for summed metrics the element-wise sums of their batch counts ([`Aggregation`]).
#[derive(Debug)]
pub(crate) struct Means {
    keys: Vec<String>,
    aggregations: Vec<Aggregation>,
    sums: Vec<Vec<f64>>,
    examples: usize,
}

impl Means {
    pub fn new(keys: Vec<(String, Aggregation)>) -> Self {
        let (keys, aggregations): (Vec<String>, Vec<Aggregation>) = keys.into_iter().unzip();
        Means {
            sums: vec![Vec::new(); keys.len()],
            keys,
            aggregations,
            examples: 0,
        }
    }

    /// Add one batch of `n` examples; `Err(key)` names a missing output.
    pub fn add(&mut self, outputs: &[(String, Tensor)], n: usize) -> Result<(), String> {
        for ((key, aggregation), sums) in self
            .keys
            .iter()
            .zip(&self.aggregations)
            .zip(self.sums.iter_mut())
        {
            let value = outputs
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, t)| t.data.as_slice())
                .ok_or_else(|| key.clone())?;
            let weight = match aggregation {
                Aggregation::Mean => n as f64,
                Aggregation::Sum(_) => 1.0,
            };
            sums.resize(value.len().max(sums.len()), 0.0);
            for (sum, &x) in sums.iter_mut().zip(value) {
                *sum += f64::from(x) * weight;
            }
        }
        self.examples += n;
        Ok(())
    }

    /// Every rank's sums and example counts added together (distributed passes), so the
    /// logs are those of all ranks' examples. A rank that saw no example (fewer examples
    /// than ranks) adds zeros, sized as the other ranks' sums.
    pub fn reduce(&mut self, comm: &dyn Communicator) -> Result<()> {
        self.size_like_other_ranks(comm)?;
        let mut flat: Vec<f64> = self.sums.iter().flatten().copied().collect();
        flat.push(self.examples as f64);
        reduce_f64(&mut flat, comm)?;
        let mut values = flat.into_iter();
        for sums in &mut self.sums {
            sums.iter_mut()
                .for_each(|s| *s = values.next().expect("same length"));
        }
        self.examples = values.next().expect("the count") as usize;
        Ok(())
    }

    /// Sizes the sums of a rank that saw no example (they are empty) as those of the ranks
    /// that did, which agree (one model): one sum over the ranks of every value's length
    /// (zero from a rank without examples) and of the number of ranks with examples.
    fn size_like_other_ranks(&mut self, comm: &dyn Communicator) -> Result<()> {
        let seen = self.examples > 0;
        let mut lengths: Vec<f64> = self
            .sums
            .iter()
            .map(|s| if seen { s.len() as f64 } else { 0.0 })
            .collect();
        lengths.push(if seen { 1.0 } else { 0.0 });
        reduce_f64(&mut lengths, comm)?;
        let ranks_with_examples = lengths.pop().unwrap_or(0.0);
        if !seen && ranks_with_examples > 0.0 {
            for (sums, total) in self.sums.iter_mut().zip(lengths) {
                sums.resize((total / ranks_with_examples) as usize, 0.0);
            }
        }
        Ok(())
    }

    /// An error unless some batch was added (a pass over nothing has no mean).
    pub fn ensure_examples(&self) -> Result<()> {
        if self.examples == 0 {
            return Err(Error::Generator("it yielded no batch to evaluate".into()));
        }
        Ok(())
    }

    /// The values so far.
    pub fn logs(&self) -> Logs {
        let examples = self.examples.max(1) as f64;
        self.keys
            .iter()
            .zip(&self.aggregations)
            .zip(&self.sums)
            .map(|((k, aggregation), s)| {
                let value = match aggregation {
                    Aggregation::Mean => s.first().copied().unwrap_or(0.0) / examples,
                    Aggregation::Sum(result) => result(s),
                };
                (k.clone(), value as f32)
            })
            .collect::<Vec<_>>()
            .into()
    }
}

pub(crate) fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::InvalidArgument {
            name: "batch_size",
            msg: "must be at least 1".into(),
        });
    }
    Ok(())
}

/// Whether two per-example shapes hold their values in the same layout: equal once their
/// axes of size 1 are left out (labels `[n]` feed an output `[n, 1]` and the other way).
fn same_layout(a: &[usize], b: &[usize]) -> bool {
    a.iter()
        .filter(|&&d| d != 1)
        .eq(b.iter().filter(|&&d| d != 1))
}

impl Model {
    /// Check that the columns of `rows` match the model: one feature column per input with
    /// its shape, one label column per head with the label shape its loss takes (or the
    /// same layout: labels `[n]` for `[n, 1]`), a non-empty pass, valid ids where a layer
    /// reads a feature as ids.
    pub(crate) fn check_rows(&self, rows: &Rows<'_>, what: &str) -> Result<()> {
        let inputs = self.input_shapes()?;
        let labels: Vec<ir::Shape> = match &self.training {
            Some(state) => state.label_shapes().to_vec(),
            None => self.output_shapes()?,
        };
        let (features, rest) = rows.columns.split_at(rows.features);
        let label_columns = &rest[..rows.labels];
        let single = rows.features == 1 && rows.labels == 1;
        if features.len() != inputs.len() || label_columns.len() != labels.len() {
            let hint = if single { "; use a MultiDataset" } else { "" };
            return Err(self.model_error(format!(
                "takes {} features tensor(s) and {} labels tensor(s) but the {what} data holds {} and {}{hint}",
                inputs.len(),
                labels.len(),
                features.len(),
                label_columns.len(),
            )));
        }
        let features_of = features.iter().zip(&inputs).enumerate();
        let labels_of = label_columns.iter().zip(&labels).enumerate();
        let checks = (features_of.map(|(k, c)| (k, c, "features", "the model's input is")))
            .chain(labels_of.map(|(k, c)| (k, c, "labels", "the loss takes")));
        for (k, (column, shape), kind, wants) in checks {
            let fits = if kind == "labels" {
                same_layout(column.shape, shape.dims())
            } else {
                column.shape == shape.dims()
            };
            if !fits {
                let which = if single {
                    String::new()
                } else {
                    format!(" {k}")
                };
                return Err(self.model_error(format!(
                    "{what} {kind}{which} have shape {:?} per example but {wants} {shape}",
                    column.shape
                )));
            }
        }
        if rows.len == 0 {
            return Err(self.model_error(format!("{what} dataset is empty")));
        }
        features
            .iter()
            .enumerate()
            .try_for_each(|(k, c)| self.check_ids(k, c.values))
    }

    /// An error unless the model has one input and one output: what a [`Generator`]'s
    /// batches (one features and one labels tensor each) can feed.
    ///
    /// [`Generator`]: crate::datasets::Generator
    pub(crate) fn require_generator_model(&self) -> Result<()> {
        let (inputs, outputs) = (self.graph.inputs().len(), self.graph.outputs().len());
        if inputs == 1 && outputs == 1 {
            return Ok(());
        }
        Err(self.model_error(format!(
            "has {inputs} inputs and {outputs} outputs; a generator feeds models with one input and one output (use a MultiDataset)"
        )))
    }

    /// [`Model::check_rows`] for the one features and one labels tensor of `dataset`.
    pub(crate) fn check_dataset(&self, dataset: &Dataset, what: &str) -> Result<()> {
        self.check_rows(&Rows::of(dataset, None), what)
    }

    /// The loss and metric names a step reports, loss first, with how each combines over
    /// a pass.
    pub(crate) fn step_keys(&self) -> Vec<(String, Aggregation)> {
        match &self.training {
            Some(state) => state.reported(),
            None => vec![(LOSS_OUTPUT.to_string(), Aggregation::Mean)],
        }
    }

    /// Run `role`'s step on one batch (weighted when it carries weights) and add its values
    /// to `means`; a generator's batch is checked against the model first.
    pub(crate) fn run_step(
        &mut self,
        role: Role,
        batch: StepBatch<'_>,
        means: &mut Means,
    ) -> Result<()> {
        if let Some(dataset) = batch.unchecked {
            self.check_dataset(dataset, "generator batch")?;
        }
        let n = batch.len;
        let outputs = self.runner(role, n, batch.weighted)?.run(&batch.inputs)?;
        means.add(&outputs, n).map_err(|key| {
            self.model_error(format!("the compiled step returned no `{key}` output"))
        })
    }

    /// `steps` steps of `role` over `feed` (for in-memory data by default one pass from its
    /// start; for a generator by default until it runs out); the example-weighted mean of
    /// the loss and each metric, loss first.
    pub(crate) fn run_pass(
        &mut self,
        role: Role,
        feed: &mut Feed<'_>,
        steps: Option<usize>,
    ) -> Result<Logs> {
        let means = self.pass_means(role, feed, steps)?;
        means.ensure_examples()?;
        Ok(means.logs())
    }

    /// [`Model::run_pass`] before its values are turned into logs.
    pub(crate) fn pass_means(
        &mut self,
        role: Role,
        feed: &mut Feed<'_>,
        steps: Option<usize>,
    ) -> Result<Means> {
        feed.restart();
        let steps = steps.or(feed.steps_per_pass()).unwrap_or(usize::MAX);
        let mut means = Means::new(self.step_keys());
        let mut ran = 0;
        while ran < steps {
            let Some(batch) = feed.next_batch()? else {
                break;
            };
            self.run_step(role, batch, &mut means)?;
            ran += 1;
        }
        Ok(means)
    }
}

#[cfg(test)]
mod tests {
    use super::same_layout;

    #[test]
    fn label_layouts_ignore_axes_of_size_one() {
        assert!(same_layout(&[], &[1]));
        assert!(same_layout(&[3], &[3]));
        assert!(same_layout(&[1, 3], &[3]));
        assert!(!same_layout(&[3], &[]));
        assert!(!same_layout(&[2, 3], &[3, 2]));
    }
}
