//! Each tenant's certificate authority and its inventory, over `ricaas_crypto::ca`: create a
//! CA (its key in the tenant's keystore) or import one an external authority issued; issue,
//! renew and revoke identity certificates (admin, client, node; every key type); publish the
//! CRL; list every certificate with its expiry and days left.

use crate::{
    accounts::{AccountsError, Platform},
    ids::{CertificateId, TenantId},
    keystore::{Algorithm, Backend},
    page::{MAX_LIMIT, Page},
    store::now_ms,
};
use ricaas_crypto::ca::{self, CertificateAuthority, Role};
use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;
/// Longest validity the API issues (ten years), and the default for identities.
pub const MAX_DAYS: u32 = 3650;
pub const DEFAULT_DAYS: u32 = 365;

/// The tenant's CA as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CaInfo {
    /// The organization the CA names (`O=`), as the chain knows it.
    pub org: String,
    /// The keystore key that signs for the CA.
    pub key: String,
    pub origin: String,
    pub certificate_pem: String,
    pub serial: String,
    pub not_after: i64,
    pub days_left: i64,
}

/// Where a certificate stands now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Valid,
    Expired,
    Revoked,
}

/// A certificate of the inventory.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateInfo {
    #[schema(value_type = String)]
    pub id: CertificateId,
    /// Lowercase hex.
    pub serial: String,
    pub common_name: String,
    /// `ca`, `admin`, `client` or `node`.
    pub role: String,
    /// The keystore key the certificate is for, if it is one of the tenant's.
    pub key: Option<String>,
    /// The Ethereum address of a secp256k1 identity (how the chain names it).
    pub address: Option<String>,
    pub certificate_pem: String,
    pub not_before: i64,
    pub not_after: i64,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
    pub status: Status,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
    /// The serial this certificate renewed.
    pub renewed_from: Option<String>,
    pub created_at: i64,
}

/// What to issue a certificate for.
#[derive(Clone, Debug)]
pub enum Subject {
    /// A key of the tenant's keystore.
    Key(String),
    /// A public key held elsewhere (SubjectPublicKeyInfo PEM).
    PublicKey(String),
}

/// Filters of the inventory.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CertificateQuery {
    /// Only valid certificates whose `notAfter` is within this many days.
    pub expiring_within_days: Option<u32>,
    pub status: Option<Status>,
    /// `ca`, `admin`, `client` or `node`.
    pub role: Option<String>,
    /// Common names containing this text.
    pub q: Option<String>,
    /// 1 to 500 (default 50); ordered by `notAfter`, soonest first.
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

fn ca_error(e: ca::CaError) -> AccountsError {
    AccountsError::Invalid(e.to_string())
}

fn days_left(not_after: i64, now: i64) -> i64 {
    (not_after - now).div_euclid(DAY_MS)
}

fn check_days(days: Option<u32>) -> Result<u32, AccountsError> {
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AccountsError::Invalid(format!(
            "days {days} is out of range: use 1 to {MAX_DAYS}"
        )));
    }
    Ok(days)
}

type CertRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
);

const SELECT_CERTS: &str = "SELECT id, serial, common_name, role, key_name, address, certificate, \
     not_before, not_after, revoked_at, revocation_reason, renewed_from, created_at FROM certificates";

fn cert_from_row(row: CertRow, now: i64) -> CertificateInfo {
    let (
        id,
        serial,
        common_name,
        role,
        key,
        address,
        certificate_pem,
        not_before,
        not_after,
        revoked_at,
        revocation_reason,
        renewed_from,
        created_at,
    ) = row;
    let status = if revoked_at.is_some() {
        Status::Revoked
    } else if not_after <= now {
        Status::Expired
    } else {
        Status::Valid
    };
    CertificateInfo {
        id: CertificateId::from_stored(id),
        serial,
        common_name,
        role,
        key,
        address,
        certificate_pem,
        not_before,
        not_after,
        days_left: days_left(not_after, now),
        status,
        revoked_at,
        revocation_reason,
        renewed_from,
        created_at,
    }
}

impl Platform {
    /// Creates the tenant's CA for `org` (the tenant's name by default), with a new software
    /// key `key_name` in its keystore.
    pub async fn create_ca(
        &self,
        tenant: &TenantId,
        org: &str,
        key_name: &str,
        algorithm: Algorithm,
        days: Option<u32>,
    ) -> Result<CaInfo, AccountsError> {
        let days = check_days(days.or(Some(MAX_DAYS)))?;
        self.refuse_second_ca(tenant).await?;
        self.create_key(tenant, key_name, algorithm, Backend::Software)
            .await?;
        let key = self.software_key(tenant, key_name).await?;
        let authority = CertificateAuthority::root_with_key(org, key, days).map_err(ca_error)?;
        self.store_ca(tenant, &authority, key_name, "created").await
    }

    /// Imports a CA certificate and its PKCS#8 private key (an external authority's), after
    /// checking that they belong together.
    pub async fn import_ca(
        &self,
        tenant: &TenantId,
        certificate_pem: &str,
        private_key_pem: &str,
        key_name: &str,
    ) -> Result<CaInfo, AccountsError> {
        self.refuse_second_ca(tenant).await?;
        let certificate = ca::certificate_from_pem(certificate_pem).map_err(|e| {
            AccountsError::Invalid(format!("certificate_pem is not a PEM certificate: {e}"))
        })?;
        let key =
            ricaas_crypto::ca::IdentityKey::from_pkcs8_pem(private_key_pem).map_err(|_| {
                AccountsError::Invalid(
                    "private_key_pem is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)"
                        .into(),
                )
            })?;
        let authority = CertificateAuthority::from_parts(certificate, key).map_err(ca_error)?;
        self.import_key(tenant, key_name, private_key_pem).await?;
        self.store_ca(tenant, &authority, key_name, "imported")
            .await
    }

    async fn refuse_second_ca(&self, tenant: &TenantId) -> Result<(), AccountsError> {
        let existing: Option<(String,)> =
            sqlx::query_as("SELECT org FROM certificate_authorities WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_optional(self.store().pool())
                .await?;
        match existing {
            Some((org,)) => Err(AccountsError::Conflict(format!(
                "this tenant already has a CA (for {org}); its certificates stay valid under it"
            ))),
            None => Ok(()),
        }
    }

    async fn store_ca(
        &self,
        tenant: &TenantId,
        authority: &CertificateAuthority,
        key_name: &str,
        origin: &str,
    ) -> Result<CaInfo, AccountsError> {
        let pem = ca::certificate_pem(authority.certificate()).map_err(ca_error)?;
        let now = now_ms();
        let mut tx = self.store().pool().begin().await?;
        sqlx::query(
            "INSERT INTO certificate_authorities (tenant_id, org, key_name, certificate, origin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.as_str())
        .bind(authority.org())
        .bind(key_name)
        .bind(&pem)
        .bind(origin)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| crate::accounts::exists_or(e, "CA of tenant", tenant.as_str()))?;
        insert_certificate(
            &mut tx,
            tenant,
            authority.certificate(),
            &format!("ca.{}", authority.org()),
            "ca",
            Some(key_name),
            None,
        )
        .await?;
        tx.commit().await?;
        self.ca_info(tenant).await
    }

    pub async fn ca_info(&self, tenant: &TenantId) -> Result<CaInfo, AccountsError> {
        let row: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT org, key_name, certificate, origin FROM certificate_authorities WHERE tenant_id = $1",
        )
        .bind(tenant.as_str())
        .fetch_optional(self.store().pool())
        .await?;
        let (org, key, certificate_pem, origin) = row.ok_or_else(no_ca)?;
        let certificate = ca::certificate_from_pem(&certificate_pem)
            .map_err(|e| AccountsError::Corrupt(format!("stored CA certificate: {e}")))?;
        let (_, not_after) = ca::validity_of(&certificate);
        let not_after = not_after as i64 * 1000;
        Ok(CaInfo {
            org,
            key,
            origin,
            serial: ca::serial_hex(&certificate),
            certificate_pem,
            not_after,
            days_left: days_left(not_after, now_ms()),
        })
    }

    /// The tenant's CA with its private key, for one signature.
    pub(crate) async fn authority(
        &self,
        tenant: &TenantId,
    ) -> Result<CertificateAuthority, AccountsError> {
        let info = self.ca_info(tenant).await?;
        let certificate = ca::certificate_from_pem(&info.certificate_pem)
            .map_err(|e| AccountsError::Corrupt(format!("stored CA certificate: {e}")))?;
        let key = self.software_key(tenant, &info.key).await?;
        CertificateAuthority::from_parts(certificate, key)
            .map_err(|e| AccountsError::Corrupt(format!("stored CA: {e}")))
    }

    /// Issues a certificate to `common_name` in `role` for `subject`, valid for `days`.
    pub async fn issue_certificate(
        &self,
        tenant: &TenantId,
        common_name: &str,
        role: &str,
        subject: &Subject,
        days: Option<u32>,
    ) -> Result<CertificateInfo, AccountsError> {
        let days = check_days(days)?;
        let role: Role = role.parse().map_err(AccountsError::Invalid)?;
        let authority = self.authority(tenant).await?;
        let (spki, key_name) = match subject {
            Subject::Key(name) => {
                let key = self.key(tenant, name).await?;
                if key.destroyed_at.is_some() {
                    return Err(AccountsError::Conflict(format!(
                        "key {name} was destroyed: certify a key that still exists"
                    )));
                }
                (pem_spki(&key.public_key_pem)?, Some(name.clone()))
            }
            Subject::PublicKey(pem) => (pem_spki(pem)?, None),
        };
        let certificate = authority
            .issue(common_name, role, spki, days)
            .map_err(ca_error)?;
        self.record_issued(
            tenant,
            &certificate,
            common_name,
            role.as_str(),
            key_name.as_deref(),
            None,
        )
        .await
    }

    async fn record_issued(
        &self,
        tenant: &TenantId,
        certificate: &ca::Certificate,
        common_name: &str,
        role: &str,
        key_name: Option<&str>,
        renewed_from: Option<&str>,
    ) -> Result<CertificateInfo, AccountsError> {
        let mut tx = self.store().pool().begin().await?;
        insert_certificate(
            &mut tx,
            tenant,
            certificate,
            common_name,
            role,
            key_name,
            renewed_from,
        )
        .await?;
        tx.commit().await?;
        self.certificate(tenant, &ca::serial_hex(certificate)).await
    }

    /// Adds a certificate the tenant's CA issued elsewhere (e.g. by `ricaas ca`) to the
    /// inventory, linked to keystore key `key_name` if given.
    pub async fn record_certificate(
        &self,
        tenant: &TenantId,
        certificate_pem: &str,
        key_name: Option<&str>,
    ) -> Result<CertificateInfo, AccountsError> {
        let certificate = ca::certificate_from_pem(certificate_pem)
            .map_err(|e| AccountsError::Invalid(format!("not a PEM certificate: {e}")))?;
        let authority = self.authority(tenant).await?;
        ca::verify_issuer(authority.certificate(), &certificate)
            .map_err(|e| AccountsError::Invalid(e.to_string()))?;
        let role = ca::role_of(&certificate)
            .ok_or_else(|| AccountsError::Invalid("the certificate names no role (OU)".into()))?;
        let common_name = ca::common_name_of(&certificate)
            .ok_or_else(|| AccountsError::Invalid("the certificate names no CN".into()))?;
        self.record_issued(
            tenant,
            &certificate,
            &common_name,
            role.as_str(),
            key_name,
            None,
        )
        .await
    }

    /// A new certificate for the same identity (name, role, key) as `serial`.
    pub async fn renew_certificate(
        &self,
        tenant: &TenantId,
        serial: &str,
        days: Option<u32>,
    ) -> Result<CertificateInfo, AccountsError> {
        let days = check_days(days)?;
        let old = self.certificate(tenant, serial).await?;
        if old.role == "ca" {
            return Err(AccountsError::Invalid(
                "the CA's own certificate is not renewed here: it is the root of every identity it issued".into(),
            ));
        }
        let role: Role = old.role.parse().map_err(AccountsError::Corrupt)?;
        let spki = ca::certificate_from_pem(&old.certificate_pem)
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?
            .tbs_certificate
            .subject_public_key_info;
        let authority = self.authority(tenant).await?;
        let certificate = authority
            .issue(&old.common_name, role, spki, days)
            .map_err(ca_error)?;
        self.record_issued(
            tenant,
            &certificate,
            &old.common_name,
            &old.role,
            old.key.as_deref(),
            Some(serial),
        )
        .await
    }

    /// Revokes a certificate: it appears in the CRL from now on.
    pub async fn revoke_certificate(
        &self,
        tenant: &TenantId,
        serial: &str,
        reason: &str,
    ) -> Result<CertificateInfo, AccountsError> {
        if reason.chars().count() > 200 {
            return Err(AccountsError::Invalid(
                "the reason is longer than 200 characters".into(),
            ));
        }
        let certificate = self.certificate(tenant, serial).await?;
        if certificate.role == "ca" {
            return Err(AccountsError::Invalid(
                "the CA's own certificate cannot be revoked by its own CRL".into(),
            ));
        }
        sqlx::query(
            "UPDATE certificates SET revoked_at = $1, revocation_reason = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(reason)
        .bind(certificate.id.as_str())
        .execute(self.store().pool())
        .await?;
        self.certificate(tenant, serial).await
    }

    /// The CA's certificate revocation list (PEM), valid for 7 days from now.
    pub async fn crl(&self, tenant: &TenantId) -> Result<String, AccountsError> {
        let authority = self.authority(tenant).await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT serial, revoked_at FROM certificates WHERE tenant_id = $1 \
             AND revoked_at IS NOT NULL ORDER BY revoked_at",
        )
        .bind(tenant.as_str())
        .fetch_all(self.store().pool())
        .await?;
        let revoked = rows
            .iter()
            .map(|(serial, at)| {
                Ok((
                    ca::serial_from_hex(serial)
                        .map_err(|e| AccountsError::Corrupt(e.to_string()))?,
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(*at as u64),
                ))
            })
            .collect::<Result<Vec<_>, AccountsError>>()?;
        let crl = authority.crl(&revoked, 7).map_err(ca_error)?;
        ca::crl_pem(&crl).map_err(ca_error)
    }

    pub async fn certificate(
        &self,
        tenant: &TenantId,
        serial: &str,
    ) -> Result<CertificateInfo, AccountsError> {
        let row: Option<CertRow> = sqlx::query_as(&format!(
            "{SELECT_CERTS} WHERE tenant_id = $1 AND serial = $2"
        ))
        .bind(tenant.as_str())
        .bind(serial.to_ascii_lowercase())
        .fetch_optional(self.store().pool())
        .await?;
        Ok(cert_from_row(
            row.ok_or_else(|| AccountsError::NotFound {
                what: "certificate with serial",
                name: serial.to_owned(),
            })?,
            now_ms(),
        ))
    }

    /// The inventory, soonest expiry first, filtered and paged (`after` is the `next` of the
    /// previous page: `<not_after>:<serial>`).
    pub async fn certificates(
        &self,
        tenant: &TenantId,
        query: &CertificateQuery,
    ) -> Result<Page<CertificateInfo>, AccountsError> {
        let limit = match query.limit {
            None => crate::page::DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(n) => {
                return Err(AccountsError::Invalid(format!(
                    "limit {n} is out of range: use 1 to {MAX_LIMIT}"
                )));
            }
        };
        let (after_time, after_serial) = match query.after.as_deref() {
            None | Some("") => (i64::MIN, String::new()),
            Some(cursor) => {
                let parsed = cursor
                    .split_once(':')
                    .and_then(|(t, s)| Some((t.parse::<i64>().ok()?, s.to_owned())));
                parsed.ok_or_else(|| {
                    AccountsError::Invalid("after must be the `next` of the previous page".into())
                })?
            }
        };
        if let Some(role) = &query.role
            && !["ca", "admin", "client", "node"].contains(&role.as_str())
        {
            return Err(AccountsError::Invalid(format!(
                "role {role:?} is not one of ca, admin, client, node"
            )));
        }
        let now = now_ms();
        let (status, expiring_before) = match (query.status, query.expiring_within_days) {
            (_, Some(days)) => ("valid", now + i64::from(days) * DAY_MS),
            (Some(Status::Valid), None) => ("valid", i64::MAX),
            (Some(Status::Expired), None) => ("expired", i64::MAX),
            (Some(Status::Revoked), None) => ("revoked", i64::MAX),
            (None, None) => ("", i64::MAX),
        };
        let like = crate::page::ListQuery {
            q: query.q.clone(),
            ..Default::default()
        }
        .like();
        let rows: Vec<CertRow> = sqlx::query_as(&format!(
            "{SELECT_CERTS} WHERE tenant_id = $1 \
             AND (not_after > $2 OR (not_after = $2 AND serial > $3)) \
             AND ($4 = '' OR role = $4) AND common_name LIKE $5 ESCAPE '\\' \
             AND not_after <= $6 \
             AND ($7 = '' \
                  OR ($7 = 'valid' AND revoked_at IS NULL AND not_after > $8) \
                  OR ($7 = 'expired' AND revoked_at IS NULL AND not_after <= $8) \
                  OR ($7 = 'revoked' AND revoked_at IS NOT NULL)) \
             ORDER BY not_after, serial LIMIT $9"
        ))
        .bind(tenant.as_str())
        .bind(after_time)
        .bind(&after_serial)
        .bind(query.role.clone().unwrap_or_default())
        .bind(like)
        .bind(expiring_before)
        .bind(status)
        .bind(now)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.store().pool())
        .await?;
        let certificates = rows
            .into_iter()
            .map(|row| cert_from_row(row, now))
            .collect();
        Ok(Page::from_rows(certificates, limit, |c| {
            format!("{}:{}", c.not_after, c.serial)
        }))
    }
}

fn no_ca() -> AccountsError {
    AccountsError::Missing(
        "this tenant has no certificate authority yet: create one (POST /api/v1/ca) or import one (POST /api/v1/ca/import)".into(),
    )
}

fn pem_spki(pem: &str) -> Result<spki::SubjectPublicKeyInfoOwned, AccountsError> {
    use der::DecodePem as _;
    spki::SubjectPublicKeyInfoOwned::from_pem(pem).map_err(|_| {
        AccountsError::Invalid(
            "public_key_pem is not a PEM public key (-----BEGIN PUBLIC KEY-----)".into(),
        )
    })
}

async fn insert_certificate(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant: &TenantId,
    certificate: &ca::Certificate,
    common_name: &str,
    role: &str,
    key_name: Option<&str>,
    renewed_from: Option<&str>,
) -> Result<(), AccountsError> {
    let pem = ca::certificate_pem(certificate).map_err(ca_error)?;
    let (not_before, not_after) = ca::validity_of(certificate);
    sqlx::query(
        "INSERT INTO certificates (id, tenant_id, serial, common_name, role, key_name, address, \
         certificate, not_before, not_after, renewed_from, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(CertificateId::generate().as_str())
    .bind(tenant.as_str())
    .bind(ca::serial_hex(certificate))
    .bind(common_name)
    .bind(role)
    .bind(key_name)
    .bind(ca::ethereum_address_of(certificate).map(|a| a.to_string()))
    .bind(pem)
    .bind(not_before as i64 * 1000)
    .bind(not_after as i64 * 1000)
    .bind(renewed_from)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
