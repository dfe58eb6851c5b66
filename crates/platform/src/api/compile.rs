//! Compiling Solidity: `POST /compile` and the compiler releases on offer.

use super::{ApiError, Body, routes::Caller};
use crate::{
    accounts::Platform,
    compiler::{Compilation, CompileRequest, Release},
};
use axum::{Json, extract::State};

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
    Ok(Json(platform.compile(request).await?))
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
