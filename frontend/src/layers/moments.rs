//! Streaming per-feature mean and variance of data in batches, in f64 (Chan et al.'s
//! pairwise combination of each batch's two-pass moments): what `Normalization::adapt`
//! computes, equal to numpy's `mean` and `var` over the reduced axes. It does NOT know
//! layers or graphs: a feature index per element says which statistic a value joins.

/// Running moments of `features` statistics.
#[derive(Debug, Clone)]
pub(crate) struct Moments {
    count: f64,
    mean: Vec<f64>,
    /// Sum of squared deviations from the mean, per feature.
    m2: Vec<f64>,
}

impl Moments {
    /// No data yet, `features` statistics.
    pub fn new(features: usize) -> Self {
        Moments {
            count: 0.0,
            mean: vec![0.0; features],
            m2: vec![0.0; features],
        }
    }

    /// Adds a batch of `values` where value `i` belongs to feature `feature_of[i %
    /// feature_of.len()]` (the batch holds whole examples; every feature appears equally
    /// often in an example).
    pub fn add(&mut self, values: &[f32], feature_of: &[usize]) {
        let features = self.mean.len();
        let mut sum = vec![0.0f64; features];
        let mut hits = vec![0.0f64; features];
        for (i, &v) in values.iter().enumerate() {
            let f = feature_of[i % feature_of.len()];
            sum[f] += f64::from(v);
            hits[f] += 1.0;
        }
        let Some(&n) = hits.first().filter(|&&n| n > 0.0) else {
            return;
        };
        let batch_mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut batch_m2 = vec![0.0f64; features];
        for (i, &v) in values.iter().enumerate() {
            let f = feature_of[i % feature_of.len()];
            let d = f64::from(v) - batch_mean[f];
            batch_m2[f] += d * d;
        }
        let total = self.count + n;
        for f in 0..features {
            let delta = batch_mean[f] - self.mean[f];
            self.mean[f] += delta * n / total;
            self.m2[f] += batch_m2[f] + delta * delta * self.count * n / total;
        }
        self.count = total;
    }

    /// Values seen per feature.
    pub fn count(&self) -> f64 {
        self.count
    }

    /// The means and population variances, as f32.
    pub fn mean_variance(&self) -> (Vec<f32>, Vec<f32>) {
        let mean = self.mean.iter().map(|&m| m as f32).collect();
        let variance = self
            .m2
            .iter()
            .map(|&m2| (m2 / self.count.max(1.0)) as f32)
            .collect();
        (mean, variance)
    }
}

#[cfg(test)]
mod tests {
    use super::Moments;

    #[test]
    fn batches_combine_to_the_moments_of_all_the_data() {
        let data: Vec<f32> = (0..40)
            .map(|i| ((i * 7) % 13) as f32 * 0.5 + 100.0)
            .collect();
        let mut moments = Moments::new(2);
        for batch in data.chunks(6) {
            moments.add(batch, &[0, 1]);
        }
        let (mean, variance) = moments.mean_variance();
        for f in 0..2 {
            let xs: Vec<f64> = data
                .iter()
                .skip(f)
                .step_by(2)
                .map(|&v| f64::from(v))
                .collect();
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64;
            assert!(
                (f64::from(mean[f]) - m).abs() < 1e-5 && (f64::from(variance[f]) - v).abs() < 1e-5
            );
        }
        assert_eq!(moments.count(), 20.0);
    }
}
