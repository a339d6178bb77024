//! A bounded load test of a running [`Server`] over loopback: for each client count, that
//! many concurrent clients (each on its own keep-alive connection) send a fixed total of
//! one-instance predict requests; it reports throughput, p50 and p99 latency and the mean
//! batch the micro-batcher formed, next to calling `predict_one` in a loop on the same model
//! in the same process, and the largest difference between the HTTP answer and
//! `predict_one` for the instance.
//!
//! It does NOT start the server (the caller does) or print anything ([`format_report`]
//! writes the table).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use crate::client::Client;
use crate::error::ServeError;
use crate::server::Server;

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// What ran: `HTTP, 8 clients` or `predict_one loop`.
    pub label: String,
    /// Requests (or calls) timed.
    pub requests: usize,
    /// Wall-clock time of them all.
    pub elapsed: Duration,
    /// Each request's latency, sorted.
    pub latencies: Vec<Duration>,
    /// Instances per `predict` call the batcher ran (HTTP only).
    pub mean_batch: Option<f64>,
}

impl Measurement {
    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency below which a fraction `q` (0 to 1) of the requests finished.
    pub fn percentile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let at = (q * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[at.min(self.latencies.len() - 1)]
    }
}

/// The whole load test: one [`Measurement`] per client count, then the `predict_one` loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The measurements, in order.
    pub runs: Vec<Measurement>,
    /// The largest absolute difference between the HTTP answer and `predict_one`.
    pub max_difference: f32,
}

/// Runs the load test against `server` with one `instance` (the model input of one example,
/// flat): `requests` timed requests at each of `clients` concurrent clients, then `requests`
/// calls of `predict_one`. Needs a multi-threaded tokio runtime.
pub async fn run(
    server: &Server,
    instance: &[f32],
    clients: &[usize],
    requests: usize,
) -> Result<Report, ServeError> {
    if requests == 0 || clients.contains(&0) {
        return Err(ServeError::Config(
            "a load test needs at least 1 request and 1 client per run".into(),
        ));
    }
    let body = Arc::new(request_body(instance));
    let mut check = Client::new(server.addr());
    let answer = check.post_json("/v1/predict", &body).await?;
    if answer.status != 200 {
        return Err(http_error(&answer));
    }
    let served = first_prediction(&answer)?;
    let mut runs = Vec::new();
    for &count in clients {
        runs.push(http_run(server, &body, count, requests).await?);
    }
    let (local, expected) =
        tokio::task::block_in_place(|| predict_one_loop(server, instance, requests))?;
    runs.push(local);
    let max_difference = served
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    Ok(Report {
        runs,
        max_difference,
    })
}

/// `{"instances": [instance]}`.
fn request_body(instance: &[f32]) -> Vec<u8> {
    let mut body = String::from(r#"{"instances":[["#);
    for (i, x) in instance.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        write!(body, "{x:?}").expect("writing to a String");
    }
    body.push_str("]]}");
    body.into_bytes()
}

/// The first prediction of an answer, flattened.
fn first_prediction(answer: &crate::client::Answer) -> Result<Vec<f32>, ServeError> {
    fn flatten(value: &serde_json::Value, out: &mut Vec<f32>) {
        match value {
            serde_json::Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
            value => out.push(value.as_f64().map_or(f32::NAN, |x| x as f32)),
        }
    }
    let json = answer.json().ok_or_else(|| http_error(answer))?;
    let mut out = Vec::new();
    flatten(&json["predictions"][0], &mut out);
    Ok(out)
}

fn http_error(answer: &crate::client::Answer) -> ServeError {
    ServeError::Http {
        status: answer.status,
        body: answer.text(),
    }
}

/// `clients` concurrent clients sending `requests` requests in all (each an equal share,
/// after one untimed request to open its connection).
async fn http_run(
    server: &Server,
    body: &Arc<Vec<u8>>,
    clients: usize,
    requests: usize,
) -> Result<Measurement, ServeError> {
    let each = requests.div_ceil(clients);
    let before = batch_counters(server).await?;
    let barrier = Arc::new(Barrier::new(clients));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (body, barrier, addr) = (Arc::clone(body), Arc::clone(&barrier), server.addr());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addr);
            client.post_json("/v1/predict", &body).await?;
            barrier.wait().await;
            let start = Instant::now();
            let mut latencies = Vec::with_capacity(each);
            for _ in 0..each {
                let sent = Instant::now();
                let answer = client.post_json("/v1/predict", &body).await?;
                if answer.status != 200 {
                    return Err(http_error(&answer));
                }
                latencies.push(sent.elapsed());
            }
            Ok::<_, ServeError>((start, Instant::now(), latencies))
        }));
    }
    let (mut first, mut last, mut latencies) = (None::<Instant>, None::<Instant>, Vec::new());
    for task in tasks {
        let (start, end, own) = task
            .await
            .map_err(|e| ServeError::Config(format!("a load-test client failed: {e}")))??;
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
        latencies.extend(own);
    }
    let after = batch_counters(server).await?;
    latencies.sort_unstable();
    let elapsed = match (first, last) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    };
    let (batches, instances) = (after.0 - before.0, after.1 - before.1);
    Ok(Measurement {
        label: format!(
            "HTTP, {clients} client{}",
            if clients == 1 { "" } else { "s" }
        ),
        requests: latencies.len(),
        elapsed,
        latencies,
        mean_batch: (batches > 0).then(|| instances as f64 / batches as f64),
    })
}

/// The batcher's `(batches, instances)` counters, from `GET /health`.
async fn batch_counters(server: &Server) -> Result<(u64, u64), ServeError> {
    let answer = Client::new(server.addr()).get("/health").await?;
    let json = answer.json().ok_or_else(|| http_error(&answer))?;
    let counter = |name: &str| json[name].as_u64().unwrap_or_default();
    Ok((counter("batches"), counter("instances")))
}

/// `calls` calls of `predict_one` on the served model, one after another; and the last
/// output.
fn predict_one_loop(
    server: &Server,
    instance: &[f32],
    calls: usize,
) -> Result<(Measurement, Vec<f32>), ServeError> {
    let model = server.model();
    let mut output = model.predict_one(instance)?;
    let mut latencies = Vec::with_capacity(calls);
    let start = Instant::now();
    for _ in 0..calls {
        let sent = Instant::now();
        output = model.predict_one(instance)?;
        latencies.push(sent.elapsed());
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let measurement = Measurement {
        label: "predict_one loop".into(),
        requests: calls,
        elapsed,
        latencies,
        mean_batch: None,
    };
    Ok((measurement, output))
}

/// The report as a table, one line per measurement.
pub fn format_report(report: &Report) -> String {
    let mut out = format!(
        "{:<20} {:>9} {:>12} {:>10} {:>10} {:>11}\n",
        "run", "requests", "requests/s", "p50 ms", "p99 ms", "mean batch"
    );
    for run in &report.runs {
        let batch = run.mean_batch.map_or("-".into(), |b| format!("{b:.2}"));
        writeln!(
            out,
            "{:<20} {:>9} {:>12.0} {:>10.3} {:>10.3} {:>11}",
            run.label,
            run.requests,
            run.throughput(),
            run.percentile(0.5).as_secs_f64() * 1e3,
            run.percentile(0.99).as_secs_f64() * 1e3,
            batch
        )
        .expect("writing to a String");
    }
    writeln!(
        out,
        "largest |HTTP answer - predict_one| = {:.2e}",
        report.max_difference
    )
    .expect("writing to a String");
    out
}
