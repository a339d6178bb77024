//! The command line of `peer_workloads`: which workloads (`--workloads w1,w2`, as the peers'
//! `WORKLOADS`), the tag and output file, the short `--quick` mode, W1's epoch count, and the
//! internal `--w4-child` role. Parsing only: it runs nothing and touches no file.

use std::path::{Path, PathBuf};

/// One of the peer workloads (`../shared/peers/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    /// The seed MLP, trained ten epochs.
    W1,
    /// The small CNN, 100 training steps per epoch.
    W2,
    /// VGG16 inference at batch 1 and 8.
    W3,
    /// The first W1 training step of a fresh process minus a steady one.
    W4,
}

impl Workload {
    /// Every workload, in order.
    pub const ALL: [Workload; 4] = [Workload::W1, Workload::W2, Workload::W3, Workload::W4];

    /// The lower-case name the flags and the JSON sections use (`"w1"`).
    pub fn key(self) -> &'static str {
        match self {
            Workload::W1 => "w1",
            Workload::W2 => "w2",
            Workload::W3 => "w3",
            Workload::W4 => "w4",
        }
    }

    fn parse(name: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.key().eq_ignore_ascii_case(name.trim()))
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The workloads to run, in order, each once.
    pub workloads: Vec<Workload>,
    /// The run's tag: the file is `kiln-<tag>.json` unless `--out` names one.
    pub tag: String,
    /// Where the JSON goes.
    pub out: PathBuf,
    /// The peers' `--quick`: fewer epochs and repetitions (a smoke run, not a measurement).
    pub quick: bool,
    /// W1's epochs (10; 2 with `--quick`). The metric needs epochs 2-4.
    pub w1_epochs: usize,
    /// Run as W4's fresh child process: time the first W1 steps, print one JSON line.
    pub w4_child: bool,
    /// Print the usage and exit.
    pub help: bool,
}

/// A command line that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// A name in `--workloads` is not one of w1..w4.
    #[error("unknown workload `{0}` in --workloads (expected w1, w2, w3, w4, comma-separated)")]
    UnknownWorkload(String),
    /// A flag that takes a value came last.
    #[error("{0} needs a value")]
    MissingValue(&'static str),
    /// An argument this program does not know.
    #[error("unknown argument `{0}` (see --help)")]
    Unknown(String),
    /// `--w1-epochs` is not a whole number of at least 2.
    #[error("--w1-epochs `{0}`: W1's metric (median of epochs 2-4) needs a whole number >= 2")]
    BadEpochs(String),
    /// A tag that cannot be part of a file name.
    #[error("--tag `{0}` must be non-empty and contain no `/`")]
    BadTag(String),
}

/// The usage text of `--help`.
pub const USAGE: &str = "\
Kiln's side of the peer benchmarks W1-W4 (../shared/peers/README.md).

usage: peer_workloads [--workloads w1,w2,w3,w4] [--tag TAG] [--out FILE] [--quick]
                      [--w1-epochs N]

  --workloads LIST  which workloads to run (default: all four)
  --tag TAG         run tag (default run1); the file is kiln-TAG.json in
                    $ANCHORS_RESULTS_DIR or ./peer-results, as the peers write theirs
  --out FILE        write the JSON here instead
  --quick           the peers' smoke mode: 2 W1 epochs, 1 timed W2 epoch, 2+1 W3 calls
  --w1-epochs N     W1 epochs (default 10; the metric uses epochs 2-4)

Kiln uses every core the process may run on: on a machine with more than 2, run it
under `taskset -c 0,1` to match the peers' 2 threads.";

/// How many epochs and calls each workload times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reps {
    /// W1's epochs (one `fit` call each).
    pub w1_epochs: usize,
    /// W2's timed epochs of 100 steps, after one warm-up epoch.
    pub w2_timed_epochs: usize,
    /// W3's timed batch-1 calls, after the warm-up calls.
    pub w3_b1_calls: usize,
    /// W3's timed batch-8 calls.
    pub w3_b8_calls: usize,
}

impl Args {
    /// The repetitions of the peers' README (W2: 5 timed epochs; W3: 10 batch-1 calls and 3
    /// batch-8 calls), or of their `--quick` mode.
    pub fn reps(&self) -> Reps {
        Reps {
            w1_epochs: self.w1_epochs,
            w2_timed_epochs: if self.quick { 1 } else { 5 },
            w3_b1_calls: if self.quick { 2 } else { 10 },
            w3_b8_calls: if self.quick { 1 } else { 3 },
        }
    }
}

/// The tag when `--tag` is not given (the peers' default).
const DEFAULT_TAG: &str = "run1";
/// W1's epochs by default, as the peers.
const W1_EPOCHS: usize = 10;
/// W1's epochs with `--quick`, as the peers.
const W1_QUICK_EPOCHS: usize = 2;

/// Parse the arguments after the program name. `results_dir` is where the JSON goes
/// unless `--out` names a file (the caller passes `$ANCHORS_RESULTS_DIR` or `peer-results`).
pub fn parse(
    args: impl IntoIterator<Item = String>,
    results_dir: &Path,
) -> Result<Args, ArgsError> {
    let mut workloads = Workload::ALL.to_vec();
    let (mut tag, mut out, mut epochs) = (DEFAULT_TAG.to_string(), None, None);
    let (mut quick, mut w4_child, mut help) = (false, false, false);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // `--flag=value` and `--flag value` both work, as with the peers' argparse.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &'static str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(ArgsError::MissingValue(name))
        };
        match flag.as_str() {
            "--workloads" => workloads = parse_workloads(&value("--workloads")?)?,
            "--tag" => tag = value("--tag")?,
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--w1-epochs" => epochs = Some(parse_epochs(&value("--w1-epochs")?)?),
            "--quick" => quick = true,
            "--w4-child" => w4_child = true,
            "-h" | "--help" => help = true,
            _ => return Err(ArgsError::Unknown(arg)),
        }
    }
    if tag.is_empty() || tag.contains('/') {
        return Err(ArgsError::BadTag(tag));
    }
    let default_epochs = if quick { W1_QUICK_EPOCHS } else { W1_EPOCHS };
    Ok(Args {
        workloads,
        out: out.unwrap_or_else(|| results_dir.join(format!("kiln-{tag}.json"))),
        tag,
        quick,
        w1_epochs: epochs.unwrap_or(default_epochs),
        w4_child,
        help,
    })
}

/// `w1,w3` → [W1, W3], sorted and without repeats.
fn parse_workloads(list: &str) -> Result<Vec<Workload>, ArgsError> {
    let mut workloads = list
        .split(',')
        .filter(|name| !name.trim().is_empty())
        .map(|name| Workload::parse(name).ok_or_else(|| ArgsError::UnknownWorkload(name.into())))
        .collect::<Result<Vec<_>, _>>()?;
    workloads.sort();
    workloads.dedup();
    Ok(workloads)
}

fn parse_epochs(text: &str) -> Result<usize, ArgsError> {
    match text.parse::<usize>() {
        Ok(n) if n >= 2 => Ok(n),
        _ => Err(ArgsError::BadEpochs(text.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Args, ArgsError> {
        parse(
            line.split_whitespace().map(String::from),
            Path::new("peer-results"),
        )
    }

    #[test]
    fn defaults_run_everything_into_the_peers_results_folder() {
        let args = parse_line("").unwrap();
        assert_eq!(args.workloads, Workload::ALL);
        assert_eq!(args.tag, "run1");
        assert_eq!(args.out, Path::new("peer-results/kiln-run1.json"));
        assert_eq!(args.w1_epochs, 10);
        assert!(!args.quick && !args.w4_child && !args.help);
    }

    #[test]
    fn workloads_tag_and_out_are_read_in_both_spellings() {
        let args = parse_line("--workloads w3,W1,w3 --tag=ab2").unwrap();
        assert_eq!(args.workloads, [Workload::W1, Workload::W3]);
        assert_eq!(args.out, Path::new("peer-results/kiln-ab2.json"));
        let args = parse_line("--out /tmp/x.json --tag t --workloads=w4").unwrap();
        assert_eq!(args.out, Path::new("/tmp/x.json"));
        assert_eq!(args.workloads, [Workload::W4]);
    }

    #[test]
    fn quick_shortens_w1_unless_the_epochs_are_given() {
        assert_eq!(parse_line("--quick").unwrap().w1_epochs, 2);
        assert_eq!(parse_line("--quick --w1-epochs 4").unwrap().w1_epochs, 4);
        assert!(parse_line("--w4-child").unwrap().w4_child);
    }

    #[test]
    fn bad_command_lines_are_errors_that_name_the_fault() {
        assert_eq!(
            parse_line("--workloads w1,w5"),
            Err(ArgsError::UnknownWorkload("w5".into()))
        );
        assert_eq!(parse_line("--tag"), Err(ArgsError::MissingValue("--tag")));
        assert_eq!(
            parse_line("--tag a/b"),
            Err(ArgsError::BadTag("a/b".into()))
        );
        assert_eq!(
            parse_line("--w1-epochs 1"),
            Err(ArgsError::BadEpochs("1".into()))
        );
        assert_eq!(
            parse_line("--fast"),
            Err(ArgsError::Unknown("--fast".into()))
        );
    }
}
