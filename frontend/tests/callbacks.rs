//! Training callbacks on a tiny model and synthetic data: hook order and logs, stopping
//! from a batch or an epoch, EarlyStopping (stop epoch checked against a plain reference,
//! best weights restored bit-exactly), TerminateOnNaN, ReduceLROnPlateau (the learning-rate
//! param read back and used by the compiled step), and the verbose modes.

use std::collections::BTreeMap;

use ir::Tensor;
use kiln::callbacks::{
    EarlyStopping, Logs, Mode, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN, Training,
};
use kiln::losses::{MeanSquaredError, SoftmaxCrossEntropyWithLogits};
use kiln::metrics::Accuracy;
use kiln::optimizers::{Adam, SGD};
use kiln::prelude::*;

mod common;

use common::{relu_classifier, synthetic};

fn model() -> Sequential {
    relu_classifier(8, 5)
}

fn classifier(learning_rate: f32) -> Sequential {
    let mut m = model();
    m.compile(
        Adam::default().learning_rate(learning_rate),
        SoftmaxCrossEntropyWithLogits,
        [Accuracy],
    )
    .unwrap();
    m
}

fn sgd_classifier(learning_rate: f32) -> Sequential {
    let mut m = model();
    m.compile(
        SGD::default().learning_rate(learning_rate),
        SoftmaxCrossEntropyWithLogits,
        [Accuracy],
    )
    .unwrap();
    m
}

/// Every weight as raw bits, for bit-exact comparisons.
fn bits(weights: &BTreeMap<String, Tensor>) -> BTreeMap<String, Vec<u32>> {
    weights
        .iter()
        .map(|(k, t)| (k.clone(), t.data.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

/// Records every hook call, the logs it saw, and (optionally) the weights and learning
/// rate at each epoch end.
#[derive(Default)]
struct Probe {
    events: Vec<String>,
    batch_logs: Vec<Logs>,
    epoch_logs: Vec<Logs>,
    weights: Vec<BTreeMap<String, Tensor>>,
    learning_rates: Vec<f32>,
    stop_after_batch: Option<(usize, usize)>,
}

impl Callback for Probe {
    fn on_train_begin(&mut self, _: &mut Training<'_>) -> Result<()> {
        self.events.push("train_begin".into());
        Ok(())
    }
    fn on_train_end(&mut self, _: &mut Training<'_>) -> Result<()> {
        self.events.push("train_end".into());
        Ok(())
    }
    fn on_epoch_begin(&mut self, epoch: usize, _: &mut Training<'_>) -> Result<()> {
        self.events.push(format!("epoch_begin {epoch}"));
        Ok(())
    }
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        self.events.push(format!("epoch_end {epoch}"));
        self.epoch_logs.push(logs.clone());
        self.weights.push(training.model_ref().layer_weights()?);
        self.learning_rates
            .push(training.model_ref().learning_rate()?);
        Ok(())
    }
    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        training: &mut Training<'_>,
    ) -> Result<()> {
        self.events.push(format!("batch_end {batch}"));
        self.batch_logs.push(logs.clone());
        if self.stop_after_batch == Some((self.epoch_logs.len(), batch)) {
            training.stop_training();
        }
        Ok(())
    }
}

#[test]
fn hooks_run_in_order_with_running_means_and_a_batch_can_stop_training() {
    let mut model = classifier(0.01);
    let mut probe = Probe::default();
    // 10 examples in batches of 4: batches of 4, 4 and 2.
    let data = synthetic(10, 1);
    let history = model
        .fit_with(&data, FitOptions::new(2, 4).verbose(0).callback(&mut probe))
        .unwrap();
    let epoch = |e: usize| {
        [
            format!("epoch_begin {e}"),
            "batch_end 0".into(),
            "batch_end 1".into(),
            "batch_end 2".into(),
            format!("epoch_end {e}"),
        ]
    };
    let mut want = vec!["train_begin".to_string()];
    want.extend(epoch(0));
    want.extend(epoch(1));
    want.push("train_end".into());
    assert_eq!(probe.events, want);
    // After the last batch the running means are the epoch's values.
    for e in 0..2 {
        assert_eq!(probe.batch_logs[3 * e + 2], probe.epoch_logs[e]);
        assert_eq!(
            probe.epoch_logs[e].get("loss"),
            Some(history.get("loss").unwrap()[e])
        );
    }
    // The first batch's running mean is that batch's loss alone: recompute it.
    let mut replay = classifier(0.01);
    let mut first = Probe {
        stop_after_batch: Some((0, 0)),
        ..Probe::default()
    };
    let stopped = replay
        .fit_with(&data, FitOptions::new(5, 4).verbose(0).callback(&mut first))
        .unwrap();
    assert_eq!(
        stopped.epochs(),
        1,
        "stopping from a batch ends the epoch and training"
    );
    assert_eq!(first.batch_logs.len(), 1);
    assert_eq!(first.batch_logs[0], first.epoch_logs[0]);
    assert_eq!(first.batch_logs[0], probe.batch_logs[0]);
}

#[test]
fn a_callback_error_ends_fit_with_that_error() {
    struct Failing;
    impl Callback for Failing {
        fn on_epoch_end(
            &mut self,
            epoch: usize,
            _: &Logs,
            training: &mut Training<'_>,
        ) -> Result<()> {
            if epoch == 1 {
                return training.model().set_learning_rate(-1.0);
            }
            Ok(())
        }
    }
    let mut model = classifier(0.01);
    let err = model
        .fit_with(
            &synthetic(8, 1),
            FitOptions::new(4, 4).verbose(0).callback(Failing),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("learning_rate") && err.to_string().contains("-1"),
        "{err}"
    );
    assert_eq!(
        model.learning_rate().unwrap(),
        0.01,
        "the bad rate was not written"
    );
}

/// A plain reference of Keras' EarlyStopping (mode min): the epoch it stops at and the
/// best epoch, given the monitored series.
fn reference_early_stop(series: &[f32], min_delta: f32, patience: usize) -> (Option<usize>, usize) {
    let (mut best, mut best_epoch, mut wait) = (f32::INFINITY, 0, 0);
    for (epoch, &v) in series.iter().enumerate() {
        wait += 1;
        if v + min_delta < best {
            (best, best_epoch, wait) = (v, epoch, 0);
        } else if wait >= patience && epoch > 0 {
            return (Some(epoch), best_epoch);
        }
    }
    (None, best_epoch)
}

#[test]
fn early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights_bit_exactly() {
    let (train, validation) = (synthetic(48, 2), synthetic(32, 9));
    let mut model = classifier(0.05);
    let mut probe = Probe::default();
    let mut early = EarlyStopping::new()
        .monitor("val_loss")
        .min_delta(0.01)
        .patience(3)
        .restore_best_weights(true);
    let max_epochs = 80;
    let options = FitOptions::new(max_epochs, 8)
        .verbose(0)
        .validation_data(&validation)
        .callback(&mut probe)
        .callback(&mut early);
    let history = model.fit_with(&train, options).unwrap();
    let series = history.get("val_loss").unwrap();
    let (stop, best) = reference_early_stop(series, 0.01, 3);
    let stop = stop.expect("val_loss stops improving by 0.01 within the run");
    assert_eq!(history.epochs(), stop + 1, "val_loss {series:?}");
    assert!(history.epochs() < max_epochs);
    assert_eq!(early.stopped_epoch(), Some(stop));
    assert_eq!(early.best_epoch(), Some(best));
    assert_eq!(early.best(), Some(series[best]));
    assert!(stop >= best + 3);
    // The weights now are exactly those at the end of the best epoch, not the last one's.
    let restored = model.layer_weights().unwrap();
    assert_eq!(bits(&restored), bits(&probe.weights[best]));
    assert_ne!(bits(&restored), bits(&probe.weights[stop]));
    // And the compiled executables use them: evaluating reproduces that epoch's val_loss.
    assert_eq!(model.evaluate(&validation, 8).unwrap().loss, series[best]);
}

#[test]
fn early_stopping_without_improvement_stops_after_patience_epochs() {
    // In `max` mode a falling loss never improves after the first epoch.
    for patience in [0, 1, 3] {
        let mut model = classifier(0.01);
        let mut early = EarlyStopping::new()
            .monitor("loss")
            .mode(Mode::Max)
            .patience(patience);
        let history = model
            .fit_with(
                &synthetic(16, 3),
                FitOptions::new(20, 8).verbose(0).callback(&mut early),
            )
            .unwrap();
        let stop = patience.max(1);
        assert_eq!(history.epochs(), stop + 1, "patience {patience}");
        assert_eq!(
            (early.stopped_epoch(), early.best_epoch()),
            (Some(stop), Some(0))
        );
    }
    // Monitoring a value that is not logged is an error naming it.
    let mut model = classifier(0.01);
    let err = model
        .fit_with(
            &synthetic(16, 3),
            FitOptions::new(2, 8)
                .verbose(0)
                .callback(EarlyStopping::new()),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("`val_loss`")
            && err.to_string().contains("logged: loss, accuracy"),
        "{err}"
    );
}

#[test]
fn terminate_on_nan_stops_at_the_first_non_finite_loss() {
    // A squared error with a huge learning rate overflows within a few steps.
    let diverging = || {
        let mut m = model();
        m.compile(
            SGD::default().learning_rate(1e12),
            MeanSquaredError,
            [Accuracy],
        )
        .unwrap();
        m
    };
    let data = synthetic(64, 4);
    let mut probe = Probe::default();
    let history = diverging()
        .fit_with(
            &data,
            FitOptions::new(5, 4)
                .verbose(0)
                .callback(TerminateOnNaN)
                .callback(&mut probe),
        )
        .unwrap();
    let losses: Vec<f32> = probe
        .batch_logs
        .iter()
        .map(|l| l.get("loss").unwrap())
        .collect();
    let (last, before) = losses.split_last().unwrap();
    assert!(!last.is_finite(), "{losses:?}");
    assert!(
        before.iter().all(|l| l.is_finite()),
        "stopped at the first non-finite loss: {losses:?}"
    );
    assert!(
        losses.len() < 16,
        "it diverged within the first epoch of 16 batches: {losses:?}"
    );
    assert_eq!(history.epochs(), 1);
    assert!(!history.get("loss").unwrap()[0].is_finite());
    // Without the callback the same run goes on for every epoch.
    let unchecked = diverging()
        .fit_with(&data, FitOptions::new(5, 4).verbose(0))
        .unwrap();
    assert_eq!(unchecked.epochs(), 5);
}

#[test]
fn reduce_lr_on_plateau_lowers_the_learning_rate_param_after_patience() {
    // A 100 min_delta: only the first epoch counts as an improvement.
    let mut model = sgd_classifier(0.01);
    let mut reduce = ReduceLROnPlateau::new()
        .monitor("loss")
        .factor(0.5)
        .patience(2)
        .min_delta(100.0);
    let mut probe = Probe::default();
    let options = FitOptions::new(7, 8)
        .verbose(0)
        .callback(&mut reduce)
        .callback(&mut probe);
    model.fit_with(&synthetic(16, 5), options).unwrap();
    let lr = 0.01f32;
    let (half, quarter, eighth) = (lr * 0.5, lr * 0.25, lr * 0.125);
    assert_eq!(
        probe.learning_rates,
        [lr, lr, half, half, quarter, quarter, eighth]
    );
    assert_eq!(reduce.reductions(), [(2, half), (4, quarter), (6, eighth)]);
    assert_eq!(model.learning_rate().unwrap(), eighth);
}

#[test]
fn reduce_lr_on_plateau_honours_cooldown_and_min_lr() {
    let mut model = sgd_classifier(0.01);
    let mut reduce = ReduceLROnPlateau::new()
        .monitor("loss")
        .factor(0.5)
        .patience(1)
        .min_delta(100.0)
        .cooldown(2)
        .min_lr(0.004);
    let mut probe = Probe::default();
    model
        .fit_with(
            &synthetic(16, 5),
            FitOptions::new(6, 8)
                .verbose(0)
                .callback(&mut reduce)
                .callback(&mut probe),
        )
        .unwrap();
    // Reduced at epoch 1, cooled down at 2, reduced to the floor at 3, then held there.
    assert_eq!(
        probe.learning_rates,
        [0.01, 0.005, 0.005, 0.004, 0.004, 0.004]
    );
    assert_eq!(reduce.reductions(), [(1, 0.005), (3, 0.004)]);
    let err = model
        .fit_with(
            &synthetic(16, 5),
            FitOptions::new(1, 8)
                .verbose(0)
                .callback(ReduceLROnPlateau::new().factor(1.5)),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("factor") && err.to_string().contains("1.5"),
        "{err}"
    );
}

#[test]
fn the_learning_rate_param_drives_the_compiled_step_without_recompiling() {
    let data = synthetic(16, 6);
    let mut model = sgd_classifier(0.05);
    model
        .fit_with(&data, FitOptions::new(1, 8).verbose(0))
        .unwrap();
    model.set_learning_rate(0.0).unwrap();
    let before = model.layer_weights().unwrap();
    model
        .fit_with(&data, FitOptions::new(2, 8).verbose(0))
        .unwrap();
    assert_eq!(
        bits(&model.layer_weights().unwrap()),
        bits(&before),
        "a zero rate leaves SGD's weights alone"
    );
    model.set_learning_rate(0.05).unwrap();
    model
        .fit_with(&data, FitOptions::new(1, 8).verbose(0))
        .unwrap();
    assert_ne!(bits(&model.layer_weights().unwrap()), bits(&before));
    assert!(model.set_learning_rate(f32::NAN).is_err());
}

#[test]
fn set_weights_checks_names_and_shapes_and_writes_nothing_otherwise() {
    let mut model = classifier(0.01);
    let before = model.layer_weights().unwrap();
    let mut bad = BTreeMap::new();
    bad.insert("dense/bias".to_string(), Tensor::zeros([8]));
    bad.insert("dense/kernel".to_string(), Tensor::zeros([3, 3]));
    let err = model.set_weights(&bad).unwrap_err().to_string();
    assert!(
        err.contains("dense/kernel") && err.contains("[4, 8]") && err.contains("[3, 3]"),
        "{err}"
    );
    let unknown: BTreeMap<String, Tensor> =
        [("dense/gamma".to_string(), Tensor::zeros([8]))].into();
    assert!(
        model
            .set_weights(&unknown)
            .unwrap_err()
            .to_string()
            .contains("`dense/gamma`")
    );
    assert_eq!(bits(&model.layer_weights().unwrap()), bits(&before));
    bad.remove("dense/kernel");
    model.set_weights(&bad).unwrap();
    assert_eq!(model.weight("dense/bias").unwrap().data, vec![0.0; 8]);
}

#[test]
fn verbose_takes_keras_levels_and_every_mode_trains_the_same() {
    assert_eq!(FitOptions::new(1, 1).verbose, Verbosity::ProgressBar);
    assert_eq!(FitOptions::new(1, 1).verbose(0).verbose, Verbosity::Silent);
    assert_eq!(
        FitOptions::new(1, 1).verbose(2).verbose,
        Verbosity::EpochLine
    );
    assert_eq!(
        FitOptions::new(1, 1).verbose(true).verbose,
        Verbosity::ProgressBar
    );
    let data = synthetic(12, 7);
    let curves: Vec<Vec<f32>> = [0u8, 1, 2]
        .into_iter()
        .map(|level| {
            classifier(0.01)
                .fit_with(&data, FitOptions::new(2, 4).verbose(level))
                .unwrap()
                .get("loss")
                .unwrap()
                .to_vec()
        })
        .collect();
    assert!(curves.iter().all(|c| *c == curves[0]), "{curves:?}");
}

#[test]
fn model_checkpoint_saves_each_epoch_or_only_improvements_and_the_files_load() {
    let dir = std::env::temp_dir().join(format!("kiln-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (train, validation) = (synthetic(48, 2), synthetic(32, 9));

    let pattern = dir
        .join("every-{epoch}.kiln")
        .to_string_lossy()
        .into_owned();
    let mut every = ModelCheckpoint::new(pattern);
    let mut model = classifier(0.05);
    let options = FitOptions::new(3, 8)
        .verbose(0)
        .validation_data(&validation)
        .callback(&mut every);
    model.fit_with(&train, options).unwrap();
    let names: Vec<String> = every
        .saved()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["every-1.kiln", "every-2.kiln", "every-3.kiln"]);
    // The last checkpoint is the model as training left it.
    let reloaded = Sequential::load(&every.saved()[2]).unwrap();
    assert_eq!(
        bits(&reloaded.layer_weights().unwrap()),
        bits(&model.layer_weights().unwrap())
    );

    let pattern = dir.join("best-{epoch}.kiln").to_string_lossy().into_owned();
    let mut best = ModelCheckpoint::new(pattern)
        .monitor("val_loss")
        .save_best_only(true);
    let mut model = classifier(0.05);
    let options = FitOptions::new(12, 8)
        .verbose(0)
        .validation_data(&validation)
        .callback(&mut best);
    let history = model.fit_with(&train, options).unwrap();
    let series = history.get("val_loss").unwrap();
    let improving: Vec<usize> = (0..series.len())
        .filter(|&e| series[..e].iter().all(|&earlier| series[e] < earlier))
        .collect();
    let saved: Vec<std::path::PathBuf> = improving.iter().map(|&e| best.path_for(e)).collect();
    assert_eq!(best.saved(), &saved[..], "val_loss {series:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
