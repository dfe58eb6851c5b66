//! Node keys: Ed25519 keys that identify a validator on the p2p network and sign its votes,
//! stored as hex (the 32-byte seed for a private key, the 32-byte point for a public key).

use commonware_codec::{DecodeExt as _, Encode as _};
use commonware_cryptography::{
    Signer as _,
    ed25519::{PrivateKey, PublicKey},
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NodeKeyError {
    #[error("{what} is not hex: {detail}")]
    NotHex { what: &'static str, detail: String },
    #[error("{what} must be 32 bytes, got {got}")]
    WrongLength { what: &'static str, got: usize },
    #[error("{0} is not a valid Ed25519 public key")]
    InvalidPublicKey(String),
}

fn decode_32(what: &'static str, text: &str) -> Result<Vec<u8>, NodeKeyError> {
    let text = text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(text).map_err(|e| NodeKeyError::NotHex {
        what,
        detail: e.to_string(),
    })?;
    if bytes.len() != 32 {
        return Err(NodeKeyError::WrongLength {
            what,
            got: bytes.len(),
        });
    }
    Ok(bytes)
}

/// A fresh node key from the operating system's randomness.
pub fn generate_node_key() -> PrivateKey {
    let seed: [u8; 32] = rand::random();
    PrivateKey::decode(bytes::Bytes::copy_from_slice(&seed))
        .expect("any 32 bytes are an Ed25519 seed")
}

pub fn node_key_from_hex(text: &str) -> Result<PrivateKey, NodeKeyError> {
    let bytes = decode_32("node key", text)?;
    PrivateKey::decode(bytes::Bytes::from(bytes.clone())).map_err(|_| NodeKeyError::WrongLength {
        what: "node key",
        got: bytes.len(),
    })
}

pub fn node_key_to_hex(key: &PrivateKey) -> String {
    hex::encode(key.encode())
}

pub fn public_key_from_hex(text: &str) -> Result<PublicKey, NodeKeyError> {
    let bytes = decode_32("public key", text)?;
    PublicKey::decode(bytes::Bytes::from(bytes))
        .map_err(|_| NodeKeyError::InvalidPublicKey(text.trim().to_string()))
}

pub fn public_key_to_hex(key: &PublicKey) -> String {
    hex::encode(key.encode())
}

pub fn public_key_of(key: &PrivateKey) -> PublicKey {
    key.public_key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_keys_round_trip_through_hex_and_bad_keys_are_refused() {
        let key = generate_node_key();
        let again = node_key_from_hex(&node_key_to_hex(&key)).expect("round trip");
        assert_eq!(public_key_of(&again), public_key_of(&key));
        let public = public_key_to_hex(&public_key_of(&key));
        assert_eq!(public_key_from_hex(&public), Ok(public_key_of(&key)));
        assert!(matches!(
            node_key_from_hex("abcd"),
            Err(NodeKeyError::WrongLength { got: 2, .. })
        ));
        assert!(matches!(
            public_key_from_hex("zz"),
            Err(NodeKeyError::NotHex { .. })
        ));
    }
}
