//! Who may sign in, and as whom: the platform operator, tenants with their root accounts, and
//! sessions. Passwords are hashed with Argon2id; a session is a random token of which only a
//! SHA-256 is stored, expiring and revocable. This module knows nothing of HTTP.

use crate::{
    iam::Forbidden,
    ids::{self, AccountId, ApiKeyId, TenantId},
    page::{ListQuery, Page},
    policy::PolicyDocument,
    store::{Store, StoreError, now_ms},
};
use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use sha2::{Digest, Sha256};

/// How long a session token stays valid after sign-in.
pub const SESSION_LIFETIME_MS: i64 = 8 * 60 * 60 * 1000;
/// Session tokens start with this, so a leaked one is recognisable (and scannable) as ours.
pub const SESSION_TOKEN_PREFIX: &str = "rcs_";
/// Shortest password the platform accepts.
pub const MIN_PASSWORD_LEN: usize = 12;

/// What kind of account signs in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// Runs the platform: creates tenants; holds no tenant's resources.
    Operator,
    /// Owns everything of its tenant.
    Root,
    /// A tenant's account with only what its policies grant.
    Sub,
}

impl AccountKind {
    fn as_str(self) -> &'static str {
        match self {
            AccountKind::Operator => "operator",
            AccountKind::Root => "root",
            AccountKind::Sub => "sub",
        }
    }

    pub(crate) fn parse(stored: &str) -> Result<Self, AccountsError> {
        match stored {
            "operator" => Ok(AccountKind::Operator),
            "root" => Ok(AccountKind::Root),
            "sub" => Ok(AccountKind::Sub),
            other => Err(AccountsError::Corrupt(format!("account kind {other:?}"))),
        }
    }
}

/// Who is calling: the account behind a valid session or API key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Principal {
    #[schema(value_type = String, example = "acc_5f0c…")]
    pub account_id: AccountId,
    pub name: String,
    pub kind: AccountKind,
    /// The tenant the account belongs to (none for the operator).
    #[schema(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
    pub tenant_name: Option<String>,
    /// The API key the call came with, if it did not come with a session.
    pub api_key: Option<ApiKeyRef>,
    /// The API key's scope: what the key may do at most, whatever its account may.
    #[serde(skip)]
    #[schema(ignore)]
    pub(crate) scope: Option<PolicyDocument>,
}

/// An API key as its caller is shown it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiKeyRef {
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    pub name: String,
}

impl Principal {
    /// The caller's tenant; the operator has none and holds no tenant's resources.
    pub fn tenant(&self) -> Result<&TenantId, AccountsError> {
        self.tenant_id.as_ref().ok_or(AccountsError::NotForOperator)
    }

    /// How the audit log and messages name the caller: `bank-a/alice`, `operator/admin`,
    /// `bank-a/alice (API key erp)`.
    pub fn actor(&self) -> String {
        let base = format!(
            "{}/{}",
            self.tenant_name.as_deref().unwrap_or("operator"),
            self.name
        );
        match &self.api_key {
            Some(key) => format!("{base} (API key {})", key.name),
            None => base,
        }
    }
}

/// An account of a tenant, as listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Account {
    #[schema(value_type = String)]
    pub id: AccountId,
    pub name: String,
    pub kind: AccountKind,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Set while the account is disabled (Unix milliseconds).
    pub disabled_at: Option<i64>,
}

/// An account with the groups it is in and the policies attached to it directly.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AccountDetail {
    #[serde(flatten)]
    pub account: Account,
    pub groups: Vec<String>,
    pub policies: Vec<String>,
}

/// A tenant: one organization on the platform.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Tenant {
    #[schema(value_type = String, example = "tnt_9a1e…")]
    pub id: TenantId,
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A name and a password for a new account, to be handed over once.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct InitialCredentials {
    pub tenant: Option<String>,
    pub name: String,
    pub password: String,
}

/// A signed-in session: the token is shown once, here, and never stored.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Session {
    pub token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub account: Principal,
}

/// Why a sign-in or a token was refused. Deliberately vague towards the caller: the same
/// answer whether the tenant, the account or the password was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("wrong tenant, account name or password")]
    BadCredentials,
    #[error("this account is disabled; ask your tenant's root account to enable it")]
    Disabled,
    #[error("the session token is not valid: sign in again")]
    InvalidToken,
    #[error("the session has expired: sign in again")]
    Expired,
    #[error("the session was ended by signing out: sign in again")]
    Revoked,
    #[error("the API key was revoked: use another key or create a new one")]
    KeyRevoked,
    #[error("the API key has expired: create a new one")]
    KeyExpired,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Invalid(String),
    #[error("{what} {name:?} already exists")]
    Exists { what: &'static str, name: String },
    #[error("only the platform operator may {0}")]
    OperatorOnly(&'static str),
    #[error(
        "the platform operator holds no tenant's resources: sign in with an account of the tenant"
    )]
    NotForOperator,
    #[error("there is no {what} {name:?} in your tenant")]
    NotFound { what: &'static str, name: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for AccountsError {
    fn from(e: sqlx::Error) -> Self {
        AccountsError::Store(StoreError::Database(e))
    }
}

/// Tenant and account names: 2–63 lowercase letters, digits and hyphens, starting with a
/// letter or digit (they appear in resource names and URLs).
pub fn check_name(what: &str, name: &str) -> Result<(), AccountsError> {
    let ok = (2..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(AccountsError::Invalid(format!(
            "{what} name {name:?} is not valid: use 2-63 lowercase letters, digits and hyphens, not starting with a hyphen"
        )))
    }
}

fn check_password(password: &str) -> Result<(), AccountsError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountsError::Invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, AccountsError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountsError::Invalid(format!("password hashing failed: {e}")))
}

/// A password nobody has to type: 32 hex digits (128 bits).
pub(crate) fn generated_password() -> String {
    ids::secret("")[..32].to_owned()
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A hash to verify against when the account does not exist, so that a wrong name costs as
/// long as a wrong password and response times do not reveal which accounts exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password, never matches").unwrap_or_default())
}

/// A unique-constraint violation as "`what` `name` already exists"; any other error as is.
pub(crate) fn exists_or(e: sqlx::Error, what: &'static str, name: &str) -> AccountsError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => AccountsError::Exists {
            what,
            name: name.to_owned(),
        },
        _ => e.into(),
    }
}

/// The accounts domain over a [`Store`].
#[derive(Clone)]
pub struct Platform {
    store: Store,
}

/// A session joined with its account: expires_at, revoked_at, then the account's id, tenant
/// id, name, kind, disabled_at and tenant name.
type SessionRow = (
    i64,
    Option<i64>,
    String,
    Option<String>,
    String,
    String,
    Option<i64>,
    Option<String>,
);

type AccountRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
);

impl Platform {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether any operator account exists (a new platform has none until bootstrapped).
    pub async fn has_operator(&self) -> Result<bool, AccountsError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM accounts WHERE kind = 'operator'")
                .fetch_one(self.store.pool())
                .await?;
        Ok(count > 0)
    }

    /// Creates an operator account with a generated password, returned once.
    pub async fn create_operator(&self, name: &str) -> Result<InitialCredentials, AccountsError> {
        let credentials = Self::operator_credentials(name)?;
        self.create_operator_with(&credentials).await?;
        Ok(credentials)
    }

    /// Generates credentials for an operator account without creating it: a caller that must
    /// keep them somewhere first (a 0600 file) does so before [`Self::create_operator_with`].
    pub fn operator_credentials(name: &str) -> Result<InitialCredentials, AccountsError> {
        check_name("account", name)?;
        Ok(InitialCredentials {
            tenant: None,
            name: name.to_owned(),
            password: generated_password(),
        })
    }

    /// Creates the operator account `credentials` describe.
    pub async fn create_operator_with(
        &self,
        credentials: &InitialCredentials,
    ) -> Result<AccountId, AccountsError> {
        check_name("account", &credentials.name)?;
        self.insert_account(
            None,
            &credentials.name,
            AccountKind::Operator,
            &credentials.password,
        )
        .await
    }

    /// Creates a tenant and its root account (named `root`) with a generated password,
    /// returned once. Only the operator may.
    pub async fn create_tenant(
        &self,
        caller: &Principal,
        name: &str,
    ) -> Result<(Tenant, InitialCredentials), AccountsError> {
        if caller.kind != AccountKind::Operator {
            return Err(AccountsError::OperatorOnly("create tenants"));
        }
        check_name("tenant", name)?;
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.to_owned(),
            created_at: now_ms(),
        };
        let password = generated_password();
        let password_hash = hash_password(&password)?;
        let mut tx = self.store.pool().begin().await?;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(tenant.id.as_str())
            .bind(&tenant.name)
            .bind(tenant.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| exists_or(e, "tenant", name))?;
        sqlx::query(
            "INSERT INTO accounts (id, tenant_id, name, kind, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(AccountId::generate().as_str())
        .bind(tenant.id.as_str())
        .bind("root")
        .bind(AccountKind::Root.as_str())
        .bind(password_hash)
        .bind(tenant.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            tenant.clone(),
            InitialCredentials {
                tenant: Some(tenant.name),
                name: "root".into(),
                password,
            },
        ))
    }

    /// Every tenant, by name. Only the operator may list them.
    pub async fn tenants(&self, caller: &Principal) -> Result<Vec<Tenant>, AccountsError> {
        if caller.kind != AccountKind::Operator {
            return Err(AccountsError::OperatorOnly("list tenants"));
        }
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, created_at FROM tenants ORDER BY name")
                .fetch_all(self.store.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at)| Tenant {
                id: TenantId::from_stored(id),
                name,
                created_at,
            })
            .collect())
    }

    /// The id of the tenant named `name`, if there is one.
    pub async fn tenant_id(&self, name: &str) -> Result<Option<TenantId>, AccountsError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.map(|(id,)| TenantId::from_stored(id)))
    }

    /// Changes the caller's own password, after checking the current one.
    pub async fn change_password(
        &self,
        caller: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), AccountsError> {
        check_password(new)?;
        let (stored,): (String,) =
            sqlx::query_as("SELECT password_hash FROM accounts WHERE id = $1")
                .bind(caller.account_id.as_str())
                .fetch_one(self.store.pool())
                .await?;
        verify_password(current, &stored)?;
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(hash_password(new)?)
            .bind(caller.account_id.as_str())
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    async fn insert_account(
        &self,
        tenant: Option<&TenantId>,
        name: &str,
        kind: AccountKind,
        password: &str,
    ) -> Result<AccountId, AccountsError> {
        let id = AccountId::generate();
        sqlx::query(
            "INSERT INTO accounts (id, tenant_id, name, kind, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(tenant.map(|t| t.as_str().to_owned()))
        .bind(name)
        .bind(kind.as_str())
        .bind(hash_password(password)?)
        .bind(now_ms())
        .execute(self.store.pool())
        .await
        .map_err(|e| exists_or(e, "account", name))?;
        Ok(id)
    }

    /// Signs in: `tenant` names the tenant (none for the operator). Returns a new session.
    pub async fn login(
        &self,
        tenant: Option<&str>,
        name: &str,
        password: &str,
    ) -> Result<Session, AccountsError> {
        const SELECT: &str = "SELECT a.id, a.tenant_id, a.name, a.kind, a.password_hash, \
             a.disabled_at, t.name FROM accounts a LEFT JOIN tenants t ON t.id = a.tenant_id";
        let row: Option<AccountRow> = match tenant {
            Some(tenant) => {
                sqlx::query_as(&format!("{SELECT} WHERE t.name = $1 AND a.name = $2"))
                    .bind(tenant)
                    .bind(name)
                    .fetch_optional(self.store.pool())
                    .await?
            }
            None => {
                sqlx::query_as(&format!(
                    "{SELECT} WHERE a.tenant_id IS NULL AND a.name = $1"
                ))
                .bind(name)
                .fetch_optional(self.store.pool())
                .await?
            }
        };
        let Some((id, tenant_id, name, kind, password_hash, disabled_at, tenant_name)) = row else {
            // Same work as a wrong password, then the same answer.
            let _ = verify_password(password, dummy_hash());
            return Err(AuthError::BadCredentials.into());
        };
        verify_password(password, &password_hash)?;
        if disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        let account = Principal {
            account_id: AccountId::from_stored(id),
            name,
            kind: AccountKind::parse(&kind)?,
            tenant_id: tenant_id.map(TenantId::from_stored),
            tenant_name,
            api_key: None,
            scope: None,
        };
        let token = ids::secret(SESSION_TOKEN_PREFIX);
        let now = now_ms();
        let expires_at = now + SESSION_LIFETIME_MS;
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash(&token))
        .bind(account.account_id.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(self.store.pool())
        .await?;
        Ok(Session {
            token,
            expires_at,
            account,
        })
    }

    /// The account a session token belongs to, if the session is valid now.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AccountsError> {
        if !token.starts_with(SESSION_TOKEN_PREFIX) {
            return Err(AuthError::InvalidToken.into());
        }
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.expires_at, s.revoked_at, a.id, a.tenant_id, a.name, a.kind, \
                 a.disabled_at, t.name FROM sessions s JOIN accounts a ON a.id = s.account_id \
                 LEFT JOIN tenants t ON t.id = a.tenant_id WHERE s.token_hash = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(self.store.pool())
        .await?;
        let Some((expires_at, revoked_at, id, tenant_id, name, kind, disabled_at, tenant_name)) =
            row
        else {
            return Err(AuthError::InvalidToken.into());
        };
        if revoked_at.is_some() {
            return Err(AuthError::Revoked.into());
        }
        if expires_at <= now_ms() {
            return Err(AuthError::Expired.into());
        }
        if disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        Ok(Principal {
            account_id: AccountId::from_stored(id),
            name,
            kind: AccountKind::parse(&kind)?,
            tenant_id: tenant_id.map(TenantId::from_stored),
            tenant_name,
            api_key: None,
            scope: None,
        })
    }

    /// Creates a sub-account of `tenant`; without a password, one is generated and returned.
    pub async fn create_account(
        &self,
        tenant: &TenantId,
        name: &str,
        password: Option<&str>,
    ) -> Result<(Account, Option<String>), AccountsError> {
        check_name("account", name)?;
        if name == "root" {
            return Err(AccountsError::Invalid(
                "\"root\" is the name of the tenant's root account: choose another".into(),
            ));
        }
        let generated = match password {
            Some(password) => {
                check_password(password)?;
                None
            }
            None => Some(generated_password()),
        };
        let password = password.or(generated.as_deref()).unwrap_or_default();
        let id = self
            .insert_account(Some(tenant), name, AccountKind::Sub, password)
            .await?;
        let account = self.account_row(tenant, name).await?;
        debug_assert_eq!(account.id, id);
        Ok((account, generated))
    }

    /// The tenant's accounts, by name.
    pub async fn accounts(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<Account>, AccountsError> {
        let limit = query.limit().map_err(AccountsError::Invalid)?;
        let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, name, kind, created_at, disabled_at FROM accounts \
             WHERE tenant_id = $1 AND name > $2 AND name LIKE $3 ESCAPE '\\' \
             ORDER BY name LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(query.after())
        .bind(query.like())
        .bind(i64::from(limit) + 1)
        .fetch_all(self.store.pool())
        .await?;
        let accounts = rows
            .into_iter()
            .map(|(id, name, kind, created_at, disabled_at)| {
                Ok(Account {
                    id: AccountId::from_stored(id),
                    name,
                    kind: AccountKind::parse(&kind)?,
                    created_at,
                    disabled_at,
                })
            })
            .collect::<Result<Vec<_>, AccountsError>>()?;
        Ok(Page::from_rows(accounts, limit, |a| a.name.clone()))
    }

    /// One account of the tenant, with its groups and directly attached policies.
    pub async fn account(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<AccountDetail, AccountsError> {
        let account = self.account_row(tenant, name).await?;
        let groups: Vec<(String,)> = sqlx::query_as(
            "SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id \
             WHERE m.account_id = $1 ORDER BY g.name",
        )
        .bind(account.id.as_str())
        .fetch_all(self.store.pool())
        .await?;
        let policies: Vec<(String,)> = sqlx::query_as(
            "SELECT p.name FROM account_policies ap JOIN policies p ON p.id = ap.policy_id \
             WHERE ap.account_id = $1 ORDER BY p.name",
        )
        .bind(account.id.as_str())
        .fetch_all(self.store.pool())
        .await?;
        Ok(AccountDetail {
            account,
            groups: groups.into_iter().map(|(g,)| g).collect(),
            policies: policies.into_iter().map(|(p,)| p).collect(),
        })
    }

    /// The account `name` of `tenant`, or "no such account" (the same answer for accounts of
    /// other tenants: they do not exist from here).
    pub(crate) async fn account_row(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Account, AccountsError> {
        let row: Option<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, name, kind, created_at, disabled_at FROM accounts \
             WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(self.store.pool())
        .await?;
        let (id, name, kind, created_at, disabled_at) =
            row.ok_or_else(|| AccountsError::NotFound {
                what: "account",
                name: name.to_owned(),
            })?;
        Ok(Account {
            id: AccountId::from_stored(id),
            name,
            kind: AccountKind::parse(&kind)?,
            created_at,
            disabled_at,
        })
    }

    /// A sub-account, or why a root account cannot be the target of `what`.
    async fn sub_account(
        &self,
        tenant: &TenantId,
        name: &str,
        what: &str,
    ) -> Result<Account, AccountsError> {
        let account = self.account_row(tenant, name).await?;
        if account.kind != AccountKind::Sub {
            return Err(AccountsError::Invalid(format!(
                "the root account cannot be {what}: only sub-accounts can"
            )));
        }
        Ok(account)
    }

    /// Disables (ending its sessions; its API keys stop working) or enables a sub-account.
    pub async fn set_disabled(
        &self,
        tenant: &TenantId,
        name: &str,
        disabled: bool,
    ) -> Result<Account, AccountsError> {
        let what = if disabled { "disabled" } else { "enabled" };
        let account = self.sub_account(tenant, name, what).await?;
        let now = now_ms();
        let mut tx = self.store.pool().begin().await?;
        if disabled {
            sqlx::query(
                "UPDATE accounts SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL",
            )
            .bind(now)
            .bind(account.id.as_str())
            .execute(&mut *tx)
            .await?;
            revoke_sessions(&mut tx, &account.id, now).await?;
        } else {
            sqlx::query("UPDATE accounts SET disabled_at = NULL WHERE id = $1")
                .bind(account.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.account_row(tenant, name).await
    }

    /// Gives a sub-account a new generated password (returned once) and ends its sessions.
    pub async fn reset_password(
        &self,
        tenant: &TenantId,
        tenant_name: &str,
        name: &str,
    ) -> Result<InitialCredentials, AccountsError> {
        let account = self.sub_account(tenant, name, "reset").await?;
        let password = generated_password();
        let now = now_ms();
        let mut tx = self.store.pool().begin().await?;
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(hash_password(&password)?)
            .bind(account.id.as_str())
            .execute(&mut *tx)
            .await?;
        revoke_sessions(&mut tx, &account.id, now).await?;
        tx.commit().await?;
        Ok(InitialCredentials {
            tenant: Some(tenant_name.to_owned()),
            name: account.name,
            password,
        })
    }

    /// Ends the session of `token` (signing out). Ending an ended session is harmless.
    pub async fn logout(&self, token: &str) -> Result<(), AccountsError> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(token_hash(token))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }
}

async fn revoke_sessions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account: &AccountId,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(account.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn verify_password(password: &str, stored: &str) -> Result<(), AuthError> {
    let parsed = PasswordHash::new(stored).map_err(|_| AuthError::BadCredentials)?;
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|_| AuthError::BadCredentials)
}
