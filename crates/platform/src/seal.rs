//! Secrets the platform must be able to read back (TOTP seeds, and the data keys of the
//! keystore) are sealed with AES-256-GCM under the platform's master key, bound to what they
//! belong to (associated data), so a sealed value copied onto another row does not open.
//! The master key comes from `RICAAS_MASTER_KEY` (64 hex digits) or a 0600 file.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use std::path::Path;
use zeroize::Zeroizing;

/// The environment variable that carries the master key, if the file should not.
pub const MASTER_KEY_ENV: &str = "RICAAS_MASTER_KEY";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the master key in {0} must be 64 hex digits (32 bytes)")]
    BadKey(String),
    #[error("the master key file {0} is readable by others (mode {1:o}): run `chmod 600` on it")]
    Exposed(String, u32),
    #[error("reading or writing the master key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "a sealed value does not open: it was altered, moved, or sealed under another master key"
    )]
    Open,
}

/// The platform's key-encryption key. Never logged (its Debug says nothing).
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

fn parse_hex_key(text: &str, origin: &str) -> Result<MasterKey, SealError> {
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), &mut key[..])
        .map_err(|_| SealError::BadKey(origin.to_owned()))?;
    Ok(MasterKey(key))
}

impl MasterKey {
    /// A fresh random key (tests, and the first start of a platform).
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut key[..]);
        MasterKey(key)
    }

    /// The key from `RICAAS_MASTER_KEY` if set, otherwise from `path`, which is created (mode
    /// 0600, written once) if it does not exist. A file others can read is refused.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return parse_hex_key(&text, MASTER_KEY_ENV);
        }
        let shown = path.display().to_string();
        let io = |source| SealError::Io {
            path: shown.clone(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
                    if mode & 0o077 != 0 {
                        return Err(SealError::Exposed(shown, mode));
                    }
                }
                parse_hex_key(&text, &shown)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut file = options.open(path).map_err(io)?;
                let text = Zeroizing::new(hex::encode(&key.0[..]));
                std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// `plaintext` sealed and bound to `context`: `v1.<nonce hex>.<ciphertext hex>`.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        seal_under(&self.0, plaintext, context)
    }

    /// The plaintext of a value [`Self::seal`]ed with the same key and `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        open_under(&self.0, sealed, context)
    }
}

/// A data key of the keystore's envelope: it seals one private key, and is itself kept only
/// sealed under the master key.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut key[..]);
        DataKey(key)
    }

    /// This key wrapped under `master`, bound to `context`.
    pub fn wrap(&self, master: &MasterKey, context: &str) -> String {
        master.seal(&self.0[..], context)
    }

    /// A data key [`Self::wrap`]ped under `master` with `context`.
    pub fn unwrap(master: &MasterKey, wrapped: &str, context: &str) -> Result<Self, SealError> {
        let bytes = master.open(wrapped, context)?;
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(SealError::Open);
        }
        key.copy_from_slice(&bytes);
        Ok(DataKey(key))
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        seal_under(&self.0, plaintext, context)
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        open_under(&self.0, sealed, context)
    }
}

fn seal_under(key: &[u8; 32], plaintext: &[u8], context: &str) -> String {
    let cipher = Aes256Gcm::new_from_slice(key).expect("a 32-byte key");
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: context.as_bytes(),
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer does not fail");
    format!("v1.{}.{}", hex::encode(nonce), hex::encode(sealed))
}

fn open_under(
    key: &[u8; 32],
    sealed: &str,
    context: &str,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let mut parts = sealed.split('.');
    let (Some("v1"), Some(nonce), Some(body), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SealError::Open);
    };
    let mut nonce_bytes = [0u8; 12];
    hex::decode_to_slice(nonce, &mut nonce_bytes).map_err(|_| SealError::Open)?;
    let body = hex::decode(body).map_err(|_| SealError::Open)?;
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| SealError::Open)?;
    cipher
        .decrypt(
            &Nonce::from(nonce_bytes),
            Payload {
                msg: &body,
                aad: context.as_bytes(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"totp seed", "account/acc_1");
        assert!(!sealed.contains(&hex::encode(b"totp seed")));
        assert_eq!(
            &key.open(&sealed, "account/acc_1").expect("opens")[..],
            b"totp seed"
        );
        assert!(
            key.open(&sealed, "account/acc_2").is_err(),
            "moved to another row"
        );
        assert!(
            MasterKey::generate()
                .open(&sealed, "account/acc_1")
                .is_err()
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('0') { '1' } else { '0' });
        assert!(key.open(&tampered, "account/acc_1").is_err());
        assert!(key.open("v2.00.00", "x").is_err());
        assert_eq!(format!("{key:?}"), "MasterKey(…)");
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let key = MasterKey::load_or_create(&path).expect("created");
        let again = MasterKey::load_or_create(&path).expect("read back");
        let sealed = key.seal(b"x", "c");
        assert_eq!(&again.open(&sealed, "c").expect("same key")[..], b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let refused = MasterKey::load_or_create(&path).unwrap_err();
            assert!(refused.to_string().contains("chmod 600"), "{refused}");
        }
    }
}
