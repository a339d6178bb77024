//! Datasets from `ndarray` arrays (behind the `ndarray` feature, on by default): the first
//! axis indexes examples, the rest is each example's shape. Arrays in any memory order are
//! accepted and laid out row-major once. Labels may be f32 or integer class indices
//! ([`Label`]). Training and prediction on arrays (`fit((&x, &y), ..)`, `predict(&x, ..)`)
//! build on this in `model`.

use ndarray::{ArrayBase, Data, Dimension};

use crate::datasets::Dataset;
use crate::datasets::labels::Label;
use crate::error::Result;

impl Dataset {
    /// A dataset from a features array `[n, ...]` and a labels array `[n, ...]` of f32
    /// values or integer class indices.
    ///
    /// ```
    /// use ndarray::{Array1, Array4};
    /// let images = Array4::<f32>::zeros((8, 28, 28, 1));
    /// let classes = Array1::<u8>::from_vec(vec![0, 1, 2, 3, 4, 5, 6, 7]);
    /// let data = kiln::Dataset::from_ndarray(&images, &classes).unwrap();
    /// assert_eq!((data.len(), data.feature_shape()), (8, &[28, 28, 1][..]));
    /// assert_eq!(data.labels()[7], 7.0);
    /// ```
    pub fn from_ndarray<S, T, D, E>(
        features: &ArrayBase<S, D>,
        labels: &ArrayBase<T, E>,
    ) -> Result<Dataset>
    where
        S: Data<Elem = f32>,
        T: Data,
        T::Elem: Label,
        D: Dimension,
        E: Dimension,
    {
        // `iter` walks in logical (row-major) order whatever the memory layout.
        Dataset::new(
            features.iter().copied().collect(),
            features.shape(),
            labels.iter().map(|l| l.to_f32()).collect(),
            labels.shape(),
        )
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2, ShapeBuilder};

    use crate::datasets::Dataset;

    #[test]
    fn column_major_arrays_become_row_major_examples() {
        let mut features = Array2::<f32>::zeros((3, 2).f());
        for ((i, j), v) in features.indexed_iter_mut() {
            *v = (10 * i + j) as f32;
        }
        let labels = Array2::from_shape_vec((3, 1), vec![0.0, 1.0, 2.0]).unwrap();
        let data = Dataset::from_ndarray(&features, &labels).unwrap();
        assert_eq!(data.features(), &[0.0, 1.0, 10.0, 11.0, 20.0, 21.0]);
        assert_eq!(data.feature_shape(), &[2]);
        assert!(Dataset::from_ndarray(&features, &Array2::<f32>::zeros((2, 1))).is_err());
    }

    #[test]
    fn integer_class_indices_become_f32_labels() {
        let features = Array2::<f32>::zeros((3, 2));
        let data = Dataset::from_ndarray(&features, &Array1::from_vec(vec![2i64, 0, 1])).unwrap();
        assert_eq!(
            (data.labels(), data.label_shape()),
            (&[2.0, 0.0, 1.0][..], &[][..])
        );
    }
}
