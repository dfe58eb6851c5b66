//! Read tokens: how a client proves, on every JSON-RPC request, which enrolled account reads.
//!
//! A token is an Ethereum `personal_sign` (EIP-191) signature over a statement naming the
//! channel, its chain id and an expiry, so any Ethereum wallet or library can make one:
//!
//! ```text
//! RiCaaS read access
//! channel: default
//! chain id: 1337
//! expires: 1763856000
//! ```
//!
//! Sent as `Authorization: Bearer ricaas-read.<expires>.<65-byte signature, hex>`. The node
//! recovers the account and checks it against the channel's Readers policy.

use alloy_primitives::{Address, keccak256};
use secp256k1::{
    Message, SECP256K1,
    ecdsa::{RecoverableSignature, RecoveryId},
};

/// Prefix of every read token.
pub const READ_TOKEN_PREFIX: &str = "ricaas-read.";
/// Longest lifetime a token may claim: a leaked token is useful for at most this long.
pub const MAX_READ_TOKEN_LIFETIME_SECS: u64 = 7 * 86_400;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadTokenError {
    #[error("malformed read token: expected ricaas-read.<expires>.<signature hex>")]
    Malformed,
    #[error("read token expired at unix time {0}; sign a new one")]
    Expired(u64),
    #[error(
        "read token expires at unix time {expires}, more than {MAX_READ_TOKEN_LIFETIME_SECS} s from now; sign one with a shorter lifetime"
    )]
    TooLong { expires: u64 },
    #[error("read token signature does not verify")]
    BadSignature,
}

/// The statement a read token signs.
pub fn read_token_statement(channel: &str, chain_id: u64, expires: u64) -> String {
    format!("RiCaaS read access\nchannel: {channel}\nchain id: {chain_id}\nexpires: {expires}")
}

fn personal_hash(message: &str) -> [u8; 32] {
    let mut data = format!("\x19Ethereum Signed Message:\n{}", message.len()).into_bytes();
    data.extend_from_slice(message.as_bytes());
    keccak256(&data).0
}

/// The digest a read token's signature covers (EIP-191 over the statement): what a signer that
/// holds the key elsewhere (a keystore, an HSM) signs.
pub fn read_token_digest(channel: &str, chain_id: u64, expires: u64) -> [u8; 32] {
    personal_hash(&read_token_statement(channel, chain_id, expires))
}

/// A read token from a signature `r‖s‖v` (v 0/1 or 27/28) over [`read_token_digest`].
pub fn read_token_from_signature(expires: u64, signature: &[u8; 65]) -> String {
    let mut bytes = *signature;
    if bytes[64] < 27 {
        bytes[64] += 27;
    }
    format!("{READ_TOKEN_PREFIX}{expires}.0x{}", hex::encode(bytes))
}

/// A token for `key` to read `channel` until `expires` (Unix seconds).
pub fn read_token(key: &crate::DevKey, channel: &str, chain_id: u64, expires: u64) -> String {
    let hash = personal_hash(&read_token_statement(channel, chain_id, expires));
    let signature = SECP256K1.sign_ecdsa_recoverable(Message::from_digest(hash), key.secret());
    let (recovery, compact) = signature.serialize_compact();
    let mut bytes = compact.to_vec();
    bytes.push(27 + i32::from(recovery) as u8);
    format!("{READ_TOKEN_PREFIX}{expires}.0x{}", hex::encode(bytes))
}

/// The account that signed `token` for `channel` (chain `chain_id`), if it is valid at `now`.
pub fn verify_read_token(
    token: &str,
    channel: &str,
    chain_id: u64,
    now: u64,
) -> Result<Address, ReadTokenError> {
    let rest = token
        .trim()
        .strip_prefix(READ_TOKEN_PREFIX)
        .ok_or(ReadTokenError::Malformed)?;
    let (expires, signature) = rest.split_once('.').ok_or(ReadTokenError::Malformed)?;
    let expires: u64 = expires.parse().map_err(|_| ReadTokenError::Malformed)?;
    let bytes =
        hex::decode(signature.trim_start_matches("0x")).map_err(|_| ReadTokenError::Malformed)?;
    if bytes.len() != 65 {
        return Err(ReadTokenError::Malformed);
    }
    if expires < now {
        return Err(ReadTokenError::Expired(expires));
    }
    if expires - now > MAX_READ_TOKEN_LIFETIME_SECS {
        return Err(ReadTokenError::TooLong { expires });
    }
    let v = match bytes[64] {
        27 | 28 => bytes[64] - 27,
        0 | 1 => bytes[64],
        _ => return Err(ReadTokenError::BadSignature),
    };
    let recovery = RecoveryId::try_from(i32::from(v)).map_err(|_| ReadTokenError::BadSignature)?;
    let signature = RecoverableSignature::from_compact(&bytes[..64], recovery)
        .map_err(|_| ReadTokenError::BadSignature)?;
    let hash = personal_hash(&read_token_statement(channel, chain_id, expires));
    let public = SECP256K1
        .recover_ecdsa(Message::from_digest(hash), &signature)
        .map_err(|_| ReadTokenError::BadSignature)?;
    let point = public.serialize_uncompressed();
    Ok(Address::from_slice(&keccak256(&point[1..])[12..]))
}

/// Prefix of every admin token.
pub const ADMIN_TOKEN_PREFIX: &str = "ricaas-admin.";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdminTokenError {
    #[error(
        "malformed admin token: expected ricaas-admin.<expires>.<certificate DER hex>.<signature hex>"
    )]
    Malformed,
    #[error("admin token expired at unix time {0}; sign a new one")]
    Expired(u64),
    #[error(
        "admin token expires at unix time {expires}, more than {MAX_READ_TOKEN_LIFETIME_SECS} s from now; sign one with a shorter lifetime"
    )]
    TooLong { expires: u64 },
    #[error("admin token: {0}")]
    Certificate(String),
    #[error("admin token signature does not verify (signed for another node?)")]
    BadSignature,
}

/// The statement an admin token signs: it is good for one node (by its p2p public key) only.
pub fn admin_token_statement(node: &str, expires: u64) -> String {
    format!("RiCaaS admin access\nnode: {node}\nexpires: {expires}")
}

/// A token for the holder of `certificate` and `key` (any identity algorithm) to call the admin
/// API of `node` until `expires` (Unix seconds). Sent as `Authorization: Bearer <token>`.
pub fn admin_token(
    certificate: &crate::ca::Certificate,
    key: &crate::ca::IdentityKey,
    node: &str,
    expires: u64,
) -> Result<String, crate::ca::CaError> {
    let signature = crate::ca::sign_bytes(key, admin_token_statement(node, expires).as_bytes())?;
    let der = crate::ca::certificate_der(certificate)?;
    Ok(admin_token_from_signature(
        &der,
        expires,
        signature.raw_bytes(),
    ))
}

/// The admin token made of a certificate (DER), its expiry and a signature over
/// [`admin_token_statement`] made elsewhere (a keystore or an HSM holding the key), in the form
/// [`crate::ca::sign_document`] produces.
pub fn admin_token_from_signature(
    certificate_der: &[u8],
    expires: u64,
    signature: &[u8],
) -> String {
    format!(
        "{ADMIN_TOKEN_PREFIX}{expires}.{}.{}",
        hex::encode(certificate_der),
        hex::encode(signature)
    )
}

/// The certificate whose key signed `token` for `node`, if the token is valid at `now`. Whether
/// that certificate is an admin of the right organization is the caller's check.
pub fn verify_admin_token(
    token: &str,
    node: &str,
    now: u64,
) -> Result<crate::ca::Certificate, AdminTokenError> {
    let rest = token
        .trim()
        .strip_prefix(ADMIN_TOKEN_PREFIX)
        .ok_or(AdminTokenError::Malformed)?;
    let mut parts = rest.split('.');
    let (Some(expires), Some(certificate), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AdminTokenError::Malformed);
    };
    let expires: u64 = expires.parse().map_err(|_| AdminTokenError::Malformed)?;
    let der = hex::decode(certificate).map_err(|_| AdminTokenError::Malformed)?;
    let signature = hex::decode(signature).map_err(|_| AdminTokenError::Malformed)?;
    if expires < now {
        return Err(AdminTokenError::Expired(expires));
    }
    if expires - now > MAX_READ_TOKEN_LIFETIME_SECS {
        return Err(AdminTokenError::TooLong { expires });
    }
    let certificate = crate::ca::certificate_from_der(&der)
        .map_err(|e| AdminTokenError::Certificate(e.to_string()))?;
    crate::ca::verify_signature(
        &certificate.tbs_certificate.subject_public_key_info,
        admin_token_statement(node, expires).as_bytes(),
        &signature,
    )
    .map_err(|_| AdminTokenError::BadSignature)?;
    Ok(certificate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_signer_and_bind_channel_chain_and_expiry() {
        let key = crate::DevKey::random();
        let token = read_token(&key, "default", 1337, 2_000);
        assert_eq!(
            verify_read_token(&token, "default", 1337, 1_000),
            Ok(key.address())
        );
        // Another channel or chain recovers some other account, never this one.
        assert_ne!(
            verify_read_token(&token, "other", 1337, 1_000).ok(),
            Some(key.address())
        );
        assert_ne!(
            verify_read_token(&token, "default", 1, 1_000).ok(),
            Some(key.address())
        );
        assert_eq!(
            verify_read_token(&token, "default", 1337, 2_001),
            Err(ReadTokenError::Expired(2_000))
        );
        let long = read_token(
            &key,
            "default",
            1337,
            1_000 + MAX_READ_TOKEN_LIFETIME_SECS + 1,
        );
        assert!(matches!(
            verify_read_token(&long, "default", 1337, 1_000),
            Err(ReadTokenError::TooLong { .. })
        ));
        for bad in ["", "ricaas-read.", "ricaas-read.x.00", "ricaas-read.5.0xzz"] {
            assert_eq!(
                verify_read_token(bad, "default", 1337, 1),
                Err(ReadTokenError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn admin_tokens_name_their_certificate_and_bind_node_and_expiry() {
        use crate::ca::{CertificateAuthority, IdentityKey, KeyAlgorithm, Role, certificate_der};
        let ca = CertificateAuthority::new_root("org1", KeyAlgorithm::P256, 1).expect("ca");
        for algorithm in [
            KeyAlgorithm::Secp256k1,
            KeyAlgorithm::Sm2,
            KeyAlgorithm::Ed25519,
        ] {
            let key = IdentityKey::generate(algorithm);
            let certificate = ca
                .issue(
                    "admin",
                    Role::Admin,
                    key.public_key_info().expect("spki"),
                    1,
                )
                .expect("issue");
            let token = admin_token(&certificate, &key, "node-a", 2_000).expect("token");
            let verified = verify_admin_token(&token, "node-a", 1_000).expect("verifies");
            assert_eq!(
                certificate_der(&verified).ok(),
                certificate_der(&certificate).ok()
            );
            assert_eq!(
                verify_admin_token(&token, "node-b", 1_000).err(),
                Some(AdminTokenError::BadSignature)
            );
            assert_eq!(
                verify_admin_token(&token, "node-a", 2_001).err(),
                Some(AdminTokenError::Expired(2_000))
            );
            // Another certificate cannot borrow the signature.
            let other_key = IdentityKey::generate(algorithm);
            let other = ca
                .issue(
                    "x",
                    Role::Admin,
                    other_key.public_key_info().expect("spki"),
                    1,
                )
                .expect("issue");
            let (head, signature) = token.rsplit_once('.').expect("parts");
            let (expires, _) = head
                .strip_prefix(ADMIN_TOKEN_PREFIX)
                .and_then(|h| h.split_once('.'))
                .expect("parts");
            let forged = format!(
                "{ADMIN_TOKEN_PREFIX}{expires}.{}.{signature}",
                hex::encode(certificate_der(&other).expect("der"))
            );
            assert_eq!(
                verify_admin_token(&forged, "node-a", 1_000).err(),
                Some(AdminTokenError::BadSignature)
            );
        }
        for bad in [
            "",
            "ricaas-admin.",
            "ricaas-admin.1.00",
            "ricaas-admin.5.zz.00",
        ] {
            assert_eq!(
                verify_admin_token(bad, "node-a", 1).err(),
                Some(AdminTokenError::Malformed),
                "{bad:?}"
            );
        }
    }
}
