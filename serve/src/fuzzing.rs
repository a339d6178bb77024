//! The request-body reader as a public function, for the fuzz harness (`fuzzing/`, package
//! `kiln-fuzz`), which has no model or socket: [`read_request_body`] runs exactly what
//! `POST /v1/predict` runs on a body before anything is queued. Not part of the service's
//! API (hidden from the docs); it does NOT check headers or the body-size limit (axum does).

use crate::instances::{InstancesError, read_instances};

/// The instances of a predict `body` for a model whose per-example input shape is `dims`,
/// at most `max` of them: `(values, count)` or the message the service would answer with.
pub fn read_request_body(
    body: &[u8],
    dims: &[usize],
    max: usize,
) -> Result<(Vec<f32>, usize), String> {
    match read_instances(body, dims, max) {
        Ok(instances) => Ok((instances.values, instances.count)),
        Err(InstancesError::Invalid(msg)) => Err(msg),
        Err(InstancesError::TooMany(max)) => Err(format!("more than {max} instances")),
    }
}
