//! The service survives a few thousand malformed requests of many kinds, sent from several
//! connections at once: each gets a 4xx status and a JSON `{"error": "<message>"}` body (and
//! the kinds are counted), bytes that are not HTTP at all get hyper's 400, and afterwards a
//! valid request still gets the model's predictions.

mod common;

use std::collections::BTreeMap;

use common::{CLASSES, NUMEL, body, instance, start};
use kiln_serve::ServeConfig;
use kiln_serve::client::{Answer, Client};

/// Requests of each kind.
const EACH: usize = 250;
const BODY_LIMIT: usize = 16 << 10;
const MAX_INSTANCES: usize = 4;

/// One malformed request: method, path, content type, body, and the status it must get.
struct Bad {
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
}

fn json(body: impl Into<Vec<u8>>, status: u16) -> Bad {
    Bad {
        method: "POST",
        path: "/v1/predict",
        content_type: Some("application/json"),
        body: body.into(),
        status,
    }
}

/// `n` pseudo-random numbers as a JSON list (`k` varies them).
fn numbers(n: usize, k: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("{}", (i * 13 + k) % 97)).collect();
    values.join(", ")
}

/// The `k`-th request of kind `kind`.
fn bad(kind: &str, k: usize) -> Bad {
    let valid = String::from_utf8(body(&[instance(k)])).unwrap();
    match kind {
        "not json" => json(&valid.as_bytes()[..k % valid.len()], 400),
        "garbage bytes" => json(
            (0..k % 50 + 1)
                .map(|i| (i * 37 + k) as u8)
                .collect::<Vec<_>>(),
            400,
        ),
        "wrong structure" | "wrong shape" | "wrong nesting" | "non-finite" | "wrong types" => {
            bad_values(kind, k)
        }
        "content type" => Bad {
            content_type: [
                None,
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
            ][k % 3],
            ..json(valid, 415)
        },
        "huge body" => {
            let n = BODY_LIMIT / 2 + k * 7;
            json(format!(r#"{{"instances": [[{}]]}}"#, numbers(n, k)), 413)
        }
        "too many instances" => {
            let many: Vec<Vec<f32>> = (0..MAX_INSTANCES + 1 + k % 3).map(instance).collect();
            json(body(&many), 413)
        }
        "wrong method" => Bad {
            method: ["GET", "PUT", "DELETE", "PATCH"][k % 4],
            ..json(valid, 405)
        },
        "unknown path" => Bad {
            path: ["/", "/v1", "/v2/predict", "/v1/predict/x", "/predict"][k % 5],
            ..json(valid, 404)
        },
        other => panic!("no kind {other}"),
    }
}

/// The `k`-th request of a kind whose JSON holds the wrong values or structure.
fn bad_values(kind: &str, k: usize) -> Bad {
    match kind {
        "wrong structure" => {
            let bodies = [
                format!("[{}]", numbers(NUMEL, k)),
                format!(r#"{{"inputs": [[{}]]}}"#, numbers(NUMEL, k)),
                format!(r#"{{"instances": {k}}}"#),
                r#"{"instances": {"a": 1}}"#.into(),
                r#"{"instances": []}"#.into(),
                format!(r#"{{"instances": [{k}]}}"#),
                "{}".into(),
                "null".into(),
            ];
            json(bodies[k % bodies.len()].clone(), 400)
        }
        "wrong shape" => {
            let n = [0, 1, 5, 7, 12, 100][k % 6];
            json(format!(r#"{{"instances": [[{}]]}}"#, numbers(n, k)), 400)
        }
        "wrong nesting" => {
            let bodies = [
                format!(
                    r#"{{"instances": [[[{}], [{}]]]}}"#,
                    numbers(3, k),
                    numbers(2, k)
                ),
                format!(r#"{{"instances": [[[{}]]]}}"#, numbers(6, k)),
                r#"{"instances": [[[1, 2, 3], 4, 5, 6]]}"#.to_string(),
                format!(
                    r#"{{"instances": [[[[{}]], [[{}]]]]}}"#,
                    numbers(3, k),
                    numbers(3, k)
                ),
                format!(
                    r#"{{"instances": [[{}], [{}]]}}"#,
                    numbers(6, k),
                    numbers(5, k)
                ),
            ];
            json(bodies[k % bodies.len()].clone(), 400)
        }
        "non-finite" => {
            let token = [
                "1e39",
                "-1e39",
                "1e999",
                "NaN",
                "Infinity",
                "-inf",
                "1e-999999",
            ][k % 7];
            let mut values: Vec<String> = (0..NUMEL).map(|i| i.to_string()).collect();
            values[k % NUMEL] = token.into();
            // A tiny 1e-999999 is 0 (finite): it stays the one valid body, answered 200.
            let status = if token == "1e-999999" { 200 } else { 400 };
            json(
                format!(r#"{{"instances": [[{}]]}}"#, values.join(",")),
                status,
            )
        }
        "wrong types" => {
            let token = [r#""1""#, "null", "true", "{}", r#"[]"#][k % 5];
            let mut values: Vec<String> = (0..NUMEL).map(|i| i.to_string()).collect();
            values[k % NUMEL] = token.into();
            json(format!(r#"{{"instances": [[{}]]}}"#, values.join(",")), 400)
        }
        other => panic!("no kind {other}"),
    }
}

const KINDS: &[&str] = &[
    "not json",
    "garbage bytes",
    "wrong structure",
    "wrong shape",
    "wrong nesting",
    "non-finite",
    "wrong types",
    "content type",
    "huge body",
    "too many instances",
    "wrong method",
    "unknown path",
];

/// That `answer` is the expected status with a JSON error message (or, for the one valid
/// body among them, predictions).
fn check(kind: &str, k: usize, want: u16, answer: &Answer) {
    assert_eq!(answer.status, want, "{kind} #{k}: {}", answer.text());
    let json = answer
        .json()
        .unwrap_or_else(|| panic!("{kind} #{k}: not JSON: {}", answer.text()));
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/json"),
        "{kind} #{k}"
    );
    if want == 200 {
        assert_eq!(
            json["predictions"][0].as_array().map(Vec::len),
            Some(CLASSES)
        );
        return;
    }
    let message = json["error"].as_str().unwrap_or_default();
    assert!(message.len() > 10, "{kind} #{k}: message {message:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_malformed_requests_get_4xx_messages_and_the_service_keeps_serving() {
    let server = start(ServeConfig {
        max_body_bytes: BODY_LIMIT,
        max_instances: MAX_INSTANCES,
        ..ServeConfig::default()
    })
    .await;
    let addr = server.addr();
    let mut tasks = Vec::new();
    for &kind in KINDS {
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addr);
            let mut statuses = BTreeMap::new();
            for k in 0..EACH {
                let bad = bad(kind, k);
                let answer = client
                    .request(bad.method, bad.path, bad.content_type, &bad.body)
                    .await
                    .unwrap_or_else(|e| panic!("{kind} #{k}: {e}"));
                check(kind, k, bad.status, &answer);
                *statuses.entry(answer.status).or_insert(0usize) += 1;
            }
            (kind, statuses)
        }));
    }
    let mut malformed = 0;
    for task in tasks {
        let (kind, statuses) = task.await.unwrap();
        let rejected: usize = statuses
            .iter()
            .filter(|(s, _)| **s >= 400)
            .map(|(_, n)| n)
            .sum();
        println!("{kind:>20}: {statuses:?}");
        malformed += rejected;
    }
    println!("{malformed} malformed requests answered 4xx with a JSON message");
    // Every request but the non-finite kind's tiny `1e-999999` (a valid 0) is malformed.
    let valid = (0..EACH).filter(|k| k % 7 == 6).count();
    assert_eq!(malformed, KINDS.len() * EACH - valid);
    assert!(malformed >= 2500, "a few thousand: {malformed}");

    // Bytes that are not HTTP: hyper answers 400 itself and closes the connection.
    for k in 0..50 {
        let garbage = format!("GARBAGE {k} \u{1}\u{2}\r\n\r\n");
        let answer = Client::new(addr)
            .send_raw(garbage.as_bytes())
            .await
            .unwrap();
        assert_eq!(answer.status, 400, "garbage #{k}");
    }

    let x = instance(3);
    let answer = Client::new(addr)
        .post_json("/v1/predict", &body(std::slice::from_ref(&x)))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let got: Vec<f32> = answer.json().unwrap()["predictions"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let want = server.model().predict_one(&x).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-6, "{got:?} vs {want:?}");
    }
    server.shutdown().await.unwrap();
}
