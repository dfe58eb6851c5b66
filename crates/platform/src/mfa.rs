//! Time-based one-time codes (TOTP, RFC 6238 over HOTP, RFC 4226) as the second factor:
//! enrolment (a seed sealed under the master key, shown once), confirmation by a first code,
//! verification where each code is usable once, and reset by the tenant's root.

use crate::{
    accounts::{AccountKind, AccountsError, AuthError, Platform, Principal},
    ids::{AccountId, TenantId},
};
use hmac::{Hmac, Mac};
use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

/// Seconds per time step, digits per code, and steps of clock drift accepted either way.
pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: u32 = 6;
pub const DRIFT_STEPS: u64 = 1;
/// Bytes of a seed (160 bits, RFC 4226's recommendation for HMAC-SHA1).
const SEED_BYTES: usize = 20;

/// The HMAC behind a code. Authenticator apps use SHA-1; the RFC's vectors cover all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

fn hmac_digest<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// HOTP (RFC 4226): the `digits`-digit code of `counter` under `seed`.
pub fn hotp(seed: &[u8], counter: u64, digits: u32, algorithm: Algorithm) -> String {
    let message = counter.to_be_bytes();
    let digest = match algorithm {
        Algorithm::Sha1 => hmac_digest::<Hmac<sha1::Sha1>>(seed, &message),
        Algorithm::Sha256 => hmac_digest::<Hmac<sha2::Sha256>>(seed, &message),
        Algorithm::Sha512 => hmac_digest::<Hmac<sha2::Sha512>>(seed, &message),
    };
    // Dynamic truncation: the low nibble of the last byte picks 4 bytes.
    let offset = (digest[digest.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    let code = u64::from(binary) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// TOTP (RFC 6238): the code at `unix_seconds`.
pub fn totp(seed: &[u8], unix_seconds: u64, digits: u32, algorithm: Algorithm) -> String {
    hotp(seed, unix_seconds / STEP_SECONDS, digits, algorithm)
}

/// The current code of a base32 seed at `unix_seconds`, as an authenticator app shows it
/// (`None` if the seed is not base32).
pub fn code_for(secret_base32: &str, unix_seconds: u64) -> Option<String> {
    let seed = data_encoding::BASE32_NOPAD
        .decode(secret_base32.as_bytes())
        .ok()?;
    Some(totp(&seed, unix_seconds, DIGITS, Algorithm::Sha1))
}

/// The clock codes are checked against: the system's, optionally shifted (tests move it a
/// step forward instead of waiting thirty seconds).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn now_seconds(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        (now + self.offset_seconds.load(Ordering::Relaxed)).max(0) as u64
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// What a new enrolment shows once: the seed for an authenticator app.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MfaEnrolment {
    /// The seed in base32, to type into an authenticator.
    pub secret: String,
    /// `otpauth://totp/…`, to show as a QR code.
    pub otpauth_uri: String,
}

fn context(account: &AccountId) -> String {
    format!("mfa/{account}")
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Platform {
    /// Starts (or restarts) enrolment: a new seed, pending until a code confirms it.
    pub async fn enroll_mfa(&self, caller: &Principal) -> Result<MfaEnrolment, AccountsError> {
        let (_, enabled, _) = self.mfa_state(&caller.account_id).await?;
        if enabled {
            return Err(AccountsError::Conflict(
                "multi-factor sign-in is already on for this account: turn it off with a current code first".into(),
            ));
        }
        let mut seed = zeroize::Zeroizing::new([0u8; SEED_BYTES]);
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed[..]);
        let sealed = self
            .master_key()
            .seal(&seed[..], &context(&caller.account_id));
        sqlx::query(
            "UPDATE accounts SET mfa_secret = $1, mfa_enabled_at = NULL, mfa_last_step = 0 WHERE id = $2",
        )
        .bind(sealed)
        .bind(caller.account_id.as_str())
        .execute(self.store().pool())
        .await?;
        let secret = data_encoding::BASE32_NOPAD.encode(&seed[..]);
        let label = percent_encode(&caller.actor());
        Ok(MfaEnrolment {
            otpauth_uri: format!(
                "otpauth://totp/RiCaaS:{label}?secret={secret}&issuer=RiCaaS&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
            ),
            secret,
        })
    }

    /// Confirms a pending enrolment with a first code; from then on sign-in needs a code.
    pub async fn confirm_mfa(&self, caller: &Principal, code: &str) -> Result<(), AccountsError> {
        let (sealed, enabled, _) = self.mfa_state(&caller.account_id).await?;
        if enabled {
            return Err(AccountsError::Conflict(
                "multi-factor sign-in is already on for this account".into(),
            ));
        }
        if sealed.is_none() {
            return Err(AccountsError::Invalid(
                "there is no enrolment to confirm: start one with POST /api/v1/me/mfa".into(),
            ));
        }
        self.verify_code(&caller.account_id, code, false).await?;
        sqlx::query("UPDATE accounts SET mfa_enabled_at = $1 WHERE id = $2")
            .bind(crate::store::now_ms())
            .bind(caller.account_id.as_str())
            .execute(self.store().pool())
            .await?;
        Ok(())
    }

    /// Turns multi-factor sign-in off for the caller, who proves it with a current code.
    pub async fn disable_mfa(&self, caller: &Principal, code: &str) -> Result<(), AccountsError> {
        self.verify_code(&caller.account_id, code, true).await?;
        self.clear_mfa(&caller.account_id).await
    }

    /// Clears a sub-account's second factor (a lost phone); it enrols again.
    pub async fn reset_mfa(&self, tenant: &TenantId, name: &str) -> Result<(), AccountsError> {
        let account = self.account_row(tenant, name).await?;
        if account.kind != AccountKind::Sub {
            return Err(AccountsError::Invalid(
                "the root account's second factor cannot be reset from the API: ask the platform operator".into(),
            ));
        }
        self.clear_mfa(&account.id).await
    }

    async fn clear_mfa(&self, account: &AccountId) -> Result<(), AccountsError> {
        sqlx::query(
            "UPDATE accounts SET mfa_secret = NULL, mfa_enabled_at = NULL, mfa_last_step = 0 WHERE id = $1",
        )
        .bind(account.as_str())
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// The sealed seed, whether MFA is on, and the last time step used.
    pub(crate) async fn mfa_state(
        &self,
        account: &AccountId,
    ) -> Result<(Option<String>, bool, i64), AccountsError> {
        let (sealed, enabled_at, last_step): (Option<String>, Option<i64>, i64) = sqlx::query_as(
            "SELECT mfa_secret, mfa_enabled_at, mfa_last_step FROM accounts WHERE id = $1",
        )
        .bind(account.as_str())
        .fetch_one(self.store().pool())
        .await?;
        Ok((sealed, enabled_at.is_some(), last_step))
    }

    /// Checks a code of `account` (an enabled factor when `enabled_only`) and uses it up: it
    /// must be of a time step later than the last one used, within the accepted drift.
    pub(crate) async fn verify_code(
        &self,
        account: &AccountId,
        code: &str,
        enabled_only: bool,
    ) -> Result<(), AccountsError> {
        let (sealed, enabled, last_step) = self.mfa_state(account).await?;
        let Some(sealed) = sealed.filter(|_| enabled || !enabled_only) else {
            return Err(AuthError::MfaNotEnrolled.into());
        };
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::BadOtp.into());
        }
        let seed = self
            .master_key()
            .open(&sealed, &context(account))
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
        let now = self.clock().now_seconds() / STEP_SECONDS;
        let matched = (now.saturating_sub(DRIFT_STEPS)..=now + DRIFT_STEPS)
            .filter(|step| *step as i64 > last_step)
            .find(|step| {
                let expected = hotp(&seed, *step, DIGITS, Algorithm::Sha1);
                // Compare without an early exit.
                expected
                    .bytes()
                    .zip(code.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            });
        let Some(step) = matched else {
            return Err(AuthError::BadOtp.into());
        };
        // Use the step up atomically: of two requests racing with one code, one wins.
        let used = sqlx::query(
            "UPDATE accounts SET mfa_last_step = $1 WHERE id = $2 AND mfa_last_step < $1",
        )
        .bind(step as i64)
        .bind(account.as_str())
        .execute(self.store().pool())
        .await?;
        if used.rows_affected() != 1 {
            return Err(AuthError::BadOtp.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the seeds are the ASCII strings below, 8-digit codes.
    #[test]
    fn rfc_6238_test_vectors() {
        let sha1 = b"12345678901234567890";
        let sha256 = b"12345678901234567890123456789012";
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234";
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, code1, code256, code512) in vectors {
            assert_eq!(
                totp(sha1, time, 8, Algorithm::Sha1),
                code1,
                "SHA1 at {time}"
            );
            assert_eq!(
                totp(sha256, time, 8, Algorithm::Sha256),
                code256,
                "SHA256 at {time}"
            );
            assert_eq!(
                totp(sha512, time, 8, Algorithm::Sha512),
                code512,
                "SHA512 at {time}"
            );
        }
    }

    /// RFC 4226 Appendix D: HOTP values of counters 0–9.
    #[test]
    fn rfc_4226_test_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(
                hotp(b"12345678901234567890", counter as u64, 6, Algorithm::Sha1),
                *code
            );
        }
    }

    #[test]
    fn the_clock_moves_when_told() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = clock.now_seconds();
        copy.advance(300);
        assert!(clock.now_seconds() >= before + 300);
    }
}
