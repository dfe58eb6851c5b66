//! Handlers for sign-up by e-mail and for quotas.

use super::{
    ApiError, Body, PathParams,
    routes::{Caller, Context},
};
use crate::{
    accounts::{Platform, Tenant},
    signup::{Quotas, Usage},
};
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Where the confirmation link goes.
    pub email: String,
    /// The tenant to create: 2–63 lowercase letters, digits and hyphens.
    pub tenant: String,
    /// The root account's password (12+ characters), kept only as an Argon2id hash.
    pub password: String,
}

impl std::fmt::Debug for SignupRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupRequest")
            .field("email", &self.email)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignupAccepted {
    pub message: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The token from the e-mailed link.
    pub token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignupVerified {
    pub tenant: Tenant,
    pub message: String,
}

/// Ask for a new tenant: a confirmation link is e-mailed (nothing is created without it).
#[utoipa::path(post, path = "/api/v1/signups", tag = "tenants", request_body = SignupRequest,
    responses((status = 202, body = SignupAccepted), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError), (status = 429, body = ApiError), (status = 503, body = ApiError)))]
pub async fn sign_up(
    State(platform): State<Platform>,
    Context(context): Context,
    Body(request): Body<SignupRequest>,
) -> Result<(StatusCode, Json<SignupAccepted>), ApiError> {
    context.note_actor(
        format!(
            "sign-up <{}>",
            request.email.chars().take(254).collect::<String>()
        ),
        None,
        format!("tenant/{}", request.tenant),
    );
    platform
        .sign_up(&request.email, &request.tenant, &request.password)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SignupAccepted {
            message: format!(
                "a confirmation link was sent to {}: follow it within 24 hours to create tenant {}",
                request.email, request.tenant
            ),
        }),
    ))
}

/// Follow the e-mailed link: creates the tenant and its root account.
#[utoipa::path(post, path = "/api/v1/signups/verify", tag = "tenants", request_body = VerifyRequest,
    responses((status = 201, body = SignupVerified), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 409, body = ApiError)))]
pub async fn verify(
    State(platform): State<Platform>,
    Context(context): Context,
    Body(request): Body<VerifyRequest>,
) -> Result<(StatusCode, Json<SignupVerified>), ApiError> {
    let tenant = platform.verify_signup(&request.token).await?;
    context.note_actor(
        format!("{}/root", tenant.name),
        Some(tenant.id.clone()),
        format!("tenant/{}", tenant.name),
    );
    Ok((
        StatusCode::CREATED,
        Json(SignupVerified {
            message: format!(
                "tenant {} created: sign in as root with the password you chose",
                tenant.name
            ),
            tenant,
        }),
    ))
}

/// A tenant's quotas and usage (operator).
#[utoipa::path(get, path = "/api/v1/tenants/{name}/quotas", tag = "tenants", params(("name" = String, Path)),
    responses((status = 200, body = Usage), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_quotas(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<Usage>, ApiError> {
    caller
        .authorize(&platform, format!("tenant/{name}"))
        .await?;
    Ok(Json(platform.usage_of(&name).await?))
}

/// Set a tenant's quotas (operator).
#[utoipa::path(put, path = "/api/v1/tenants/{name}/quotas", tag = "tenants", params(("name" = String, Path)),
    request_body = Quotas,
    responses((status = 200, body = Usage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn set_quotas(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    Body(quotas): Body<Quotas>,
) -> Result<Json<Usage>, ApiError> {
    caller
        .authorize(&platform, format!("tenant/{name}"))
        .await?;
    Ok(Json(platform.set_quotas(&name, quotas).await?))
}

/// The caller's tenant's quotas and usage.
#[utoipa::path(get, path = "/api/v1/tenant/usage", tag = "tenants",
    responses((status = 200, body = Usage), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn usage(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Usage>, ApiError> {
    caller.authorize(&platform, "tenant/usage").await?;
    Ok(Json(platform.usage(caller.tenant()?).await?))
}
