//! The REST surface: `/health`, and under `/api/v1` sessions, accounts, groups, policies, API
//! keys and the audit log, with the OpenAPI 3 document generated from these handlers at
//! `/api/v1/openapi.json`. Every route is declared once in [`routes::ROUTES`] with its action;
//! [`routes::guard`] enforces it. Errors are `{code, message, details}` with a message that
//! says what to do.

mod ca;
mod compile;
mod console;
mod iam;
mod keys;
mod limits;
mod mfa;
mod networks;
pub mod routes;
mod signup;

use crate::accounts::{AccountsError, InitialCredentials, Platform, Principal, Session, Tenant};
use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    extract::{
        State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use routes::{Caller, Context};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest body of a request carrying contract code (a deployment or an upgrade): EIP-3860
/// allows 48 KiB of creation code, twice that as hex, with its ABI beside it.
pub const MAX_CODE_BODY_BYTES: usize = 512 * 1024;

/// The largest body a route accepts.
pub fn body_limit(path: &str) -> usize {
    match path {
        "/api/v1/compile" => compile::MAX_COMPILE_BODY_BYTES,
        "/api/v1/networks/{name}/contracts"
        | "/api/v1/networks/{name}/contracts/{contract}/proposals" => MAX_CODE_BODY_BYTES,
        _ => MAX_BODY_BYTES,
    }
}

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

    /// A failure of the platform itself; `detail` goes to the log, not to the caller.
    fn internal(detail: &str) -> Self {
        tracing::error!(detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the platform could not complete the request; retry, and report it if it persists",
        )
    }

    fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
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
            e @ (AccountsError::OperatorOnly(_) | AccountsError::NotForOperator) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            AccountsError::Forbidden(forbidden) => ApiError {
                details: Some(serde_json::json!({
                    "action": forbidden.action.as_str(),
                    "resource": forbidden.resource,
                })),
                ..ApiError::new(StatusCode::FORBIDDEN, "forbidden", forbidden.to_string())
            },
            e @ (AccountsError::NotFound { .. } | AccountsError::Missing(_)) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            AccountsError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            AccountsError::Unavailable(message) => {
                tracing::error!(%message, "dependency unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            e @ (AccountsError::Store(_) | AccountsError::Corrupt(_)) => {
                ApiError::internal(&e.to_string())
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
            "the request body is larger than this endpoint accepts (64 KiB; 512 KiB with contract code; 2.5 MiB of sources to compile)".to_owned()
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

/// Query parameters whose rejections are answered as [`ApiError`]s.
pub struct Params<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|e: QueryRejection| {
                    ApiError::invalid(format!("{}: fix the query string", e.body_text()))
                })?;
        Ok(Params(value))
    }
}

/// Path parameters whose rejections are answered as [`ApiError`]s.
pub struct PathParams<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for PathParams<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e: PathRejection| {
                ApiError::invalid(format!("{}: fix the path", e.body_text()))
            })?;
        Ok(PathParams(value))
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
    /// The current code from the authenticator, for an account with a second factor.
    pub otp: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
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
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = LoginRequest,
    responses((status = 201, body = Session), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
async fn login(
    State(platform): State<Platform>,
    Context(context): Context,
    Body(request): Body<LoginRequest>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let tenant = match request.tenant.as_deref() {
        Some(name) => platform.tenant_id(name).await?,
        None => None,
    };
    context.note_actor(
        format!(
            "{}/{}",
            request.tenant.as_deref().unwrap_or("operator"),
            request.name
        ),
        tenant,
        format!("account/{}", request.name),
    );
    let session = platform
        .login(
            request.tenant.as_deref(),
            &request.name,
            &request.password,
            request.otp.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Exchange a refresh token (usable once) for a new token pair.
#[utoipa::path(post, path = "/api/v1/sessions/refresh", tag = "sessions", request_body = RefreshRequest,
    responses((status = 201, body = Session), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
async fn refresh(
    State(platform): State<Platform>,
    Body(request): Body<RefreshRequest>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let session = platform.refresh(&request.refresh_token).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

fn own_resource(caller: &Caller) -> String {
    format!("account/{}", caller.principal().name)
}

/// Sign out: the session token stops working.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions",
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn logout(State(platform): State<Platform>, caller: Caller) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, own_resource(&caller)).await?;
    if caller.principal().api_key.is_some() {
        return Err(ApiError::invalid(
            "an API key has no session to end: revoke the key with DELETE /api/v1/api-keys/{name}",
        ));
    }
    if let Some(token) = &caller.context.token {
        platform.logout(token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "sessions",
    responses((status = 200, body = Principal), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn me(State(platform): State<Platform>, caller: Caller) -> Result<Json<Principal>, ApiError> {
    caller.authorize(&platform, own_resource(&caller)).await?;
    Ok(Json(caller.principal().clone()))
}

/// Change the signed-in account's password.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "sessions", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn change_password(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, own_resource(&caller)).await?;
    if caller.principal().api_key.is_some() {
        return Err(ApiError::invalid(
            "an API key cannot change its account's password: sign in with the password",
        ));
    }
    platform
        .change_password(
            caller.principal(),
            &request.current_password,
            &request.new_password,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a tenant and its root account (operator only).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenantRequest,
    responses((status = 201, body = CreatedTenant), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
async fn create_tenant(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CreateTenantRequest>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    caller
        .authorize(&platform, format!("tenant/{}", request.name))
        .await?;
    let (tenant, root) = platform
        .create_tenant(caller.principal(), &request.name)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedTenant { tenant, root })))
}

/// Every tenant (operator only).
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants",
    responses((status = 200, body = Vec<Tenant>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_tenants(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    caller.authorize(&platform, "tenant/*").await?;
    Ok(Json(platform.tenants(caller.principal()).await?))
}

/// An action as policies name it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionInfo {
    pub name: &'static str,
    pub description: &'static str,
}

/// Every action a policy can allow or deny, and the resource kinds it can name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionCatalog {
    pub actions: Vec<ActionInfo>,
    pub resource_kinds: Vec<&'static str>,
}

/// The actions policies can name (for policy editors).
#[utoipa::path(get, path = "/api/v1/actions", tag = "policies",
    responses((status = 200, body = ActionCatalog)))]
async fn actions() -> Json<ActionCatalog> {
    Json(ActionCatalog {
        actions: crate::policy::Action::ALL
            .iter()
            .map(|a| ActionInfo {
                name: a.as_str(),
                description: a.description(),
            })
            .collect(),
        resource_kinds: crate::policy::RESOURCE_KINDS.to_vec(),
    })
}

/// Security schemes, and each operation's action, access and security requirement taken from
/// the route table (so the document cannot disagree with what the guard enforces).
struct RouteTable;

impl utoipa::Modify for RouteTable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
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
        components.add_security_scheme(
            "apikey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ak_<id>.<secret>")
                    .description(Some("An API key from POST /api/v1/api-keys"))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in [
                ("GET", &mut item.get),
                ("POST", &mut item.post),
                ("PUT", &mut item.put),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
            ] {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                let Some(spec) = routes::ROUTES
                    .iter()
                    .find(|r| r.path == path && r.method == method)
                else {
                    continue;
                };
                let extensions = operation.extensions.get_or_insert_with(Default::default);
                extensions.insert("x-ricaas-access".into(), spec.access.as_str().into());
                if let Some(action) = spec.action {
                    extensions.insert("x-ricaas-action".into(), action.as_str().into());
                    let note = format!("Action: `{action}` ({} access).", spec.access.as_str());
                    operation.description = Some(match operation.description.take() {
                        Some(d) => format!("{d}\n\n{note}"),
                        None => note,
                    });
                }
                if spec.access != routes::Access::Public && method != "GET" {
                    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
                    let parameter = ParameterBuilder::new()
                        .name("Idempotency-Key")
                        .parameter_in(ParameterIn::Header)
                        .required(utoipa::openapi::Required::False)
                        .description(Some(
                            "Send the same key again (same caller, same request) to get the first answer instead of a second write; kept 24 hours.",
                        ))
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::String),
                        ))
                        .build();
                    operation
                        .parameters
                        .get_or_insert_with(Vec::new)
                        .push(parameter);
                }
                if spec.access != routes::Access::Public {
                    operation.security = Some(vec![
                        SecurityRequirement::new("session", Vec::<String>::new()),
                        SecurityRequirement::new("apikey", Vec::<String>::new()),
                    ]);
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "RiCaaS platform API", description = "The management plane of RiCaaS: tenants, accounts, groups, policies, API keys and the audit log."),
    paths(health, actions, login, refresh, logout, me, change_password, create_tenant, list_tenants,
        mfa::enroll, mfa::confirm, mfa::disable, mfa::reset_mfa, mfa::unlock, mfa::get_settings,
        mfa::update_settings,
        iam::create_account, iam::list_accounts, iam::get_account, iam::disable_account,
        iam::enable_account, iam::reset_password, iam::attach_account_policy,
        iam::detach_account_policy, iam::create_group, iam::list_groups, iam::get_group,
        iam::delete_group, iam::add_member, iam::remove_member, iam::attach_group_policy,
        iam::detach_group_policy, iam::create_policy, iam::list_policies, iam::get_policy,
        iam::update_policy, iam::delete_policy, iam::create_api_key, iam::list_api_keys,
        iam::revoke_api_key, iam::query_audit, iam::export_audit, iam::query_platform_audit, keys::create_key,
        keys::import_key, keys::list_keys, keys::get_key, keys::export_public_key, keys::sign,
        keys::destroy_key, ca::create_ca, ca::import_ca, ca::get_ca, ca::get_crl, ca::issue,
        ca::list, ca::get, ca::renew, ca::revoke, ca::enroll, ca::enrolments,
        ca::register_channel, ca::list_channels, ca::list_platform_channels, signup::sign_up, signup::verify,
        signup::get_quotas, signup::set_quotas, signup::usage,
        networks::create_network, networks::list_networks, networks::get_network, networks::stop_node,
        networks::start_node, networks::restart_node, networks::node_logs, networks::list_operations,
        networks::get_operation, networks::retry_operation, networks::cancel_operation,
        networks::invite, networks::list_invitations, networks::accept_invitation,
        networks::decline_invitation, networks::propose_join, networks::list_proposals, networks::vote,
        networks::propose_change, networks::add_validator, networks::add_observer, networks::list_network_channels, networks::propose_channel,
        networks::approve_channel, networks::register_node,
        networks::remove_node, networks::list_contracts, networks::propose_deployment,
        networks::get_contract, networks::propose_contract_action, networks::invoke_contract,
        networks::query_contract, networks::contract_openapi, networks::list_invocations,
        networks::get_invocation, compile::compile,
        compile::list_compilers, compile::get_security_report, compile::resolve_finding,
        compile::get_network_security_report),
    modifiers(&RouteTable)
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
    use axum::routing::put;
    Router::new()
        .route("/", get(console::index))
        .route("/console/app.js", get(console::script))
        .route("/console/app.css", get(console::style))
        .route("/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/actions", get(actions))
        .route("/api/v1/sessions", post(login))
        .route("/api/v1/sessions/refresh", post(refresh))
        .route("/api/v1/sessions/current", delete(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/password", post(change_password))
        .route("/api/v1/me/mfa", post(mfa::enroll))
        .route("/api/v1/me/mfa/confirm", post(mfa::confirm))
        .route("/api/v1/me/mfa/disable", post(mfa::disable))
        .route("/api/v1/accounts/{name}/mfa-reset", post(mfa::reset_mfa))
        .route("/api/v1/accounts/{name}/unlock", post(mfa::unlock))
        .route(
            "/api/v1/tenant/settings",
            get(mfa::get_settings).put(mfa::update_settings),
        )
        .route("/api/v1/tenants", post(create_tenant).get(list_tenants))
        .route(
            "/api/v1/tenants/{name}/quotas",
            get(signup::get_quotas).put(signup::set_quotas),
        )
        .route("/api/v1/tenant/usage", get(signup::usage))
        .route("/api/v1/signups", post(signup::sign_up))
        .route("/api/v1/signups/verify", post(signup::verify))
        .route(
            "/api/v1/accounts",
            post(iam::create_account).get(iam::list_accounts),
        )
        .route("/api/v1/accounts/{name}", get(iam::get_account))
        .route(
            "/api/v1/accounts/{name}/disable",
            post(iam::disable_account),
        )
        .route("/api/v1/accounts/{name}/enable", post(iam::enable_account))
        .route(
            "/api/v1/accounts/{name}/password-reset",
            post(iam::reset_password),
        )
        .route(
            "/api/v1/accounts/{name}/policies/{policy}",
            put(iam::attach_account_policy).delete(iam::detach_account_policy),
        )
        .route(
            "/api/v1/groups",
            post(iam::create_group).get(iam::list_groups),
        )
        .route(
            "/api/v1/groups/{name}",
            get(iam::get_group).delete(iam::delete_group),
        )
        .route(
            "/api/v1/groups/{name}/members/{account}",
            put(iam::add_member).delete(iam::remove_member),
        )
        .route(
            "/api/v1/groups/{name}/policies/{policy}",
            put(iam::attach_group_policy).delete(iam::detach_group_policy),
        )
        .route(
            "/api/v1/policies",
            post(iam::create_policy).get(iam::list_policies),
        )
        .route(
            "/api/v1/policies/{name}",
            get(iam::get_policy)
                .put(iam::update_policy)
                .delete(iam::delete_policy),
        )
        .route(
            "/api/v1/api-keys",
            post(iam::create_api_key).get(iam::list_api_keys),
        )
        .route("/api/v1/api-keys/{name}", delete(iam::revoke_api_key))
        .route("/api/v1/keys", post(keys::create_key).get(keys::list_keys))
        .route("/api/v1/key-imports", post(keys::import_key))
        .route(
            "/api/v1/keys/{name}",
            get(keys::get_key).delete(keys::destroy_key),
        )
        .route(
            "/api/v1/keys/{name}/public.pem",
            get(keys::export_public_key),
        )
        .route("/api/v1/keys/{name}/sign", post(keys::sign))
        .route("/api/v1/ca", post(ca::create_ca).get(ca::get_ca))
        .route("/api/v1/ca/import", post(ca::import_ca))
        .route("/api/v1/ca/crl", get(ca::get_crl))
        .route("/api/v1/certificates", post(ca::issue).get(ca::list))
        .route("/api/v1/certificates/{serial}", get(ca::get))
        .route("/api/v1/certificates/{serial}/renew", post(ca::renew))
        .route("/api/v1/certificates/{serial}/revoke", post(ca::revoke))
        .route(
            "/api/v1/certificates/{serial}/enrolments",
            post(ca::enroll).get(ca::enrolments),
        )
        .route(
            "/api/v1/channels",
            post(ca::register_channel).get(ca::list_channels),
        )
        .route(
            "/api/v1/networks",
            post(networks::create_network).get(networks::list_networks),
        )
        .route("/api/v1/networks/{name}", get(networks::get_network))
        .route(
            "/api/v1/networks/{name}/nodes/{node}/stop",
            post(networks::stop_node),
        )
        .route(
            "/api/v1/networks/{name}/nodes/{node}/start",
            post(networks::start_node),
        )
        .route(
            "/api/v1/networks/{name}/nodes/{node}/restart",
            post(networks::restart_node),
        )
        .route(
            "/api/v1/networks/{name}/nodes/{node}/logs",
            get(networks::node_logs),
        )
        .route(
            "/api/v1/networks/{name}/invitations",
            post(networks::invite),
        )
        .route("/api/v1/invitations", get(networks::list_invitations))
        .route(
            "/api/v1/invitations/{id}/accept",
            post(networks::accept_invitation),
        )
        .route(
            "/api/v1/invitations/{id}/decline",
            post(networks::decline_invitation),
        )
        .route(
            "/api/v1/invitations/{id}/proposals",
            post(networks::propose_join),
        )
        .route(
            "/api/v1/networks/{name}/proposals",
            get(networks::list_proposals).post(networks::propose_change),
        )
        .route(
            "/api/v1/networks/{name}/proposals/{id}/votes",
            post(networks::vote),
        )
        .route(
            "/api/v1/networks/{name}/validators",
            post(networks::add_validator),
        )
        .route(
            "/api/v1/networks/{name}/observers",
            post(networks::add_observer),
        )
        .route(
            "/api/v1/networks/{name}/channels",
            get(networks::list_network_channels).post(networks::propose_channel),
        )
        .route(
            "/api/v1/networks/{name}/channels/{channel}/approvals",
            post(networks::approve_channel),
        )
        .route(
            "/api/v1/networks/{name}/nodes",
            post(networks::register_node),
        )
        .route(
            "/api/v1/compile",
            post(compile::compile).layer(DefaultBodyLimit::max(compile::MAX_COMPILE_BODY_BYTES)),
        )
        .route("/api/v1/compilers", get(compile::list_compilers))
        .route(
            "/api/v1/security-reports/{hash}",
            get(compile::get_security_report),
        )
        .route(
            "/api/v1/security-reports/{hash}/resolutions",
            post(compile::resolve_finding),
        )
        .route(
            "/api/v1/networks/{name}/security-reports/{hash}",
            get(compile::get_network_security_report),
        )
        .route(
            "/api/v1/networks/{name}/contracts",
            get(networks::list_contracts)
                .post(networks::propose_deployment)
                .layer(DefaultBodyLimit::max(MAX_CODE_BODY_BYTES)),
        )
        .route(
            "/api/v1/networks/{name}/contracts/{contract}",
            get(networks::get_contract),
        )
        .route(
            "/api/v1/networks/{name}/contracts/{contract}/proposals",
            post(networks::propose_contract_action)
                .layer(DefaultBodyLimit::max(MAX_CODE_BODY_BYTES)),
        )
        .route(
            "/api/v1/networks/{name}/contracts/{contract}/invoke/{method}",
            post(networks::invoke_contract),
        )
        .route(
            "/api/v1/networks/{name}/contracts/{contract}/query/{method}",
            post(networks::query_contract),
        )
        .route(
            "/api/v1/networks/{name}/contracts/{contract}/invocations",
            get(networks::list_invocations),
        )
        .route(
            "/api/v1/networks/{name}/contracts/{contract}/invocations/{id}",
            get(networks::get_invocation),
        )
        .route(
            "/api/v1/networks/{name}/contracts/{contract}/openapi.json",
            get(networks::contract_openapi),
        )
        .route(
            "/api/v1/networks/{name}/nodes/{node}",
            axum::routing::delete(networks::remove_node),
        )
        .route("/api/v1/operations", get(networks::list_operations))
        .route("/api/v1/operations/{id}", get(networks::get_operation))
        .route(
            "/api/v1/operations/{id}/retry",
            post(networks::retry_operation),
        )
        .route(
            "/api/v1/operations/{id}/cancel",
            post(networks::cancel_operation),
        )
        .route("/api/v1/audit", get(iam::query_audit))
        .route("/api/v1/audit/export", get(iam::export_audit))
        .route("/api/v1/platform/audit", get(iam::query_platform_audit))
        .route("/api/v1/platform/channels", get(ca::list_platform_channels))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            routes::GuardState {
                platform: platform.clone(),
                throttle: Default::default(),
            },
            routes::guard,
        ))
        .layer(axum::middleware::from_fn(limits::bound_body))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(platform)
}

/// Serves the platform on `listener` until `shutdown` completes.
pub async fn serve(
    platform: Platform,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(platform).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
