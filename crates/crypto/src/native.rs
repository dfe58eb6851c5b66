//! The native transaction envelope: signed by an X.509 identity's own key (SM2, P-256, Ed25519,
//! or secp256k1) and carrying the certificate, so the signature verifies without state. The
//! sender is the account the certificate's key controls ([`crate::ca::account_of`]); whether
//! that account is enrolled, valid and allowed is the permission check's business.

use crate::{
    SignatureError,
    ca::{self, CaError, Certificate, IdentityKey},
};
use alloy_primitives::{Address, Bytes};
use ricaas_primitives::{ChainTx, NativeTx, NativeTxFields, RecoveredTx};

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

/// The account that signed `tx`, if its signature verifies against its certificate's key.
pub fn verify_native(tx: &NativeTx) -> Result<Address, SignatureError> {
    let certificate = ca::certificate_from_der(&tx.certificate)
        .map_err(|e| SignatureError::Certificate(e.to_string()))?;
    ca::verify_signature(
        &certificate.tbs_certificate.subject_public_key_info,
        &tx.fields.signing_payload(),
        &tx.signature,
    )
    .map_err(|e| match e {
        ca::VerifyError::UnsupportedAlgorithm(oid) => {
            SignatureError::Certificate(format!("unsupported key algorithm {oid}"))
        }
        _ => SignatureError::NativeSignature,
    })?;
    ca::account_of(&certificate)
        .ok_or_else(|| SignatureError::Certificate("unreadable public key".into()))
}

/// Verifies any transaction's signature and returns it with its sender.
pub fn recover(tx: ChainTx) -> Result<RecoveredTx, SignatureError> {
    match tx {
        ChainTx::Ethereum(envelope) => crate::recover_transaction(envelope),
        ChainTx::Native { tx: native, hash } => {
            let sender = verify_native(&native)?;
            let encoded = native.encoded().into();
            Ok(RecoveredTx::from_verified_parts(
                ChainTx::Native { tx: native, hash },
                sender,
                encoded,
            ))
        }
    }
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
                verify_native(&tampered),
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
                verify_native(&swapped),
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
            verify_native(&unsigned_cert.expect("signs")),
            Err(SignatureError::Certificate(_))
        ));
    }
}
