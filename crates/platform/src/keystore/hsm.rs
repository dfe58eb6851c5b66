//! Keys kept in a hardware security module through PKCS#11 (`cryptoki`): generated inside the
//! token as sensitive, non-extractable objects, found again by their `CKA_ID`, and used only
//! to sign. Tested with SoftHSM2. Calls block, so callers run them on blocking threads.

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    mechanism::{
        Mechanism,
        eddsa::{EddsaParams, EddsaSignatureScheme},
    },
    object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle},
    session::{Session, UserType},
    slot::Slot,
    types::AuthPin,
};
use ricaas_crypto::ca::KeyAlgorithm;
use spki::SubjectPublicKeyInfoOwned;
use std::{path::Path, sync::Mutex};

#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    #[error("PKCS#11: {0}")]
    Pkcs11(#[from] cryptoki::error::Error),
    #[error("no initialized token labelled {0:?} in the PKCS#11 module")]
    NoToken(String),
    #[error("{0} keys cannot be kept in the HSM: use the software keystore for them")]
    Unsupported(&'static str),
    #[error("the HSM holds no key with id {0}")]
    Missing(String),
    #[error("the HSM returned a malformed {0}")]
    Malformed(&'static str),
}

/// A logged-in PKCS#11 token.
pub struct Hsm {
    pkcs11: Pkcs11,
    slot: Slot,
    /// Keeps the login alive: PKCS#11 logs in the application, not a session, so sessions
    /// opened later are logged in while this one lives.
    _login: Mutex<Session>,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm").field("slot", &self.slot).finish()
    }
}

/// `CKA_EC_PARAMS` of a curve: the DER of its OID.
fn ec_params(algorithm: KeyAlgorithm) -> Result<&'static [u8], HsmError> {
    match algorithm {
        KeyAlgorithm::Secp256k1 => Ok(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]),
        KeyAlgorithm::P256 => Ok(&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        KeyAlgorithm::Ed25519 => Ok(&[0x06, 0x03, 0x2b, 0x65, 0x70]),
        KeyAlgorithm::Sm2 => Err(HsmError::Unsupported("SM2")),
    }
}

impl Hsm {
    /// Loads `module`, finds the token labelled `token` and logs in with `pin`.
    pub fn open(module: &Path, token: &str, pin: &str) -> Result<Self, HsmError> {
        let pkcs11 = Pkcs11::new(module)?;
        pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
        let slot = pkcs11
            .get_slots_with_initialized_token()?
            .into_iter()
            .find(|slot| {
                pkcs11
                    .get_token_info(*slot)
                    .is_ok_and(|info| info.label().trim_end() == token)
            })
            .ok_or_else(|| HsmError::NoToken(token.to_owned()))?;
        let login = pkcs11.open_rw_session(slot)?;
        login.login(UserType::User, Some(&AuthPin::new(pin.into())))?;
        Ok(Hsm {
            pkcs11,
            slot,
            _login: Mutex::new(login),
        })
    }

    /// Generates a key pair of `algorithm` in the token under `id`; returns its public key.
    pub fn generate(
        &self,
        algorithm: KeyAlgorithm,
        id: &[u8],
    ) -> Result<SubjectPublicKeyInfoOwned, HsmError> {
        let params = ec_params(algorithm)?;
        let (mechanism, key_type) = match algorithm {
            KeyAlgorithm::Ed25519 => (Mechanism::EccEdwardsKeyPairGen, KeyType::EC_EDWARDS),
            _ => (Mechanism::EccKeyPairGen, KeyType::EC),
        };
        let session = self.pkcs11.open_rw_session(self.slot)?;
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::KeyType(key_type),
            Attribute::EcParams(params.to_vec()),
            Attribute::Verify(true),
            Attribute::Id(id.to_vec()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.to_vec()),
        ];
        let (public, _) =
            session.generate_key_pair(&mechanism, &public_template, &private_template)?;
        let point = match session
            .get_attributes(public, &[AttributeType::EcPoint])?
            .into_iter()
            .next()
        {
            Some(Attribute::EcPoint(point)) => point,
            _ => return Err(HsmError::Malformed("public key")),
        };
        ricaas_crypto::raw::public_key_info_from_raw(algorithm, unwrap_octet_string(&point))
            .map_err(|_| HsmError::Malformed("public key"))
    }

    fn private_key(&self, session: &Session, id: &[u8]) -> Result<ObjectHandle, HsmError> {
        session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(id.to_vec()),
            ])?
            .into_iter()
            .next()
            .ok_or_else(|| HsmError::Missing(hex::encode(id)))
    }

    /// Signs `data` with the key `id`: ECDSA over a digest the caller computed (raw `r‖s`), or
    /// Ed25519 over the message itself.
    pub fn sign(
        &self,
        algorithm: KeyAlgorithm,
        id: &[u8],
        data: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let session = self.pkcs11.open_rw_session(self.slot)?;
        let key = self.private_key(&session, id)?;
        let mechanism = match algorithm {
            KeyAlgorithm::Ed25519 => Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
            KeyAlgorithm::Secp256k1 | KeyAlgorithm::P256 => Mechanism::Ecdsa,
            KeyAlgorithm::Sm2 => return Err(HsmError::Unsupported("SM2")),
        };
        Ok(session.sign(&mechanism, key, data)?)
    }

    /// Whether the private key `id` is what the token promises: sensitive, and never
    /// extractable (its value cannot be read out, wrapped or not).
    pub fn is_protected(&self, id: &[u8]) -> Result<bool, HsmError> {
        let session = self.pkcs11.open_ro_session(self.slot)?;
        let key = self.private_key(&session, id)?;
        let attributes = session.get_attributes(
            key,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
            ],
        )?;
        let flag = |wanted: AttributeType| {
            attributes.iter().find_map(|a| match (a, wanted) {
                (Attribute::Sensitive(v), AttributeType::Sensitive)
                | (Attribute::Extractable(v), AttributeType::Extractable)
                | (Attribute::NeverExtractable(v), AttributeType::NeverExtractable) => Some(*v),
                _ => None,
            })
        };
        Ok(flag(AttributeType::Sensitive) == Some(true)
            && flag(AttributeType::Extractable) == Some(false)
            && flag(AttributeType::NeverExtractable) == Some(true))
    }

    /// Removes both halves of the key `id` from the token.
    pub fn destroy(&self, id: &[u8]) -> Result<(), HsmError> {
        let session = self.pkcs11.open_rw_session(self.slot)?;
        for handle in session.find_objects(&[Attribute::Id(id.to_vec())])? {
            session.destroy_object(handle)?;
        }
        Ok(())
    }
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the point (some modules omit the wrapper).
fn unwrap_octet_string(value: &[u8]) -> &[u8] {
    match value {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        _ => value,
    }
}
