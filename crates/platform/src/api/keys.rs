//! Handlers for the custodial keystore: generate, import, list, read and export the public
//! half, sign, destroy. Responses carry public halves and signatures only.

use super::{ApiError, Body, Params, PathParams, routes::Caller};
use crate::{
    accounts::Platform,
    keystore::{Algorithm, Backend, Key, Scheme, Signature},
    page::{ListQuery, Page},
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
pub struct CreateKeyRequest {
    pub name: String,
    pub algorithm: Algorithm,
    /// `software` (default) or `pkcs11` (the platform's HSM; not for SM2).
    #[serde(default)]
    pub backend: Backend,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportKeyRequest {
    pub name: String,
    /// A PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub private_key_pem: String,
}

// The PEM must never reach a log line through a Debug print.
impl std::fmt::Debug for ImportKeyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportKeyRequest")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The bytes to sign, hex (`0x` optional); for `ethereum`, a 32-byte digest.
    pub message: String,
    #[serde(default)]
    pub scheme: Scheme,
}

/// Generate a key in the keystore.
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys", request_body = CreateKeyRequest,
    responses((status = 201, body = Key), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn create_key(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<CreateKeyRequest>,
) -> Result<(StatusCode, Json<Key>), ApiError> {
    caller
        .authorize(&platform, format!("key/{}", request.name))
        .await?;
    let key = platform
        .create_key(
            caller.tenant()?,
            &request.name,
            request.algorithm,
            request.backend,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Import a PKCS#8 private key into the software keystore (it is never shown again).
#[utoipa::path(post, path = "/api/v1/key-imports", tag = "keys", request_body = ImportKeyRequest,
    responses((status = 201, body = Key), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn import_key(
    State(platform): State<Platform>,
    caller: Caller,
    Body(request): Body<ImportKeyRequest>,
) -> Result<(StatusCode, Json<Key>), ApiError> {
    caller
        .authorize(&platform, format!("key/{}", request.name))
        .await?;
    let key = platform
        .import_key(caller.tenant()?, &request.name, &request.private_key_pem)
        .await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// The tenant's keys (public halves).
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys", params(ListQuery),
    responses((status = 200, body = Page<Key>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_keys(
    State(platform): State<Platform>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<Key>>, ApiError> {
    caller.authorize(&platform, "key/*").await?;
    Ok(Json(platform.keys(caller.tenant()?, &query).await?))
}

/// A key's public half.
#[utoipa::path(get, path = "/api/v1/keys/{name}", tag = "keys", params(("name" = String, Path)),
    responses((status = 200, body = Key), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_key(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<Key>, ApiError> {
    caller.authorize(&platform, format!("key/{name}")).await?;
    Ok(Json(platform.key(caller.tenant()?, &name).await?))
}

/// Export a key's public half as PEM.
#[utoipa::path(get, path = "/api/v1/keys/{name}/public.pem", tag = "keys", params(("name" = String, Path)),
    responses((status = 200, description = "SubjectPublicKeyInfo PEM", content_type = "application/x-pem-file"),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn export_public_key(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.authorize(&platform, format!("key/{name}")).await?;
    let key = platform.key(caller.tenant()?, &name).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        key.public_key_pem,
    ))
}

/// Sign with a key (`key:Sign` on it; a current code too where the tenant requires it).
#[utoipa::path(post, path = "/api/v1/keys/{name}/sign", tag = "keys", params(("name" = String, Path)),
    request_body = SignRequest,
    responses((status = 200, body = Signature), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn sign(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    Body(request): Body<SignRequest>,
) -> Result<Json<Signature>, ApiError> {
    caller.authorize(&platform, format!("key/{name}")).await?;
    let text = request.message.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let message = hex::decode(text).map_err(|_| {
        ApiError::invalid("message must be hex (0x optional): hex-encode the bytes to sign")
    })?;
    Ok(Json(
        platform
            .sign(caller.tenant()?, &name, &message, request.scheme)
            .await?,
    ))
}

/// Destroy a key's private half; its public half and history stay.
#[utoipa::path(delete, path = "/api/v1/keys/{name}", tag = "keys", params(("name" = String, Path)),
    responses((status = 200, body = Key), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 503, body = ApiError)))]
pub async fn destroy_key(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<Key>, ApiError> {
    caller.authorize(&platform, format!("key/{name}")).await?;
    Ok(Json(platform.destroy_key(caller.tenant()?, &name).await?))
}
