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
use crate::{mfa::Clock, seal::MasterKey};
use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use sha2::{Digest, Sha256};

/// How long an access token stays valid; refreshing gives a new one.
pub const SESSION_LIFETIME_MS: i64 = 30 * 60 * 1000;
/// How long a sign-in lasts at most, however often it is refreshed.
pub const REFRESH_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;
/// Session tokens start with this, so a leaked one is recognisable (and scannable) as ours.
pub const SESSION_TOKEN_PREFIX: &str = "rcs_";
/// Refresh tokens start with this.
pub const REFRESH_TOKEN_PREFIX: &str = "rcr_";
/// Failed sign-ins to one account name within [`FAILURE_WINDOW_MS`] that lock it, and for how
/// long.
pub const MAX_FAILED_SIGN_INS: i64 = 5;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;
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
    /// Whether the account has a second factor (TOTP) enrolled.
    pub mfa_enabled: bool,
    /// Whether this session's sign-in was made with a second factor.
    #[serde(skip)]
    #[schema(ignore)]
    pub(crate) session_mfa: bool,
    /// What the caller's tenant demands of sessions.
    #[serde(skip)]
    #[schema(ignore)]
    pub(crate) tenant_settings: TenantSettings,
}

/// What a tenant demands of its accounts' sessions (API keys are bounded by their scope
/// instead: a business system has no phone).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Sessions of accounts without a second factor may only enrol one (and sign out).
    pub mfa_for_login: bool,
    /// Sensitive actions (policy and account changes, API keys, key use) need a current code
    /// in the `X-RiCaaS-OTP` header.
    pub mfa_for_sensitive: bool,
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

/// A signed-in session: the tokens are shown once, here, and never stored.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Session {
    /// `Authorization: Bearer <token>`; short-lived.
    pub token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// Exchanged once, at POST /api/v1/sessions/refresh, for a new pair.
    pub refresh_token: String,
    /// When the sign-in ends however often it is refreshed (Unix milliseconds).
    pub refresh_expires_at: i64,
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
    #[error(
        "this account signs in with a one-time code too: send the code from your authenticator as `otp`"
    )]
    OtpRequired,
    #[error(
        "the one-time code is wrong or was already used: enter the current code from your authenticator"
    )]
    BadOtp,
    #[error("this account has no second factor: enrol one with POST /api/v1/me/mfa")]
    MfaNotEnrolled,
    #[error(
        "too many failed sign-ins: this account name is locked for {minutes} more minute(s); the tenant's root account can unlock it"
    )]
    Locked { minutes: i64 },
    #[error(
        "this refresh token was already used, so it may have been stolen: every token of this sign-in is ended; sign in again"
    )]
    RefreshReused,
    #[error("the sign-in has ended (refresh tokens last 12 hours): sign in again")]
    RefreshExpired,
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
    /// Something the tenant has not set up yet (404), with what to do about it.
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Conflict(String),
    /// A dependency (the HSM) failed; the request may succeed later.
    #[error("{0}")]
    Unavailable(String),
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

pub(crate) fn check_password(password: &str) -> Result<(), AccountsError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountsError::Invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

pub(crate) fn hash_password(password: &str) -> Result<String, AccountsError> {
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

/// The accounts domain over a [`Store`], with the master key that seals what it must read
/// back and the clock one-time codes are checked against.
#[derive(Clone)]
pub struct Platform {
    store: Store,
    master_key: MasterKey,
    clock: Clock,
    hsm: Option<std::sync::Arc<crate::keystore::hsm::Hsm>>,
    mailer: Option<crate::signup::Mailer>,
    /// Runs the nodes of the networks tenants create (none: networks cannot be created).
    provisioner: Option<std::sync::Arc<crate::networks::local::LocalProvisioner>>,
    /// Wakes the reconciler when there is new work.
    reconciler_wake: Option<std::sync::Arc<tokio::sync::Notify>>,
    /// Compiles Solidity for tenants (none: compilation is refused as unavailable).
    compiler: Option<crate::compiler::CompilerService>,
    /// Nonce locks and reusable channel clients (see [`crate::chain::ChainSessions`]).
    chain_sessions: crate::chain::ChainSessions,
    /// Registry entries the gateway reuses (see [`crate::networks::gateway::GatewayContracts`]).
    gateway_contracts: crate::networks::gateway::GatewayContracts,
}

/// A session's account: id, tenant id, name, kind, disabled_at, tenant name, mfa_enabled_at,
/// and the tenant's two MFA settings (NULL for the operator).
type SessionRow = (
    String,
    Option<String>,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// An account for sign-in: as [`SessionRow`] with the password hash after the kind.
type AccountRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

impl Platform {
    pub fn new(store: Store, master_key: MasterKey) -> Self {
        Self {
            store,
            master_key,
            clock: Clock::default(),
            hsm: None,
            mailer: None,
            provisioner: None,
            reconciler_wake: None,
            compiler: None,
            chain_sessions: Default::default(),
            gateway_contracts: Default::default(),
        }
    }

    pub(crate) fn chain_sessions(&self) -> &crate::chain::ChainSessions {
        &self.chain_sessions
    }

    pub(crate) fn gateway_contracts(&self) -> &crate::networks::gateway::GatewayContracts {
        &self.gateway_contracts
    }

    /// The same platform compiling Solidity with `compiler`.
    pub fn with_compiler(mut self, compiler: ricaas_solc::Compiler) -> Self {
        self.compiler = Some(crate::compiler::CompilerService::new(compiler));
        self
    }

    pub(crate) fn compiler(&self) -> Option<&crate::compiler::CompilerService> {
        self.compiler.as_ref()
    }

    /// The same platform running the nodes of networks with `provisioner`. Start
    /// [`Platform::start_reconciler`] to have the work done.
    pub fn with_provisioner(
        mut self,
        provisioner: crate::networks::local::LocalProvisioner,
    ) -> Self {
        self.provisioner = Some(std::sync::Arc::new(provisioner));
        self.reconciler_wake = Some(std::sync::Arc::new(tokio::sync::Notify::new()));
        self
    }

    pub(crate) fn provisioner(
        &self,
    ) -> Option<&std::sync::Arc<crate::networks::local::LocalProvisioner>> {
        self.provisioner.as_ref()
    }

    pub(crate) fn reconciler_wake(&self) -> Option<&std::sync::Arc<tokio::sync::Notify>> {
        self.reconciler_wake.as_ref()
    }

    /// Starts the background worker that creates networks and supervises and watches their
    /// nodes (nothing to do without a provisioner).
    pub fn start_reconciler(&self) -> Option<tokio::task::JoinHandle<()>> {
        let wake = self.reconciler_wake.clone()?;
        Some(tokio::spawn(crate::networks::reconciler::run(
            self.clone(),
            wake,
        )))
    }

    /// Stops every node the platform runs (on shutdown).
    pub async fn stop_nodes(&self) {
        if let Some(provisioner) = &self.provisioner {
            provisioner.stop_all().await;
        }
    }

    /// The same platform offering sign-up by e-mail through `mailer`.
    pub fn with_mailer(mut self, mailer: crate::signup::Mailer) -> Self {
        self.mailer = Some(mailer);
        self
    }

    pub(crate) fn mailer(&self) -> Option<&crate::signup::Mailer> {
        self.mailer.as_ref()
    }

    /// The same platform keeping `pkcs11` keys in `hsm`.
    pub fn with_hsm(mut self, hsm: crate::keystore::hsm::Hsm) -> Self {
        self.hsm = Some(std::sync::Arc::new(hsm));
        self
    }

    pub(crate) fn hsm(&self) -> Option<&std::sync::Arc<crate::keystore::hsm::Hsm>> {
        self.hsm.as_ref()
    }

    /// The same platform checking one-time codes against `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
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
        let credentials = InitialCredentials {
            tenant: Some(name.to_owned()),
            name: "root".into(),
            password: generated_password(),
        };
        let tenant = self.create_tenant_with(&credentials).await?;
        Ok((tenant, credentials))
    }

    /// Creates the tenant and root account `credentials` describe (`tenant` must be set):
    /// for a caller that wrote them somewhere first (a 0600 file).
    pub async fn create_tenant_with(
        &self,
        credentials: &InitialCredentials,
    ) -> Result<Tenant, AccountsError> {
        let name = credentials
            .tenant
            .as_deref()
            .ok_or_else(|| AccountsError::Invalid("the credentials name no tenant".into()))?;
        check_name("tenant", name)?;
        self.create_tenant_with_hash(name, &hash_password(&credentials.password)?, None)
            .await
    }

    /// Creates tenant `name` and its root account with an already hashed password.
    pub(crate) async fn create_tenant_with_hash(
        &self,
        name: &str,
        password_hash: &str,
        contact_email: Option<&str>,
    ) -> Result<Tenant, AccountsError> {
        check_name("tenant", name)?;
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.to_owned(),
            created_at: now_ms(),
        };
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, created_at, contact_email) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .bind(contact_email)
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
        Ok(tenant)
    }

    /// Root credentials with a generated password for tenant `name`, not yet created.
    pub fn tenant_credentials(name: &str) -> Result<InitialCredentials, AccountsError> {
        check_name("tenant", name)?;
        Ok(InitialCredentials {
            tenant: Some(name.to_owned()),
            name: "root".into(),
            password: generated_password(),
        })
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

    /// Signs in: `tenant` names the tenant (none for the operator); `otp` is the current code
    /// of an account with a second factor. Five failures within 15 minutes lock the name for
    /// 15 minutes, whether or not an account has it. Returns a new session.
    pub async fn login(
        &self,
        tenant: Option<&str>,
        name: &str,
        password: &str,
        otp: Option<&str>,
    ) -> Result<Session, AccountsError> {
        let key = format!("{}/{name}", tenant.unwrap_or(""));
        let now = now_ms();
        let locked: Option<(i64,)> =
            sqlx::query_as("SELECT locked_until FROM login_failures WHERE login_key = $1")
                .bind(&key)
                .fetch_optional(self.store.pool())
                .await?;
        if let Some((until,)) = locked
            && until > now
        {
            return Err(AuthError::Locked {
                minutes: (until - now + 59_999) / 60_000,
            }
            .into());
        }
        match self.check_sign_in(tenant, name, password, otp).await {
            Ok(account) => {
                sqlx::query("DELETE FROM login_failures WHERE login_key = $1")
                    .bind(&key)
                    .execute(self.store.pool())
                    .await?;
                let verified = account.mfa_enabled;
                self.start_session(account, verified).await
            }
            Err(AccountsError::Auth(reason @ (AuthError::BadCredentials | AuthError::BadOtp))) => {
                let locked = self.note_failed_sign_in(&key, now).await?;
                Err(locked.unwrap_or(reason).into())
            }
            Err(e) => Err(e),
        }
    }

    /// Counts a failed sign-in of `key`; returns the lock if this failure reached the count.
    async fn note_failed_sign_in(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<AuthError>, AccountsError> {
        sqlx::query(
            "INSERT INTO login_failures (login_key, failures, last_failure, locked_until) \
             VALUES ($1, 1, $2, 0) ON CONFLICT (login_key) DO UPDATE SET \
             failures = CASE WHEN login_failures.last_failure < $3 THEN 1 \
                 ELSE login_failures.failures + 1 END, last_failure = $2",
        )
        .bind(key)
        .bind(now)
        .bind(now - FAILURE_WINDOW_MS)
        .execute(self.store.pool())
        .await?;
        let locked = sqlx::query(
            "UPDATE login_failures SET locked_until = $1, failures = 0 \
             WHERE login_key = $2 AND failures >= $3",
        )
        .bind(now + LOCKOUT_MS)
        .bind(key)
        .bind(MAX_FAILED_SIGN_INS)
        .execute(self.store.pool())
        .await?;
        Ok((locked.rows_affected() > 0).then(|| {
            tracing::warn!(login = key, "sign-in locked after repeated failures");
            AuthError::Locked {
                minutes: LOCKOUT_MS / 60_000,
            }
        }))
    }

    /// Lifts the lock on an account name of `tenant` (the account need not exist).
    pub async fn unlock(&self, tenant_name: &str, name: &str) -> Result<(), AccountsError> {
        sqlx::query("DELETE FROM login_failures WHERE login_key = $1")
            .bind(format!("{tenant_name}/{name}"))
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// The account `tenant`/`name` if `password` (and `otp`, if it has a second factor) are
    /// right.
    async fn check_sign_in(
        &self,
        tenant: Option<&str>,
        name: &str,
        password: &str,
        otp: Option<&str>,
    ) -> Result<Principal, AccountsError> {
        const SELECT: &str = "SELECT a.id, a.tenant_id, a.name, a.kind, a.password_hash, \
             a.disabled_at, t.name, a.mfa_enabled_at, t.mfa_for_login, t.mfa_for_sensitive \
             FROM accounts a LEFT JOIN tenants t ON t.id = a.tenant_id";
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
        let Some((
            id,
            tenant_id,
            name,
            kind,
            password_hash,
            disabled_at,
            tenant_name,
            mfa_enabled_at,
            mfa_for_login,
            mfa_for_sensitive,
        )) = row
        else {
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
            mfa_enabled: mfa_enabled_at.is_some(),
            session_mfa: false,
            tenant_settings: TenantSettings {
                mfa_for_login: mfa_for_login == Some(1),
                mfa_for_sensitive: mfa_for_sensitive == Some(1),
            },
        };
        if account.mfa_enabled {
            let code = otp.ok_or(AuthError::OtpRequired)?;
            self.verify_code(&account.account_id, code, true).await?;
        }
        Ok(account)
    }

    /// A new session (family) for `account`.
    async fn start_session(
        &self,
        mut account: Principal,
        mfa_verified: bool,
    ) -> Result<Session, AccountsError> {
        account.session_mfa = mfa_verified;
        let now = now_ms();
        let family = ids::secret("")[..32].to_owned();
        self.issue_tokens(account, &family, now + REFRESH_LIFETIME_MS, None)
            .await
    }

    /// Stores a new token pair in `family`, retiring `replacing` (a refresh) in the same
    /// transaction; a pair retired meanwhile by a racing refresh counts as reuse.
    async fn issue_tokens(
        &self,
        account: Principal,
        family: &str,
        refresh_expires_at: i64,
        replacing: Option<&str>,
    ) -> Result<Session, AccountsError> {
        let token = ids::secret(SESSION_TOKEN_PREFIX);
        let refresh_token = ids::secret(REFRESH_TOKEN_PREFIX);
        let now = now_ms();
        let expires_at = (now + SESSION_LIFETIME_MS).min(refresh_expires_at);
        let mut tx = self.store.pool().begin().await?;
        if let Some(old) = replacing {
            let retired = sqlx::query(
                "UPDATE sessions SET rotated_at = $1, revoked_at = COALESCE(revoked_at, $1) \
                 WHERE token_hash = $2 AND rotated_at IS NULL",
            )
            .bind(now)
            .bind(old)
            .execute(&mut *tx)
            .await?;
            if retired.rows_affected() != 1 {
                return Err(AuthError::RefreshReused.into());
            }
        }
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at, family, \
             refresh_hash, refresh_expires_at, mfa_verified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token_hash(&token))
        .bind(account.account_id.as_str())
        .bind(now)
        .bind(expires_at)
        .bind(family)
        .bind(token_hash(&refresh_token))
        .bind(refresh_expires_at)
        .bind(i64::from(account.session_mfa))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Session {
            token,
            expires_at,
            refresh_token,
            refresh_expires_at,
            account,
        })
    }

    /// Exchanges a refresh token for a new pair. A refresh token works once: presented again
    /// it ends every token of its sign-in (it was copied).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, AccountsError> {
        if !refresh_token.starts_with(REFRESH_TOKEN_PREFIX) {
            return Err(AuthError::InvalidToken.into());
        }
        /// The replaced session's token hash, family, end, rotation, revocation, MFA flag.
        type RefreshRow = (String, String, i64, Option<i64>, Option<i64>, i64);
        let row: Option<RefreshRow> = sqlx::query_as(
            "SELECT token_hash, family, refresh_expires_at, rotated_at, revoked_at, mfa_verified \
             FROM sessions WHERE refresh_hash = $1",
        )
        .bind(token_hash(refresh_token))
        .fetch_optional(self.store.pool())
        .await?;
        let Some((old, family, refresh_expires_at, rotated_at, revoked_at, mfa_verified)) = row
        else {
            return Err(AuthError::InvalidToken.into());
        };
        if rotated_at.is_some() {
            self.end_family(&family).await?;
            tracing::warn!("a refresh token was used twice; its sign-in was ended");
            return Err(AuthError::RefreshReused.into());
        }
        if revoked_at.is_some() {
            return Err(AuthError::Revoked.into());
        }
        if refresh_expires_at <= now_ms() {
            return Err(AuthError::RefreshExpired.into());
        }
        let mut account = self.session_principal(&old).await?;
        account.session_mfa = mfa_verified == 1;
        match self
            .issue_tokens(account, &family, refresh_expires_at, Some(&old))
            .await
        {
            Err(AccountsError::Auth(AuthError::RefreshReused)) => {
                self.end_family(&family).await?;
                Err(AuthError::RefreshReused.into())
            }
            other => other,
        }
    }

    async fn end_family(&self, family: &str) -> Result<(), AccountsError> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(family)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// The account a session token belongs to, if the session is valid now.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AccountsError> {
        if !token.starts_with(SESSION_TOKEN_PREFIX) {
            return Err(AuthError::InvalidToken.into());
        }
        let hash = token_hash(token);
        let row: Option<(i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT expires_at, revoked_at, mfa_verified FROM sessions WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(self.store.pool())
        .await?;
        let Some((expires_at, revoked_at, mfa_verified)) = row else {
            return Err(AuthError::InvalidToken.into());
        };
        if revoked_at.is_some() {
            return Err(AuthError::Revoked.into());
        }
        if expires_at <= now_ms() {
            return Err(AuthError::Expired.into());
        }
        let mut principal = self.session_principal(&hash).await?;
        principal.session_mfa = mfa_verified == 1;
        Ok(principal)
    }

    /// The (enabled) account of the session whose token hashes to `hash`.
    async fn session_principal(&self, hash: &str) -> Result<Principal, AccountsError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT a.id, a.tenant_id, a.name, a.kind, a.disabled_at, t.name, a.mfa_enabled_at, \
             t.mfa_for_login, t.mfa_for_sensitive FROM sessions s \
             JOIN accounts a ON a.id = s.account_id \
             LEFT JOIN tenants t ON t.id = a.tenant_id WHERE s.token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(self.store.pool())
        .await?;
        let Some((
            id,
            tenant_id,
            name,
            kind,
            disabled_at,
            tenant_name,
            mfa_enabled_at,
            mfa_for_login,
            mfa_for_sensitive,
        )) = row
        else {
            return Err(AuthError::InvalidToken.into());
        };
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
            mfa_enabled: mfa_enabled_at.is_some(),
            session_mfa: false,
            tenant_settings: TenantSettings {
                mfa_for_login: mfa_for_login == Some(1),
                mfa_for_sensitive: mfa_for_sensitive == Some(1),
            },
        })
    }

    /// What `tenant` demands of its sessions.
    pub async fn tenant_settings(
        &self,
        tenant: &TenantId,
    ) -> Result<TenantSettings, AccountsError> {
        let (mfa_for_login, mfa_for_sensitive): (i64, i64) =
            sqlx::query_as("SELECT mfa_for_login, mfa_for_sensitive FROM tenants WHERE id = $1")
                .bind(tenant.as_str())
                .fetch_one(self.store.pool())
                .await?;
        Ok(TenantSettings {
            mfa_for_login: mfa_for_login == 1,
            mfa_for_sensitive: mfa_for_sensitive == 1,
        })
    }

    /// Changes what the caller's tenant demands. Demanding a second factor is refused while
    /// the caller has none, so no one locks themselves out.
    pub async fn update_tenant_settings(
        &self,
        caller: &Principal,
        settings: TenantSettings,
    ) -> Result<TenantSettings, AccountsError> {
        let tenant = caller.tenant()?;
        if (settings.mfa_for_login || settings.mfa_for_sensitive) && !caller.mfa_enabled {
            return Err(AccountsError::Invalid(
                "enrol a second factor on your own account first (POST /api/v1/me/mfa), so that you can still act once it is required".into(),
            ));
        }
        sqlx::query("UPDATE tenants SET mfa_for_login = $1, mfa_for_sensitive = $2 WHERE id = $3")
            .bind(i64::from(settings.mfa_for_login))
            .bind(i64::from(settings.mfa_for_sensitive))
            .bind(tenant.as_str())
            .execute(self.store.pool())
            .await?;
        self.tenant_settings(tenant).await
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
        self.check_quota(tenant, crate::signup::Counted::Accounts)
            .await?;
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

    /// Ends the sign-in `token` belongs to (signing out): every token of its family stops
    /// working. Ending an ended session is harmless.
    pub async fn logout(&self, token: &str) -> Result<(), AccountsError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT family FROM sessions WHERE token_hash = $1")
                .bind(token_hash(token))
                .fetch_optional(self.store.pool())
                .await?;
        match row {
            Some((Some(family),)) => self.end_family(&family).await,
            _ => {
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
