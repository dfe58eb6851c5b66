//! API keys for business systems: `ak_<id>.<secret>`, shown once, of which only a SHA-256 of
//! the secret is kept. A key acts for the account that created it, narrowed by its own scope
//! (a policy document), until it expires or is revoked; it stops working the moment its
//! account is disabled.

use crate::{
    accounts::{AccountKind, AccountsError, ApiKeyRef, Platform, Principal, exists_or, token_hash},
    ids::{self, AccountId, ApiKeyId, TenantId},
    page::{ListQuery, Page},
    policy::PolicyDocument,
    store::now_ms,
};
use sha2::Digest;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest lifetime of a key, and the lifetime when none is asked for.
pub const MAX_LIFETIME_DAYS: u32 = 365;
pub const DEFAULT_LIFETIME_DAYS: u32 = 90;

/// An API key as listed: never its secret.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    pub name: String,
    /// The account the key acts for.
    pub account: String,
    pub scope: PolicyDocument,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// Last use, to the minute.
    pub last_used_at: Option<i64>,
}

/// A new key: `token` is shown here once and never again.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// `Authorization: Bearer <token>`.
    pub token: String,
}

type KeyRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

const SELECT_KEYS: &str = "SELECT k.id, k.name, a.name, k.scope, k.created_at, k.expires_at, \
     k.revoked_at, k.last_used_at FROM api_keys k JOIN accounts a ON a.id = k.account_id";

fn key_from_row(
    (id, name, account, scope, created_at, expires_at, revoked_at, last_used_at): KeyRow,
) -> Result<ApiKey, AccountsError> {
    Ok(ApiKey {
        id: ApiKeyId::from_stored(id),
        name,
        account,
        scope: serde_json::from_str(&scope)
            .map_err(|e| AccountsError::Corrupt(format!("stored API key scope: {e}")))?,
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
    })
}

impl Platform {
    /// Creates a key acting for `caller`'s account within `scope`, valid for `days`.
    pub async fn create_api_key(
        &self,
        caller: &Principal,
        name: &str,
        scope: &PolicyDocument,
        days: Option<u32>,
    ) -> Result<CreatedApiKey, AccountsError> {
        let tenant = caller.tenant()?;
        if caller.api_key.is_some() {
            return Err(AccountsError::Invalid(
                "an API key cannot create API keys: sign in with a password to create one".into(),
            ));
        }
        crate::accounts::check_name("API key", name)?;
        scope
            .validate()
            .map_err(|e| AccountsError::Invalid(format!("the key's scope is not valid: {e}")))?;
        self.check_quota(tenant, crate::signup::Counted::ApiKeys)
            .await?;
        let days = days.unwrap_or(DEFAULT_LIFETIME_DAYS);
        if !(1..=MAX_LIFETIME_DAYS).contains(&days) {
            return Err(AccountsError::Invalid(format!(
                "expires_in_days {days} is out of range: use 1 to {MAX_LIFETIME_DAYS}"
            )));
        }
        let id = ApiKeyId::generate();
        let secret = ids::secret("");
        let now = now_ms();
        let scope_text = serde_json::to_string(scope)
            .map_err(|e| AccountsError::Invalid(format!("the key's scope is not valid: {e}")))?;
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, account_id, name, secret_hash, scope, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(caller.account_id.as_str())
        .bind(name)
        .bind(token_hash(&secret))
        .bind(scope_text)
        .bind(now)
        .bind(now + i64::from(days) * DAY_MS)
        .execute(self.store().pool())
        .await
        .map_err(|e| exists_or(e, "API key", name))?;
        let key = self.api_key_row(tenant, name).await?;
        Ok(CreatedApiKey {
            token: format!("{id}.{secret}"),
            key,
        })
    }

    pub async fn api_keys(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<ApiKey>, AccountsError> {
        let limit = query.limit().map_err(AccountsError::Invalid)?;
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "{SELECT_KEYS} WHERE k.tenant_id = $1 AND k.name > $2 AND k.name LIKE $3 ESCAPE '\\' \
             ORDER BY k.name LIMIT $4"
        ))
        .bind(tenant.as_str())
        .bind(query.after())
        .bind(query.like())
        .bind(i64::from(limit) + 1)
        .fetch_all(self.store().pool())
        .await?;
        let keys = rows
            .into_iter()
            .map(key_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(keys, limit, |k| k.name.clone()))
    }

    async fn api_key_row(&self, tenant: &TenantId, name: &str) -> Result<ApiKey, AccountsError> {
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "{SELECT_KEYS} WHERE k.tenant_id = $1 AND k.name = $2"
        ))
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(self.store().pool())
        .await?;
        key_from_row(row.ok_or_else(|| AccountsError::NotFound {
            what: "API key",
            name: name.to_owned(),
        })?)
    }

    /// Revokes a key: it stops working at once. Revoking a revoked key is harmless.
    pub async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<ApiKey, AccountsError> {
        let key = self.api_key_row(tenant, name).await?;
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(key.id.as_str())
            .execute(self.store().pool())
            .await?;
        self.api_key_row(tenant, name).await
    }

    /// The caller behind an `ak_<id>.<secret>` token, if the key is valid now.
    pub async fn authenticate_api_key(&self, token: &str) -> Result<Principal, AccountsError> {
        use crate::accounts::AuthError;
        let (id, secret) = token.split_once('.').ok_or(AuthError::InvalidToken)?;
        let id = ApiKeyId::parse(id).ok_or(AuthError::InvalidToken)?;
        type Row = (
            String,
            String,
            i64,
            Option<i64>,
            Option<i64>,
            String,
            String,
            String,
            String,
            Option<i64>,
            String,
            String,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT k.secret_hash, k.scope, k.expires_at, k.revoked_at, k.last_used_at, k.name, \
             a.id, a.name, a.kind, a.disabled_at, t.id, t.name FROM api_keys k \
             JOIN accounts a ON a.id = k.account_id JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(self.store().pool())
        .await?;
        let Some((
            secret_hash,
            scope,
            expires_at,
            revoked_at,
            last_used_at,
            key_name,
            account_id,
            account_name,
            kind,
            disabled_at,
            tenant_id,
            tenant_name,
        )) = row
        else {
            return Err(AuthError::InvalidToken.into());
        };
        // Constant-time comparison of the hashes: timing reveals nothing about the secret.
        let given = sha2::Sha256::digest(secret.as_bytes());
        let stored = hex::decode(&secret_hash)
            .map_err(|_| AccountsError::Corrupt("API key secret hash".into()))?;
        if !constant_time_eq(&given, &stored) {
            return Err(AuthError::InvalidToken.into());
        }
        if revoked_at.is_some() {
            return Err(AuthError::KeyRevoked.into());
        }
        let now = now_ms();
        if expires_at <= now {
            return Err(AuthError::KeyExpired.into());
        }
        if disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        if last_used_at.is_none_or(|at| at < now - 60_000) {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id.as_str())
                .execute(self.store().pool())
                .await?;
        }
        Ok(Principal {
            account_id: AccountId::from_stored(account_id),
            name: account_name,
            kind: AccountKind::parse(&kind)?,
            tenant_id: Some(TenantId::from_stored(tenant_id)),
            tenant_name: Some(tenant_name),
            api_key: Some(ApiKeyRef { id, name: key_name }),
            scope: Some(
                serde_json::from_str(&scope)
                    .map_err(|e| AccountsError::Corrupt(format!("stored API key scope: {e}")))?,
            ),
            mfa_enabled: false,
            session_mfa: false,
            tenant_settings: Default::default(),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
