//! Starting and stopping the service ([`Server`]): checking that the model can be served,
//! compiling its predictors for every batch size the batcher can run before the first
//! request (so no request waits for a compile), binding the address, starting the batch
//! workers and the axum server on the current tokio runtime, and a graceful shutdown.
//! It does NOT define the routes (`api.rs`) or batch (`batcher.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use kiln::model::PredictorCache;
use kiln::{Model, Shape, Tensor};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{App, router};
use crate::batcher::Batcher;
use crate::config::ServeConfig;
use crate::error::ServeError;

/// A running service. Dropping it leaves the service running until the runtime stops; call
/// [`Server::shutdown`] to stop it.
///
/// ```no_run
/// # async fn demo() -> Result<(), kiln_serve::ServeError> {
/// use kiln::prelude::*;
/// use kiln_serve::{ServeConfig, Server};
/// let model = Sequential::of([Input::new([4]).into(), Dense::new(2).into()]);
/// let server = Server::start(model, ServeConfig::default(), "127.0.0.1:8080").await?;
/// println!("serving on http://{}", server.addr());
/// server.wait().await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    model: Arc<Model>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Serves `model` (one input, one output) on `addr` (port 0: any free port, see
    /// [`Server::addr`]) with `config`, from the current tokio runtime. Compiles the
    /// model's predictors for every batch size up to `config.max_batch` first, raising the
    /// model's predictor-cache capacity to hold them all if it is smaller.
    pub async fn start(
        mut model: Model,
        config: ServeConfig,
        addr: impl ToSocketAddrs,
    ) -> Result<Server, ServeError> {
        config.check()?;
        let (input_dims, output_dims) = io_dims(&model)?;
        let sizes = compiled_sizes(model.predictor_cache(), config.max_batch);
        if model.predictor_cache().capacity < sizes.len() {
            let cache = PredictorCache {
                capacity: sizes.len(),
                ..model.predictor_cache().clone()
            };
            model.set_predictor_cache(cache)?;
        }
        let model = Arc::new(model);
        let warm = Arc::clone(&model);
        let dims = input_dims.clone();
        tokio::task::spawn_blocking(move || warm_up(&warm, &dims, &sizes))
            .await
            .map_err(|e| ServeError::Config(format!("compiling the predictors: {e}")))??;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(ServeError::io("binding the service's address"))?;
        let addr = listener
            .local_addr()
            .map_err(ServeError::io("reading the bound address"))?;
        let output_len = output_dims.iter().product();
        let app = App {
            batcher: Batcher::start(Arc::clone(&model), input_dims.clone(), output_len, &config),
            model_json: model_json(&model, &input_dims, &output_dims, &config),
            config,
            input_dims,
            output_dims,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let service = axum::serve(listener, router(Arc::new(app)));
        let task = tokio::spawn(async move {
            service
                .with_graceful_shutdown(async {
                    // Either a stop or a dropped `Server` ends the wait; only a stop counts.
                    if stopped.await.is_err() {
                        std::future::pending::<()>().await;
                    }
                })
                .await
        });
        Ok(Server {
            addr,
            model,
            stop,
            task,
        })
    }

    /// The address the service listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The model served (shared with the batch workers; `predict` takes `&self`).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Stops accepting connections, lets open ones finish and waits for the server to end.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        // An error means the server has already ended: the wait below reports why.
        let _ = self.stop.send(());
        Self::join(self.task).await
    }

    /// Serves until the server fails (it never stops by itself).
    pub async fn wait(self) -> Result<(), ServeError> {
        Self::join(self.task).await
    }

    async fn join(task: JoinHandle<std::io::Result<()>>) -> Result<(), ServeError> {
        match task.await {
            Ok(result) => result.map_err(ServeError::io("serving")),
            Err(e) => Err(ServeError::Config(format!("the server task ended: {e}"))),
        }
    }
}

/// The per-example input and output shapes of a servable (one-input, one-output) model.
fn io_dims(model: &Model) -> Result<(Vec<usize>, Vec<usize>), ServeError> {
    let (inputs, outputs) = (model.input_shapes()?, model.output_shapes()?);
    if inputs.len() != 1 || outputs.len() != 1 {
        return Err(ServeError::Config(format!(
            "the service serves models with one input and one output; `{}` has {} inputs and \
             {} outputs",
            model.name(),
            inputs.len(),
            outputs.len()
        )));
    }
    Ok((inputs[0].dims().to_vec(), outputs[0].dims().to_vec()))
}

/// Every batch size the cache compiles for batches of 1 to `max_batch` examples.
fn compiled_sizes(cache: &PredictorCache, max_batch: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut n = 1;
    while n <= max_batch {
        let size = cache.buckets.compiled_size(n);
        if !sizes.contains(&size) {
            sizes.push(size);
        }
        n = n.max(size) + 1;
    }
    sizes
}

/// Compiles the predictors of `sizes` by predicting zeros.
fn warm_up(model: &Model, input_dims: &[usize], sizes: &[usize]) -> Result<(), ServeError> {
    let numel: usize = input_dims.iter().product();
    for &n in sizes {
        let mut dims = vec![n];
        dims.extend_from_slice(input_dims);
        let x = Tensor::new(Shape::new(dims), vec![0.0; n * numel]).expect("zeros of the shape");
        model.predict(&x, n)?;
    }
    Ok(())
}

/// The body of `GET /v1/model`.
fn model_json(model: &Model, input: &[usize], output: &[usize], config: &ServeConfig) -> String {
    let batched = |dims: &[usize]| {
        let mut shape = vec![serde_json::Value::Null];
        shape.extend(dims.iter().map(|&d| serde_json::Value::from(d)));
        shape
    };
    serde_json::json!({
        "name": model.name(),
        "inputs": [{ "name": model.input_names()[0], "shape": batched(input) }],
        "outputs": [{ "name": model.output_names()[0], "shape": batched(output) }],
        "request": r#"POST /v1/predict {"instances": [instance, ...]}, each instance nested in the input shape or flat"#,
        "max_batch": config.max_batch,
        "max_instances": config.max_instances,
        "max_body_bytes": config.max_body_bytes,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln::model::BatchBuckets;

    #[test]
    fn warm_up_covers_every_bucket_up_to_the_largest_batch() {
        let powers = PredictorCache::default();
        assert_eq!(compiled_sizes(&powers, 32), [1, 2, 4, 8, 16, 32]);
        assert_eq!(compiled_sizes(&powers, 20), [1, 2, 4, 8, 16, 32]);
        let sizes = PredictorCache {
            capacity: 4,
            buckets: BatchBuckets::Sizes(vec![8, 3]),
        };
        assert_eq!(compiled_sizes(&sizes, 20), [3, 8]);
        let exact = PredictorCache {
            capacity: 4,
            buckets: BatchBuckets::Exact,
        };
        assert_eq!(compiled_sizes(&exact, 3), [1, 2, 3]);
    }
}
