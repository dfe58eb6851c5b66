//! The HTTP + WebSocket server (one port) with request limits and channel path routing.

use crate::{
    backend::ChannelBackend,
    eth::{EthApiServer, EthRpc},
};
use futures::FutureExt;
use jsonrpsee::server::{
    BatchRequestConfig, HttpBody, HttpRequest, HttpResponse, IdProvider, Server, ServerConfig,
    ServerHandle,
};
use jsonrpsee::types::SubscriptionId;
use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

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

/// Serves the channel at `/` and at `/channels/<name>`; any other path is 404.
pub async fn start_rpc_server<B: ChannelBackend>(
    addr: SocketAddr,
    channel: &str,
    backend: Arc<B>,
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
    let paths: Arc<[String]> = Arc::from(vec!["/".to_string(), format!("/channels/{channel}")]);
    let gate_backend = backend.clone();
    let middleware = tower::ServiceBuilder::new().layer_fn(move |inner| PathFilter {
        inner,
        paths: paths.clone(),
        authorize: {
            let backend = gate_backend.clone();
            Arc::new(move |header: Option<&str>| backend.authorize_read(header))
        },
    });
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(middleware)
        .set_rpc_middleware(
            jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer_fn(ReadGate::new),
        )
        .build(addr)
        .await
        .map_err(|source| RpcServerError::Bind { addr, source })?;
    let local_addr = server
        .local_addr()
        .map_err(|source| RpcServerError::Bind { addr, source })?;
    let module = EthRpc::new(backend).into_rpc();
    let handle = server.start(module);
    Ok(RpcServer { local_addr, handle })
}

type Authorize = Arc<dyn Fn(Option<&str>) -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
struct PathFilter<S> {
    inner: S,
    paths: Arc<[String]>,
    authorize: Authorize,
}

impl<S, B> tower::Service<HttpRequest<B>> for PathFilter<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: HttpRequest<B>) -> Self::Future {
        let path = request.uri().path().trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        if self.paths.iter().any(|p| p == path) {
            // Decided at most once per HTTP request (per connection for WebSocket), and only
            // when a call needs it: `ReadGate` knows the method.
            let header = request.headers().get(http::header::AUTHORIZATION).map(|v| {
                v.to_str()
                    .map(|s| s.trim_start_matches("Bearer ").trim().to_string())
                    .map_err(|_| ())
            });
            let access = ReadAccess {
                header,
                authorize: self.authorize.clone(),
                decided: Arc::new(std::sync::OnceLock::new()),
            };
            request.extensions_mut().insert(access);
            return self
                .inner
                .call(request)
                .map(|r| r.map_err(Into::into))
                .boxed();
        }
        let message = format!(
            "no channel is served at {path}; use {}\n",
            self.paths.join(" or ")
        );
        let response = http::Response::builder()
            .status(http::StatusCode::NOT_FOUND)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(HttpBody::from(message))
            .unwrap_or_else(|_| http::Response::new(HttpBody::empty()));
        async move { Ok(response) }.boxed()
    }
}

/// Whether the caller of this HTTP request (or WebSocket connection) may read the channel,
/// decided on first use.
#[derive(Clone)]
struct ReadAccess {
    header: Option<Result<String, ()>>,
    authorize: Authorize,
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
/// can sign anything.
const OPEN_METHODS: [&str; 4] = [
    "eth_sendRawTransaction",
    "eth_chainId",
    "net_version",
    "web3_clientVersion",
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
    match extensions.get::<ReadAccess>().map(ReadAccess::decide) {
        Some(Ok(())) => None,
        Some(Err(reason)) => Some(reason),
        None => Some("no read access was established for this connection".into()),
    }
}

fn denied_error(reason: String) -> jsonrpsee::types::ErrorObjectOwned {
    jsonrpsee::types::ErrorObject::owned(
        READ_DENIED_CODE,
        format!("read access denied: {reason}"),
        None::<()>,
    )
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
