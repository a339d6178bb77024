//! `kiln-serve`: an HTTP JSON inference service for a Kiln model, with dynamic
//! micro-batching of concurrent requests, and a load test of it over loopback.
//!
//! [`Server::start`] serves a one-input, one-output [`kiln::Model`] (loaded from any file
//! format Kiln reads) on a TCP address with axum over tokio:
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /v1/predict` | body `{"instances": [x1, x2, …]}` (`Content-Type: application/json`), each instance the model's input for one example as nested arrays of numbers in the input's shape (e.g. `[28][28][1]`) or one flat array of all its values in row-major order; answer `{"predictions": [y1, y2, …]}`, one per instance, nested in the output's shape |
//! | `GET /v1/model` | the model's name, input and output shapes (`null` for the batch axis) and the service's limits |
//! | `GET /health` | `{"status": "ok", …}` with the batching counters |
//!
//! Every error is a JSON object `{"error": "<message>"}` with a 4xx status for a bad request
//! (400 malformed JSON or wrong shape, 404, 405, 413 body over [`ServeConfig::max_body_bytes`]
//! or more than [`ServeConfig::max_instances`] instances, 415 wrong content type) and 503 when
//! the queue is full. Requests are checked before they are queued, so one bad request never
//! fails another's batch.
//!
//! Modules: [`config`] (limits and batching options), `api` (routes, request checks, JSON
//! answers), `instances` (reading and writing the JSON arrays), `batcher` (the worker
//! threads that gather requests into one `predict` call), [`server`] (binding and shutting
//! down), [`client`] (a small HTTP/1.1 client on raw sockets, for the load test and the
//! tests) and [`load_test`]. It does NOT load model files (the `serve` example does, with
//! `kiln_cli::model_files`), speak TLS or HTTP/2, or authenticate callers.

mod api;
mod batcher;
pub mod client;
pub mod config;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod instances;
pub mod load_test;
pub mod server;

pub use config::ServeConfig;
pub use error::ServeError;
pub use server::Server;
