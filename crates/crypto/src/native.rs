//! The native transaction envelope: signed by an X.509 identity's own key (SM2, P-256, Ed25519,
//! or secp256k1), carrying the certificate (the signature verifies without state) or only the id
//! of a certificate enrolled on chain (the caller resolves it to the key). The sender is the
//! account the key controls ([`crate::ca::account_of_key`]); whether that account is enrolled,
//! valid and allowed is the permission check's business.

use crate::{
    SignatureError,
    ca::{self, CaError, Certificate, IdentityKey},
};
use alloy_primitives::{Address, B256, Bytes};
use ricaas_primitives::{
    ChainTx, NativeTx, NativeTxFields, RecoveredTx, SignerCertificate, certificate_id,
};

/// Signs `fields` with `key`, whose certificate is `certificate`.
pub fn sign_native(
    fields: NativeTxFields,
    certificate: &Certificate,
    key: &IdentityKey,
) -> Result<NativeTx, CaError> {
    let signature = ca::sign_bytes(key, &fields.signing_payload())?;
    Ok(NativeTx {
        fields,
        certificate: ca::certificate_der(certificate)?.into(),
        signature: Bytes::copy_from_slice(signature.raw_bytes()),
    })
}

/// Signs `fields` with `key`, naming its certificate by id: the certificate must be enrolled in
/// the channel for the transaction to be accepted.
pub fn sign_native_enrolled(
    fields: NativeTxFields,
    certificate: &Certificate,
    key: &IdentityKey,
) -> Result<NativeTx, CaError> {
    let mut tx = sign_native(fields, certificate, key)?;
    tx.certificate = Bytes::copy_from_slice(certificate_id(&tx.certificate).as_slice());
    Ok(tx)
}

/// The account that signed `tx`, if its signature verifies against its signer's key. An
/// enrolled certificate's id is resolved to its key (SubjectPublicKeyInfo DER) by `enrolled`.
pub fn verify_native(
    tx: &NativeTx,
    enrolled: impl FnOnce(B256) -> Option<Vec<u8>>,
) -> Result<Address, SignatureError> {
    let spki = match tx.signer_certificate() {
        SignerCertificate::Carried(der) => {
            ca::certificate_from_der(der)
                .map_err(|e| SignatureError::Certificate(e.to_string()))?
                .tbs_certificate
                .subject_public_key_info
        }
        SignerCertificate::Enrolled(id) => {
            let der = enrolled(id).ok_or_else(|| {
                SignatureError::Certificate(format!("certificate id {id} is not enrolled"))
            })?;
            ca::public_key_info_from_der(&der)
                .map_err(|e| SignatureError::Certificate(e.to_string()))?
        }
    };
    ca::verify_signature(&spki, &tx.fields.signing_payload(), &tx.signature).map_err(
        |e| match e {
            ca::VerifyError::UnsupportedAlgorithm(oid) => {
                SignatureError::Certificate(format!("unsupported key algorithm {oid}"))
            }
            _ => SignatureError::NativeSignature,
        },
    )?;
    ca::account_of_key(&spki)
        .ok_or_else(|| SignatureError::Certificate("unreadable public key".into()))
}

/// Verifies any transaction's signature and returns it with its sender. A native transaction
/// naming an enrolled certificate by id needs [`recover_with`].
pub fn recover(tx: ChainTx) -> Result<RecoveredTx, SignatureError> {
    recover_with(tx, |_| None)
}

/// [`recover`], resolving enrolled certificate ids to keys with `enrolled`.
pub fn recover_with(
    tx: ChainTx,
    enrolled: impl FnOnce(B256) -> Option<Vec<u8>>,
) -> Result<RecoveredTx, SignatureError> {
    let encoded = tx.encoded().into();
    recover_encoded(tx, encoded, enrolled)
}

/// [`recover_with`] for a transaction whose EIP-2718 bytes the caller already holds (as it
/// received and decoded them): they are kept as its encoding instead of encoding it again.
pub fn recover_encoded(
    tx: ChainTx,
    encoded: Bytes,
    enrolled: impl FnOnce(B256) -> Option<Vec<u8>>,
) -> Result<RecoveredTx, SignatureError> {
    debug_assert_eq!(
        tx.encoded(),
        encoded.as_ref(),
        "`encoded` is the transaction's encoding"
    );
    let sender = match &tx {
        ChainTx::Ethereum(envelope) => {
            crate::recover_signer(envelope.signature(), &envelope.signature_hash())?
        }
        ChainTx::Native { tx: native, .. } => verify_native(native, enrolled)?,
    };
    Ok(RecoveredTx::from_verified_parts(tx, sender, encoded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{CertificateAuthority, KeyAlgorithm, Role};
    use alloy_primitives::U256;

    fn fields() -> NativeTxFields {
        NativeTxFields {
            chain_id: 1337,
            nonce: 3,
            gas_price: 0,
            gas_limit: 50_000,
            to: Bytes::copy_from_slice(Address::repeat_byte(7).as_slice()),
            value: U256::from(5),
            input: Bytes::from_static(b"hello"),
        }
    }

    #[test]
    fn every_identity_algorithm_signs_native_transactions_that_verify_and_bind_their_fields() {
        let ca = CertificateAuthority::new_root("org1", KeyAlgorithm::P256, 30).expect("CA");
        for algorithm in [
            KeyAlgorithm::Sm2,
            KeyAlgorithm::P256,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::Secp256k1,
        ] {
            let key = IdentityKey::generate(algorithm);
            let cert = ca
                .issue(
                    "alice",
                    Role::Client,
                    key.public_key_info().expect("spki"),
                    30,
                )
                .expect("issued");
            let tx = sign_native(fields(), &cert, &key).expect("signs");
            let raw = tx.encoded();
            let decoded =
                ricaas_primitives::decode_raw_transaction(&raw, 1 << 20).expect("decodes");
            let recovered = recover(decoded).expect("verifies");
            assert_eq!(
                Some(recovered.sender()),
                ca::account_of(&cert),
                "{algorithm:?}"
            );
            assert_eq!(recovered.encoded().as_ref(), raw.as_slice());
            // Any change to the signed fields breaks the signature.
            let mut tampered = tx.clone();
            tampered.fields.value = U256::from(6);
            assert_eq!(
                verify_native(&tampered, |_| None),
                Err(SignatureError::NativeSignature),
                "{algorithm:?}"
            );
            // Someone else's certificate does not make the signature theirs.
            let other = IdentityKey::generate(algorithm);
            let other_cert = ca
                .issue(
                    "mallory",
                    Role::Client,
                    other.public_key_info().expect("spki"),
                    30,
                )
                .expect("issued");
            let mut swapped = tx.clone();
            swapped.certificate = ca::certificate_der(&other_cert).expect("der").into();
            assert_eq!(
                verify_native(&swapped, |_| None),
                Err(SignatureError::NativeSignature)
            );
        }
        // The secp256k1 account is the Ethereum address of the key.
        let key = crate::DevKey::random();
        let cert = ca
            .issue(
                "bob",
                Role::Client,
                key.identity_key().public_key_info().expect("spki"),
                30,
            )
            .expect("issued");
        assert_eq!(ca::account_of(&cert), Some(key.address()));
    }

    #[test]
    fn an_enrolled_certificate_is_named_by_id_and_resolved_to_its_key() {
        let ca = CertificateAuthority::new_root("org1", KeyAlgorithm::Sm2, 30).expect("CA");
        let key = IdentityKey::generate(KeyAlgorithm::Sm2);
        let cert = ca
            .issue(
                "alice",
                Role::Client,
                key.public_key_info().expect("spki"),
                30,
            )
            .expect("issued");
        let der = ca::certificate_der(&cert).expect("der");
        let spki = ca::public_key_info_der(&cert).expect("spki der");
        let tx = sign_native_enrolled(fields(), &cert, &key).expect("signs");
        assert_eq!(tx.certificate.as_ref(), certificate_id(&der).as_slice());
        let decoded =
            ricaas_primitives::decode_raw_transaction(&tx.encoded(), 1 << 20).expect("decodes");
        // Unknown id: refused, naming it.
        let err = recover(decoded.clone()).unwrap_err();
        assert_eq!(
            err.to_string(),
            SignatureError::Certificate(format!(
                "certificate id {} is not enrolled",
                certificate_id(&der)
            ))
            .to_string()
        );
        // Resolved: the sender is the certificate's account, as with the carried form.
        let recovered = recover_with(decoded, |id| {
            (id == certificate_id(&der)).then(|| spki.clone())
        })
        .expect("verifies");
        assert_eq!(Some(recovered.sender()), ca::account_of(&cert));
        // Resolved to another key: the signature does not verify.
        let other = IdentityKey::generate(KeyAlgorithm::Sm2);
        let other_spki = other.public_key_info().expect("spki");
        let other_der = der::Encode::to_der(&other_spki).expect("der");
        assert_eq!(
            verify_native(&tx, |_| Some(other_der)),
            Err(SignatureError::NativeSignature)
        );
    }

    #[test]
    fn malformed_native_envelopes_are_refused_at_decoding() {
        let ca = CertificateAuthority::new_root("org1", KeyAlgorithm::P256, 30).expect("CA");
        let key = IdentityKey::generate(KeyAlgorithm::Ed25519);
        let cert = ca
            .issue(
                "alice",
                Role::Client,
                key.public_key_info().expect("spki"),
                30,
            )
            .expect("issued");
        let mut bad_to = fields();
        bad_to.to = Bytes::from_static(&[1, 2, 3]);
        let raw = sign_native(bad_to, &cert, &key).expect("signs").encoded();
        let err = ricaas_primitives::decode_raw_transaction(&raw, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("recipient is 3 bytes"), "{err}");
        let mut raw = sign_native(fields(), &cert, &key).expect("signs").encoded();
        raw.push(0);
        assert!(ricaas_primitives::decode_raw_transaction(&raw, 1 << 20).is_err());
        let mut garbage = vec![ricaas_primitives::NATIVE_TX_TYPE];
        garbage.extend_from_slice(&[0xc3, 1, 2, 3]);
        assert!(ricaas_primitives::decode_raw_transaction(&garbage, 1 << 20).is_err());
        let unsigned_cert = sign_native(fields(), &cert, &key).map(|mut tx| {
            tx.certificate = Bytes::from_static(b"not a certificate");
            tx
        });
        assert!(matches!(
            verify_native(&unsigned_cert.expect("signs"), |_| None),
            Err(SignatureError::Certificate(_))
        ));
    }
}
