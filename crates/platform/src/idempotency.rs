//! Idempotency keys: a write sent again with the same `Idempotency-Key` (by the same caller)
//! gets the first answer back instead of being done twice; the same key with a different
//! request is refused. Answers are kept 24 hours, sealed under the master key.

use crate::{
    accounts::{AccountsError, Platform},
    store::now_ms,
};

/// How long an answer is kept, and how long an unfinished claim blocks a retry (a request that
/// died with its process frees its key after this).
pub const KEEP_MS: i64 = 24 * 60 * 60 * 1000;
pub const ABANDONED_MS: i64 = 60 * 1000;
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What a request with an idempotency key should do.
#[derive(Debug)]
pub enum Claim {
    /// First time: do the write, then [`Platform::complete_idempotency`].
    New,
    /// Done before: answer this again.
    Replay {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// The first request with this key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

fn context(scope: &str, key: &str) -> String {
    format!("idempotency/{scope}/{key}")
}

impl Platform {
    /// Claims `key` for `scope` (the caller) and a request whose fingerprint is `fingerprint`.
    pub async fn claim_idempotency(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Claim, AccountsError> {
        let now = now_ms();
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 \
             AND (created_at < $3 OR (completed_at IS NULL AND created_at < $4))",
        )
        .bind(scope)
        .bind(key)
        .bind(now - KEEP_MS)
        .bind(now - ABANDONED_MS)
        .execute(self.store().pool())
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(scope)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .execute(self.store().pool())
        .await;
        match inserted {
            Ok(_) => return Ok(Claim::New),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
            Err(e) => return Err(e.into()),
        }
        type Row = (String, Option<i64>, Option<String>, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT fingerprint, status, content_type, body FROM idempotency_keys \
             WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(self.store().pool())
        .await?;
        let Some((stored, status, content_type, body)) = row else {
            // Removed between our insert and read (expired): the caller may simply retry.
            return Ok(Claim::InProgress);
        };
        if stored != fingerprint {
            return Ok(Claim::Mismatch);
        }
        match (status, body) {
            (Some(status), Some(body)) => {
                let body = self
                    .master_key()
                    .open(&body, &context(scope, key))
                    .map_err(|e| AccountsError::Corrupt(format!("stored answer: {e}")))?;
                Ok(Claim::Replay {
                    status: u16::try_from(status)
                        .map_err(|_| AccountsError::Corrupt("stored status".into()))?,
                    content_type: content_type.unwrap_or_default(),
                    body: body.to_vec(),
                })
            }
            _ => Ok(Claim::InProgress),
        }
    }

    /// Keeps the answer of a claimed key.
    pub async fn complete_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) -> Result<(), AccountsError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3, completed_at = $4 \
             WHERE scope = $5 AND key = $6",
        )
        .bind(i64::from(status))
        .bind(content_type)
        .bind(self.master_key().seal(body, &context(scope, key)))
        .bind(now_ms())
        .bind(scope)
        .bind(key)
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// Frees a claimed key whose request failed in a way worth retrying (5xx).
    pub async fn release_idempotency(&self, scope: &str, key: &str) -> Result<(), AccountsError> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND completed_at IS NULL",
        )
        .bind(scope)
        .bind(key)
        .execute(self.store().pool())
        .await?;
        Ok(())
    }
}
