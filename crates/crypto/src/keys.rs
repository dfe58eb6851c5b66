//! Developer keys: random secp256k1 keys kept in owner-only files.

use alloy_primitives::Address;
use secp256k1::SecretKey;
use std::{fs, io::Write, path::Path};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path} does not hold a 32-byte hex secp256k1 secret key")]
    Malformed { path: String },
}

/// A secp256k1 key pair used by a developer account.
#[derive(Clone)]
pub struct DevKey {
    secret: SecretKey,
}

impl std::fmt::Debug for DevKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("DevKey")
            .field("address", &self.address())
            .finish()
    }
}

impl DevKey {
    pub fn random() -> Self {
        Self {
            secret: SecretKey::new(&mut secp256k1::rand::rng()),
        }
    }

    pub fn from_secret(secret: SecretKey) -> Self {
        Self { secret }
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches("0x");
        let bytes: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
        SecretKey::from_byte_array(bytes)
            .ok()
            .map(|secret| Self { secret })
    }

    /// The same key as an X.509 identity key (to be certified by an organization's CA).
    pub fn identity_key(&self) -> crate::ca::IdentityKey {
        let bytes = self.secret.secret_bytes();
        match k256::ecdsa::SigningKey::from_slice(&bytes) {
            Ok(key) => crate::ca::IdentityKey::Secp256k1(key),
            // Both libraries accept exactly the scalars in [1, n): a valid secp256k1 secret
            // is always a valid k256 one.
            Err(_) => unreachable!("secp256k1 secret rejected by k256"),
        }
    }

    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    pub fn address(&self) -> Address {
        crate::recover::address_of(&self.secret)
    }

    pub fn secret_hex(&self) -> String {
        format!("0x{}", hex::encode(self.secret.secret_bytes()))
    }

    /// Writes the key as hex to a new file readable only by its owner (mode 0600).
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(format!("{}\n", self.secret_hex()).as_bytes())
            .map_err(io)?;
        file.sync_all().map_err(io)
    }

    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_hex(&text).ok_or_else(|| KeyError::Malformed {
            path: path.display().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_owner_only_and_roundtrips() {
        let dir = std::env::temp_dir().join(format!("ricaas-key-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("dev.key");
        let _ = fs::remove_file(&path);
        let key = DevKey::random();
        key.write_new(&path).expect("written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(DevKey::read(&path).expect("reads").address(), key.address());
        assert!(!format!("{key:?}").contains(&key.secret_hex()[2..]));
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn two_random_keys_differ() {
        assert_ne!(DevKey::random().address(), DevKey::random().address());
    }
}
