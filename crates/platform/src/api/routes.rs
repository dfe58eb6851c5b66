//! The one table of routes and what each requires, and the guard every request passes: it
//! finds the route's entry, authenticates the caller, lets the handler name the resource and
//! ask [`Caller::authorize`], refuses a success that skipped authorization, and appends every
//! write to the audit log.

use super::ApiError;
use crate::{
    accounts::{AccountKind, AccountsError, Platform, Principal},
    audit::NewAuditEntry,
    ids::{RequestId, TenantId},
    policy::Action,
};
use axum::{
    extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State},
    http::{HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials (sign-in, health, the API's own description).
    Public,
    /// Any signed-in account on itself, unless one of its policies denies the action.
    Own,
    /// A tenant's accounts, as their policies allow (root: everything in its tenant).
    Tenant,
    /// The platform operator only.
    Platform,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Own => "own",
            Access::Tenant => "tenant",
            Access::Platform => "platform",
        }
    }
}

/// One route: method, path (as the router and the OpenAPI document spell it), who may call
/// it, and the action it performs (what policies allow or deny, and the audit log records).
#[derive(Debug)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub action: Option<Action>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    action: Action,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        action: Some(action),
    }
}

const fn public(method: &'static str, path: &'static str) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access: Access::Public,
        action: None,
    }
}

use Access::{Own, Platform as Operator, Public, Tenant};
use Action as A;

/// Every route of the API. A route the router serves but this table lacks is refused with 500
/// (fail closed); the OpenAPI document takes each operation's action and security from here.
#[rustfmt::skip] // a table: one route per line
pub const ROUTES: &[RouteSpec] = &[
    public("GET", "/"),
    public("GET", "/console/app.js"),
    public("GET", "/console/app.css"),
    public("GET", "/health"),
    public("GET", "/api/v1/openapi.json"),
    public("GET", "/api/v1/actions"),
    route("POST", "/api/v1/sessions", Public, A::SessionSignIn),
    route("POST", "/api/v1/sessions/refresh", Public, A::SessionRefresh),
    route("POST", "/api/v1/signups", Public, A::SignupCreate),
    route("POST", "/api/v1/signups/verify", Public, A::SignupVerify),
    route("POST", "/api/v1/me/mfa", Own, A::AccountEnrollMfa),
    route("POST", "/api/v1/me/mfa/confirm", Own, A::AccountEnrollMfa),
    route("POST", "/api/v1/me/mfa/disable", Own, A::AccountDisableMfa),
    route("POST", "/api/v1/accounts/{name}/mfa-reset", Tenant, A::AccountResetMfa),
    route("POST", "/api/v1/accounts/{name}/unlock", Tenant, A::AccountUnlock),
    route("GET", "/api/v1/tenant/settings", Tenant, A::TenantGetSettings),
    route("PUT", "/api/v1/tenant/settings", Tenant, A::TenantUpdateSettings),
    route("DELETE", "/api/v1/sessions/current", Own, A::SessionSignOut),
    route("GET", "/api/v1/me", Own, A::AccountReadSelf),
    route("POST", "/api/v1/me/password", Own, A::AccountChangeOwnPassword),
    route("POST", "/api/v1/tenants", Operator, A::TenantCreate),
    route("GET", "/api/v1/tenants", Operator, A::TenantList),
    route("GET", "/api/v1/tenants/{name}/quotas", Operator, A::TenantGetQuotas),
    route("PUT", "/api/v1/tenants/{name}/quotas", Operator, A::TenantSetQuotas),
    route("GET", "/api/v1/tenant/usage", Tenant, A::TenantGetQuotas),
    route("POST", "/api/v1/accounts", Tenant, A::AccountCreate),
    route("GET", "/api/v1/accounts", Tenant, A::AccountList),
    route("GET", "/api/v1/accounts/{name}", Tenant, A::AccountGet),
    route("POST", "/api/v1/accounts/{name}/disable", Tenant, A::AccountDisable),
    route("POST", "/api/v1/accounts/{name}/enable", Tenant, A::AccountEnable),
    route("POST", "/api/v1/accounts/{name}/password-reset", Tenant, A::AccountResetPassword),
    route("PUT", "/api/v1/accounts/{name}/policies/{policy}", Tenant, A::PolicyAttach),
    route("DELETE", "/api/v1/accounts/{name}/policies/{policy}", Tenant, A::PolicyDetach),
    route("POST", "/api/v1/groups", Tenant, A::GroupCreate),
    route("GET", "/api/v1/groups", Tenant, A::GroupList),
    route("GET", "/api/v1/groups/{name}", Tenant, A::GroupGet),
    route("DELETE", "/api/v1/groups/{name}", Tenant, A::GroupDelete),
    route("PUT", "/api/v1/groups/{name}/members/{account}", Tenant, A::GroupAddMember),
    route("DELETE", "/api/v1/groups/{name}/members/{account}", Tenant, A::GroupRemoveMember),
    route("PUT", "/api/v1/groups/{name}/policies/{policy}", Tenant, A::PolicyAttach),
    route("DELETE", "/api/v1/groups/{name}/policies/{policy}", Tenant, A::PolicyDetach),
    route("POST", "/api/v1/policies", Tenant, A::PolicyCreate),
    route("GET", "/api/v1/policies", Tenant, A::PolicyList),
    route("GET", "/api/v1/policies/{name}", Tenant, A::PolicyGet),
    route("PUT", "/api/v1/policies/{name}", Tenant, A::PolicyUpdate),
    route("DELETE", "/api/v1/policies/{name}", Tenant, A::PolicyDelete),
    route("POST", "/api/v1/api-keys", Tenant, A::ApiKeyCreate),
    route("GET", "/api/v1/api-keys", Tenant, A::ApiKeyList),
    route("DELETE", "/api/v1/api-keys/{name}", Tenant, A::ApiKeyRevoke),
    route("POST", "/api/v1/keys", Tenant, A::KeyCreate),
    route("POST", "/api/v1/key-imports", Tenant, A::KeyImport),
    route("GET", "/api/v1/keys", Tenant, A::KeyList),
    route("GET", "/api/v1/keys/{name}", Tenant, A::KeyGet),
    route("GET", "/api/v1/keys/{name}/public.pem", Tenant, A::KeyGet),
    route("POST", "/api/v1/keys/{name}/sign", Tenant, A::KeySign),
    route("DELETE", "/api/v1/keys/{name}", Tenant, A::KeyDestroy),
    route("POST", "/api/v1/ca", Tenant, A::CaCreate),
    route("POST", "/api/v1/ca/import", Tenant, A::CaImport),
    route("GET", "/api/v1/ca", Tenant, A::CaGet),
    route("GET", "/api/v1/ca/crl", Tenant, A::CaGetCrl),
    route("POST", "/api/v1/certificates", Tenant, A::CaIssueCertificate),
    route("GET", "/api/v1/certificates", Tenant, A::CaListCertificates),
    route("GET", "/api/v1/certificates/{serial}", Tenant, A::CaGetCertificate),
    route("POST", "/api/v1/certificates/{serial}/renew", Tenant, A::CaRenewCertificate),
    route("POST", "/api/v1/certificates/{serial}/revoke", Tenant, A::CaRevokeCertificate),
    route("POST", "/api/v1/certificates/{serial}/enrolments", Tenant, A::CaEnrollCertificate),
    route("GET", "/api/v1/certificates/{serial}/enrolments", Tenant, A::CaGetCertificate),
    route("POST", "/api/v1/channels", Operator, A::NetworkRegisterChannel),
    route("GET", "/api/v1/channels", Tenant, A::NetworkListChannels),
    route("POST", "/api/v1/networks", Tenant, A::NetworkCreate),
    route("GET", "/api/v1/networks", Tenant, A::NetworkList),
    route("GET", "/api/v1/networks/{name}", Tenant, A::NetworkGet),
    route("POST", "/api/v1/networks/{name}/nodes/{node}/stop", Tenant, A::NetworkStopNode),
    route("POST", "/api/v1/networks/{name}/nodes/{node}/start", Tenant, A::NetworkStartNode),
    route("POST", "/api/v1/networks/{name}/nodes/{node}/restart", Tenant, A::NetworkRestartNode),
    route("GET", "/api/v1/networks/{name}/nodes/{node}/logs", Tenant, A::NetworkReadNodeLogs),
    route("POST", "/api/v1/networks/{name}/invitations", Tenant, A::NetworkInvite),
    route("GET", "/api/v1/invitations", Tenant, A::NetworkListInvitations),
    route("POST", "/api/v1/invitations/{id}/accept", Tenant, A::NetworkAnswerInvitation),
    route("POST", "/api/v1/invitations/{id}/decline", Tenant, A::NetworkAnswerInvitation),
    route("POST", "/api/v1/invitations/{id}/proposals", Tenant, A::NetworkPropose),
    route("GET", "/api/v1/networks/{name}/proposals", Tenant, A::NetworkListProposals),
    route("POST", "/api/v1/networks/{name}/proposals", Tenant, A::NetworkPropose),
    route("POST", "/api/v1/networks/{name}/proposals/{id}/votes", Tenant, A::NetworkVote),
    route("POST", "/api/v1/networks/{name}/validators", Tenant, A::NetworkAddValidator),
    route("POST", "/api/v1/networks/{name}/observers", Tenant, A::NetworkAddObserver),
    route("GET", "/api/v1/networks/{name}/channels", Tenant, A::NetworkListNetworkChannels),
    route("POST", "/api/v1/compile", Tenant, A::ContractCompile),
    route("GET", "/api/v1/compilers", Tenant, A::ContractListCompilers),
    route("GET", "/api/v1/security-reports/{hash}", Tenant, A::ContractGetSecurityReport),
    route("POST", "/api/v1/security-reports/{hash}/resolutions", Tenant, A::ContractResolveFinding),
    route("GET", "/api/v1/networks/{name}/security-reports/{hash}", Tenant, A::ContractGetSecurityReport),
    route("GET", "/api/v1/networks/{name}/contracts", Tenant, A::NetworkListContracts),
    route("POST", "/api/v1/networks/{name}/contracts", Tenant, A::NetworkProposeContract),
    route("GET", "/api/v1/networks/{name}/contracts/{contract}", Tenant, A::NetworkListContracts),
    route("POST", "/api/v1/networks/{name}/contracts/{contract}/proposals", Tenant, A::NetworkProposeContract),
    route("POST", "/api/v1/networks/{name}/contracts/{contract}/invoke/{method}", Tenant, A::NetworkInvokeContract),
    route("POST", "/api/v1/networks/{name}/contracts/{contract}/query/{method}", Tenant, A::NetworkQueryContract),
    route("GET", "/api/v1/networks/{name}/contracts/{contract}/invocations", Tenant, A::NetworkGetInvocation),
    route("GET", "/api/v1/networks/{name}/contracts/{contract}/invocations/{id}", Tenant, A::NetworkGetInvocation),
    route("GET", "/api/v1/networks/{name}/contracts/{contract}/openapi.json", Tenant, A::NetworkListContracts),
    route("POST", "/api/v1/networks/{name}/channels", Tenant, A::NetworkProposeChannel),
    route("POST", "/api/v1/networks/{name}/channels/{channel}/approvals", Tenant, A::NetworkApproveChannel),
    route("POST", "/api/v1/networks/{name}/nodes", Tenant, A::NetworkRegisterNode),
    route("DELETE", "/api/v1/networks/{name}/nodes/{node}", Tenant, A::NetworkRemoveNode),
    route("GET", "/api/v1/operations", Tenant, A::OperationList),
    route("GET", "/api/v1/operations/{id}", Tenant, A::OperationGet),
    route("POST", "/api/v1/operations/{id}/retry", Tenant, A::OperationRetry),
    route("POST", "/api/v1/operations/{id}/cancel", Tenant, A::OperationCancel),
    route("GET", "/api/v1/audit", Tenant, A::AuditQuery),
    route("GET", "/api/v1/audit/export", Tenant, A::AuditExport),
    route("GET", "/api/v1/platform/audit", Operator, A::AuditQueryPlatform),
    route("GET", "/api/v1/platform/channels", Operator, A::NetworkListChannels),
];

/// The table's entry for a request.
pub fn spec(method: &Method, path: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
}

/// What the guard and the handler share about one request.
pub struct RequestContext {
    pub request_id: RequestId,
    pub spec: &'static RouteSpec,
    pub source: String,
    pub principal: Option<Principal>,
    pub token: Option<String>,
    record: Mutex<Record>,
}

#[derive(Default)]
struct Record {
    resource: Option<String>,
    authorized: bool,
    /// For calls without a principal (sign-in): who was named, and their tenant if it exists.
    actor: Option<String>,
    tenant: Option<TenantId>,
}

impl RequestContext {
    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        // A handler that panicked while holding the lock left nothing half-written worth
        // refusing over: the record is plain data.
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Names who a public write acted as (sign-in), for the audit log.
    pub fn note_actor(&self, actor: String, tenant: Option<TenantId>, resource: String) {
        let mut record = self.record();
        record.actor = Some(actor);
        record.tenant = tenant;
        record.resource = Some(resource);
    }
}

/// The authenticated caller of a guarded route.
pub struct Caller {
    pub context: Arc<RequestContext>,
}

impl Caller {
    pub fn principal(&self) -> &Principal {
        // The guard builds a Caller only for requests it authenticated.
        self.context
            .principal
            .as_ref()
            .expect("guarded requests carry a principal")
    }

    /// The caller's tenant (guarded tenant routes never reach a handler for the operator).
    pub fn tenant(&self) -> Result<&TenantId, ApiError> {
        Ok(self.principal().tenant()?)
    }

    /// Checks that the caller may do this route's action on `resource` (`account/alice`),
    /// and records the resource for the audit log.
    pub async fn authorize(
        &self,
        platform: &Platform,
        resource: impl Into<String>,
    ) -> Result<(), ApiError> {
        let resource = resource.into();
        self.context.record().resource = Some(resource.clone());
        let spec = self.context.spec;
        let action = spec
            .action
            .ok_or_else(|| ApiError::internal("a public route asked for authorization"))?;
        let principal = self.principal();
        match spec.access {
            Access::Tenant => platform.authorize(principal, action, &resource).await?,
            Access::Own => {
                platform
                    .authorize_self(principal, action, &resource)
                    .await?
            }
            Access::Platform => {
                if principal.kind != AccountKind::Operator {
                    return Err(AccountsError::OperatorOnly(action.description()).into());
                }
            }
            Access::Public => {}
        }
        self.context.record().authorized = true;
        Ok(())
    }

    /// A second permission a route needs besides its own action — e.g. `key:Sign` on the
    /// admin key a membership transaction is signed with.
    pub async fn authorize_also(
        &self,
        platform: &Platform,
        action: Action,
        resource: &str,
    ) -> Result<(), ApiError> {
        Ok(platform
            .authorize(self.principal(), action, resource)
            .await?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let context = parts
            .extensions
            .get::<Arc<RequestContext>>()
            .cloned()
            .ok_or_else(|| ApiError::internal("request reached a handler without the guard"))?;
        if context.principal.is_none() {
            return Err(ApiError::internal("a public route asked for its caller"));
        }
        Ok(Caller { context })
    }
}

/// The request's context, for public handlers that still record who they acted for.
pub struct Context(pub Arc<RequestContext>);

impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Arc<RequestContext>>()
            .cloned()
            .map(Context)
            .ok_or_else(|| ApiError::internal("request reached a handler without the guard"))
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The bearer token of a request, or why there is none.
fn bearer(parts: &axum::http::HeaderMap) -> Result<String, ApiError> {
    let value = parts
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            unauthorized(
                "no credentials: send `Authorization: Bearer <token>` with the token POST /api/v1/sessions returned, or an API key",
            )
        })?
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
    Ok(token.trim().to_owned())
}

async fn authenticate(platform: &Platform, token: &str) -> Result<Principal, ApiError> {
    if token.starts_with(crate::ids::ApiKeyId::PREFIX) {
        Ok(platform.authenticate_api_key(token).await?)
    } else {
        Ok(platform.authenticate(token).await?)
    }
}

/// Sign-in attempts (public writes) one source address may make per minute.
pub const SIGN_INS_PER_MINUTE: u32 = 30;

/// Counts public writes (sign-in, refresh) per source address in one-minute windows. Kept in
/// memory: each replica counts its own (a shared store would turn every attempt into a write).
#[derive(Default)]
pub struct Throttle {
    windows: Mutex<std::collections::HashMap<std::net::IpAddr, (u64, u32)>>,
}

impl Throttle {
    /// Seconds to wait if `address` has used its attempts this minute; counts this one.
    fn check(&self, address: std::net::IpAddr) -> Option<u64> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let minute = now / 60;
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (window, _)| *window == minute);
        }
        let entry = windows.entry(address).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        (entry.1 > SIGN_INS_PER_MINUTE).then(|| 60 - now % 60)
    }
}

/// What the guard needs: the platform and the sign-in throttle.
#[derive(Clone)]
pub struct GuardState {
    pub platform: Platform,
    pub throttle: Arc<Throttle>,
}

fn mfa_required(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "mfa_required", message)
}

/// What a tenant's second-factor settings demand of this request, if it falls short.
async fn second_factor_refusal(
    platform: &Platform,
    spec: &RouteSpec,
    principal: &Principal,
    headers: &axum::http::HeaderMap,
) -> Option<ApiError> {
    // The operator has no tenant; API keys are bounded by their scope instead.
    if principal.tenant_id.is_none() || principal.api_key.is_some() {
        return None;
    }
    let settings = principal.tenant_settings;
    if settings.mfa_for_login && !principal.session_mfa && spec.access != Access::Own {
        return Some(mfa_required(
            "your tenant requires a second factor at sign-in: enrol one (POST /api/v1/me/mfa, then /api/v1/me/mfa/confirm) and sign in again with a code",
        ));
    }
    let sensitive = spec.action.is_some_and(Action::is_sensitive);
    if !(settings.mfa_for_sensitive && sensitive) {
        return None;
    }
    let Some(code) = headers.get("x-ricaas-otp").and_then(|v| v.to_str().ok()) else {
        return Some(mfa_required(
            "this action is sensitive and your tenant requires a current one-time code for it: send the code from your authenticator in the X-RiCaaS-OTP header",
        ));
    };
    match platform
        .verify_code(&principal.account_id, code, true)
        .await
    {
        Ok(()) => None,
        Err(AccountsError::Auth(e @ crate::accounts::AuthError::MfaNotEnrolled)) => {
            Some(mfa_required(&e.to_string()))
        }
        Err(AccountsError::Auth(e)) => Some(mfa_required(&e.to_string())),
        Err(e) => Some(e.into()),
    }
}

/// What to do with a write that may carry an `Idempotency-Key`.
enum Idempotent {
    /// Run it; with (scope, key) when its answer must be kept.
    Run(Request, Option<(String, String)>),
    /// Answer this instead (a replay, or a refusal).
    Answer(Response),
}

async fn idempotent(platform: &Platform, principal: &Principal, request: Request) -> Idempotent {
    use crate::idempotency::{Claim, MAX_KEY_LEN};
    let Some(value) = request.headers().get("idempotency-key") else {
        return Idempotent::Run(request, None);
    };
    let key = match value.to_str() {
        Ok(key)
            if !key.is_empty()
                && key.len() <= MAX_KEY_LEN
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            key.to_owned()
        }
        _ => {
            return Idempotent::Answer(
                ApiError::invalid(format!(
                    "the Idempotency-Key header must be 1 to {MAX_KEY_LEN} printable ASCII characters without spaces"
                ))
                .into_response(),
            );
        }
    };
    let (parts, body) = request.into_parts();
    let limit = parts
        .extensions
        .get::<MatchedPath>()
        .map_or(super::MAX_BODY_BYTES, |p| super::body_limit(p.as_str()));
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Idempotent::Answer(
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
            .into_response(),
        );
    };
    let fingerprint = {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        hasher.update(parts.method.as_str().as_bytes());
        hasher.update(b" ");
        hasher.update(parts.uri.to_string().as_bytes());
        hasher.update(b"\n");
        hasher.update(&bytes);
        hex::encode(hasher.finalize())
    };
    // Keys are the caller's own: an API key and its account do not share them.
    let scope = principal
        .api_key
        .as_ref()
        .map_or_else(|| principal.account_id.to_string(), |k| k.id.to_string());
    match platform.claim_idempotency(&scope, &key, &fingerprint).await {
        Ok(Claim::New) => Idempotent::Run(
            Request::from_parts(parts, axum::body::Body::from(bytes)),
            Some((scope, key)),
        ),
        Ok(Claim::Replay {
            status,
            content_type,
            body,
        }) => {
            let mut response = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                body,
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Idempotent::Answer(response)
        }
        Ok(Claim::InProgress) => Idempotent::Answer(
            ApiError::new(
                StatusCode::CONFLICT,
                "in_progress",
                "a request with this Idempotency-Key is still being processed: retry in a moment",
            )
            .into_response(),
        ),
        Ok(Claim::Mismatch) => Idempotent::Answer(
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request: use a new key for a new request",
            )
            .into_response(),
        ),
        Err(e) => Idempotent::Answer(ApiError::from(e).into_response()),
    }
}

/// Keeps the answer to a write that came with an idempotency key (and frees the key if the
/// write failed in a way worth retrying).
async fn remember(platform: &Platform, scope: &str, key: &str, response: Response) -> Response {
    let status = response.status();
    if status.is_server_error() {
        if let Err(e) = platform.release_idempotency(scope, key).await {
            tracing::error!(error = %e, "releasing an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return ApiError::internal("an answer too large to keep for its idempotency key")
            .into_response();
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    if let Err(e) = platform
        .complete_idempotency(scope, key, status.as_u16(), &content_type, &bytes)
        .await
    {
        tracing::error!(error = %e, "keeping the answer of an idempotency key");
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The middleware every request passes (see the module doc).
pub async fn guard(
    State(GuardState { platform, throttle }): State<GuardState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = RequestId::generate();
    let Some(matched) = matched else {
        // No route: the fallback answers 404.
        return with_request_id(next.run(request).await, &request_id);
    };
    let method = request.method().clone();
    let Some(spec) = spec(&method, matched.as_str()) else {
        tracing::error!(%method, path = matched.as_str(), "route missing from the route table");
        return with_request_id(
            ApiError::internal("this route is not declared in the route table").into_response(),
            &request_id,
        );
    };
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string());
    let path = request.uri().path().to_owned();
    let is_write = method != Method::GET && method != Method::HEAD;
    if spec.access == Access::Public
        && is_write
        && let Some(address) = request.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Some(wait) = throttle.check(address.0.ip())
    {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many sign-in attempts from your address: wait {wait} seconds"),
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return with_request_id(response, &request_id);
    }

    let (principal, token) = if spec.access == Access::Public {
        (None, None)
    } else {
        let authenticated = match bearer(request.headers()) {
            Ok(token) => authenticate(&platform, &token).await.map(|p| (p, token)),
            Err(e) => Err(e),
        };
        match authenticated {
            Ok((principal, token)) => (Some(principal), Some(token)),
            Err(error) => {
                let response = error.into_response();
                if is_write {
                    let entry = NewAuditEntry {
                        tenant: None,
                        actor: "anonymous".into(),
                        credential: "none".into(),
                        action: spec.action.map_or("-", Action::as_str).to_owned(),
                        resource: "-".into(),
                        method: method.to_string(),
                        path,
                        source,
                        request_id: request_id.to_string(),
                        status: response.status().as_u16(),
                    };
                    append(&platform, &entry).await;
                }
                return with_request_id(response, &request_id);
            }
        }
    };
    // Route-level refusals no policy can lift.
    if let Some(principal) = &principal {
        let refusal = match spec.access {
            Access::Tenant if principal.kind == AccountKind::Operator => {
                Some(AccountsError::NotForOperator.into())
            }
            Access::Platform if principal.kind != AccountKind::Operator => Some(
                AccountsError::OperatorOnly(spec.action.map_or("do this", Action::description))
                    .into(),
            ),
            _ => second_factor_refusal(&platform, spec, principal, request.headers()).await,
        };
        if let Some(refusal) = refusal {
            let response = ApiError::into_response(refusal);
            if is_write {
                let entry = audit_entry(
                    spec,
                    principal,
                    &method,
                    path,
                    source,
                    &request_id,
                    "-",
                    response.status(),
                );
                append(&platform, &entry).await;
            }
            return with_request_id(response, &request_id);
        }
    }

    let context = Arc::new(RequestContext {
        request_id: request_id.clone(),
        spec,
        source: source.clone(),
        principal,
        token,
        record: Mutex::new(Record::default()),
    });
    request.extensions_mut().insert(context.clone());
    let (request, ticket) = match (&context.principal, is_write) {
        (Some(principal), true) => match idempotent(&platform, principal, request).await {
            Idempotent::Run(request, ticket) => (request, ticket),
            Idempotent::Answer(response) => return with_request_id(response, &request_id),
        },
        _ => (request, None),
    };
    // The entry of a write is on disk before the write runs: if the platform stops midway the
    // entry stays with status 0, and no write ever happens unrecorded. Without a store to
    // record it in, nothing is done.
    let intent = if is_write {
        let entry = match &context.principal {
            Some(principal) => audit_entry(
                spec,
                principal,
                &method,
                path.clone(),
                source.clone(),
                &request_id,
                "-",
                StatusCode::OK,
            ),
            None => NewAuditEntry {
                tenant: None,
                actor: "anonymous".into(),
                credential: "none".into(),
                action: spec.action.map_or("-", Action::as_str).to_owned(),
                resource: "-".into(),
                method: method.to_string(),
                path: path.clone(),
                source: source.clone(),
                request_id: request_id.to_string(),
                status: 0,
            },
        };
        match platform
            .append_audit(&NewAuditEntry { status: 0, ..entry })
            .await
        {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(error = %e, "audit entry could not be written; request refused");
                if let Some((scope, key)) = &ticket {
                    let _ = platform.release_idempotency(scope, key).await;
                }
                return with_request_id(
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the audit log cannot be written, so nothing was done: retry later",
                    )
                    .into_response(),
                    &request_id,
                );
            }
        }
    } else {
        None
    };
    let mut response = next.run(request).await;
    if let Some((scope, key)) = ticket {
        response = remember(&platform, &scope, &key, response).await;
    }

    let (resource, authorized, actor, tenant) = {
        let record = context.record();
        (
            record.resource.clone(),
            record.authorized,
            record.actor.clone(),
            record.tenant.clone(),
        )
    };
    if spec.access != Access::Public && response.status().is_success() && !authorized {
        // A handler that succeeded without asking is a bug; refuse rather than leak.
        tracing::error!(%method, path = spec.path, "handler succeeded without authorizing");
        response =
            ApiError::internal("the request was not authorized by its handler").into_response();
    }
    tracing::debug!(
        request_id = %request_id,
        %method,
        route = spec.path,
        status = response.status().as_u16(),
        actor = context.principal.as_ref().map(Principal::actor),
        "request"
    );
    if is_write {
        let resource = resource.as_deref().unwrap_or("-");
        let entry = match &context.principal {
            Some(principal) => audit_entry(
                spec,
                principal,
                &method,
                path,
                source,
                &request_id,
                resource,
                response.status(),
            ),
            None => NewAuditEntry {
                tenant,
                actor: actor.unwrap_or_else(|| "anonymous".into()),
                credential: "none".into(),
                action: spec.action.map_or("-", Action::as_str).to_owned(),
                resource: resource.to_owned(),
                method: method.to_string(),
                path,
                source,
                request_id: request_id.to_string(),
                status: response.status().as_u16(),
            },
        };
        match &intent {
            Some(id) => {
                if let Err(e) = platform.finish_audit(id, &entry).await {
                    tracing::error!(error = %e, ?entry, "audit entry could not be completed");
                }
            }
            None => append(&platform, &entry).await,
        }
    }
    with_request_id(response, &request_id)
}

#[allow(clippy::too_many_arguments)]
fn audit_entry(
    spec: &RouteSpec,
    principal: &Principal,
    method: &Method,
    path: String,
    source: String,
    request_id: &RequestId,
    resource: &str,
    status: StatusCode,
) -> NewAuditEntry {
    NewAuditEntry {
        tenant: principal.tenant_id.clone(),
        actor: principal.actor(),
        credential: principal
            .api_key
            .as_ref()
            .map_or_else(|| "session".to_owned(), |k| format!("apikey:{}", k.id)),
        action: spec.action.map_or("-", Action::as_str).to_owned(),
        resource: resource.to_owned(),
        method: method.to_string(),
        path,
        source,
        request_id: request_id.to_string(),
        status: status.as_u16(),
    }
}

/// Appends an entry; if the store refuses, the entry goes to the log in full instead, so the
/// act is never unrecorded (the entry holds no secrets).
async fn append(platform: &Platform, entry: &NewAuditEntry) {
    if let Err(e) = platform.append_audit(entry).await {
        tracing::error!(error = %e, ?entry, "audit entry could not be stored");
    }
}

fn with_request_id(mut response: Response, request_id: &RequestId) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
