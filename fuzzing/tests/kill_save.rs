//! Kill during save: a child process (this test binary re-executed with `KILN_FUZZ_SAVE_TO`
//! set) saves a compiled model to one path over and over; the parent kills it with SIGKILL
//! at random moments, [`KILLS`] times. After every kill the path holds nothing (killed
//! before the first save finished) or a complete model: `Model::load` reads it and its bytes
//! are those of every other complete save (the model never changes). Temp files the killed
//! saves leave behind never take the model's name, and are never what `Model::load` reads.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kiln::losses::SoftmaxCrossEntropyWithLogits;
use kiln::metrics::Accuracy;
use kiln::optimizers::Adam;
use kiln::prelude::*;
use kiln_fuzz::mutate::Rng;

/// Kills of the saving child.
const KILLS: usize = 30;
/// The variable that makes this test the saving child; its value is the path to save to.
const CHILD: &str = "KILN_FUZZ_SAVE_TO";
/// The file name the child saves to.
const NAME: &str = "model.kiln";

/// A compiled model of about 70,000 parameters (with Adam's state about 850 KB on disk).
fn model() -> Sequential {
    let mut model = Sequential::of([
        Input::new([64]).into(),
        Dense::new(256).activation(Activation::Relu).into(),
        Dense::new(10).into(),
    ])
    .named("saved")
    .with_seed(5);
    model
        .compile(Adam::default(), SoftmaxCrossEntropyWithLogits, [Accuracy])
        .expect("compile");
    model
}

/// The child: saves to `path` until killed.
fn save_forever(path: &Path) -> ! {
    let mut model = model();
    loop {
        model.save(path).expect("save");
    }
}

/// The files in `dir` other than the model.
fn others(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != NAME)
        .collect();
    names.sort();
    names
}

#[test]
fn a_save_killed_at_any_moment_leaves_nothing_or_a_complete_model() {
    if let Some(path) = std::env::var_os(CHILD) {
        save_forever(Path::new(&path));
    }
    let dir = std::env::temp_dir().join(format!("kiln-fuzz-kill-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(NAME);
    let mut rng = Rng::new(2026);
    let mut complete: Option<Vec<u8>> = None;
    let mut seen_file = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "a_save_killed_at_any_moment_leaves_nothing_or_a_complete_model",
                "--exact",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the saving child");
        std::thread::sleep(Duration::from_millis(20 + rng.below(400) as u64));
        child.kill().expect("SIGKILL the child");
        child.wait().unwrap();
        for other in others(&dir) {
            assert!(
                kiln::atomic_file::is_temp_file_name(&other).is_some()
                    && other.starts_with(&format!(".{NAME}.")),
                "kill {kill}: unexpected file {other} beside the model"
            );
        }
        let Ok(bytes) = std::fs::read(&path) else {
            assert!(complete.is_none(), "kill {kill}: a saved model disappeared");
            continue;
        };
        seen_file += 1;
        if let Err(e) = Model::load(&path) {
            panic!("kill {kill}: the model file does not load: {e}");
        }
        match &complete {
            Some(first) => assert!(
                *first == bytes,
                "kill {kill}: the file differs from a complete save"
            ),
            None => complete = Some(bytes),
        }
    }
    let left_over = others(&dir).len();
    eprintln!(
        "{KILLS} kills: the model file existed after {seen_file}; {left_over} temp files left over"
    );
    // Each save removes the temp files of dead processes, so at most the last kill's remains.
    assert!(
        left_over <= 1,
        "stale temp files were not cleaned up: {left_over}"
    );
    assert!(seen_file > 0, "no save ever completed: kill later");
    let _ = std::fs::remove_dir_all(&dir);
}
