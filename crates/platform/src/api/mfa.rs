//! Handlers for second factors (one's own enrolment; a root's reset of a sub-account's),
//! sign-in locks, and the tenant's security settings.

use super::{ApiError, Body, PathParams, routes::Caller};
use crate::{
    accounts::{AccountsError, AuthError, Platform, TenantSettings},
    mfa::MfaEnrolment,
};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The current 6-digit code from the authenticator.
    pub code: String,
}

/// A wrong code while signed in is a bad request, not a lost session.
fn code_error(e: AccountsError) -> ApiError {
    match e {
        AccountsError::Auth(auth @ (AuthError::BadOtp | AuthError::MfaNotEnrolled)) => {
            ApiError::invalid(auth.to_string())
        }
        other => other.into(),
    }
}

fn own(caller: &Caller) -> String {
    format!("account/{}", caller.principal().name)
}

fn no_api_keys(caller: &Caller) -> Result<(), ApiError> {
    if caller.principal().api_key.is_some() {
        return Err(ApiError::invalid(
            "an API key has no second factor: sign in with the account's password to manage it",
        ));
    }
    Ok(())
}

/// Start enrolling a second factor (TOTP): returns the seed once; confirm with a first code.
#[utoipa::path(post, path = "/api/v1/me/mfa", tag = "sessions",
    responses((status = 201, body = MfaEnrolment), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn enroll(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<(StatusCode, Json<MfaEnrolment>), ApiError> {
    caller.authorize(&platform, own(&caller)).await?;
    no_api_keys(&caller)?;
    Ok((
        StatusCode::CREATED,
        Json(platform.enroll_mfa(caller.principal()).await?),
    ))
}

/// Confirm the enrolment with a first code; sign-in needs a code from then on.
#[utoipa::path(post, path = "/api/v1/me/mfa/confirm", tag = "sessions", request_body = CodeRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn confirm(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, own(&caller)).await?;
    no_api_keys(&caller)?;
    platform
        .confirm_mfa(caller.principal(), &request.code)
        .await
        .map_err(code_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn one's own second factor off, proven with a current code.
#[utoipa::path(post, path = "/api/v1/me/mfa/disable", tag = "sessions", request_body = CodeRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn disable(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, own(&caller)).await?;
    no_api_keys(&caller)?;
    platform
        .disable_mfa(caller.principal(), &request.code)
        .await
        .map_err(code_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Clear a sub-account's second factor (a lost authenticator); it enrols again.
#[utoipa::path(post, path = "/api/v1/accounts/{name}/mfa-reset", tag = "accounts", params(("name" = String, Path)),
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn reset_mfa(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .authorize(&platform, format!("account/{name}"))
        .await?;
    platform.reset_mfa(caller.tenant()?, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift the sign-in lock of an account name after repeated failures.
#[utoipa::path(post, path = "/api/v1/accounts/{name}/unlock", tag = "accounts", params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn unlock(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .authorize(&platform, format!("account/{name}"))
        .await?;
    let tenant = caller.tenant()?;
    // Only names of this tenant's accounts: another tenant's lock is not ours to lift.
    platform.account_row(tenant, &name).await?;
    let tenant_name = caller.principal().tenant_name.clone().unwrap_or_default();
    platform.unlock(&tenant_name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's security settings.
#[utoipa::path(get, path = "/api/v1/tenant/settings", tag = "tenants",
    responses((status = 200, body = TenantSettings), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_settings(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<TenantSettings>, ApiError> {
    caller.authorize(&platform, "tenant/settings").await?;
    Ok(Json(platform.tenant_settings(caller.tenant()?).await?))
}

/// Change the tenant's security settings (requiring a second factor needs one's own first).
#[utoipa::path(put, path = "/api/v1/tenant/settings", tag = "tenants", request_body = TenantSettings,
    responses((status = 200, body = TenantSettings), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update_settings(
    State(platform): State<Platform>,
    caller: Caller,
    Body(settings): Body<TenantSettings>,
) -> Result<Json<TenantSettings>, ApiError> {
    caller.authorize(&platform, "tenant/settings").await?;
    Ok(Json(
        platform
            .update_tenant_settings(caller.principal(), settings)
            .await?,
    ))
}
