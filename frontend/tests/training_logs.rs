//! Seeing training: a `History` through JSON and back, the `CSVLogger` file (Keras' columns,
//! epochs, `NA` for missing validation, append), and the training-curve pictures (valid SVG
//! and PNG with the curves' colours in them) from `History::save_curves` and the
//! `TrainingCurves` callback.

use std::path::PathBuf;

use kiln::callbacks::CSVLogger;
#[cfg(feature = "plot")]
use kiln::callbacks::TrainingCurves;
use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::model::History;
use kiln::optimizers::Adam;
use kiln::prelude::*;

mod common;

use common::{relu_classifier, synthetic};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-logs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn classifier() -> Sequential {
    let mut model = relu_classifier(8, 5);
    model
        .compile(
            Adam::default().learning_rate(0.01),
            SoftmaxCrossEntropyWithLogits,
            [Accuracy],
        )
        .unwrap();
    model
}

#[test]
fn a_history_round_trips_through_json_with_non_finite_values_as_null() {
    let mut model = classifier();
    let history = model
        .fit_with(
            &synthetic(32, 1),
            FitOptions::new(3, 8).verbose(0).validation_split(0.25),
        )
        .unwrap();
    let json = history.to_json();
    assert_eq!(History::from_json(&json).unwrap(), history);
    let path = scratch("json").join("history.json");
    history.save_json(&path).unwrap();
    assert_eq!(History::load_json(&path).unwrap(), history);
    let keys: Vec<&String> = history.history.keys().collect();
    assert_eq!(keys, ["accuracy", "loss", "val_accuracy", "val_loss"]);

    let mut diverged = History::default();
    diverged
        .history
        .insert("loss".into(), vec![1.0, f32::NAN, f32::INFINITY]);
    diverged.epoch_seconds = vec![0.5, 0.5, 0.5];
    diverged.epoch = vec![4, 5, 6];
    let json = diverged.to_json();
    assert_eq!(
        json,
        r#"{"history":{"loss":[1.0,null,null]},"epoch_seconds":[0.5,0.5,0.5],"epoch":[4,5,6]}"#
    );
    let back = History::from_json(&json).unwrap();
    assert!(back.history["loss"][1].is_nan() && back.history["loss"][2].is_nan());
    // Files written before `epoch` was recorded read with an empty one.
    let older = History::from_json(r#"{"history":{},"epoch_seconds":[]}"#).unwrap();
    assert_eq!(older, History::default());
    assert!(
        History::from_json("{\"history\": 3}")
            .unwrap_err()
            .to_string()
            .contains("History")
    );
}

#[test]
fn csv_logger_writes_keras_columns_one_row_per_epoch() {
    let path = scratch("csv").join("training.log");
    let mut model = classifier();
    let options = FitOptions::new(3, 8)
        .verbose(0)
        .validation_split(0.25)
        .callback(CSVLogger::new(&path));
    let history = model.fit_with(&synthetic(32, 2), options).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 4, "{text:?}");
    assert_eq!(lines[0], "epoch,accuracy,loss,val_accuracy,val_loss");
    for (epoch, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], epoch.to_string());
        for (key, field) in ["accuracy", "loss", "val_accuracy", "val_loss"]
            .iter()
            .zip(&fields[1..])
        {
            assert_eq!(
                field.parse::<f32>().unwrap(),
                history.history[*key][epoch],
                "{key}"
            );
        }
    }
    // Appending: more rows, no second header; a separator of choice.
    let options = FitOptions::new(1, 8)
        .verbose(0)
        .validation_split(0.25)
        .callback(CSVLogger::new(&path).append(true));
    model.fit_with(&synthetic(32, 2), options).unwrap();
    let appended = std::fs::read_to_string(&path).unwrap();
    assert!(appended.starts_with(&text));
    assert_eq!(appended.matches("epoch").count(), 1);
    assert!(appended[text.len()..].starts_with("0,"));
}

#[test]
fn csv_logger_without_validation_adds_val_columns_of_na() {
    let path = scratch("csv-na").join("log.tsv");
    let mut model = classifier();
    let options = FitOptions::new(2, 8)
        .verbose(0)
        .callback(CSVLogger::new(&path).separator(b'\t'));
    model.fit_with(&synthetic(16, 3), options).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines[0], "epoch\taccuracy\tloss\tval_accuracy\tval_loss");
    assert!(
        lines[1].starts_with("0\t") && lines[1].ends_with("\tNA\tNA"),
        "{}",
        lines[1]
    );
    assert_eq!(lines.len(), 3);
}

/// Counts pixels of a PNG near `rgb`.
#[cfg(feature = "plot")]
fn count_colour(png: &image::RgbImage, rgb: [u8; 3]) -> usize {
    png.pixels()
        .filter(|p| p.0.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) < 8))
        .count()
}

#[cfg(feature = "plot")]
#[test]
fn curves_are_drawn_to_svg_and_png_with_a_panel_per_quantity() {
    let dir = scratch("curves");
    let mut model = classifier();
    let callback = TrainingCurves::new([dir.join("live.svg"), dir.join("live.png")]);
    let options = FitOptions::new(4, 8)
        .verbose(0)
        .validation_split(0.25)
        .callback(callback);
    let history = model.fit_with(&synthetic(32, 4), options).unwrap();
    history.save_curves(dir.join("curves.svg")).unwrap();
    history.save_curves(dir.join("curves.png")).unwrap();
    for name in ["curves", "live"] {
        let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| {
                t.split_once('>')?
                    .1
                    .split_once('<')
                    .map(|(text, _)| text.trim())
            })
            .collect();
        for text in ["loss", "accuracy", "training", "validation", "epoch"] {
            assert!(texts.contains(&text), "{name}.svg lacks {text}: {texts:?}");
        }
        assert!(
            svg.matches("<polyline").count() >= 4,
            "two curves in each of two panels"
        );
        let png = std::fs::read(dir.join(format!("{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let png = image::load_from_memory(&png).unwrap().into_rgb8();
        assert_eq!(png.dimensions(), (960, 340), "two panels side by side");
        assert!(
            count_colour(&png, [31, 119, 180]) > 200,
            "training curves in blue"
        );
        assert!(
            count_colour(&png, [255, 127, 14]) > 200,
            "validation curves in orange"
        );
        assert!(count_colour(&png, [0, 0, 0]) > 500, "black text and axes");
    }
    let error = history
        .save_curves(dir.join("curves.jpg"))
        .unwrap_err()
        .to_string();
    assert!(error.contains(".svg or .png"), "{error}");
}

#[cfg(feature = "plot")]
#[test]
fn curves_of_one_epoch_and_gaps_still_draw() {
    let series = std::collections::BTreeMap::from([
        ("loss".to_string(), vec![0.7]),
        ("mae".to_string(), vec![f32::NAN, 0.3, 0.2]),
    ]);
    let png = kiln::plot::training_curves_png(&series).unwrap();
    let png = image::load_from_memory(&png).unwrap().into_rgb8();
    assert!(count_colour(&png, [31, 119, 180]) > 20);
    assert!(kiln::plot::training_curves_svg(&Default::default()).is_err());
}
