//! The `kiln` command-line tool: inspect, run and convert saved models.
//!
//! - `kiln summary <model>` prints the model's summary;
//! - `kiln predict --model <file> --input <in.json> --output <out.json>` runs the model on a
//!   tensor file ([`kiln::tensor_file`]) and writes the predictions as one;
//! - `kiln convert <in> <out>` rewrites a Keras `.h5` model as a Kiln model file or back.
//!
//! A model file is recognised by its first bytes (HDF5 for Keras, `KILN` for Kiln's own
//! format); see [`model_files`]. Errors go to stderr and the exit status is 1.

mod model_files;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kiln::tensor_file::{Encoding, read_tensor, write_tensor};

use model_files::{load_model, save_model};

/// Inspect, run and convert Kiln and Keras (.h5) models.
#[derive(Debug, Parser)]
#[command(name = "kiln", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print a model's summary (layers, output shapes, parameter counts).
    Summary {
        /// A Keras .h5 file or a Kiln model file.
        model: PathBuf,
    },
    /// Run a model on a tensor file and write its predictions as a tensor file.
    Predict {
        /// A Keras .h5 file or a Kiln model file.
        #[arg(long)]
        model: PathBuf,
        /// The input batch: a tensor JSON file (`{"dtype", "shape", "data" | "file"}`).
        #[arg(long)]
        input: PathBuf,
        /// Where to write the predictions (tensor JSON, values inline).
        #[arg(long)]
        output: PathBuf,
        /// Examples per forward pass.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
    },
    /// Convert a Keras .h5 model to a Kiln model file, or a Kiln model file to Keras .h5.
    ///
    /// The output format follows the output's extension (`.h5`/`.hdf5` for Keras,
    /// anything else for Kiln).
    Convert {
        /// The model to read (either format, recognised by its first bytes).
        input: PathBuf,
        /// The file to write.
        output: PathBuf,
    },
}

/// Runs one command.
fn run(cli: Cli) -> kiln::Result<()> {
    match cli.command {
        Command::Summary { model } => {
            print!("{}", load_model(&model)?.summary()?);
        }
        Command::Predict {
            model,
            input,
            output,
            batch_size,
        } => {
            let model = load_model(&model)?;
            let features = read_tensor(&input)?;
            let predictions = model.predict(&features, batch_size)?;
            write_tensor(&output, &predictions, Encoding::Inline)?;
        }
        Command::Convert { input, output } => {
            let mut model = load_model(&input)?;
            save_model(&mut model, &output)?;
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
