//! The custodial keystore of each tenant: secp256k1, P-256, Ed25519 and SM2 keys generated or
//! imported, kept sealed (envelope encryption under the master key) or inside an HSM
//! ([`hsm`], PKCS#11), and used only to sign. No function here returns private key material;
//! errors name keys, never their bytes.

pub mod hsm;

use crate::{
    accounts::{AccountsError, Platform, exists_or},
    ids::{KeyId, TenantId},
    page::{ListQuery, Page},
    seal::DataKey,
    store::now_ms,
};
use ricaas_crypto::ca::{IdentityKey, KeyAlgorithm};
use serde::{Deserialize, Serialize};
use spki::SubjectPublicKeyInfoOwned;
use std::sync::Arc;

/// Largest message the keystore signs in one request.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// A key's algorithm, as the API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Secp256k1,
    P256,
    Ed25519,
    Sm2,
}

impl Algorithm {
    fn as_str(self) -> &'static str {
        match self {
            Algorithm::Secp256k1 => "secp256k1",
            Algorithm::P256 => "p256",
            Algorithm::Ed25519 => "ed25519",
            Algorithm::Sm2 => "sm2",
        }
    }

    fn parse(stored: &str) -> Result<Self, AccountsError> {
        match stored {
            "secp256k1" => Ok(Algorithm::Secp256k1),
            "p256" => Ok(Algorithm::P256),
            "ed25519" => Ok(Algorithm::Ed25519),
            "sm2" => Ok(Algorithm::Sm2),
            other => Err(AccountsError::Corrupt(format!("key algorithm {other:?}"))),
        }
    }

    pub fn crypto(self) -> KeyAlgorithm {
        match self {
            Algorithm::Secp256k1 => KeyAlgorithm::Secp256k1,
            Algorithm::P256 => KeyAlgorithm::P256,
            Algorithm::Ed25519 => KeyAlgorithm::Ed25519,
            Algorithm::Sm2 => KeyAlgorithm::Sm2,
        }
    }

    fn of(algorithm: KeyAlgorithm) -> Self {
        match algorithm {
            KeyAlgorithm::Secp256k1 => Algorithm::Secp256k1,
            KeyAlgorithm::P256 => Algorithm::P256,
            KeyAlgorithm::Ed25519 => Algorithm::Ed25519,
            KeyAlgorithm::Sm2 => Algorithm::Sm2,
        }
    }
}

/// Where a key's private half lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Sealed in the platform's database under the master key.
    #[default]
    Software,
    /// Inside the HSM the platform was started with (`--pkcs11-module`).
    Pkcs11,
}

impl Backend {
    fn parse(stored: &str) -> Result<Self, AccountsError> {
        match stored {
            "software" => Ok(Backend::Software),
            "pkcs11" => Ok(Backend::Pkcs11),
            other => Err(AccountsError::Corrupt(format!("key backend {other:?}"))),
        }
    }
}

/// What a signature is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// A document signature as certificates and channel configurations carry them: ECDSA
    /// (SHA-256) and SM2 (SM3) in DER, Ed25519 raw — verifiable against the key's certificate.
    #[default]
    Document,
    /// An Ethereum signature `r‖s‖v` (v = 0 or 1) over a 32-byte digest: secp256k1 only.
    Ethereum,
}

/// A key as the API shows it: its public half only.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Key {
    #[schema(value_type = String)]
    pub id: KeyId,
    pub name: String,
    pub algorithm: Algorithm,
    pub backend: Backend,
    /// `generated` in the keystore or `imported`.
    pub origin: String,
    /// SubjectPublicKeyInfo, PEM.
    pub public_key_pem: String,
    /// The Ethereum address of a secp256k1 key.
    pub address: Option<String>,
    pub created_at: i64,
    /// Set once the private half is destroyed.
    pub destroyed_at: Option<i64>,
}

/// A signature made by the keystore.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Signature {
    pub key: String,
    pub algorithm: Algorithm,
    pub scheme: Scheme,
    /// `0x`-prefixed hex.
    pub signature: String,
}

type KeyRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
);

const SELECT_KEYS: &str = "SELECT id, name, algorithm, backend, origin, public_key, address, \
     created_at, destroyed_at FROM keys";

fn key_from_row(
    (id, name, algorithm, backend, origin, public_key, address, created_at, destroyed_at): KeyRow,
) -> Result<Key, AccountsError> {
    let spki = public_key_info(&public_key)?;
    Ok(Key {
        id: KeyId::from_stored(id),
        name,
        algorithm: Algorithm::parse(&algorithm)?,
        backend: Backend::parse(&backend)?,
        origin,
        public_key_pem: ricaas_crypto::ca::public_key_pem(&spki)
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?,
        address,
        created_at,
        destroyed_at,
    })
}

fn public_key_info(hex_der: &str) -> Result<SubjectPublicKeyInfoOwned, AccountsError> {
    let der =
        hex::decode(hex_der).map_err(|_| AccountsError::Corrupt("stored public key".into()))?;
    ricaas_crypto::ca::public_key_info_from_der(&der)
        .map_err(|e| AccountsError::Corrupt(format!("stored public key: {e}")))
}

fn spki_hex(spki: &SubjectPublicKeyInfoOwned) -> Result<String, AccountsError> {
    use der::Encode as _;
    spki.to_der()
        .map(hex::encode)
        .map_err(|e| AccountsError::Corrupt(e.to_string()))
}

fn key_context(id: &KeyId) -> (String, String) {
    (format!("key/{id}"), format!("dek/{id}"))
}

fn hsm_failure(e: hsm::HsmError) -> AccountsError {
    match e {
        hsm::HsmError::Unsupported(_) => AccountsError::Invalid(e.to_string()),
        other => AccountsError::Unavailable(format!("the HSM refused: {other}")),
    }
}

/// Runs an HSM call on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, hsm::HsmError> + Send + 'static,
) -> Result<T, AccountsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AccountsError::Unavailable(format!("the HSM call did not finish: {e}")))?
        .map_err(hsm_failure)
}

impl Platform {
    fn hsm_or_refuse(&self) -> Result<Arc<hsm::Hsm>, AccountsError> {
        self.hsm().cloned().ok_or_else(|| {
            AccountsError::Invalid(
                "this platform runs without an HSM: start it with --pkcs11-module, or use the software backend".into(),
            )
        })
    }

    /// Generates a key of `algorithm` for `tenant` in `backend`.
    pub async fn create_key(
        &self,
        tenant: &TenantId,
        name: &str,
        algorithm: Algorithm,
        backend: Backend,
    ) -> Result<Key, AccountsError> {
        crate::accounts::check_name("key", name)?;
        self.check_quota(tenant, crate::signup::Counted::Keys)
            .await?;
        let id = KeyId::generate();
        match backend {
            Backend::Software => {
                let key = IdentityKey::generate(algorithm.crypto());
                self.insert_software_key(tenant, &id, name, &key, "generated")
                    .await?;
            }
            Backend::Pkcs11 => {
                let hsm = self.hsm_or_refuse()?;
                self.check_free(tenant, name).await?;
                let hsm_id = id.as_str().as_bytes().to_vec();
                let crypto = algorithm.crypto();
                let spki = blocking(move || hsm.generate(crypto, &hsm_id)).await?;
                let address = ricaas_crypto::ca::account_of_key(&spki).map(|a| a.to_string());
                sqlx::query(
                    "INSERT INTO keys (id, tenant_id, name, algorithm, backend, origin, public_key, \
                     address, hsm_id, created_at) VALUES ($1, $2, $3, $4, 'pkcs11', 'generated', $5, $6, $7, $8)",
                )
                .bind(id.as_str())
                .bind(tenant.as_str())
                .bind(name)
                .bind(algorithm.as_str())
                .bind(spki_hex(&spki)?)
                .bind(address)
                .bind(hex::encode(id.as_str()))
                .bind(now_ms())
                .execute(self.store().pool())
                .await
                .map_err(|e| exists_or(e, "key", name))?;
            }
        }
        self.key(tenant, name).await
    }

    /// Imports a PKCS#8 PEM private key (of any supported algorithm) into the software
    /// keystore. The PEM is sealed at once and never shown again.
    pub async fn import_key(
        &self,
        tenant: &TenantId,
        name: &str,
        private_key_pem: &str,
    ) -> Result<Key, AccountsError> {
        crate::accounts::check_name("key", name)?;
        self.check_quota(tenant, crate::signup::Counted::Keys)
            .await?;
        let key = IdentityKey::from_pkcs8_pem(private_key_pem).map_err(|_| {
            AccountsError::Invalid(
                "private_key_pem is not a PKCS#8 PEM secp256k1, P-256, Ed25519 or SM2 private key (-----BEGIN PRIVATE KEY-----)".into(),
            )
        })?;
        self.insert_software_key(tenant, &KeyId::generate(), name, &key, "imported")
            .await?;
        self.key(tenant, name).await
    }

    async fn check_free(&self, tenant: &TenantId, name: &str) -> Result<(), AccountsError> {
        let taken: Option<(String,)> =
            sqlx::query_as("SELECT id FROM keys WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.as_str())
                .bind(name)
                .fetch_optional(self.store().pool())
                .await?;
        match taken {
            Some(_) => Err(AccountsError::Exists {
                what: "key",
                name: name.to_owned(),
            }),
            None => Ok(()),
        }
    }

    async fn insert_software_key(
        &self,
        tenant: &TenantId,
        id: &KeyId,
        name: &str,
        key: &IdentityKey,
        origin: &str,
    ) -> Result<(), AccountsError> {
        let (key_ctx, dek_ctx) = key_context(id);
        let pem = zeroize::Zeroizing::new(
            key.to_pkcs8_pem()
                .map_err(|e| AccountsError::Corrupt(format!("encoding a new key: {e}")))?,
        );
        let data_key = DataKey::generate();
        let sealed = data_key.seal(pem.as_bytes(), &key_ctx);
        let wrapped = data_key.wrap(self.master_key(), &dek_ctx);
        let spki = key
            .public_key_info()
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO keys (id, tenant_id, name, algorithm, backend, origin, public_key, address, \
             sealed_key, wrapped_key, created_at) \
             VALUES ($1, $2, $3, $4, 'software', $5, $6, $7, $8, $9, $10)",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(name)
        .bind(Algorithm::of(key.algorithm()).as_str())
        .bind(origin)
        .bind(spki_hex(&spki)?)
        .bind(key.ethereum_address().map(|a| a.to_string()))
        .bind(sealed)
        .bind(wrapped)
        .bind(now_ms())
        .execute(self.store().pool())
        .await
        .map_err(|e| exists_or(e, "key", name))?;
        Ok(())
    }

    pub async fn keys(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<Key>, AccountsError> {
        let limit = query.limit().map_err(AccountsError::Invalid)?;
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "{SELECT_KEYS} WHERE tenant_id = $1 AND name > $2 AND name LIKE $3 ESCAPE '\\' \
             ORDER BY name LIMIT $4"
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

    pub async fn key(&self, tenant: &TenantId, name: &str) -> Result<Key, AccountsError> {
        let row: Option<KeyRow> =
            sqlx::query_as(&format!("{SELECT_KEYS} WHERE tenant_id = $1 AND name = $2"))
                .bind(tenant.as_str())
                .bind(name)
                .fetch_optional(self.store().pool())
                .await?;
        key_from_row(row.ok_or_else(|| AccountsError::NotFound {
            what: "key",
            name: name.to_owned(),
        })?)
    }

    /// The private half of a software key, opened for one use.
    pub(crate) async fn software_key(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<IdentityKey, AccountsError> {
        let key = self.key(tenant, name).await?;
        self.open_software_key(&key).await
    }

    /// The private half of software key `key` (already read), opened for one use.
    async fn open_software_key(&self, key: &Key) -> Result<IdentityKey, AccountsError> {
        let name = key.name.as_str();
        let (sealed, wrapped): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT sealed_key, wrapped_key FROM keys WHERE id = $1")
                .bind(key.id.as_str())
                .fetch_one(self.store().pool())
                .await?;
        let (Some(sealed), Some(wrapped)) = (sealed, wrapped) else {
            return Err(destroyed(name));
        };
        let (key_ctx, dek_ctx) = key_context(&key.id);
        let data_key = DataKey::unwrap(self.master_key(), &wrapped, &dek_ctx)
            .map_err(|e| AccountsError::Corrupt(format!("key {name}: {e}")))?;
        let pem = data_key
            .open(&sealed, &key_ctx)
            .map_err(|e| AccountsError::Corrupt(format!("key {name}: {e}")))?;
        let text = std::str::from_utf8(&pem)
            .map_err(|_| AccountsError::Corrupt(format!("key {name}: not PEM")))?;
        IdentityKey::from_pkcs8_pem(text)
            .map_err(|_| AccountsError::Corrupt(format!("key {name}: not a private key")))
    }

    /// Signs `message` with the key `name` under `scheme`.
    pub async fn sign(
        &self,
        tenant: &TenantId,
        name: &str,
        message: &[u8],
        scheme: Scheme,
    ) -> Result<Signature, AccountsError> {
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(AccountsError::Invalid(format!(
                "the message is {} bytes; the keystore signs at most {MAX_MESSAGE_BYTES}: sign a digest of it",
                message.len()
            )));
        }
        self.sign_unbounded(tenant, name, message, scheme).await
    }

    /// [`Self::sign`] without the API's bound on the message: documents the platform itself
    /// builds (a channel configuration with its certificates) may be larger.
    pub(crate) async fn sign_unbounded(
        &self,
        tenant: &TenantId,
        name: &str,
        message: &[u8],
        scheme: Scheme,
    ) -> Result<Signature, AccountsError> {
        let key = self.key(tenant, name).await?;
        self.sign_with_key(&key, message, scheme).await
    }

    /// Signs with `key`, already read by the caller (one read of the key per signature).
    pub(crate) async fn sign_with_key(
        &self,
        key: &Key,
        message: &[u8],
        scheme: Scheme,
    ) -> Result<Signature, AccountsError> {
        let name = key.name.as_str();
        if key.destroyed_at.is_some() {
            return Err(destroyed(name));
        }
        let digest: Option<[u8; 32]> = match scheme {
            Scheme::Document => None,
            Scheme::Ethereum => {
                if key.algorithm != Algorithm::Secp256k1 {
                    return Err(AccountsError::Invalid(format!(
                        "key {name} is {}: Ethereum signatures need a secp256k1 key",
                        key.algorithm.as_str()
                    )));
                }
                Some(message.try_into().map_err(|_| {
                    AccountsError::Invalid(format!(
                        "an Ethereum signature covers a 32-byte digest; the message has {} bytes",
                        message.len()
                    ))
                })?)
            }
        };
        let bytes = match key.backend {
            Backend::Software => {
                let identity = self.open_software_key(key).await?;
                let signing = |e: ricaas_crypto::ca::CaError| {
                    AccountsError::Unavailable(format!("signing with key {name} failed: {e}"))
                };
                match digest {
                    Some(digest) => ricaas_crypto::raw::sign_ethereum_digest(&identity, &digest)
                        .map_err(signing)?
                        .to_vec(),
                    None => {
                        ricaas_crypto::ca::sign_document(&identity, message).map_err(signing)?
                    }
                }
            }
            Backend::Pkcs11 => {
                let hsm = self.hsm_or_refuse()?;
                let (hsm_id,): (Option<String>,) =
                    sqlx::query_as("SELECT hsm_id FROM keys WHERE id = $1")
                        .bind(key.id.as_str())
                        .fetch_one(self.store().pool())
                        .await?;
                let hsm_id = hex::decode(hsm_id.unwrap_or_default())
                    .map_err(|_| AccountsError::Corrupt(format!("key {name}: HSM id")))?;
                let algorithm = key.algorithm.crypto();
                let signed_data = match (digest, key.algorithm) {
                    (Some(digest), _) => digest.to_vec(),
                    (None, Algorithm::Ed25519) => message.to_vec(),
                    (None, _) => ricaas_crypto::raw::document_digest(message).to_vec(),
                };
                let raw = blocking(move || hsm.sign(algorithm, &hsm_id, &signed_data)).await?;
                let bad = |e: ricaas_crypto::ca::CaError| {
                    AccountsError::Unavailable(format!("the HSM's signature: {e}"))
                };
                match (digest, key.algorithm) {
                    (Some(digest), _) => {
                        let spki = public_key_info(&self.public_key_hex(&key.id).await?)?;
                        ricaas_crypto::raw::ethereum_signature(&spki, &digest, &raw)
                            .map_err(bad)?
                            .to_vec()
                    }
                    (None, Algorithm::Ed25519) => raw,
                    (None, _) => ricaas_crypto::raw::ecdsa_document_signature(algorithm, &raw)
                        .map_err(bad)?,
                }
            }
        };
        Ok(Signature {
            key: name.to_owned(),
            algorithm: key.algorithm,
            scheme,
            signature: format!("0x{}", hex::encode(bytes)),
        })
    }

    async fn public_key_hex(&self, id: &KeyId) -> Result<String, AccountsError> {
        let (hex,): (String,) = sqlx::query_as("SELECT public_key FROM keys WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(self.store().pool())
            .await?;
        Ok(hex)
    }

    /// Whether an HSM key's private half is sensitive and never extractable in the token.
    pub async fn hsm_key_protected(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<bool, AccountsError> {
        let key = self.key(tenant, name).await?;
        if key.backend != Backend::Pkcs11 {
            return Err(AccountsError::Invalid(format!(
                "key {name} is not kept in the HSM"
            )));
        }
        let hsm = self.hsm_or_refuse()?;
        let id = key.id.as_str().as_bytes().to_vec();
        blocking(move || hsm.is_protected(&id)).await
    }

    /// Destroys a key's private half (the public half and the history stay). For an HSM key
    /// the token's objects are destroyed too.
    pub async fn destroy_key(&self, tenant: &TenantId, name: &str) -> Result<Key, AccountsError> {
        let key = self.key(tenant, name).await?;
        if key.destroyed_at.is_some() {
            return Ok(key);
        }
        if key.backend == Backend::Pkcs11 {
            let hsm = self.hsm_or_refuse()?;
            let id = key.id.as_str().as_bytes().to_vec();
            blocking(move || hsm.destroy(&id)).await?;
        }
        sqlx::query(
            "UPDATE keys SET sealed_key = NULL, wrapped_key = NULL, destroyed_at = $1 WHERE id = $2",
        )
        .bind(now_ms())
        .bind(key.id.as_str())
        .execute(self.store().pool())
        .await?;
        self.key(tenant, name).await
    }
}

fn destroyed(name: &str) -> AccountsError {
    AccountsError::Conflict(format!(
        "key {name} was destroyed: its private half no longer exists; create or import another"
    ))
}
