//! The HTTP routes (see the crate docs for the table): checking a predict request (content
//! type, body size, JSON, shapes, numbers) before it is queued, answering it from the batcher,
//! describing the model, health, and a JSON `{"error": …}` answer with a 4xx or 5xx status
//! for everything that goes wrong — including unknown paths and methods and bodies over the
//! limit, which axum would otherwise answer with plain text or nothing.
//!
//! It does NOT batch (`batcher.rs`) or bind sockets (`server.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::batcher::{Batcher, Failure, QueueError};
use crate::config::ServeConfig;
use crate::instances::{InstancesError, read_instances, write_predictions};

/// What every handler shares.
pub(crate) struct App {
    pub(crate) batcher: Batcher,
    pub(crate) config: ServeConfig,
    /// Per-example input shape of the model.
    pub(crate) input_dims: Vec<usize>,
    /// Per-example output shape of the model.
    pub(crate) output_dims: Vec<usize>,
    /// The body of `GET /v1/model`, written once.
    pub(crate) model_json: String,
}

/// An answer that is an error: its status and message, sent as `{"error": message}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        json_response(self.status, body)
    }
}

/// `body` (JSON text) with `status`.
fn json_response(status: StatusCode, body: String) -> Response {
    let json = HeaderValue::from_static("application/json");
    (status, [(header::CONTENT_TYPE, json)], body).into_response()
}

/// The service's routes on `app`.
pub(crate) fn router(app: Arc<App>) -> Router {
    let limit = app.config.max_body_bytes;
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/model", get(model))
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

/// `POST /v1/predict`.
async fn predict(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match predictions(&app, &headers, body).await {
        Ok(json) => json_response(StatusCode::OK, json),
        Err(e) => e.into_response(),
    }
}

/// The answer of a predict request, or why there is none.
async fn predictions(
    app: &App,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<String, ApiError> {
    check_json_content_type(headers)?;
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let mut message = rejection.body_text();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            message = format!(
                "{message}: the body limit is {} bytes",
                app.config.max_body_bytes
            );
        }
        ApiError::new(status, message)
    })?;
    let instances =
        read_instances(&body, &app.input_dims, app.config.max_instances).map_err(|e| match e {
            InstancesError::Invalid(msg) => ApiError::new(StatusCode::BAD_REQUEST, msg),
            InstancesError::TooMany(max) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a request holds at most {max} instances"),
            ),
        })?;
    let count = instances.count;
    let answer = app
        .batcher
        .submit(instances.values, count)
        .map_err(|e| match e {
            QueueError::Full => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is busy: too many requests are waiting; try again",
            ),
            QueueError::Closed => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the service is stopping")
            }
        })?;
    let values = answer
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the service is stopping"))?
        .map_err(|failure| match failure {
            Failure::Rejected(msg) => ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the model cannot predict these instances: {msg}"),
            ),
            Failure::Panicked => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the model failed while predicting",
            ),
        })?;
    Ok(write_predictions(&values, count, &app.output_dims))
}

/// 415 unless the request says its body is JSON.
fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not text)"));
    let essence = given.and_then(|v| v.split(';').next()).map(str::trim);
    if essence.is_some_and(|e| e.eq_ignore_ascii_case("application/json")) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "the body must be JSON sent with Content-Type: application/json (got {})",
            given.unwrap_or("none")
        ),
    ))
}

/// `GET /v1/model`.
async fn model(State(app): State<Arc<App>>) -> Response {
    json_response(StatusCode::OK, app.model_json.clone())
}

/// `GET /health`.
async fn health(State(app): State<Arc<App>>) -> Response {
    let stats = &app.batcher.stats;
    let body = serde_json::json!({
        "status": "ok",
        "requests": stats.requests.load(Ordering::Relaxed),
        "batches": stats.batches.load(Ordering::Relaxed),
        "instances": stats.instances.load(Ordering::Relaxed),
    });
    json_response(StatusCode::OK, body.to_string())
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such path: the service answers POST /v1/predict, GET /v1/model and GET /health",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method: POST /v1/predict, GET /v1/model, GET /health",
    )
}
