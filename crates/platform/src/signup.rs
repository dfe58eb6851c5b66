//! New tenants without the operator: an organization signs up with an e-mail address, the
//! platform mails a one-time link (SMTP), and following it creates the tenant and its root
//! account with the password chosen at sign-up. Also the quotas the operator sets per tenant and
//! what each tenant uses of them.

use crate::{
    accounts::{AccountsError, Platform, Tenant, check_name},
    ids::{self, TenantId},
    store::now_ms,
};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::Mailbox};
use serde::{Deserialize, Serialize};

/// How long a sign-up link works.
pub const SIGNUP_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;
const SIGNUP_TOKEN_PREFIX: &str = "rsv_";

/// Where and how sign-up mail goes.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The console's address as users reach it, for the link.
    public_url: String,
}

impl Mailer {
    /// `smtp_url` as lettre reads it (`smtp://host:port`, `smtps://user:password@host`,
    /// `smtp://host?tls=required`).
    pub fn new(smtp_url: &str, from: &str, public_url: &str) -> Result<Self, AccountsError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| AccountsError::Invalid(format!("SMTP URL: {e}")))?
            .build();
        let from = from
            .parse()
            .map_err(|e| AccountsError::Invalid(format!("sender address {from:?}: {e}")))?;
        Ok(Mailer {
            transport,
            from,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }
}

/// A tenant's quotas, and what it uses of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Sub-accounts.
    pub accounts: i64,
    /// Keys in the keystore (CA keys included).
    pub keys: i64,
    pub api_keys: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub limits: Quotas,
    pub used: Quotas,
}

/// What a quota counts.
#[derive(Clone, Copy, Debug)]
pub enum Counted {
    Accounts,
    Keys,
    ApiKeys,
}

impl Counted {
    fn label(self) -> &'static str {
        match self {
            Counted::Accounts => "sub-accounts",
            Counted::Keys => "keys",
            Counted::ApiKeys => "API keys",
        }
    }
}

/// `text` as a 7-bit body when it is ASCII with lines of at most 998 characters (RFC 5322), so
/// the link stays whole on one line for whatever reads the raw message; quoted-printable
/// otherwise.
fn plain_7bit(text: &str) -> lettre::message::Body {
    use lettre::message::{Body, header::ContentTransferEncoding};
    let fits = text.is_ascii()
        && text
            .split("\r\n")
            .all(|line| line.len() <= 998 && !line.contains('\n'));
    if fits {
        Body::dangerous_pre_encoded(text.as_bytes().to_vec(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text.to_owned())
    }
}

fn check_email(email: &str) -> Result<Mailbox, AccountsError> {
    let bad = || {
        AccountsError::Invalid(format!(
            "{email:?} is not an e-mail address: use name@example.com"
        ))
    };
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let address: lettre::Address = email.parse().map_err(|_| bad())?;
    Ok(Mailbox::new(None, address))
}

impl Platform {
    /// Records a sign-up for tenant `tenant_name` and mails its confirmation link to `email`.
    pub async fn sign_up(
        &self,
        email: &str,
        tenant_name: &str,
        password: &str,
    ) -> Result<(), AccountsError> {
        let Some(mailer) = self.mailer() else {
            return Err(AccountsError::Missing(
                "this platform does not offer sign-up: ask its operator for a tenant".into(),
            ));
        };
        let to = check_email(email)?;
        check_name("tenant", tenant_name)?;
        crate::accounts::check_password(password)?;
        if self.tenant_id(tenant_name).await?.is_some() {
            return Err(AccountsError::Exists {
                what: "tenant",
                name: tenant_name.to_owned(),
            });
        }
        let token = ids::secret(SIGNUP_TOKEN_PREFIX);
        let id = ids::secret("sgn_")[..36].to_owned();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO signups (id, email, tenant_name, password_hash, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(email)
        .bind(tenant_name)
        .bind(crate::accounts::hash_password(password)?)
        .bind(crate::accounts::token_hash(&token))
        .bind(now)
        .bind(now + SIGNUP_LIFETIME_MS)
        .execute(self.store().pool())
        .await?;
        // The token travels in the fragment: browsers send it to no server, so no proxy or
        // access log sees it.
        let link = format!("{}/#/verify/{token}", mailer.public_url);
        let message = Message::builder()
            .from(mailer.from.clone())
            .to(to)
            .subject(format!("Confirm your RiCaaS tenant {tenant_name}"))
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(plain_7bit(&format!(
                "Someone (we hope you) asked for the RiCaaS tenant {tenant_name} with this address.\r\n\r\n\
                 To create it, open this link within 24 hours:\r\n\r\n{link}\r\n\r\n\
                 Then sign in as \"root\" of tenant {tenant_name} with the password you chose.\r\n\
                 If you did not ask for it, ignore this message: nothing is created without the link.\r\n"
            )))
            .map_err(|e| AccountsError::Invalid(format!("composing the confirmation: {e}")))?;
        if let Err(e) = mailer.transport.send(message).await {
            sqlx::query("DELETE FROM signups WHERE id = $1")
                .bind(&id)
                .execute(self.store().pool())
                .await?;
            tracing::error!(error = %e, "sign-up mail could not be sent");
            return Err(AccountsError::Unavailable(
                "the confirmation e-mail could not be sent: try again later".into(),
            ));
        }
        Ok(())
    }

    /// Follows a sign-up link: creates the tenant and its root account. A link works once and
    /// for 24 hours.
    pub async fn verify_signup(&self, token: &str) -> Result<Tenant, AccountsError> {
        let invalid = || {
            AccountsError::Invalid(
                "this sign-up link is not valid: copy the whole link from the e-mail, or sign up again".into(),
            )
        };
        if !token.starts_with(SIGNUP_TOKEN_PREFIX) {
            return Err(invalid());
        }
        let row: Option<(String, String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, email, tenant_name, password_hash, expires_at, verified_at FROM signups \
             WHERE token_hash = $1",
        )
        .bind(crate::accounts::token_hash(token))
        .fetch_optional(self.store().pool())
        .await?;
        let Some((id, email, tenant_name, password_hash, expires_at, verified_at)) = row else {
            return Err(invalid());
        };
        if verified_at.is_some() {
            return Err(AccountsError::Conflict(format!(
                "this link was already used: tenant {tenant_name} exists, sign in as its root"
            )));
        }
        if expires_at <= now_ms() {
            return Err(AccountsError::Invalid(
                "this sign-up link has expired (links last 24 hours): sign up again".into(),
            ));
        }
        let used = sqlx::query(
            "UPDATE signups SET verified_at = $1 WHERE id = $2 AND verified_at IS NULL",
        )
        .bind(now_ms())
        .bind(&id)
        .execute(self.store().pool())
        .await?;
        if used.rows_affected() != 1 {
            return Err(AccountsError::Conflict(
                "this link was already used: sign in".into(),
            ));
        }
        self.create_tenant_with_hash(&tenant_name, &password_hash, Some(&email))
            .await
    }

    /// A tenant's quotas and usage.
    pub async fn usage(&self, tenant: &TenantId) -> Result<Usage, AccountsError> {
        let (accounts, keys, api_keys): (i64, i64, i64) = sqlx::query_as(
            "SELECT max_accounts, max_keys, max_api_keys FROM tenants WHERE id = $1",
        )
        .bind(tenant.as_str())
        .fetch_one(self.store().pool())
        .await?;
        Ok(Usage {
            limits: Quotas {
                accounts,
                keys,
                api_keys,
            },
            used: Quotas {
                accounts: self.count(tenant, Counted::Accounts).await?,
                keys: self.count(tenant, Counted::Keys).await?,
                api_keys: self.count(tenant, Counted::ApiKeys).await?,
            },
        })
    }

    async fn count(&self, tenant: &TenantId, what: Counted) -> Result<i64, AccountsError> {
        let sql = match what {
            Counted::Accounts => {
                "SELECT COUNT(*) FROM accounts WHERE tenant_id = $1 AND kind = 'sub'"
            }
            Counted::Keys => {
                "SELECT COUNT(*) FROM keys WHERE tenant_id = $1 AND destroyed_at IS NULL"
            }
            Counted::ApiKeys => {
                "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL"
            }
        };
        let (count,): (i64,) = sqlx::query_as(sql)
            .bind(tenant.as_str())
            .fetch_one(self.store().pool())
            .await?;
        Ok(count)
    }

    /// Refuses one more of `what` when the tenant has reached its quota. (Two requests racing
    /// at the limit may both pass: quotas bound use, they are not a security boundary.)
    pub(crate) async fn check_quota(
        &self,
        tenant: &TenantId,
        what: Counted,
    ) -> Result<(), AccountsError> {
        let usage = self.usage(tenant).await?;
        let (used, limit) = match what {
            Counted::Accounts => (usage.used.accounts, usage.limits.accounts),
            Counted::Keys => (usage.used.keys, usage.limits.keys),
            Counted::ApiKeys => (usage.used.api_keys, usage.limits.api_keys),
        };
        if used >= limit {
            return Err(AccountsError::Conflict(format!(
                "quota reached: this tenant has {used} of {limit} {}; remove some, or ask the platform operator to raise the quota",
                what.label()
            )));
        }
        Ok(())
    }

    /// Sets a tenant's quotas (operator).
    pub async fn set_quotas(
        &self,
        tenant_name: &str,
        quotas: Quotas,
    ) -> Result<Usage, AccountsError> {
        for (what, value) in [
            ("accounts", quotas.accounts),
            ("keys", quotas.keys),
            ("api_keys", quotas.api_keys),
        ] {
            if !(0..=1_000_000).contains(&value) {
                return Err(AccountsError::Invalid(format!(
                    "{what} quota {value} is out of range: use 0 to 1000000"
                )));
            }
        }
        let tenant = self
            .tenant_id(tenant_name)
            .await?
            .ok_or_else(|| AccountsError::NotFound {
                what: "tenant",
                name: tenant_name.to_owned(),
            })?;
        sqlx::query(
            "UPDATE tenants SET max_accounts = $1, max_keys = $2, max_api_keys = $3 WHERE id = $4",
        )
        .bind(quotas.accounts)
        .bind(quotas.keys)
        .bind(quotas.api_keys)
        .bind(tenant.as_str())
        .execute(self.store().pool())
        .await?;
        self.usage(&tenant).await
    }

    /// A tenant's quotas and usage, by name (operator).
    pub async fn usage_of(&self, tenant_name: &str) -> Result<Usage, AccountsError> {
        let tenant = self
            .tenant_id(tenant_name)
            .await?
            .ok_or_else(|| AccountsError::NotFound {
                what: "tenant",
                name: tenant_name.to_owned(),
            })?;
        self.usage(&tenant).await
    }
}
