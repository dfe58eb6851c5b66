//! Sender recovery for Ethereum typed transactions.

use alloy_consensus::{SignableTransaction, TxEnvelope, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use ricaas_primitives::RecoveredTx;
use secp256k1::{Message, SECP256K1, SecretKey, ecdsa::RecoverableSignature, ecdsa::RecoveryId};

/// secp256k1 group order divided by two: signatures with a larger `s` are malleable (EIP-2).
const SECP256K1_HALF_ORDER: U256 = U256::from_be_bytes(alloy_primitives::hex!(
    "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
));

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("invalid signature: s value is in the upper half of the curve order (EIP-2)")]
    HighS,
    #[error("invalid signature: r or s is zero or out of range")]
    OutOfRange,
    #[error("invalid signature: no public key recovers from it")]
    Unrecoverable,
    #[error(
        "invalid signature: the native envelope's signature does not verify against its certificate's key"
    )]
    NativeSignature,
    #[error("invalid native envelope certificate: {0}")]
    Certificate(String),
}

/// Verifies the transaction's signature and returns it with its sender.
pub fn recover_transaction(envelope: TxEnvelope) -> Result<RecoveredTx, SignatureError> {
    let signature = *envelope.signature();
    let sender = recover_signer(&signature, &envelope.signature_hash())?;
    let encoded = envelope.encoded_2718().into();
    Ok(RecoveredTx::from_verified_parts(
        ricaas_primitives::ChainTx::Ethereum(envelope),
        sender,
        encoded,
    ))
}

/// The address whose key made `signature` over `prehash` (low-S enforced).
pub fn recover_signer(signature: &Signature, prehash: &B256) -> Result<Address, SignatureError> {
    let (r, s) = (signature.r(), signature.s());
    if r.is_zero() || s.is_zero() {
        return Err(SignatureError::OutOfRange);
    }
    if s > SECP256K1_HALF_ORDER {
        return Err(SignatureError::HighS);
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&r.to_be_bytes::<32>());
    compact[32..].copy_from_slice(&s.to_be_bytes::<32>());
    let recovery_id =
        RecoveryId::try_from(i32::from(signature.v())).map_err(|_| SignatureError::OutOfRange)?;
    let recoverable = RecoverableSignature::from_compact(&compact, recovery_id)
        .map_err(|_| SignatureError::OutOfRange)?;
    let public = SECP256K1
        .recover_ecdsa(Message::from_digest(prehash.0), &recoverable)
        .map_err(|_| SignatureError::Unrecoverable)?;
    let uncompressed = public.serialize_uncompressed();
    Ok(Address::from_slice(&keccak256(&uncompressed[1..])[12..]))
}

/// Signs an unsigned typed transaction with a secp256k1 key (used by the benchmark and tools).
pub fn sign_transaction(tx: TypedTransaction, key: &SecretKey) -> TxEnvelope {
    let prehash = tx.signature_hash();
    let signature = SECP256K1.sign_ecdsa_recoverable(Message::from_digest(prehash.0), key);
    let (recovery_id, compact) = signature.serialize_compact();
    let parity = i32::from(recovery_id) == 1;
    let signature = Signature::from_bytes_and_parity(&compact, parity);
    TxEnvelope::from(tx.into_signed(signature))
}

/// Address controlled by a secret key.
pub fn address_of(key: &SecretKey) -> Address {
    let public = key.public_key(SECP256K1).serialize_uncompressed();
    Address::from_slice(&keccak256(&public[1..])[12..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{TxEip1559, TxLegacy};
    use alloy_primitives::{Bytes, TxKind};

    fn key() -> SecretKey {
        SecretKey::from_byte_array([7u8; 32]).expect("valid key")
    }

    fn legacy() -> TypedTransaction {
        TypedTransaction::Legacy(TxLegacy {
            chain_id: Some(1337),
            nonce: 3,
            gas_price: 0,
            gas_limit: 21_000,
            to: TxKind::Call(Address::repeat_byte(9)),
            value: U256::from(5),
            input: Bytes::new(),
        })
    }

    #[test]
    fn recovers_the_signer_of_legacy_and_eip1559_transactions() {
        let eip1559 = TypedTransaction::Eip1559(TxEip1559 {
            chain_id: 1337,
            gas_limit: 21_000,
            ..Default::default()
        });
        for tx in [legacy(), eip1559] {
            let signed = sign_transaction(tx, &key());
            let recovered = recover_transaction(signed).expect("valid signature");
            assert_eq!(recovered.sender(), address_of(&key()));
        }
    }

    #[test]
    fn tampered_transaction_recovers_a_different_sender() {
        let signed = sign_transaction(legacy(), &key());
        let TxEnvelope::Legacy(signed) = signed else {
            unreachable!()
        };
        let (mut tx, sig, _) = signed.into_parts();
        tx.value = U256::from(6);
        let tampered = TxEnvelope::from(tx.into_signed(sig));
        let recovered = recover_transaction(tampered).expect("still a curve point");
        assert_ne!(recovered.sender(), address_of(&key()));
    }

    #[test]
    fn decoding_hashes_the_received_bytes_and_keeps_them_as_the_encoding() {
        let eip1559 = TypedTransaction::Eip1559(TxEip1559 {
            chain_id: 1337,
            nonce: 1,
            gas_limit: 21_000,
            ..Default::default()
        });
        for tx in [legacy(), eip1559] {
            let signed = sign_transaction(tx, &key());
            let raw = signed.encoded_2718();
            let decoded =
                ricaas_primitives::decode_raw_transaction(&raw, 1 << 20).expect("decodes");
            assert_eq!(decoded.hash(), *signed.tx_hash(), "the hash alloy computes");
            assert_eq!(
                decoded.hash(),
                keccak256(&raw),
                "the hash of the bytes received"
            );
            let kept = crate::native::recover_encoded(decoded, raw.clone().into(), |_| None)
                .expect("valid signature");
            let encoded_again = recover_transaction(signed).expect("valid signature");
            assert_eq!(kept, encoded_again);
            assert_eq!(kept.encoded().as_ref(), raw.as_slice());
        }
    }

    #[test]
    fn a_legacy_transaction_in_a_longer_encoding_is_refused() {
        let mut tx = legacy();
        if let TypedTransaction::Legacy(legacy) = &mut tx {
            legacy.nonce = 1;
        }
        let raw = sign_transaction(tx, &key()).encoded_2718();
        assert!(ricaas_primitives::decode_raw_transaction(&raw, 1 << 20).is_ok());
        // [0xf8, length, nonce 0x01, ...]: the nonce written as a one-byte string, 0x81 0x01,
        // decodes to the same value in one byte more.
        assert_eq!(
            (raw[0], raw[2]),
            (0xf8, 0x01),
            "a long list starting with nonce 1"
        );
        let mut longer = vec![0xf8, raw[1] + 1, 0x81, 0x01];
        longer.extend_from_slice(&raw[3..]);
        let err = ricaas_primitives::decode_raw_transaction(&longer, 1 << 20).unwrap_err();
        assert!(
            matches!(err, ricaas_primitives::TxDecodeError::Malformed(_)),
            "{err:?}"
        );
    }

    #[test]
    fn high_s_signatures_are_rejected() {
        let signed = sign_transaction(legacy(), &key());
        let TxEnvelope::Legacy(signed) = signed else {
            unreachable!()
        };
        let (tx, sig, _) = signed.into_parts();
        let n = SECP256K1_HALF_ORDER * U256::from(2) + U256::from(1);
        let flipped = Signature::new(sig.r(), n - sig.s(), !sig.v());
        let err = recover_transaction(TxEnvelope::from(tx.into_signed(flipped))).unwrap_err();
        assert_eq!(err, SignatureError::HighS);
    }
}
