//! The `kiln` command-line tool: inspect, run and convert saved models.
//!
//! - `kiln summary <model>` prints the model's summary;
//! - `kiln predict --model <file> --input <in.json> --output <out.json>` runs the model on a
//!   tensor file ([`kiln::tensor_file`]) and writes the predictions as one (`--input` once
//!   per model input, `--output` once per model output, in the model's order);
//! - `kiln convert <in> <out>` rewrites a model in another format: a Keras 3 `.keras`
//!   archive, a Keras `.h5` file or a Kiln model file, as the output's extension says
//!   (`.keras`, `.h5`/`.hdf5`, anything else);
//! - `kiln compile <model> -o <dir>` compiles a model ahead of time into an object file, a C
//!   header and (for the host) the runtime library to link with ([`kiln::aot`]).
//!
//! A model file is recognised by its content, never its extension: a zip with
//! `config.json` (Keras 3 `.keras`), HDF5 (Keras `.h5`), `KILN` (Kiln's own format) or a
//! JSON object (a Keras `model.to_json()` config, with `--weights` for its weights); see
//! [`kiln_cli::model_files`]. Errors go to stderr and the exit status is 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kiln::aot::{AotCompileOptions, AotEntries, WeightStorage, compile_with_report};
use kiln::tensor_file::{Encoding, read_tensor, write_tensor};

use kiln_cli::model_files::{load_model, save_model};

/// Inspect, run, convert and compile Kiln and Keras (.keras, .h5, JSON config) models.
#[derive(Debug, Parser)]
#[command(name = "kiln", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--weights` of `summary`, `predict` and `convert` (`--model-weights` everywhere,
/// `compile` included, whose `--weights` says where compiled weights go).
#[derive(Debug, clap::Args)]
struct ModelWeights {
    /// Weights for the model: a Keras 3 `.weights.h5` or a Keras 2 `.h5` file (for a JSON
    /// model config, which holds none; with another model file they replace its weights).
    #[arg(long = "weights", visible_alias = "model-weights")]
    file: Option<PathBuf>,
}

/// `--model-weights` of `compile`.
#[derive(Debug, clap::Args)]
struct CompileModelWeights {
    /// Weights for the model: a Keras 3 `.weights.h5` or a Keras 2 `.h5` file (for a JSON
    /// model config, which holds none; with another model file they replace its weights).
    #[arg(long = "model-weights")]
    file: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print a model's summary (layers, output shapes, parameter counts).
    Summary {
        /// A model file: Keras .keras, Keras .h5, Kiln, or a Keras JSON config.
        model: PathBuf,
        #[command(flatten)]
        weights: ModelWeights,
    },
    /// Run a model on a tensor file and write its predictions as a tensor file.
    Predict {
        /// A model file: Keras .keras, Keras .h5, Kiln, or a Keras JSON config.
        #[arg(long)]
        model: PathBuf,
        /// The input batch: a tensor JSON file (`{"dtype", "shape", "data" | "file"}`);
        /// repeated for a model with several inputs, in the model's input order.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Where to write the predictions (tensor JSON, values inline); repeated for a
        /// model with several outputs, in the model's output order.
        #[arg(long, required = true)]
        output: Vec<PathBuf>,
        /// Examples per forward pass.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[command(flatten)]
        weights: ModelWeights,
    },
    /// Convert a model between Keras .keras, Keras .h5 and Kiln model files.
    ///
    /// The output format follows the output's extension (`.keras` for a Keras 3 archive,
    /// `.h5`/`.hdf5` for Keras HDF5, anything else for Kiln).
    Convert {
        /// The model to read (any format, recognised by its content).
        input: PathBuf,
        /// The file to write.
        output: PathBuf,
        #[command(flatten)]
        weights: ModelWeights,
    },
    /// Compile a model ahead of time: `<name>.o`, `<name>.h` (the C API, shapes, link line),
    /// `<name>.weights` with external weights, and for the host `libkiln_cpu_runtime.a`.
    Compile {
        /// A model file: Keras .keras, Keras .h5, Kiln (a compiled one for the train
        /// entry), or a Keras JSON config.
        model: PathBuf,
        /// The output directory (created if needed).
        #[arg(short, long)]
        output: PathBuf,
        /// The entry points: `infer`, `train` (the training step) or `both`.
        #[arg(long, value_enum, default_value_t = EntryArg::Infer)]
        entry: EntryArg,
        /// Examples per call.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Target triple (default: this host with its CPU features).
        #[arg(long)]
        target: Option<String>,
        /// Weights embedded in the object or written to `<name>.weights`.
        #[arg(long, value_enum, default_value_t = WeightsArg::Embedded)]
        weights: WeightsArg,
        /// The C name of the model (default: the file's stem made a C identifier).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        model_weights: CompileModelWeights,
    },
}

/// `--entry` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum EntryArg {
    /// The inference entry `<name>_infer`.
    Infer,
    /// The training step `<name>_train_step`.
    Train,
    /// Both entries.
    Both,
}

/// `--weights` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum WeightsArg {
    /// In the object file.
    Embedded,
    /// In `<name>.weights`, read by `<name>_create(path)`.
    External,
}

/// The default C name for the model in `path`: its file stem, other characters made `_`.
fn c_name_of(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        format!("m_{name}")
    } else {
        name
    }
}

/// `kiln predict`: one tensor file per model input in, one per model output out; a count
/// that does not match the model's is an error naming its inputs or outputs.
fn predict(
    model: &kiln::Model,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    batch_size: usize,
) -> kiln::Result<()> {
    let count_error = |what: &str, given: usize, names: Vec<&str>| kiln::Error::InvalidArgument {
        name: if what == "input" {
            "--input"
        } else {
            "--output"
        },
        msg: format!(
            "given {given} times, but the model `{}` has {} {what}s ({}): give one --{what} per {what}, in that order",
            model.name(),
            names.len(),
            names.join(", ")
        ),
    };
    if inputs.len() != model.input_names().len() {
        return Err(count_error("input", inputs.len(), model.input_names()));
    }
    if outputs.len() != model.output_names().len() {
        return Err(count_error("output", outputs.len(), model.output_names()));
    }
    let features = inputs
        .iter()
        .map(read_tensor)
        .collect::<kiln::Result<Vec<_>>>()?;
    let refs: Vec<&kiln::Tensor> = features.iter().collect();
    let predictions = model.predict_many(&refs, batch_size)?;
    for (path, tensor) in outputs.iter().zip(&predictions) {
        write_tensor(path, tensor, Encoding::Inline)?;
    }
    Ok(())
}

/// Runs one command.
fn run(cli: Cli) -> kiln::Result<()> {
    match cli.command {
        Command::Summary { model, weights } => {
            print!(
                "{}",
                load_model(&model, weights.file.as_deref())?.summary()?
            );
        }
        Command::Predict {
            model,
            input,
            output,
            batch_size,
            weights,
        } => {
            let model = load_model(&model, weights.file.as_deref())?;
            predict(&model, &input, &output, batch_size)?;
        }
        Command::Convert {
            input,
            output,
            weights,
        } => {
            let mut model = load_model(&input, weights.file.as_deref())?;
            save_model(&mut model, &output)?;
        }
        Command::Compile {
            model: path,
            output,
            entry,
            batch,
            target,
            weights,
            name,
            model_weights,
        } => {
            let model = load_model(&path, model_weights.file.as_deref())?;
            let options = AotCompileOptions {
                name: name.unwrap_or_else(|| c_name_of(&path)),
                out_dir: output,
                entries: match entry {
                    EntryArg::Infer => AotEntries::Infer,
                    EntryArg::Train => AotEntries::Train,
                    EntryArg::Both => AotEntries::Both,
                },
                batch,
                target,
                weights: match weights {
                    WeightsArg::Embedded => WeightStorage::Embedded,
                    WeightsArg::External => WeightStorage::External,
                },
            };
            let report = compile_with_report(&model, &options)?;
            for file in &report.files {
                println!("wrote {}", file.display());
            }
            println!(
                "graphs {:.3}s, code {:.3}s",
                report.graphs_time.as_secs_f64(),
                report.emit_time.as_secs_f64()
            );
            if let Some(note) = report.note {
                println!("note: {note}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line `words` (the program name first) parsed as `kiln` parses them, then the
/// checks that need no file (the C name `compile` would use). Nothing is read, written or
/// run. For the fuzz harness (`fuzzing/`, package `kiln-fuzz`), which compiles this file as
/// a module; `main` parses with [`Cli::parse`] instead, which prints and exits on an error.
#[allow(dead_code)] // used by kiln-fuzz only
pub(crate) fn check_args(
    words: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<(), clap::Error> {
    let cli = Cli::try_parse_from(words)?;
    if let Command::Compile { model, name, .. } = &cli.command {
        let _ = name.clone().unwrap_or_else(|| c_name_of(model));
    }
    Ok(())
}
