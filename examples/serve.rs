//! An HTTP JSON inference service for a saved model (package `kiln-serve`; see its crate docs
//! for the routes and the JSON):
//!
//! ```text
//! cargo run --release --example serve -- examples/data/mnist_cnn.h5 --addr 127.0.0.1:8080
//! curl -s localhost:8080/v1/model
//! curl -s -H 'Content-Type: application/json' -d '{"instances": [[...784 numbers...]]}' \
//!      localhost:8080/v1/predict
//! ```
//!
//! The model file may be of any format Kiln reads (Keras `.h5` or `.keras`, a Kiln model
//! file, ONNX, or a Keras JSON config with `--weights`), recognised by content.
//! `--load-test` instead serves on a free loopback port and measures throughput and p50/p99
//! latency at 1, 8 and 64 concurrent clients next to calling `predict_one` in a loop.
//!
//! Options: `--addr HOST:PORT` (default 127.0.0.1:8080), `--weights FILE`, `--max-batch N`
//! (32), `--max-wait-ms MS` (0; fractions allowed), `--workers N` (1), `--max-instances N`
//! (256), `--max-body-bytes N` (4 MiB), `--load-test`, `--requests N` (timed requests per
//! run of the load test, 2000).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kiln_serve::{ServeConfig, ServeError, Server, load_test};

/// The command line, parsed.
struct Args {
    model: PathBuf,
    weights: Option<PathBuf>,
    addr: String,
    config: ServeConfig,
    load_test: bool,
    requests: usize,
}

const USAGE: &str = "usage: serve MODEL [--addr HOST:PORT] [--weights FILE] [--max-batch N] \
                     [--max-wait-ms MS] [--workers N] [--max-instances N] \
                     [--max-body-bytes N] [--load-test] [--requests N]";

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        model: PathBuf::new(),
        weights: None,
        addr: "127.0.0.1:8080".into(),
        config: ServeConfig::default(),
        load_test: false,
        requests: 2000,
    };
    let number = |flag: &str, value: Option<String>| -> Result<usize, String> {
        let value = value.ok_or(format!("{flag} needs a value"))?;
        value
            .parse()
            .map_err(|_| format!("{flag} {value}: not a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => parsed.addr = args.next().ok_or("--addr needs a value")?,
            "--weights" => parsed.weights = args.next().map(PathBuf::from),
            "--max-batch" => parsed.config.max_batch = number(&arg, args.next())?,
            "--max-wait-ms" => {
                let value = args.next().ok_or("--max-wait-ms needs a value")?;
                let ms: f64 = value
                    .parse()
                    .map_err(|_| format!("--max-wait-ms {value}"))?;
                parsed.config.max_wait = Duration::try_from_secs_f64(ms / 1e3)
                    .map_err(|_| format!("--max-wait-ms {value}: not a duration"))?;
            }
            "--workers" => parsed.config.workers = number(&arg, args.next())?,
            "--max-instances" => parsed.config.max_instances = number(&arg, args.next())?,
            "--max-body-bytes" => parsed.config.max_body_bytes = number(&arg, args.next())?,
            "--load-test" => parsed.load_test = true,
            "--requests" => parsed.requests = number(&arg, args.next())?,
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            path if parsed.model.as_os_str().is_empty() => parsed.model = path.into(),
            extra => return Err(format!("unexpected argument {extra}")),
        }
    }
    if parsed.model.as_os_str().is_empty() {
        return Err(format!("no model file given\n{USAGE}"));
    }
    Ok(parsed)
}

/// `n` deterministic values in [0, 1) (an instance for the load test).
fn instance(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect()
}

async fn run(args: Args) -> Result<(), ServeError> {
    let model = kiln_cli::model_files::load_model(&args.model, args.weights.as_deref())?;
    let numel = model.input_shape()?.numel();
    if args.load_test {
        let server = Server::start(model, args.config, "127.0.0.1:0").await?;
        println!(
            "load test of {} on http://{} ({} timed requests per run)",
            args.model.display(),
            server.addr(),
            args.requests
        );
        let report = load_test::run(&server, &instance(numel), &[1, 8, 64], args.requests).await?;
        print!("{}", load_test::format_report(&report));
        return server.shutdown().await;
    }
    let server = Server::start(model, args.config, args.addr.as_str()).await?;
    println!(
        "serving {} on http://{} (POST /v1/predict, GET /v1/model, GET /health)",
        args.model.display(),
        server.addr()
    );
    server.wait().await
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}
