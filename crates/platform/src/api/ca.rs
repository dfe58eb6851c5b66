//! Handlers for the tenant's certificate authority and its certificate inventory.

use super::{ApiError, Body, Params, PathParams, routes::Caller};
use crate::{
    accounts::Platform,
    certificates::{CaInfo, CertificateInfo, CertificateQuery, Subject},
    chain::{Channel, Enrolment},
    keystore::Algorithm,
    page::Page,
    policy::Action,
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCaRequest {
    /// The organization name the CA certifies (`O=`); the tenant's name by default.
    pub org: Option<String>,
    /// The CA key's algorithm (default p256).
    pub algorithm: Option<Algorithm>,
    /// The keystore name of the CA's key (default `ca`).
    pub key_name: Option<String>,
    /// Validity of the CA certificate, 1 to 3650 days (default 3650).
    pub days: Option<u32>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportCaRequest {
    pub certificate_pem: String,
    /// PKCS#8 PEM; sealed in the keystore at once, never shown again.
    pub private_key_pem: String,
    /// The keystore name of the CA's key (default `ca`).
    pub key_name: Option<String>,
}

impl std::fmt::Debug for ImportCaRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportCaRequest")
            .field("key_name", &self.key_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The identity's name (`CN=`): letters, digits, `-`, `_`, `.`.
    pub common_name: String,
    /// `admin`, `client` or `node`.
    pub role: String,
    /// A key of the tenant's keystore to certify…
    pub key: Option<String>,
    /// …or a public key held elsewhere (PEM).
    pub public_key_pem: Option<String>,
    /// 1 to 3650 days (default 365).
    pub days: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    pub days: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why (kept with the certificate, up to 200 characters).
    #[serde(default)]
    pub reason: String,
}

/// Create the tenant's certificate authority (its key in the keystore).
#[utoipa::path(post, path = "/api/v1/ca", tag = "certificates", request_body = CreateCaRequest,
    responses((status = 201, body = CaInfo), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_ca(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CreateCaRequest>,
) -> Result<(StatusCode, Json<CaInfo>), ApiError> {
    let tenant_name = caller.principal().tenant_name.clone().unwrap_or_default();
    let org = request.org.unwrap_or(tenant_name);
    caller.authorize(&platform, format!("ca/{org}")).await?;
    let info = platform
        .create_ca(
            caller.tenant()?,
            &org,
            request.key_name.as_deref().unwrap_or("ca"),
            request.algorithm.unwrap_or(Algorithm::P256),
            request.days,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Import an existing CA certificate and its private key (e.g. from an external authority).
#[utoipa::path(post, path = "/api/v1/ca/import", tag = "certificates", request_body = ImportCaRequest,
    responses((status = 201, body = CaInfo), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn import_ca(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<ImportCaRequest>,
) -> Result<(StatusCode, Json<CaInfo>), ApiError> {
    caller.authorize(&platform, "ca/*").await?;
    let info = platform
        .import_ca(
            caller.tenant()?,
            &request.certificate_pem,
            &request.private_key_pem,
            request.key_name.as_deref().unwrap_or("ca"),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// The tenant's CA certificate.
#[utoipa::path(get, path = "/api/v1/ca", tag = "certificates",
    responses((status = 200, body = CaInfo), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_ca(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<CaInfo>, ApiError> {
    caller.authorize(&platform, "ca/*").await?;
    Ok(Json(platform.ca_info(caller.tenant()?).await?))
}

/// The CA's certificate revocation list (PEM, valid 7 days).
#[utoipa::path(get, path = "/api/v1/ca/crl", tag = "certificates",
    responses((status = 200, description = "X.509 CRL, PEM", content_type = "application/pkix-crl"),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_crl(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.authorize(&platform, "ca/*").await?;
    let pem = platform.crl(caller.tenant()?).await?;
    Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], pem))
}

/// Issue an identity certificate for a keystore key or a public key held elsewhere.
#[utoipa::path(post, path = "/api/v1/certificates", tag = "certificates", request_body = IssueRequest,
    responses((status = 201, body = CertificateInfo), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn issue(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<IssueRequest>,
) -> Result<(StatusCode, Json<CertificateInfo>), ApiError> {
    caller
        .authorize(&platform, format!("certificate/{}", request.common_name))
        .await?;
    let subject = match (request.key, request.public_key_pem) {
        (Some(key), None) => Subject::Key(key),
        (None, Some(pem)) => Subject::PublicKey(pem),
        _ => {
            return Err(ApiError::invalid(
                "give exactly one of `key` (a keystore key) and `public_key_pem`",
            ));
        }
    };
    let info = platform
        .issue_certificate(
            caller.tenant()?,
            &request.common_name,
            &request.role,
            &subject,
            request.days,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// The certificate inventory, soonest expiry first; filter by `expiring_within_days`.
#[utoipa::path(get, path = "/api/v1/certificates", tag = "certificates", params(CertificateQuery),
    responses((status = 200, body = Page<CertificateInfo>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<CertificateQuery>,
) -> Result<Json<Page<CertificateInfo>>, ApiError> {
    caller.authorize(&platform, "certificate/*").await?;
    Ok(Json(platform.certificates(caller.tenant()?, &query).await?))
}

/// A certificate by serial (hex).
#[utoipa::path(get, path = "/api/v1/certificates/{serial}", tag = "certificates", params(("serial" = String, Path)),
    responses((status = 200, body = CertificateInfo), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(serial): PathParams<String>,
) -> Result<Json<CertificateInfo>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let info = platform.certificate(&tenant, &serial).await?;
    caller
        .authorize(&platform, format!("certificate/{}", info.common_name))
        .await?;
    Ok(Json(info))
}

/// Issue a new certificate for the same identity (name, role and key).
#[utoipa::path(post, path = "/api/v1/certificates/{serial}/renew", tag = "certificates", params(("serial" = String, Path)),
    request_body = RenewRequest,
    responses((status = 201, body = CertificateInfo), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn renew(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(serial): PathParams<String>,
    Body(request): Body<RenewRequest>,
) -> Result<(StatusCode, Json<CertificateInfo>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let old = platform.certificate(&tenant, &serial).await?;
    caller
        .authorize(&platform, format!("certificate/{}", old.common_name))
        .await?;
    let info = platform
        .renew_certificate(&tenant, &serial, request.days)
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// `<network>/<channel>`, as GET /api/v1/channels lists them.
    pub channel: String,
    /// The keystore key (secp256k1, enrolled as an admin of the tenant's organization on that
    /// channel) that signs the membership transaction; needs `key:Sign` on it too.
    pub admin_key: String,
}

/// Enrol a certificate on a channel: the tenant's admin key signs `IMembership.enroll`.
#[utoipa::path(post, path = "/api/v1/certificates/{serial}/enrolments", tag = "certificates", params(("serial" = String, Path)),
    request_body = EnrollRequest,
    responses((status = 201, body = Enrolment), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn enroll(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(serial): PathParams<String>,
    Body(request): Body<EnrollRequest>,
) -> Result<(StatusCode, Json<Enrolment>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let certificate = platform.certificate(&tenant, &serial).await?;
    caller
        .authorize(
            &platform,
            format!("certificate/{}", certificate.common_name),
        )
        .await?;
    caller
        .authorize_also(
            &platform,
            Action::KeySign,
            &format!("key/{}", request.admin_key),
        )
        .await?;
    let enrolment = platform
        .enroll_certificate(&tenant, &serial, &request.channel, &request.admin_key)
        .await?;
    Ok((StatusCode::CREATED, Json(enrolment)))
}

/// The channels a certificate is enrolled on.
#[utoipa::path(get, path = "/api/v1/certificates/{serial}/enrolments", tag = "certificates", params(("serial" = String, Path)),
    responses((status = 200, body = Vec<Enrolment>), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn enrolments(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(serial): PathParams<String>,
) -> Result<Json<Vec<Enrolment>>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let certificate = platform.certificate(&tenant, &serial).await?;
    caller
        .authorize(
            &platform,
            format!("certificate/{}", certificate.common_name),
        )
        .await?;
    Ok(Json(platform.enrolments(&tenant, &serial).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterChannelRequest {
    pub network: String,
    pub name: String,
    /// A node's JSON-RPC URL of the channel, e.g. `http://10.0.0.5:8545/channels/default`.
    pub rpc_url: String,
}

/// Register a channel the platform may reach (operator).
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", request_body = RegisterChannelRequest,
    responses((status = 201, body = Channel), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn register_channel(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<RegisterChannelRequest>,
) -> Result<(StatusCode, Json<Channel>), ApiError> {
    caller
        .authorize(
            &platform,
            format!("channel/{}/{}", request.network, request.name),
        )
        .await?;
    let channel = platform
        .register_channel(&request.network, &request.name, &request.rpc_url)
        .await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

/// The channels the platform can reach.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = Vec<Channel>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_channels(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Vec<Channel>>, ApiError> {
    caller.authorize(&platform, "channel/*").await?;
    Ok(Json(platform.channels().await?))
}

/// Revoke a certificate: it is in the CRL from now on.
#[utoipa::path(post, path = "/api/v1/certificates/{serial}/revoke", tag = "certificates", params(("serial" = String, Path)),
    request_body = RevokeRequest,
    responses((status = 200, body = CertificateInfo), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn revoke(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(serial): PathParams<String>,
    Body(request): Body<RevokeRequest>,
) -> Result<Json<CertificateInfo>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let old = platform.certificate(&tenant, &serial).await?;
    caller
        .authorize(&platform, format!("certificate/{}", old.common_name))
        .await?;
    // Where it is enrolled, the admin key that enrolled it revokes its account on chain: the
    // caller must be allowed to sign with each before anything changes.
    let pending: Vec<Enrolment> = platform
        .enrolments(&tenant, &serial)
        .await?
        .into_iter()
        .filter(|e| e.revoked_at.is_none())
        .collect();
    for enrolment in &pending {
        caller
            .authorize_also(
                &platform,
                Action::KeySign,
                &format!("key/{}", enrolment.admin_key),
            )
            .await?;
    }
    let revoked = platform
        .revoke_certificate(&tenant, &serial, &request.reason)
        .await?;
    if !pending.is_empty() {
        platform.revoke_enrolments(&tenant, &serial).await?;
    }
    Ok(Json(revoked))
}

/// The channels the platform can reach, as the operator sees them.
#[utoipa::path(get, path = "/api/v1/platform/channels", tag = "channels",
    responses((status = 200, body = Vec<Channel>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_platform_channels(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Vec<Channel>>, ApiError> {
    caller.authorize(&platform, "channel/*").await?;
    Ok(Json(platform.channels().await?))
}
