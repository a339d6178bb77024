//! Micro-batching answers each client its own predictions: many clients at once, each with
//! its own instances (one to three per request), get what `predict` gives for them alone,
//! while the batcher ran fewer `predict` calls than requests. Also: `GET /v1/model`
//! describes the model, `GET /health` counts, a model with two outputs is refused at start,
//! and a shut-down service stops answering.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CLASSES, INPUT, body, instance, start};
use kiln::Tensor;
use kiln::model::Functional;
use kiln::prelude::*;
use kiln_serve::client::Client;
use kiln_serve::{ServeConfig, ServeError, Server};
use tokio::sync::Barrier;

const CLIENTS: usize = 24;
const ROUNDS: usize = 6;

/// The predictions of an answer, flattened.
fn predictions(json: &serde_json::Value) -> Vec<f32> {
    json["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .flat_map(|p| p.as_array().expect("one prediction").clone())
        .map(|v| v.as_f64().expect("a number") as f32)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_each_get_their_own_predictions_from_shared_batches() {
    let server = Arc::new(
        start(ServeConfig {
            max_batch: 16,
            max_wait: Duration::from_millis(20),
            ..ServeConfig::default()
        })
        .await,
    );
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (server, barrier) = (Arc::clone(&server), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(server.addr());
            for round in 0..ROUNDS {
                let count = 1 + (c + round) % 3;
                let xs: Vec<Vec<f32>> = (0..count)
                    .map(|i| instance(c * 100 + round * 10 + i))
                    .collect();
                barrier.wait().await;
                let answer = client.post_json("/v1/predict", &body(&xs)).await.unwrap();
                assert_eq!(answer.status, 200, "{}", answer.text());
                let got = predictions(&answer.json().unwrap());
                let mut dims = vec![count];
                dims.extend(INPUT);
                let x = Tensor::new(kiln::Shape::new(dims), xs.concat()).unwrap();
                let want = server.model().predict(&x, count).unwrap().data;
                assert_eq!(got.len(), count * CLASSES);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-5,
                        "client {c} round {round}: {got:?} vs {want:?}"
                    );
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let health = Client::new(server.addr())
        .get("/health")
        .await
        .unwrap()
        .json()
        .unwrap();
    let (requests, batches) = (
        health["requests"].as_u64().unwrap(),
        health["batches"].as_u64().unwrap(),
    );
    assert_eq!(requests, (CLIENTS * ROUNDS) as u64, "{health}");
    assert!(batches < requests / 2, "requests were batched: {health}");
    Arc::into_inner(server).unwrap().shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_route_describes_the_model_and_the_limits() {
    let server = start(ServeConfig::default()).await;
    let mut client = Client::new(server.addr());
    let info = client.get("/v1/model").await.unwrap().json().unwrap();
    assert_eq!(
        info["inputs"][0]["shape"],
        serde_json::json!([null, 2, 3]),
        "{info}"
    );
    assert_eq!(
        info["outputs"][0]["shape"],
        serde_json::json!([null, 3]),
        "{info}"
    );
    assert_eq!(info["max_batch"], 32);
    let health = client.get("/health").await.unwrap();
    assert_eq!(health.json().unwrap()["status"], "ok");
    // Flat instances work as well as nested ones.
    let flat = serde_json::json!({ "instances": [instance(1)] }).to_string();
    let answer = client
        .post_json("/v1/predict", flat.as_bytes())
        .await
        .unwrap();
    let nested = client
        .post_json("/v1/predict", &body(&[instance(1)]))
        .await
        .unwrap();
    assert_eq!((answer.status, answer.body), (200, nested.body));
    let addr = server.addr();
    server.shutdown().await.unwrap();
    assert!(
        Client::new(addr).get("/health").await.is_err(),
        "the service stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_with_several_outputs_and_bad_options_are_refused() {
    let mut f = Functional::builder("two_heads");
    let x = f.input(Input::new([4]));
    let a = f.apply(Dense::new(2), x).unwrap();
    let b = f.apply(Dense::new(3), x).unwrap();
    let two = f.build(&[x], &[a, b]).unwrap();
    let err = Server::start(two, ServeConfig::default(), "127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServeError::Config(_)) && err.to_string().contains("2 outputs"),
        "{err}"
    );
    let zero = ServeConfig {
        max_batch: 0,
        ..ServeConfig::default()
    };
    let err = Server::start(common::model(), zero, "127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_batch"), "{err}");
}
