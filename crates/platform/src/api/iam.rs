//! Handlers for a tenant's accounts, groups, policies, API keys and audit log. Each one names
//! the resource it acts on and asks the caller's authorization before touching anything.

use super::{ApiError, Body, Params, PathParams, routes::Caller};
use crate::{
    accounts::{Account, AccountDetail, InitialCredentials, Platform},
    apikeys::{ApiKey, CreatedApiKey},
    audit::{AuditEntry, AuditQuery, to_csv},
    iam::{Group, GroupDetail, Holder, Policy, PolicyDetail},
    page::{ListQuery, Page},
    policy::PolicyDocument,
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// 2–63 lowercase letters, digits and hyphens.
    pub name: String,
    /// At least 12 characters; omit it to have one generated and returned once.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedAccount {
    pub account: Account,
    /// The generated password, shown once (absent when one was given).
    pub password: Option<String>,
}

/// Create a sub-account.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = CreateAccountRequest,
    responses((status = 201, body = CreatedAccount), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_account(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CreateAccountRequest>,
) -> Result<(StatusCode, Json<CreatedAccount>), ApiError> {
    caller
        .authorize(&platform, format!("account/{}", request.name))
        .await?;
    let (account, password) = platform
        .create_account(caller.tenant()?, &request.name, request.password.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAccount { account, password }),
    ))
}

/// The tenant's accounts, by name.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ListQuery),
    responses((status = 200, body = Page<Account>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_accounts(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<Account>>, ApiError> {
    caller.authorize(&platform, "account/*").await?;
    Ok(Json(platform.accounts(caller.tenant()?, &query).await?))
}

/// An account, its groups and its directly attached policies.
#[utoipa::path(get, path = "/api/v1/accounts/{name}", tag = "accounts", params(("name" = String, Path)),
    responses((status = 200, body = AccountDetail), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_account(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<AccountDetail>, ApiError> {
    caller
        .authorize(&platform, format!("account/{name}"))
        .await?;
    Ok(Json(platform.account(caller.tenant()?, &name).await?))
}

/// Disable a sub-account: its sessions end and its API keys stop working.
#[utoipa::path(post, path = "/api/v1/accounts/{name}/disable", tag = "accounts", params(("name" = String, Path)),
    responses((status = 200, body = Account), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn disable_account(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<Account>, ApiError> {
    caller
        .authorize(&platform, format!("account/{name}"))
        .await?;
    Ok(Json(
        platform.set_disabled(caller.tenant()?, &name, true).await?,
    ))
}

/// Enable a disabled sub-account.
#[utoipa::path(post, path = "/api/v1/accounts/{name}/enable", tag = "accounts", params(("name" = String, Path)),
    responses((status = 200, body = Account), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn enable_account(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<Account>, ApiError> {
    caller
        .authorize(&platform, format!("account/{name}"))
        .await?;
    Ok(Json(
        platform
            .set_disabled(caller.tenant()?, &name, false)
            .await?,
    ))
}

/// Give a sub-account a new generated password (shown once); its sessions end.
#[utoipa::path(post, path = "/api/v1/accounts/{name}/password-reset", tag = "accounts", params(("name" = String, Path)),
    responses((status = 200, body = InitialCredentials), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn reset_password(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<InitialCredentials>, ApiError> {
    caller
        .authorize(&platform, format!("account/{name}"))
        .await?;
    let tenant_name = caller.principal().tenant_name.clone().unwrap_or_default();
    Ok(Json(
        platform
            .reset_password(caller.tenant()?, &tenant_name, &name)
            .await?,
    ))
}

/// Attach a policy to a sub-account.
#[utoipa::path(put, path = "/api/v1/accounts/{name}/policies/{policy}", tag = "policies",
    params(("name" = String, Path), ("policy" = String, Path)),
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn attach_account_policy(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams((name, policy)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller
        .authorize(&platform, format!("account/{name}"))
        .await?;
    platform
        .attach_policy(caller.tenant()?, Holder::Account, &name, &policy)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Detach a policy from a sub-account.
#[utoipa::path(delete, path = "/api/v1/accounts/{name}/policies/{policy}", tag = "policies",
    params(("name" = String, Path), ("policy" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn detach_account_policy(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams((name, policy)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller
        .authorize(&platform, format!("account/{name}"))
        .await?;
    platform
        .detach_policy(caller.tenant()?, Holder::Account, &name, &policy)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Create a group.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroupRequest,
    responses((status = 201, body = Group), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_group(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CreateGroupRequest>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    caller
        .authorize(&platform, format!("group/{}", request.name))
        .await?;
    let group = platform
        .create_group(caller.tenant()?, &request.name, &request.description)
        .await?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// The tenant's groups, by name.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(ListQuery),
    responses((status = 200, body = Page<Group>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_groups(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<Group>>, ApiError> {
    caller.authorize(&platform, "group/*").await?;
    Ok(Json(platform.groups(caller.tenant()?, &query).await?))
}

/// A group, its members and its policies.
#[utoipa::path(get, path = "/api/v1/groups/{name}", tag = "groups", params(("name" = String, Path)),
    responses((status = 200, body = GroupDetail), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_group(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<GroupDetail>, ApiError> {
    caller.authorize(&platform, format!("group/{name}")).await?;
    Ok(Json(platform.group(caller.tenant()?, &name).await?))
}

/// Delete a group; its members lose what its policies granted.
#[utoipa::path(delete, path = "/api/v1/groups/{name}", tag = "groups", params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete_group(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, format!("group/{name}")).await?;
    platform.delete_group(caller.tenant()?, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a sub-account to a group.
#[utoipa::path(put, path = "/api/v1/groups/{name}/members/{account}", tag = "groups",
    params(("name" = String, Path), ("account" = String, Path)),
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn add_member(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams((name, account)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, format!("group/{name}")).await?;
    platform
        .add_member(caller.tenant()?, &name, &account)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove an account from a group.
#[utoipa::path(delete, path = "/api/v1/groups/{name}/members/{account}", tag = "groups",
    params(("name" = String, Path), ("account" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn remove_member(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams((name, account)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, format!("group/{name}")).await?;
    platform
        .remove_member(caller.tenant()?, &name, &account)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Attach a policy to a group.
#[utoipa::path(put, path = "/api/v1/groups/{name}/policies/{policy}", tag = "policies",
    params(("name" = String, Path), ("policy" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn attach_group_policy(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams((name, policy)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, format!("group/{name}")).await?;
    platform
        .attach_policy(caller.tenant()?, Holder::Group, &name, &policy)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Detach a policy from a group.
#[utoipa::path(delete, path = "/api/v1/groups/{name}/policies/{policy}", tag = "policies",
    params(("name" = String, Path), ("policy" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn detach_group_policy(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams((name, policy)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(&platform, format!("group/{name}")).await?;
    platform
        .detach_policy(caller.tenant()?, Holder::Group, &name, &policy)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicyRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub document: PolicyDocument,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePolicyRequest {
    /// Keeps the current description when absent.
    pub description: Option<String>,
    pub document: PolicyDocument,
}

/// Create a policy.
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", request_body = CreatePolicyRequest,
    responses((status = 201, body = Policy), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_policy(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CreatePolicyRequest>,
) -> Result<(StatusCode, Json<Policy>), ApiError> {
    caller
        .authorize(&platform, format!("policy/{}", request.name))
        .await?;
    let policy = platform
        .create_policy(
            caller.tenant()?,
            &request.name,
            &request.description,
            &request.document,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

/// The tenant's policies, by name.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", params(ListQuery),
    responses((status = 200, body = Page<Policy>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_policies(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<Policy>>, ApiError> {
    caller.authorize(&platform, "policy/*").await?;
    Ok(Json(platform.policies(caller.tenant()?, &query).await?))
}

/// A policy and where it is attached.
#[utoipa::path(get, path = "/api/v1/policies/{name}", tag = "policies", params(("name" = String, Path)),
    responses((status = 200, body = PolicyDetail), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_policy(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<PolicyDetail>, ApiError> {
    caller
        .authorize(&platform, format!("policy/{name}"))
        .await?;
    Ok(Json(platform.policy(caller.tenant()?, &name).await?))
}

/// Replace a policy's document; it applies from the next request on.
#[utoipa::path(put, path = "/api/v1/policies/{name}", tag = "policies", params(("name" = String, Path)),
    request_body = UpdatePolicyRequest,
    responses((status = 200, body = Policy), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn update_policy(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    Body(request): Body<UpdatePolicyRequest>,
) -> Result<Json<Policy>, ApiError> {
    caller
        .authorize(&platform, format!("policy/{name}"))
        .await?;
    Ok(Json(
        platform
            .update_policy(
                caller.tenant()?,
                &name,
                request.description.as_deref(),
                &request.document,
            )
            .await?,
    ))
}

/// Delete a policy that is attached nowhere.
#[utoipa::path(delete, path = "/api/v1/policies/{name}", tag = "policies", params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn delete_policy(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .authorize(&platform, format!("policy/{name}"))
        .await?;
    platform.delete_policy(caller.tenant()?, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// What the key may do at most (it never exceeds its account's own permissions).
    pub scope: PolicyDocument,
    /// 1 to 365 days (default 90).
    pub expires_in_days: Option<u32>,
}

/// Create an API key acting for the signed-in account within a scope; the token is shown once.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_api_key(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    caller
        .authorize(&platform, format!("apikey/{}", request.name))
        .await?;
    let created = platform
        .create_api_key(
            caller.principal(),
            &request.name,
            &request.scope,
            request.expires_in_days,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The tenant's API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(ListQuery),
    responses((status = 200, body = Page<ApiKey>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_api_keys(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    caller.authorize(&platform, "apikey/*").await?;
    Ok(Json(platform.api_keys(caller.tenant()?, &query).await?))
}

/// Revoke an API key: it stops working at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{name}", tag = "api-keys", params(("name" = String, Path)),
    responses((status = 200, body = ApiKey), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn revoke_api_key(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<ApiKey>, ApiError> {
    caller
        .authorize(&platform, format!("apikey/{name}"))
        .await?;
    Ok(Json(
        platform.revoke_api_key(caller.tenant()?, &name).await?,
    ))
}

/// Queries page; only exports take a format.
fn no_format(query: &AuditQuery) -> Result<(), ApiError> {
    match query.format {
        Some(_) => Err(ApiError::invalid(
            "format applies to GET /api/v1/audit/export only",
        )),
        None => Ok(()),
    }
}

/// The tenant's audit log, newest first, filtered and paged.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn query_audit(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    caller.authorize(&platform, "audit/log").await?;
    no_format(&query)?;
    Ok(Json(platform.audit(Some(caller.tenant()?), &query).await?))
}

/// Export the tenant's audit log (same filters) as JSON or CSV, newest first, up to 100,000
/// entries; `x-ricaas-truncated: true` says more matched.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "JSON array of entries, or CSV with a header row"),
        (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn export_audit(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<AuditQuery>,
) -> Result<Response, ApiError> {
    caller.authorize(&platform, "audit/log").await?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "format {other:?} is not supported: use json or csv"
            )));
        }
    };
    let (entries, truncated) = platform
        .audit_export(Some(caller.tenant()?), &query)
        .await?;
    let mut response = if csv {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audit.csv\"",
                ),
            ],
            to_csv(&entries),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.json\"",
            )],
            Json(entries),
        )
            .into_response()
    };
    response.headers_mut().insert(
        "x-ricaas-truncated",
        axum::http::HeaderValue::from_static(if truncated { "true" } else { "false" }),
    );
    Ok(response)
}

/// The operator's own audit log (tenant creation, quotas, channels), newest first.
#[utoipa::path(get, path = "/api/v1/platform/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn query_platform_audit(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    caller.authorize(&platform, "audit/platform").await?;
    no_format(&query)?;
    Ok(Json(platform.audit(None, &query).await?))
}
