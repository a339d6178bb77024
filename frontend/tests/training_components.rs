//! The new training components in a compiled model: Keras names and configs round trip
//! (the training-config JSON, `save_keras`/`load_keras`, the Kiln file), a Keras-written
//! `.h5` compiled with AdamW + CosineDecay and stateful metrics loads compiled, a schedule
//! drives the rate inside the step and refuses to be set (Keras' rule, so ReduceLROnPlateau
//! fails clearly), and AdamW with a schedule trains alike on the CPU and the GPU.

use std::path::{Path, PathBuf};

use codegen_gpu::gpu_tests_enabled;
use kiln::callbacks::ReduceLROnPlateau;
use kiln::keras::{CompileStatus, KerasFile, load_model};
use kiln::losses::{self, Loss};
use kiln::metrics::{self, Metric};
use kiln::optimizers::{
    self, AdamW, CosineDecay, ExponentialDecay, InverseTimeDecay, LearningRateSchedule, Optimizer,
    PiecewiseConstantDecay,
};
use kiln::prelude::*;
use kiln::saving::{training_config_from_json, training_config_json};
use serde_json::{Value, json};

mod common;

use common::synthetic;

fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kiln-training-components-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn every_schedule() -> Vec<LearningRateSchedule> {
    vec![
        ExponentialDecay::new(0.1, 3.0, 0.9).staircase(true).into(),
        PiecewiseConstantDecay::new([2.0, 5.0], [0.1, 0.05, 0.01]).into(),
        CosineDecay::new(0.01, 100.0)
            .alpha(0.1)
            .warmup(0.02, 10.0)
            .into(),
        CosineDecay::new(0.01, 100.0).into(),
        InverseTimeDecay::new(0.1, 2.0, 0.5).into(),
    ]
}

#[test]
fn new_components_round_trip_through_the_training_config() {
    let mut all_optimizers: Vec<Box<dyn Optimizer>> = vec![
        Box::new(AdamW::new().weight_decay(0.01).amsgrad(true).clipnorm(1.0)),
        Box::new(
            optimizers::Ftrl::new()
                .learning_rate_power(-0.6)
                .l1_regularization_strength(0.1)
                .beta(0.2),
        ),
    ];
    for schedule in every_schedule() {
        all_optimizers.push(Box::new(AdamW::new().learning_rate(schedule.clone())));
        all_optimizers.push(Box::new(optimizers::SGD::new().learning_rate(schedule)));
    }
    let all_losses: Vec<Box<dyn Loss>> = vec![
        Box::new(losses::MeanSquaredLogarithmicError),
        Box::new(losses::MeanAbsolutePercentageError),
        Box::new(losses::Hinge),
        Box::new(losses::SquaredHinge),
        Box::new(losses::KLDivergence),
        Box::new(losses::Poisson),
        Box::new(losses::LogCosh),
        Box::new(losses::CosineSimilarity),
        Box::new(losses::CategoricalCrossentropy::new().label_smoothing(0.1)),
        Box::new(
            losses::BinaryCrossentropy::new()
                .from_logits(true)
                .label_smoothing(0.2),
        ),
    ];
    let all_metrics: Vec<Box<dyn Metric>> = vec![
        Box::new(metrics::TopKCategoricalAccuracy::new().k(3)),
        Box::new(metrics::Precision::new().threshold(0.4)),
        Box::new(metrics::Recall::new()),
        Box::new(metrics::AUC::new().num_thresholds(50)),
        Box::new(metrics::MeanSquaredLogarithmicError),
        Box::new(metrics::MeanAbsolutePercentageError),
    ];
    for optimizer in &all_optimizers {
        for loss in &all_losses {
            let json =
                training_config_json(optimizer.as_ref(), loss.as_ref(), &all_metrics).unwrap();
            let text = json.to_string();
            let parsed = training_config_from_json(&serde_json::from_str(&text).unwrap()).unwrap();
            assert_eq!(format!("{:?}", parsed.optimizer), format!("{optimizer:?}"));
            assert_eq!(format!("{:?}", parsed.loss), format!("{loss:?}"));
            assert_eq!(format!("{:?}", parsed.metrics), format!("{all_metrics:?}"));
            let again = training_config_json(
                parsed.optimizer.as_ref(),
                parsed.loss.as_ref(),
                &parsed.metrics,
            )
            .unwrap();
            assert_eq!(again, json);
        }
    }
}

#[test]
fn keras_string_names_and_unsupported_options() {
    let read = |loss: Value, metrics: Value| {
        training_config_from_json(&json!({
            "optimizer_config": {"class_name": "Ftrl", "config": {}},
            "loss": loss,
            "metrics": metrics,
        }))
    };
    let names = [
        ("msle", "mean_squared_logarithmic_error"),
        ("mape", "mean_absolute_percentage_error"),
        ("kld", "kl_divergence"),
        ("kl_divergence", "kl_divergence"),
        ("log_cosh", "log_cosh"),
        ("logcosh", "log_cosh"),
        ("hinge", "hinge"),
        ("squared_hinge", "squared_hinge"),
        ("poisson", "poisson"),
        ("cosine_similarity", "cosine_similarity"),
    ];
    for (given, name) in names {
        let parsed = read(json!(given), json!(["AUC", "Precision", "msle", "mape"])).unwrap();
        assert_eq!(parsed.loss.name(), name);
        let metric_names: Vec<&str> = parsed.metrics.iter().map(|m| m.name()).collect();
        assert_eq!(metric_names, ["auc", "precision", "msle", "mape"]);
    }
    let roc_only = json!([{"class_name": "AUC", "config": {"curve": "PR"}}]);
    let err = read(json!("hinge"), roc_only).unwrap_err();
    assert!(err.to_string().contains("curve"), "{err}");
    let top_k = json!([{"class_name": "Precision", "config": {"top_k": 2}}]);
    let err = read(json!("hinge"), top_k).unwrap_err();
    assert!(err.to_string().contains("top_k"), "{err}");
    let schedule = json!({"class_name": "Adam", "config": {"learning_rate":
        {"class_name": "CosineDecayRestarts", "config": {}}}});
    let err = training_config_from_json(&json!({"optimizer_config": schedule, "loss": "mse"}))
        .unwrap_err();
    assert!(err.to_string().contains("CosineDecayRestarts"), "{err}");
    let decayed_adam = json!({"class_name": "Adam", "config": {"weight_decay": 0.1}});
    let err = training_config_from_json(&json!({"optimizer_config": decayed_adam, "loss": "mse"}))
        .unwrap_err();
    assert!(err.to_string().contains("weight_decay"), "{err}");
    let plain_adam = json!({"class_name": "Adam", "config": {"weight_decay": null}});
    training_config_from_json(&json!({"optimizer_config": plain_adam, "loss": "mse"})).unwrap();
}

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/training")
        .join(relative)
}

#[test]
fn a_keras_h5_compiled_with_adamw_and_a_schedule_loads_compiled() {
    let loaded = load_model(fixture("compiled.h5")).unwrap();
    assert_eq!(loaded.compile, CompileStatus::Compiled);
    let model = loaded.model;
    assert_eq!(
        model.metric_names(),
        ["auc", "precision", "recall", "msle", "mape"]
    );
    // CosineDecay(0.01, 100, alpha=0.1, warmup_target=0.02, warmup_steps=10) at step 0.
    assert_eq!(model.learning_rate().unwrap(), 0.01);
    let dir = scratch_dir("keras_h5");
    let path = dir.join("again.h5");
    model.save_keras(&path).unwrap();
    let written = KerasFile::read(&path).unwrap().training_config.unwrap();
    let original = KerasFile::read(fixture("compiled.h5"))
        .unwrap()
        .training_config
        .unwrap();
    let optimizer = &written["optimizer_config"]["config"];
    assert_eq!(written["optimizer_config"]["class_name"], json!("AdamW"));
    assert_eq!(optimizer["weight_decay"], json!(0.01));
    let rate = &optimizer["learning_rate"];
    assert_eq!(rate["class_name"], json!("CosineDecay"));
    let keras_rate = &original["optimizer_config"]["config"]["learning_rate"]["config"];
    for key in [
        "initial_learning_rate",
        "decay_steps",
        "alpha",
        "warmup_target",
        "warmup_steps",
    ] {
        assert_eq!(
            rate["config"][key].as_f64(),
            keras_rate[key].as_f64(),
            "{key}"
        );
    }
    assert_eq!(written["loss"]["config"]["label_smoothing"], json!(0.1));
    let _ = std::fs::remove_dir_all(dir);
}

/// A small classifier compiled with every kind of new component.
fn compiled_classifier() -> Sequential {
    let mut model = Sequential::of([
        Input::new([4]).into(),
        Dense::new(3).activation(Activation::Sigmoid).into(),
    ]);
    let schedule = CosineDecay::new(0.05, 20.0).alpha(0.1).warmup(0.1, 2.0);
    let metrics: Vec<Box<dyn Metric>> = vec![
        Box::new(metrics::Precision::new()),
        Box::new(metrics::AUC::new().num_thresholds(30)),
        Box::new(metrics::TopKCategoricalAccuracy::new().k(2)),
        Box::new(metrics::MeanAbsolutePercentageError),
    ];
    model
        .compile(
            AdamW::new().learning_rate(schedule).weight_decay(0.02),
            losses::BinaryCrossentropy::new().label_smoothing(0.1),
            metrics,
        )
        .unwrap();
    model
}

/// Binary labels for [`compiled_classifier`]: the synthetic one-hot labels' first three
/// classes.
fn binary_data() -> Dataset {
    let data = synthetic(12, 3);
    let classes = data.label_shape()[0];
    let labels: Vec<f32> = data
        .labels()
        .chunks(classes)
        .flat_map(|row| row[..3].to_vec())
        .collect();
    let features = data.feature_shape()[0];
    Dataset::new(
        data.features()[..12 * features].to_vec(),
        &[12, features],
        labels,
        &[12, 3],
    )
    .unwrap()
}

fn keras_training_config(model: &Model, dir: &Path, name: &str) -> Value {
    let path = dir.join(name);
    model.save_keras(&path).unwrap();
    KerasFile::read(&path).unwrap().training_config.unwrap()
}

#[test]
fn a_compiled_model_round_trips_through_save_keras_and_the_kiln_file() {
    let dir = scratch_dir("round_trip");
    let mut model = compiled_classifier();
    let data = binary_data();
    let history = model
        .fit_with(&data, FitOptions::new(1, 4).shuffle(false).verbose(0))
        .unwrap();
    assert!(history.get("auc").is_some());
    let config = keras_training_config(&model, &dir, "first.h5");
    let from_h5 = Model::load_keras(dir.join("first.h5")).unwrap();
    assert_eq!(keras_training_config(&from_h5, &dir, "second.h5"), config);
    model.save(dir.join("model.kiln")).unwrap();
    let from_kiln = Sequential::load(dir.join("model.kiln")).unwrap();
    assert_eq!(keras_training_config(&from_kiln, &dir, "third.h5"), config);
    // The Kiln file keeps the step counter, so the schedule continues where it was.
    assert_eq!(
        from_kiln.learning_rate().unwrap(),
        model.learning_rate().unwrap()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_schedule_sets_the_rate_of_each_step_and_cannot_be_set() {
    let schedule = ExponentialDecay::new(0.1, 1.0, 0.5);
    let mut model = Sequential::of([Input::new([4]).into(), Dense::new(3).into()]);
    model
        .compile(
            optimizers::SGD::new().learning_rate(schedule.clone()),
            losses::MeanSquaredError,
            [] as [metrics::Accuracy; 0],
        )
        .unwrap();
    assert_eq!(model.learning_rate().unwrap(), 0.1);
    let data = binary_data();
    model
        .fit_with(&data, FitOptions::new(1, 4).shuffle(false).verbose(0))
        .unwrap();
    // Three steps taken: the next one uses 0.1·0.5³.
    assert_eq!(model.learning_rate().unwrap(), 0.0125);
    let err = model.set_learning_rate(0.5).unwrap_err().to_string();
    assert!(
        err.contains("ExponentialDecay") && err.contains("cannot be set"),
        "{err}"
    );
    let plateau = ReduceLROnPlateau::new()
        .monitor("loss")
        .patience(0)
        .min_delta(1e9);
    let err = model
        .fit_with(&data, FitOptions::new(2, 4).verbose(0).callback(plateau))
        .unwrap_err()
        .to_string();
    assert!(err.contains("schedule"), "{err}");
}

#[test]
fn adamw_with_a_schedule_trains_alike_on_cpu_and_gpu() {
    if !gpu_tests_enabled() {
        return;
    }
    let data = binary_data();
    let train = |device: Device| {
        let mut model = Sequential::of([
            Input::new([4]).into(),
            Dense::new(5).activation(Activation::Tanh).into(),
            Dense::new(3).activation(Activation::Sigmoid).into(),
        ]);
        let schedule = CosineDecay::new(0.05, 4.0).alpha(0.1).warmup(0.1, 1.0);
        model
            .compile_on(
                device,
                AdamW::new().learning_rate(schedule).weight_decay(0.05),
                losses::BinaryCrossentropy::new().label_smoothing(0.1),
                [metrics::AUC::new()],
            )
            .unwrap();
        let history = model
            .fit_with(&data, FitOptions::new(2, 4).shuffle(false).verbose(0))
            .unwrap();
        (model.weights().unwrap(), history)
    };
    let (cpu, cpu_history) = train(Device::Cpu);
    let (gpu, gpu_history) = train(Device::Gpu);
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-3 * 1f32.max(a.abs());
    for (name, want) in &cpu {
        for (i, (&g, &w)) in gpu[name].data.iter().zip(&want.data).enumerate() {
            assert!(close(g, w), "{name}[{i}]: GPU {g}, CPU {w}");
        }
    }
    for key in ["loss", "auc"] {
        let (c, g) = (cpu_history.get(key).unwrap(), gpu_history.get(key).unwrap());
        for (a, b) in c.iter().zip(g) {
            assert!(close(*a, *b), "{key}: GPU {b}, CPU {a}");
        }
    }
}

#[test]
fn new_optimizers_metrics_and_losses_have_keras_defaults() {
    let adamw = AdamW::new();
    assert_eq!(
        (
            adamw.learning_rate.clone(),
            adamw.weight_decay,
            adamw.beta_1
        ),
        (0.001.into(), 0.004, 0.9)
    );
    assert_eq!(
        (adamw.beta_2, adamw.epsilon, adamw.amsgrad),
        (0.999, 1e-7, false)
    );
    let ftrl = optimizers::Ftrl::new();
    assert_eq!(
        (
            ftrl.learning_rate.clone(),
            ftrl.learning_rate_power,
            ftrl.initial_accumulator_value
        ),
        (0.001.into(), -0.5, 0.1)
    );
    assert_eq!(
        (
            ftrl.l1_regularization_strength,
            ftrl.l2_regularization_strength,
            ftrl.l2_shrinkage_regularization_strength,
            ftrl.beta
        ),
        (0.0, 0.0, 0.0, 0.0)
    );
    assert_eq!((adamw.name(), ftrl.name()), ("AdamW", "Ftrl"));
    assert_eq!(metrics::TopKCategoricalAccuracy::new().k, 5);
    assert_eq!(metrics::Precision::new().threshold, 0.5);
    assert_eq!(metrics::Recall::new().threshold, 0.5);
    assert_eq!(metrics::AUC::new().num_thresholds, 200);
    assert_eq!(losses::CategoricalCrossentropy::new().label_smoothing, 0.0);
    assert_eq!(losses::BinaryCrossentropy::new().label_smoothing, 0.0);
}
