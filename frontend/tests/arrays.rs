//! ndarray arrays in and out, generators, and Keras' sample and class weights:
//! - `fit`, `evaluate` and `predict` on arrays (integer class-index labels of any type for
//!   the sparse losses, `[n]` or `[n, 1]`), `predict` on an array returning an array;
//! - weighted losses, `initial_epoch` and evaluation against tf-keras 2.21: the values in
//!   `fixtures/keras/arrays/expected.json` were computed by `make_expected.py` there (SGD on
//!   a Dense model with fixed weights, no shuffle);
//! - generators (on the caller's thread and on a background thread): the same steps as the
//!   same batches in memory, `steps_per_epoch`, running out of data, validation from a
//!   generator.
#![cfg(feature = "ndarray")]

use std::collections::BTreeMap;

use kiln::Tensor;
use kiln::callbacks::{Callback, Logs, Training};
use kiln::datasets::Generator;
use kiln::losses::{CategoricalCrossentropy, MeanSquaredError, SparseCategoricalCrossentropy};
use kiln::metrics::Accuracy;
use kiln::optimizers::SGD;
use kiln::prelude::*;
use ndarray::{Array1, Array2, ArrayD, Axis, Ix2};
use serde_json::Value;

fn expected() -> Value {
    serde_json::from_str(include_str!("fixtures/keras/arrays/expected.json")).unwrap()
}

fn floats(value: &Value) -> Vec<f32> {
    match value {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        number => vec![number.as_f64().unwrap() as f32],
    }
}

fn matrix(value: &Value) -> Array2<f32> {
    let rows = value.as_array().unwrap().len();
    let data = floats(value);
    Array2::from_shape_vec((rows, data.len() / rows), data).unwrap()
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * 1f32.max(w.abs()),
            "{what}[{i}]: got {g}, Keras {w} (all: {got:?} vs {want:?})"
        );
    }
}

/// The inputs of every case.
struct Case {
    x: Array2<f32>,
    y_int: Array1<i64>,
    y_reg: Array2<f32>,
    sample_weight: Vec<f32>,
    class_weight: Vec<(usize, f32)>,
}

fn case() -> Case {
    let e = expected();
    let y_int = e["y_int"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap());
    Case {
        x: matrix(&e["x"]),
        y_int: y_int.collect(),
        y_reg: matrix(&e["y_reg"]),
        sample_weight: floats(&e["sample_weight"]),
        class_weight: floats(&e["class_weight"]).into_iter().enumerate().collect(),
    }
}

/// A Dense(units) model on 4 features with the fixture's weights, compiled with SGD(0.1).
fn dense(units: usize, activation: Activation, loss: impl kiln::losses::Loss + 'static) -> Model {
    dense_on(Device::Cpu, units, activation, loss)
}

/// [`dense`] compiled for `device`.
fn dense_on(
    device: Device,
    units: usize,
    activation: Activation,
    loss: impl kiln::losses::Loss + 'static,
) -> Model {
    let e = expected();
    let (kernel, bias) = if units == 3 {
        ("kernel3", "bias3")
    } else {
        ("kernel2", "bias2")
    };
    let mut model = sequential![Input::new([4]), Dense::new(units).activation(activation)];
    let weights = BTreeMap::from([
        (
            "dense/kernel".to_string(),
            Tensor::new([4, units], floats(&e[kernel])).unwrap(),
        ),
        (
            "dense/bias".to_string(),
            Tensor::new([units], floats(&e[bias])).unwrap(),
        ),
    ]);
    model.set_weights(&weights).unwrap();
    model
        .compile_on(device, SGD::new().learning_rate(0.1), loss, [Accuracy])
        .unwrap();
    model
}

fn sparse_model() -> Model {
    dense(3, Activation::Softmax, SparseCategoricalCrossentropy::new())
}

fn options<'a>(epochs: usize, batch_size: usize) -> FitOptions<'a> {
    FitOptions::new(epochs, batch_size)
        .shuffle(false)
        .verbose(0)
}

/// The history's losses and the trained weights against the fixture's `name` case.
fn assert_matches_keras(name: &str, model: &mut Model, history: &History) {
    let want = &expected()[name];
    assert_close(
        &format!("{name} loss"),
        history.get("loss").unwrap(),
        &floats(&want["loss"]),
        1e-5,
    );
    let epochs: Vec<usize> = want["epoch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(history.epoch, epochs, "{name} epoch numbers");
    let weights = model.weights().unwrap();
    assert_close(
        &format!("{name} kernel"),
        &weights["dense/kernel"].data,
        &floats(&want["kernel"]),
        1e-5,
    );
    assert_close(
        &format!("{name} bias"),
        &weights["dense/bias"].data,
        &floats(&want["bias"]),
        1e-5,
    );
}

#[test]
fn sample_weights_weigh_the_sparse_loss_as_keras() {
    let c = case();
    let mut model = sparse_model();
    let history = model
        .fit_with(
            (&c.x, &c.y_int),
            options(1, 6).sample_weight(&c.sample_weight),
        )
        .unwrap();
    assert_matches_keras("sparse_sample_weight", &mut model, &history);
    // The same weights given with the arrays.
    let mut again = sparse_model();
    let w = Array1::from_vec(c.sample_weight.clone());
    let history = again.fit_with((&c.x, &c.y_int, &w), options(1, 6)).unwrap();
    assert_matches_keras("sparse_sample_weight", &mut again, &history);
}

#[test]
fn class_weights_weigh_each_class_over_partial_batches_as_keras() {
    let c = case();
    let mut model = sparse_model();
    let history = model
        .fit_with(
            (&c.x, &c.y_int),
            options(1, 4).class_weight(c.class_weight.clone()),
        )
        .unwrap();
    assert_matches_keras("sparse_class_weight", &mut model, &history);
}

#[test]
fn class_weights_follow_the_argmax_of_one_hot_labels_times_sample_weights() {
    let c = case();
    let mut one_hot = Array2::<f32>::zeros((6, 3));
    for (i, &class) in c.y_int.iter().enumerate() {
        one_hot[[i, class as usize]] = 1.0;
    }
    let mut model = dense(3, Activation::Softmax, CategoricalCrossentropy::new());
    let history = model
        .fit_with(
            (&c.x, &one_hot),
            options(1, 6)
                .class_weight(c.class_weight.clone())
                .sample_weight(&c.sample_weight),
        )
        .unwrap();
    assert_matches_keras("onehot_both_weights", &mut model, &history);
}

#[test]
fn regression_losses_are_weighted_per_example_as_keras() {
    let c = case();
    let mut model = dense(2, Activation::Linear, MeanSquaredError);
    let history = model
        .fit_with(
            (&c.x, &c.y_reg),
            options(1, 3).sample_weight(&c.sample_weight),
        )
        .unwrap();
    assert_matches_keras("mse_sample_weight", &mut model, &history);
}

#[test]
fn weighted_training_on_the_gpu_matches_keras() {
    if !codegen_gpu::gpu_tests_enabled() {
        return;
    }
    let c = case();
    let loss = SparseCategoricalCrossentropy::new();
    let mut model = dense_on(Device::Gpu, 3, Activation::Softmax, loss);
    let history = model
        .fit_with(
            (&c.x, &c.y_int),
            options(1, 4).class_weight(c.class_weight.clone()),
        )
        .unwrap();
    assert_matches_keras("sparse_class_weight", &mut model, &history);
    let mut model = dense_on(Device::Gpu, 2, Activation::Linear, MeanSquaredError);
    let history = model
        .fit_with(
            (&c.x, &c.y_reg),
            options(1, 3).sample_weight(&c.sample_weight),
        )
        .unwrap();
    assert_matches_keras("mse_sample_weight", &mut model, &history);
}

/// Records the epoch numbers the hooks see.
#[derive(Default)]
struct Epochs(Vec<(&'static str, usize)>);

impl Callback for Epochs {
    fn on_epoch_begin(&mut self, epoch: usize, _: &mut Training<'_>) -> kiln::Result<()> {
        self.0.push(("begin", epoch));
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, _: &Logs, _: &mut Training<'_>) -> kiln::Result<()> {
        self.0.push(("end", epoch));
        Ok(())
    }
}

#[test]
fn initial_epoch_numbers_the_epochs_from_it_as_keras() {
    let c = case();
    let mut model = sparse_model();
    let mut epochs = Epochs::default();
    let history = model
        .fit_with(
            (&c.x, &c.y_int),
            options(3, 6).initial_epoch(1).callback(&mut epochs),
        )
        .unwrap();
    assert_matches_keras("initial_epoch", &mut model, &history);
    assert_eq!(
        epochs.0,
        [("begin", 1), ("end", 1), ("begin", 2), ("end", 2)]
    );
}

#[test]
fn evaluate_weighs_the_loss_but_not_the_metrics_and_predict_returns_an_array() {
    let c = case();
    let want = &expected()["evaluate_sample_weight"];
    let mut model = sparse_model();
    let w = Array1::from_vec(c.sample_weight.clone());
    let result = model.evaluate((&c.x, &c.y_int, &w), 4).unwrap();
    assert_close(
        "evaluate loss",
        &[result.loss],
        &floats(&want["loss"]),
        1e-5,
    );
    assert_close(
        "evaluate accuracy",
        &[result.metrics["accuracy"]],
        &floats(&want["accuracy"]),
        1e-6,
    );
    let predictions: ArrayD<f32> = model.predict(&c.x, 4).unwrap();
    assert_eq!(predictions.shape(), [6, 3]);
    let want = floats(&expected()["predict"]);
    assert_close("predict", predictions.as_slice().unwrap(), &want, 1e-5);
    // A view of a column-major array, and a tensor, give the same predictions.
    let transposed = c.x.t().to_owned();
    let fortran = transposed.t();
    let from_view = model
        .predict(&fortran, 6)
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap();
    assert_eq!(
        from_view,
        predictions.clone().into_dimensionality::<Ix2>().unwrap()
    );
    let tensor = Tensor::new([6, 4], c.x.iter().copied().collect()).unwrap();
    let from_tensor: Tensor = model.predict(&tensor, 6).unwrap();
    assert_eq!(from_tensor.data, predictions.into_raw_vec_and_offset().0);
}

#[test]
fn integer_labels_of_any_type_and_layout_give_the_same_loss() {
    let c = case();
    let mut model = sparse_model();
    let reference = model.evaluate((&c.x, &c.y_int), 6).unwrap().loss;
    let as_u8: Array1<u8> = c.y_int.mapv(|v| v as u8);
    let as_i32: Array1<i32> = c.y_int.mapv(|v| v as i32);
    let as_usize: Array1<usize> = c.y_int.mapv(|v| v as usize);
    let column: Array2<i64> = c.y_int.clone().insert_axis(Axis(1));
    let as_f32: Array1<f32> = c.y_int.mapv(|v| v as f32);
    for (what, loss) in [
        ("u8", model.evaluate((&c.x, &as_u8), 6).unwrap().loss),
        ("i32", model.evaluate((&c.x, &as_i32), 6).unwrap().loss),
        ("usize", model.evaluate((&c.x, &as_usize), 6).unwrap().loss),
        ("[n, 1]", model.evaluate((&c.x, &column), 6).unwrap().loss),
        ("f32", model.evaluate((&c.x, &as_f32), 6).unwrap().loss),
    ] {
        assert_eq!(loss, reference, "{what}");
    }
    let wrong = Array2::<i64>::zeros((6, 2));
    assert!(model.evaluate((&c.x, &wrong), 6).is_err());
    let short = Array1::<i64>::zeros(5);
    assert!(model.fit((&c.x, &short), 1, 2).is_err());
}

/// The fixture's examples as batches of 3 (in order), `times` times over.
fn batches(c: &Case, times: usize) -> Vec<Dataset> {
    let whole = Dataset::from_ndarray(&c.x, &c.y_int).unwrap();
    (0..times)
        .flat_map(|_| [0, 3])
        .map(|start| {
            let f = whole.features()[start * 4..(start + 3) * 4].to_vec();
            let l = whole.labels()[start..start + 3].to_vec();
            Dataset::new(f, &[3, 4], l, &[3]).unwrap()
        })
        .collect()
}

#[test]
fn a_background_generator_trains_like_the_same_batches_in_memory() {
    let c = case();
    let mut in_memory = sparse_model();
    let want = in_memory
        .fit_with(
            (&c.x, &c.y_int),
            options(2, 3).class_weight(c.class_weight.clone()),
        )
        .unwrap();
    let produced = batches(&c, 2);
    let generator = Generator::background(1, move || produced);
    let mut streamed = sparse_model();
    let got = streamed
        .fit_with(
            generator,
            options(2, 99)
                .steps_per_epoch(2)
                .class_weight(c.class_weight.clone()),
        )
        .unwrap();
    assert_eq!(got.get("loss"), want.get("loss"));
    assert_eq!(got.get("accuracy"), want.get("accuracy"));
    assert_eq!(streamed.weights().unwrap(), in_memory.weights().unwrap());
}

#[test]
fn steps_per_epoch_continue_through_the_data_and_a_generator_may_run_out() {
    let c = case();
    // In memory: 1 step of 3 per epoch walks through the data across epochs.
    let mut stepped = sparse_model();
    let h = stepped
        .fit_with((&c.x, &c.y_int), options(4, 3).steps_per_epoch(1))
        .unwrap();
    let mut streamed = sparse_model();
    let mut generator = Generator::new(batches(&c, 2));
    let g = streamed
        .fit_with(&mut generator, options(4, 3).steps_per_epoch(1))
        .unwrap();
    assert_eq!(h.get("loss"), g.get("loss"));
    assert_eq!(stepped.weights().unwrap(), streamed.weights().unwrap());
    // Three batches for 2 epochs of 2 steps: the second epoch has one step, then training
    // stops; History keeps both.
    let mut short = sparse_model();
    let three = Generator::new(batches(&c, 2).into_iter().take(3));
    let h = short
        .fit_with(three, options(5, 3).steps_per_epoch(2))
        .unwrap();
    assert_eq!(h.epoch, [0, 1]);
    // An empty generator, or one without steps_per_epoch, is an error.
    let mut empty = sparse_model();
    let none = Generator::new(Vec::<Dataset>::new());
    assert!(
        empty
            .fit_with(none, options(1, 3).steps_per_epoch(1))
            .is_err()
    );
    let err = empty
        .fit_with(Generator::new(batches(&c, 1)), options(1, 3))
        .unwrap_err();
    assert!(err.to_string().contains("steps_per_epoch"), "{err}");
    // A generator's batch of the wrong shape is an error naming it.
    let bad = Dataset::new(vec![0.0; 6], &[2, 3], vec![0.0; 2], &[2]).unwrap();
    let err = empty
        .fit_with(Generator::new([bad]), options(1, 3).steps_per_epoch(1))
        .unwrap_err();
    assert!(err.to_string().contains("generator batch"), "{err}");
}

#[test]
fn validation_from_a_generator_matches_evaluate() {
    let c = case();
    let mut model = sparse_model();
    let validation = Generator::background(0, {
        let b = batches(&c, 3);
        move || b
    });
    let history = model
        .fit_with(
            (&c.x, &c.y_int),
            options(3, 6)
                .validation_data(validation)
                .validation_steps(2),
        )
        .unwrap();
    let val_loss = history.get("val_loss").unwrap();
    assert_eq!(val_loss.len(), 3);
    let after = model.evaluate((&c.x, &c.y_int), 3).unwrap();
    assert!(
        (val_loss[2] - after.loss).abs() < 1e-6,
        "{val_loss:?} vs {}",
        after.loss
    );
    // Validation arrays that do not fit together fail `fit`, not the builder.
    let bad = Array1::<i64>::zeros(2);
    assert!(
        model
            .fit_with(
                (&c.x, &c.y_int),
                options(1, 6).validation_data((&c.x, &bad))
            )
            .is_err()
    );
}
