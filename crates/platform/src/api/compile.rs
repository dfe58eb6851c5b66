//! Compiling Solidity: `POST /compile`, the compiler releases on offer, and the security
//! reports compilations store (read, resolve a finding, read one a network's version names).

use super::{ApiError, Body, PathParams, routes::Caller};
use crate::{
    accounts::Platform,
    compiler::{Compilation, CompileRequest, Release},
    security::SecurityReport,
};
use axum::{Json, extract::State, http::StatusCode};

/// Largest compile request: the sources of one compilation plus JSON framing.
pub const MAX_COMPILE_BODY_BYTES: usize = ricaas_solc::MAX_SOURCE_BYTES + 512 * 1024;

/// Compile Solidity sources with a solcjs release: the newest the sources' pragmas allow
/// unless `version` names one (installed from the npm registry on first use, checked against
/// its published sha512). Imports between the given files and from `@openzeppelin/contracts`
/// (`dependencies` pins its version) are resolved. A compilation that ran answers 200 —
/// `success` false when its `diagnostics` hold errors, each with file, line and column.
/// Sources that compiled are checked for security weaknesses: `security` lists the findings
/// (rule, SWC ids, severity, place, message) with each rule's explanation and fix.
#[utoipa::path(post, path = "/api/v1/compile", tag = "contracts",
    request_body = CompileRequest,
    responses((status = 200, body = Compilation), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 413, body = ApiError), (status = 503, body = ApiError)))]
pub async fn compile(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CompileRequest>,
) -> Result<Json<Compilation>, ApiError> {
    caller.authorize(&platform, "compiler").await?;
    Ok(Json(platform.compile(caller.tenant()?, request).await?))
}

/// The solcjs releases the platform can compile with, newest first; `installed` ones need no
/// download.
#[utoipa::path(get, path = "/api/v1/compilers", tag = "contracts",
    responses((status = 200, body = Vec<Release>), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 503, body = ApiError)))]
pub async fn list_compilers(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Vec<Release>>, ApiError> {
    caller.authorize(&platform, "compiler").await?;
    Ok(Json(platform.compiler_releases().await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ReportPath {
    /// The report hash (`security.report_hash` of a compilation).
    pub hash: String,
}

/// A security report of one of the tenant's compilations: its findings (each with its
/// resolution, if any), what is still unresolved by severity, and the contracts it built.
#[utoipa::path(get, path = "/api/v1/security-reports/{hash}", tag = "contracts", params(ReportPath),
    responses((status = 200, body = SecurityReport), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_security_report(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<ReportPath>,
) -> Result<Json<SecurityReport>, ApiError> {
    caller
        .authorize(&platform, format!("security-report/{}", path.hash))
        .await?;
    Ok(Json(
        platform
            .security_report(caller.tenant()?, &path.hash)
            .await?,
    ))
}

/// A finding resolved without a code change.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionRequest {
    /// The finding's `id` in the report (`rule@file:line:column`).
    pub finding: String,
    /// Why it is not a weakness here, or why the risk is accepted (10 to 2,000 characters);
    /// shown with the report to every member voting on a version that names it.
    pub reason: String,
}

/// Resolve a finding of one of the tenant's reports without changing the code: a false
/// positive, or a risk the organization accepts. Final, recorded with the caller's account; a
/// channel's `deploy_security_gate` counts only unresolved findings.
#[utoipa::path(post, path = "/api/v1/security-reports/{hash}/resolutions", tag = "contracts", params(ReportPath),
    request_body = ResolutionRequest,
    responses((status = 201, body = SecurityReport), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError)))]
pub async fn resolve_finding(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<ReportPath>,
    Body(request): Body<ResolutionRequest>,
) -> Result<(StatusCode, Json<SecurityReport>), ApiError> {
    caller
        .authorize(&platform, format!("security-report/{}", path.hash))
        .await?;
    let report = platform
        .resolve_finding(
            caller.tenant()?,
            &caller.principal().name,
            &path.hash,
            &request.finding,
            &request.reason,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(report)))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct NetworkReportPath {
    pub name: String,
    pub hash: String,
}

/// The security report a contract version of the network names, as the member that proposed
/// it stored it: what every member reads before voting.
#[utoipa::path(get, path = "/api/v1/networks/{name}/security-reports/{hash}", tag = "contracts",
    params(NetworkReportPath),
    responses((status = 200, body = SecurityReport), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_network_security_report(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkReportPath>,
) -> Result<Json<SecurityReport>, ApiError> {
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    Ok(Json(
        platform
            .network_security_report(caller.tenant()?, &path.name, &path.hash)
            .await?,
    ))
}
