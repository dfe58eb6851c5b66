//! The HTTP + WebSocket server (one port) with request limits and channel path routing.

use crate::{
    backend::ChannelBackend,
    eth::{EthApiServer, EthRpc},
};
use futures::FutureExt;
use jsonrpsee::server::{
    BatchRequestConfig, HttpBody, HttpRequest, HttpResponse, IdProvider, Methods, Server,
    ServerConfig, ServerHandle,
};
use jsonrpsee::types::SubscriptionId;
use std::{future::Future, net::SocketAddr, sync::Arc};
use tower::Service as _;

/// Limits that protect the node from oversized or abusive requests.
#[derive(Clone, Debug)]
pub struct RpcLimits {
    pub max_request_bytes: u32,
    pub max_response_bytes: u32,
    pub max_connections: u32,
    pub max_batch_len: u32,
    pub max_subscriptions_per_connection: u32,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 10 * 1024 * 1024,
            max_response_bytes: 100 * 1024 * 1024,
            max_connections: 1000,
            max_batch_len: 1000,
            max_subscriptions_per_connection: 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RpcServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot register RPC methods: {0}")]
    Register(String),
}

pub struct RpcServer {
    pub local_addr: SocketAddr,
    pub handle: ServerHandle,
}

/// Subscription ids as Ethereum clients expect them: `0x`-prefixed hex.
#[derive(Debug)]
struct HexIdProvider;

impl IdProvider for HexIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Str(format!("0x{:032x}", rand_u128()).into())
    }
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    // Two independently seeded SipHash states: unpredictable enough for subscription ids, which
    // are not secrets (they are scoped to one connection).
    let a = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let b = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (u128::from(a) << 64) | u128::from(b)
}

type Authorize = Arc<dyn Fn(Option<&str>) -> Result<(), String> + Send + Sync>;

/// What one path serves: its methods and who may call those that are not open to everyone.
#[derive(Clone)]
struct Route {
    methods: Methods,
    authorize: Authorize,
    /// Names the refused access in errors ("read access", "admin access").
    access: &'static str,
}

/// The paths one server answers: `/channels/<name>` for each channel the node serves (and `/`
/// for its first one), `/admin` for the node's admin API. Channels are added while the server
/// runs; every request is routed by its path when it arrives (a WebSocket by its upgrade
/// request).
#[derive(Default)]
pub struct RpcRouter {
    channels: parking_lot::RwLock<std::collections::BTreeMap<String, Route>>,
    default_channel: parking_lot::RwLock<Option<String>>,
    admin: parking_lot::RwLock<Option<Route>>,
    metrics: parking_lot::RwLock<Option<MetricsSource>>,
    probes: parking_lot::RwLock<std::collections::BTreeMap<&'static str, ProbeSource>>,
}

/// Renders the node's metrics in the Prometheus text format.
type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

/// Answers a probe: `Ok` with a JSON body (200), or `Err` with one saying what is wrong (503).
type ProbeSource = Arc<dyn Fn() -> Result<serde_json::Value, serde_json::Value> + Send + Sync>;

impl RpcRouter {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Serves `backend` at `/channels/<name>`; the first channel served also answers at `/`.
    pub fn serve_channel<B: ChannelBackend>(
        &self,
        name: &str,
        backend: Arc<B>,
    ) -> Result<(), RpcServerError> {
        let gate = backend.clone();
        let route = Route {
            methods: EthRpc::new(backend).into_rpc().into(),
            authorize: Arc::new(move |header: Option<&str>| gate.authorize_read(header)),
            access: "read access",
        };
        let mut channels = self.channels.write();
        if channels.contains_key(name) {
            return Err(RpcServerError::Register(format!(
                "channel {name} is already served"
            )));
        }
        channels.insert(name.to_string(), route);
        self.default_channel
            .write()
            .get_or_insert_with(|| name.to_string());
        Ok(())
    }

    /// Serves the node's admin API at `/admin`: every method needs `authorize` to accept the
    /// caller's bearer token.
    pub fn serve_admin(
        &self,
        methods: impl Into<Methods>,
        authorize: impl Fn(Option<&str>) -> Result<(), String> + Send + Sync + 'static,
    ) {
        *self.admin.write() = Some(Route {
            methods: methods.into(),
            authorize: Arc::new(authorize),
            access: "admin access",
        });
    }

    /// Serves `render`'s text at `GET /metrics` (Prometheus text format, no token: it holds
    /// counters and timings, nothing a channel's readers are not already shown).
    pub fn serve_metrics(&self, render: impl Fn() -> String + Send + Sync + 'static) {
        *self.metrics.write() = Some(Arc::new(render));
    }

    /// Answers `GET <path>` (e.g. `/health`, `/ready`) with `probe`'s verdict, without a token:
    /// orchestrators (Kubernetes, the platform's supervisor) call it.
    pub fn serve_probe(
        &self,
        path: &'static str,
        probe: impl Fn() -> Result<serde_json::Value, serde_json::Value> + Send + Sync + 'static,
    ) {
        self.probes.write().insert(path, Arc::new(probe));
    }

    fn probe(&self, path: &str) -> Option<HttpResponse> {
        let probe = self.probes.read().get(path).cloned()?;
        let (status, body) = match probe() {
            Ok(body) => (http::StatusCode::OK, body),
            Err(body) => (http::StatusCode::SERVICE_UNAVAILABLE, body),
        };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(HttpBody::from(body.to_string()))
            .ok()
    }

    fn metrics(&self) -> Option<HttpResponse> {
        let render = self.metrics.read().clone()?;
        http::Response::builder()
            .status(http::StatusCode::OK)
            .header(
                http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .body(HttpBody::from(render()))
            .ok()
    }

    /// The channels served, by name.
    pub fn channels(&self) -> Vec<String> {
        self.channels.read().keys().cloned().collect()
    }

    fn route(&self, path: &str) -> Option<Route> {
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            let name = self.default_channel.read().clone()?;
            return self.channels.read().get(&name).cloned();
        }
        if path == "/admin" {
            return self.admin.read().clone();
        }
        let name = path.strip_prefix("/channels/")?;
        self.channels.read().get(name).cloned()
    }

    fn not_found(&self, path: &str) -> HttpResponse {
        let served: Vec<String> = self
            .channels()
            .iter()
            .map(|name| format!("/channels/{name}"))
            .collect();
        let message = format!(
            "no channel is served at {path}; this node serves {}\n",
            if served.is_empty() {
                "none yet".to_string()
            } else {
                served.join(", ")
            }
        );
        http::Response::builder()
            .status(http::StatusCode::NOT_FOUND)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(HttpBody::from(message))
            .unwrap_or_else(|_| http::Response::new(HttpBody::empty()))
    }
}

/// A request the JSON-RPC service could not answer (the connection ends).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ConnectionError(String);

/// Starts the node's JSON-RPC server on `addr`, answering what `router` serves.
pub async fn start_rpc_server(
    addr: SocketAddr,
    router: Arc<RpcRouter>,
    limits: &RpcLimits,
) -> Result<RpcServer, RpcServerError> {
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_response_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_len))
        .set_id_provider(HexIdProvider)
        .build();
    let services = Server::builder()
        .set_config(config)
        .set_rpc_middleware(
            jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer_fn(ReadGate::new),
        )
        .to_service_builder();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RpcServerError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| RpcServerError::Bind { addr, source })?;
    let (stop, handle) = jsonrpsee::server::stop_channel();
    tokio::spawn(async move {
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a JSON-RPC connection failed");
                        continue;
                    }
                },
                _ = stop.clone().shutdown() => break,
            };
            let router = router.clone();
            let services = services.clone();
            let connection_stop = stop.clone();
            let service = tower::service_fn(
                move |mut request: HttpRequest<hyper::body::Incoming>| -> futures::future::BoxFuture<
                    'static,
                    Result<HttpResponse, ConnectionError>,
                > {
                    let path = request.uri().path().to_string();
                    if path == "/metrics"
                        && let Some(response) = router.metrics()
                    {
                        return async move { Ok(response) }.boxed();
                    }
                    if let Some(response) = router.probe(&path) {
                        return async move { Ok(response) }.boxed();
                    }
                    let Some(route) = router.route(&path) else {
                        let response = router.not_found(&path);
                        return async move { Ok(response) }.boxed();
                    };
                    // Decided at most once per HTTP request (per connection for WebSocket),
                    // and only when a call needs it: `ReadGate` knows the method.
                    let header = request.headers().get(http::header::AUTHORIZATION).map(|v| {
                        v.to_str()
                            .map(|s| s.trim_start_matches("Bearer ").trim().to_string())
                            .map_err(|_| ())
                    });
                    request.extensions_mut().insert(ReadAccess {
                        header,
                        authorize: route.authorize,
                        access: route.access,
                        decided: Arc::new(std::sync::OnceLock::new()),
                    });
                    let mut service = services
                        .clone()
                        .build(route.methods, connection_stop.clone());
                    async move {
                        service
                            .call(request)
                            .await
                            .map_err(|e| ConnectionError(e.to_string()))
                    }
                    .boxed()
                },
            );
            let stopped = stop.clone().shutdown();
            tokio::spawn(async move {
                if let Err(e) =
                    jsonrpsee::server::serve_with_graceful_shutdown(socket, service, stopped).await
                {
                    tracing::debug!(error = %e, "JSON-RPC connection ended");
                }
            });
        }
    });
    Ok(RpcServer { local_addr, handle })
}

/// Whether the caller of this HTTP request (or WebSocket connection) may read the channel,
/// decided on first use.
#[derive(Clone)]
struct ReadAccess {
    header: Option<Result<String, ()>>,
    authorize: Authorize,
    access: &'static str,
    decided: Arc<std::sync::OnceLock<Result<(), String>>>,
}

impl ReadAccess {
    fn decide(&self) -> Result<(), String> {
        self.decided
            .get_or_init(|| match &self.header {
                None => (self.authorize)(None),
                Some(Ok(token)) => (self.authorize)(Some(token)),
                Some(Err(())) => Err("the Authorization header is not text".into()),
            })
            .clone()
    }
}

/// Methods anyone may call: sending a transaction (its signature is its authentication and
/// admission checks the sender) and the chain's public identity, which clients need before they
/// can sign anything (and on `/admin`, the node key admin tokens name).
const OPEN_METHODS: [&str; 5] = [
    "eth_sendRawTransaction",
    "eth_chainId",
    "net_version",
    "web3_clientVersion",
    "admin_nodeKey",
];

/// JSON-RPC error code for a refused read.
pub const READ_DENIED_CODE: i32 = -32001;

/// Refuses every other method unless the request's [`ReadAccess`] grants reading.
#[derive(Clone)]
struct ReadGate<S> {
    inner: S,
}

impl<S> ReadGate<S> {
    fn new(inner: S) -> Self {
        Self { inner }
    }
}

fn denial(extensions: &jsonrpsee::Extensions, method: &str) -> Option<String> {
    if OPEN_METHODS.contains(&method) {
        return None;
    }
    let Some(access) = extensions.get::<ReadAccess>() else {
        return Some("access denied: no access was established for this connection".into());
    };
    access
        .decide()
        .err()
        .map(|reason| format!("{} denied: {reason}", access.access))
}

fn denied_error(message: String) -> jsonrpsee::types::ErrorObjectOwned {
    jsonrpsee::types::ErrorObject::owned(READ_DENIED_CODE, message, None::<()>)
}

impl<S> jsonrpsee::server::middleware::rpc::RpcServiceT for ReadGate<S>
where
    S: jsonrpsee::server::middleware::rpc::RpcServiceT<
            MethodResponse = jsonrpsee::MethodResponse,
            BatchResponse = jsonrpsee::MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: jsonrpsee::types::Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        async move {
            match denial(request.extensions(), request.method_name()) {
                None => inner.call(request).await,
                Some(reason) => jsonrpsee::MethodResponse::error(
                    request.id().into_owned(),
                    denied_error(reason),
                ),
            }
        }
    }

    fn batch<'a>(
        &self,
        mut batch: jsonrpsee::server::middleware::rpc::Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        use jsonrpsee::server::middleware::rpc::{BatchEntry, BatchEntryErr};
        for entry in batch.iter_mut() {
            let refusal = match entry {
                Ok(BatchEntry::Call(request)) => {
                    denial(request.extensions(), request.method_name())
                        .map(|reason| (request.id().into_owned(), reason))
                }
                _ => None,
            };
            if let Some((id, reason)) = refusal {
                *entry = Err(BatchEntryErr::new(id, denied_error(reason)));
            }
        }
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: jsonrpsee::server::middleware::rpc::Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(notification)
    }
}
