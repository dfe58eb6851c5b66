//! The REST surface: `/health`, and under `/api/v1` sessions, the caller's account and tenants,
//! with the OpenAPI 3 document generated from these handlers at `/api/v1/openapi.json`.
//! Errors are `{code, message, details}` with a message that says what to do.

use crate::accounts::{AccountsError, InitialCredentials, Platform, Principal, Session, Tenant};
use axum::{
    Json, Router,
    extract::{FromRequestParts, State, rejection::JsonRejection},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An error as every endpoint returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    /// Stable machine-readable code, e.g. `unauthorized`, `invalid_request`.
    pub code: &'static str,
    /// What went wrong and what to do about it.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::Auth(auth) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", auth.to_string())
            }
            AccountsError::Invalid(message) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
            }
            e @ AccountsError::Exists { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            e @ AccountsError::OperatorOnly(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            e @ (AccountsError::Store(_) | AccountsError::Corrupt(_)) => {
                // The detail goes to the log, not to the caller.
                tracing::error!(error = %e, "platform store failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the platform could not complete the request; retry, and report it if it persists",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "invalid_request"
        };
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the request body is larger than {MAX_BODY_BYTES} bytes")
        } else {
            format!(
                "{}: fix the request body and send it again",
                rejection.body_text()
            )
        };
        ApiError::new(status, code, message)
    }
}

/// A JSON body whose rejections are answered as [`ApiError`]s.
pub struct Body<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Body<T>
where
    axum::Json<T>: axum::extract::FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(Body(value))
    }
}

/// The caller, from `Authorization: Bearer <session token>`.
pub struct Caller {
    pub principal: Principal,
    pub token: String,
}

impl FromRequestParts<Platform> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, platform: &Platform) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "no credentials: send `Authorization: Bearer <token>` with the token POST /api/v1/sessions returned",
                )
            })?
            .to_str()
            .map_err(|_| {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the Authorization header is not text")
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the Authorization header must be `Bearer <token>`",
                )
            })?
            .trim()
            .to_owned();
        let principal = platform.authenticate(&token).await?;
        Ok(Caller { principal, token })
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's name; omit it to sign in as the platform operator.
    pub tenant: Option<String>,
    /// The account's name (a tenant's root account is `root`).
    pub name: String,
    pub password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 2–63 lowercase letters, digits and hyphens.
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    /// The root account's generated credentials, shown once: hand them to the tenant, who
    /// should change the password at first sign-in.
    pub root: InitialCredentials,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// At least 12 characters.
    pub new_password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub schema_version: i64,
}

/// Liveness and store reachability.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health), (status = 503, body = ApiError)))]
async fn health(State(platform): State<Platform>) -> Result<Json<Health>, ApiError> {
    let schema_version = platform.store().schema_version().await.map_err(|e| {
        tracing::error!(error = %e, "health check: store unreachable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the platform's database is unreachable",
        )
    })?;
    Ok(Json(Health {
        status: "ok",
        schema_version,
    }))
}

/// Sign in with a password; returns a session token (shown once).
#[utoipa::path(post, path = "/api/v1/sessions", request_body = LoginRequest,
    responses((status = 201, body = Session), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
async fn login(
    State(platform): State<Platform>,
    Body(request): Body<LoginRequest>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let session = platform
        .login(request.tenant.as_deref(), &request.name, &request.password)
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Sign out: the session token stops working.
#[utoipa::path(delete, path = "/api/v1/sessions/current", security(("session" = [])),
    responses((status = 204), (status = 401, body = ApiError)))]
async fn logout(State(platform): State<Platform>, caller: Caller) -> Result<StatusCode, ApiError> {
    platform.logout(&caller.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", security(("session" = [])),
    responses((status = 200, body = Principal), (status = 401, body = ApiError)))]
async fn me(caller: Caller) -> Json<Principal> {
    Json(caller.principal)
}

/// Change the signed-in account's password.
#[utoipa::path(post, path = "/api/v1/me/password", security(("session" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
async fn change_password(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    platform
        .change_password(
            &caller.principal,
            &request.current_password,
            &request.new_password,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a tenant and its root account (operator only).
#[utoipa::path(post, path = "/api/v1/tenants", security(("session" = [])), request_body = CreateTenantRequest,
    responses((status = 201, body = CreatedTenant), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
async fn create_tenant(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CreateTenantRequest>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    let (tenant, root) = platform
        .create_tenant(&caller.principal, &request.name)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedTenant { tenant, root })))
}

/// Every tenant (operator only).
#[utoipa::path(get, path = "/api/v1/tenants", security(("session" = [])),
    responses((status = 200, body = Vec<Tenant>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_tenants(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    Ok(Json(platform.tenants(&caller.principal).await?))
}

struct SessionSecurity;

impl utoipa::Modify for SessionSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token from POST /api/v1/sessions"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "RiCaaS platform API", description = "The management plane of RiCaaS: tenants, accounts and sessions."),
    paths(health, login, logout, me, change_password, create_tenant, list_tenants),
    modifiers(&SessionSecurity)
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: the API is described at /api/v1/openapi.json",
    )
}

/// The platform's HTTP routes.
pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/sessions", post(login))
        .route("/api/v1/sessions/current", axum::routing::delete(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/password", post(change_password))
        .route("/api/v1/tenants", post(create_tenant).get(list_tenants))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(platform)
}

/// Serves the platform on `listener` until `shutdown` completes.
pub async fn serve(
    platform: Platform,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(platform))
        .with_graceful_shutdown(shutdown)
        .await
}
