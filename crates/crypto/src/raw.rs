//! Signatures and public keys in the raw shapes hardware and wire formats use: EC points and
//! `r‖s` pairs from a PKCS#11 token turned into what [`crate::ca::verify_signature`] and
//! Ethereum expect, and digests signed for Ethereum with a recovery id.

use crate::ca::{CaError, IdentityKey, KeyAlgorithm};
use der::Decode as _;
use spki::SubjectPublicKeyInfoOwned;

/// SubjectPublicKeyInfo of a raw public key: an uncompressed or compressed EC point, or the
/// 32 bytes of an Ed25519 key.
pub fn public_key_info_from_raw(
    algorithm: KeyAlgorithm,
    raw: &[u8],
) -> Result<SubjectPublicKeyInfoOwned, CaError> {
    use spki::EncodePublicKey as _;
    let bad = |what: &str| CaError::Key(format!("not a valid {what} public key"));
    let der = match algorithm {
        KeyAlgorithm::Secp256k1 => k256::PublicKey::from_sec1_bytes(raw)
            .map_err(|_| bad("secp256k1"))?
            .to_public_key_der(),
        KeyAlgorithm::P256 => p256::PublicKey::from_sec1_bytes(raw)
            .map_err(|_| bad("P-256"))?
            .to_public_key_der(),
        KeyAlgorithm::Sm2 => sm2::PublicKey::from_sec1_bytes(raw)
            .map_err(|_| bad("SM2"))?
            .to_public_key_der(),
        KeyAlgorithm::Ed25519 => {
            let bytes: [u8; 32] = raw.try_into().map_err(|_| bad("Ed25519"))?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| bad("Ed25519"))?
                .to_public_key_der()
        }
    }
    .map_err(|e| CaError::Encoding(e.to_string()))?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes())
        .map_err(|e| CaError::Encoding(e.to_string()))
}

/// The digest an ECDSA document signature covers (SHA-256 of the message), as a token that
/// signs digests must be given it.
pub fn document_digest(message: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(message).into()
}

/// A raw ECDSA `r‖s` (as PKCS#11 returns it) as a document signature: low-S, DER.
pub fn ecdsa_document_signature(algorithm: KeyAlgorithm, raw: &[u8]) -> Result<Vec<u8>, CaError> {
    let bad = |_| CaError::Signing("the signer returned a malformed ECDSA signature".into());
    match algorithm {
        KeyAlgorithm::Secp256k1 => {
            let sig = k256::ecdsa::Signature::from_slice(raw).map_err(bad)?;
            Ok(sig
                .normalize_s()
                .unwrap_or(sig)
                .to_der()
                .as_bytes()
                .to_vec())
        }
        KeyAlgorithm::P256 => {
            let sig = p256::ecdsa::Signature::from_slice(raw).map_err(bad)?;
            Ok(sig
                .normalize_s()
                .unwrap_or(sig)
                .to_der()
                .as_bytes()
                .to_vec())
        }
        other => Err(CaError::Signing(format!(
            "{other:?} signatures are not ECDSA"
        ))),
    }
}

/// A raw secp256k1 `r‖s` over `digest` by the key `public` as an Ethereum signature:
/// `r‖s‖v` with low S and the recovery id `v` (0 or 1) that recovers `public`.
pub fn ethereum_signature(
    public: &SubjectPublicKeyInfoOwned,
    digest: &[u8; 32],
    raw: &[u8],
) -> Result<[u8; 65], CaError> {
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
    let bad = || CaError::Signing("the signer returned a malformed secp256k1 signature".into());
    let sig = Signature::from_slice(raw).map_err(|_| bad())?;
    let sig = sig.normalize_s().unwrap_or(sig);
    let expected = VerifyingKey::from_sec1_bytes(public.subject_public_key.raw_bytes())
        .map_err(|_| CaError::Key("not a secp256k1 key".into()))?;
    for v in 0u8..=1 {
        let id = RecoveryId::from_byte(v).ok_or_else(bad)?;
        if VerifyingKey::recover_from_prehash(digest, &sig, id).is_ok_and(|k| k == expected) {
            let mut out = [0u8; 65];
            out[..64].copy_from_slice(&sig.to_bytes());
            out[64] = v;
            return Ok(out);
        }
    }
    Err(CaError::Signing(
        "the signature does not match the key".into(),
    ))
}

/// Signs a 32-byte digest with a software secp256k1 key, Ethereum style (`r‖s‖v`).
pub fn sign_ethereum_digest(key: &IdentityKey, digest: &[u8; 32]) -> Result<[u8; 65], CaError> {
    let IdentityKey::Secp256k1(k) = key else {
        return Err(CaError::Signing(
            "Ethereum signatures need a secp256k1 key".into(),
        ));
    };
    let (sig, id) = k
        .sign_prehash_recoverable(digest)
        .map_err(|e| CaError::Signing(e.to_string()))?;
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = id.to_byte();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_shapes_round_trip_through_the_verifiers() {
        for algorithm in [KeyAlgorithm::Secp256k1, KeyAlgorithm::P256] {
            let key = IdentityKey::generate(algorithm);
            let spki = key.public_key_info().expect("spki");
            let raw_point = spki.subject_public_key.raw_bytes();
            assert_eq!(
                public_key_info_from_raw(algorithm, raw_point).expect("from raw"),
                spki
            );
            // A software signature taken apart to r‖s and put back as a document signature.
            let der = crate::ca::sign_document(&key, b"config").expect("signs");
            let raw = match algorithm {
                KeyAlgorithm::Secp256k1 => k256::ecdsa::Signature::from_der(&der)
                    .expect("der")
                    .to_bytes()
                    .to_vec(),
                _ => p256::ecdsa::Signature::from_der(&der)
                    .expect("der")
                    .to_bytes()
                    .to_vec(),
            };
            let again = ecdsa_document_signature(algorithm, &raw).expect("document");
            crate::ca::verify_signature(&spki, b"config", &again).expect("verifies");
        }
        let key = IdentityKey::generate(KeyAlgorithm::Secp256k1);
        let digest = [7u8; 32];
        let sig = sign_ethereum_digest(&key, &digest).expect("signs");
        let spki = key.public_key_info().expect("spki");
        assert_eq!(
            ethereum_signature(&spki, &digest, &sig[..64]).expect("recovers"),
            sig
        );
    }
}
