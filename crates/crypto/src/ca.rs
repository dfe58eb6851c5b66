//! Organization certificate authorities: a self-signed root per organization that issues X.509
//! certificates to its admins, clients and nodes. The role is the certificate's
//! OrganizationalUnit (`admin`, `client`, `node`, as Fabric's NodeOUs), the organization its O.
//! Keys: secp256k1 (Ethereum-compatible clients), P-256, Ed25519 (nodes) and SM2 (GB/T 32918,
//! signed SM2-with-SM3 with the standard's default distinguishing identifier).

use der::{Decode as _, Encode as _, EncodePem as _, pem::LineEnding};
use std::{
    str::FromStr,
    time::{Duration, SystemTime},
};
pub use x509_cert::Certificate;
use x509_cert::{
    builder::{Builder, CertificateBuilder, Profile},
    crl::{CertificateList, RevokedCert, TbsCertList},
    name::Name,
    serial_number::SerialNumber,
    spki::SubjectPublicKeyInfoOwned,
    time::Time,
    time::Validity,
};

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("invalid name {0:?}: use letters, digits, '-', '_' and '.'")]
    InvalidName(String),
    #[error("certificate encoding failed: {0}")]
    Encoding(String),
    #[error("signing the certificate failed: {0}")]
    Signing(String),
    #[error("invalid private key file: {0}")]
    Key(String),
}

/// Why a certificate is not a valid identity of an organization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("certificate was not issued by {ca}: issuer is {issuer}")]
    WrongIssuer { ca: String, issuer: String },
    #[error("certificate signature does not verify against the CA's key")]
    BadSignature,
    #[error("the CA key algorithm {0} is not supported")]
    UnsupportedAlgorithm(String),
    #[error("certificate is not valid before {0}")]
    NotYetValid(String),
    #[error("certificate expired at {0}")]
    Expired(String),
    #[error("certificate {serial} was revoked at {at}")]
    Revoked { serial: String, at: String },
    #[error("malformed certificate: {0}")]
    Malformed(String),
}

/// What an identity may do, carried in the certificate's OU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Client,
    Node,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Client => "client",
            Role::Node => "node",
        }
    }
}

impl FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "secp256k1" => Ok(KeyAlgorithm::Secp256k1),
            "p256" | "P-256" => Ok(KeyAlgorithm::P256),
            "ed25519" => Ok(KeyAlgorithm::Ed25519),
            "sm2" | "SM2" => Ok(KeyAlgorithm::Sm2),
            other => Err(format!(
                "unknown key type {other:?}: expected secp256k1, p256, ed25519 or sm2"
            )),
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "client" => Ok(Role::Client),
            "node" => Ok(Role::Node),
            other => Err(format!(
                "unknown role {other:?}: expected admin, client or node"
            )),
        }
    }
}

/// The key types an identity may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Secp256k1,
    P256,
    Ed25519,
    Sm2,
}

/// The SM2 distinguishing identifier (ID_A) every RiCaaS SM2 signature uses: the default of
/// GB/T 35276 §8.1, which OpenSSL, GmSSL and Tongsuo also assume when none is configured.
pub const SM2_DIST_ID: &str = "1234567812345678";

/// A private key of one of the supported algorithms.
pub enum IdentityKey {
    Secp256k1(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Sm2(sm2::dsa::SigningKey),
}

impl IdentityKey {
    pub fn generate(algorithm: KeyAlgorithm) -> Self {
        let mut rng = rand_core_06::OsRng;
        match algorithm {
            KeyAlgorithm::Secp256k1 => {
                IdentityKey::Secp256k1(k256::ecdsa::SigningKey::random(&mut rng))
            }
            KeyAlgorithm::P256 => IdentityKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            KeyAlgorithm::Ed25519 => {
                IdentityKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut rng))
            }
            KeyAlgorithm::Sm2 => loop {
                // `new` fails only for the negligible keys whose Z value cannot be formed.
                let secret = sm2::SecretKey::random(&mut rng);
                if let Ok(key) = sm2::dsa::SigningKey::new(SM2_DIST_ID, &secret) {
                    break IdentityKey::Sm2(key);
                }
            },
        }
    }

    /// The Ethereum address of a secp256k1 identity (how its transactions name it).
    pub fn ethereum_address(&self) -> Option<alloy_primitives::Address> {
        match self {
            IdentityKey::Secp256k1(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let hash = alloy_primitives::keccak256(&point.as_bytes()[1..]);
                Some(alloy_primitives::Address::from_slice(&hash[12..]))
            }
            _ => None,
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            IdentityKey::Secp256k1(_) => KeyAlgorithm::Secp256k1,
            IdentityKey::P256(_) => KeyAlgorithm::P256,
            IdentityKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            IdentityKey::Sm2(_) => KeyAlgorithm::Sm2,
        }
    }

    pub fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned, CaError> {
        use spki::EncodePublicKey as _;
        let der = match self {
            IdentityKey::Secp256k1(k) => k.verifying_key().to_public_key_der(),
            IdentityKey::P256(k) => k.verifying_key().to_public_key_der(),
            IdentityKey::Ed25519(k) => k.verifying_key().to_public_key_der(),
            IdentityKey::Sm2(k) => sm2::PublicKey::from(k.verifying_key()).to_public_key_der(),
        }
        .map_err(|e| CaError::Encoding(e.to_string()))?;
        SubjectPublicKeyInfoOwned::from_der(der.as_bytes())
            .map_err(|e| CaError::Encoding(e.to_string()))
    }
}

impl IdentityKey {
    /// PKCS#8 PEM of the private key (keep it in a 0600 file).
    pub fn to_pkcs8_pem(&self) -> Result<String, CaError> {
        use pkcs8::EncodePrivateKey as _;
        let pem = match self {
            IdentityKey::Secp256k1(k) => k.to_pkcs8_pem(LineEnding::LF),
            IdentityKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            IdentityKey::Ed25519(k) => k.to_pkcs8_pem(LineEnding::LF),
            IdentityKey::Sm2(k) => sm2_secret(k).to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| CaError::Key(e.to_string()))?;
        Ok(pem.to_string())
    }

    /// Reads a PKCS#8 PEM private key of any supported algorithm.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CaError> {
        use pkcs8::DecodePrivateKey as _;
        if let Ok(k) = k256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(IdentityKey::Secp256k1(k));
        }
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(IdentityKey::P256(k));
        }
        if let Ok(k) = sm2::SecretKey::from_pkcs8_pem(pem) {
            return sm2::dsa::SigningKey::new(SM2_DIST_ID, &k)
                .map(IdentityKey::Sm2)
                .map_err(|e| CaError::Key(e.to_string()));
        }
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(IdentityKey::Ed25519)
            .map_err(|_| {
                CaError::Key("not a PKCS#8 secp256k1, P-256, Ed25519 or SM2 private key".into())
            })
    }
}

fn sm2_secret(key: &sm2::dsa::SigningKey) -> sm2::SecretKey {
    sm2::SecretKey::from(key.as_nonzero_scalar())
}

fn checked(name: &str) -> Result<&str, CaError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then_some(name)
        .ok_or_else(|| CaError::InvalidName(name.to_string()))
}

fn subject(org: &str, role: Option<Role>, common_name: &str) -> Result<Name, CaError> {
    let mut rdn = format!("CN={},O={}", checked(common_name)?, checked(org)?);
    if let Some(role) = role {
        rdn = format!("CN={},OU={},O={}", common_name, role.as_str(), org);
    }
    Name::from_str(&rdn).map_err(|e| CaError::Encoding(e.to_string()))
}

fn build<S, Sig>(
    profile: Profile,
    subject: Name,
    public_key: SubjectPublicKeyInfoOwned,
    days: u32,
    signer: &S,
) -> Result<Certificate, CaError>
where
    S: signature::Keypair + spki::DynSignatureAlgorithmIdentifier + signature::Signer<Sig>,
    S::VerifyingKey: spki::EncodePublicKey,
    Sig: spki::SignatureBitStringEncoding,
{
    let signing = |e: x509_cert::builder::Error| CaError::Signing(e.to_string());
    let builder = CertificateBuilder::new(
        profile,
        serial()?,
        validity(days)?,
        subject,
        public_key,
        signer,
    )
    .map_err(signing)?;
    builder.build::<Sig>().map_err(signing)
}

/// Signs a certificate with `key`, whatever its algorithm.
fn build_signed(
    profile: Profile,
    subject: Name,
    public_key: SubjectPublicKeyInfoOwned,
    days: u32,
    key: &IdentityKey,
) -> Result<Certificate, CaError> {
    match key {
        IdentityKey::Secp256k1(k) => {
            build::<_, k256::ecdsa::DerSignature>(profile, subject, public_key, days, k)
        }
        IdentityKey::P256(k) => {
            build::<_, p256::ecdsa::DerSignature>(profile, subject, public_key, days, k)
        }
        IdentityKey::Ed25519(k) => {
            build::<_, Ed25519Sig>(profile, subject, public_key, days, &Ed25519Signer(k))
        }
        IdentityKey::Sm2(k) => {
            build::<_, Sm2DerSig>(profile, subject, public_key, days, &Sm2Signer(k))
        }
    }
}

/// sm2's signer lacks the X.509 builder's traits and signs raw `r‖s`; certificates carry
/// SM2-with-SM3 (OID 1.2.156.10197.1.501, GB/T 35276) signatures as DER `SEQUENCE {r, s}`.
struct Sm2Signer<'a>(&'a sm2::dsa::SigningKey);
struct Sm2DerSig(ecdsa::der::Signature<sm2::Sm2>);

const SM2_WITH_SM3: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
const SM2_CURVE: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");

impl spki::SignatureBitStringEncoding for Sm2DerSig {
    fn to_bitstring(&self) -> der::Result<der::asn1::BitString> {
        der::asn1::BitString::from_bytes(self.0.as_bytes())
    }
}

impl signature::Signer<Sm2DerSig> for Sm2Signer<'_> {
    fn try_sign(&self, message: &[u8]) -> Result<Sm2DerSig, signature::Error> {
        let raw: sm2::dsa::Signature = self.0.try_sign(message)?;
        let components = ecdsa::Signature::<sm2::Sm2>::from_scalars(raw.r_bytes(), raw.s_bytes())?;
        Ok(Sm2DerSig(components.to_der()))
    }
}

impl signature::Keypair for Sm2Signer<'_> {
    type VerifyingKey = sm2::PublicKey;
    fn verifying_key(&self) -> Self::VerifyingKey {
        sm2::PublicKey::from(self.0.verifying_key())
    }
}

impl spki::DynSignatureAlgorithmIdentifier for Sm2Signer<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<spki::AlgorithmIdentifierOwned> {
        Ok(spki::AlgorithmIdentifierOwned {
            oid: SM2_WITH_SM3,
            parameters: None,
        })
    }
}

/// ed25519-dalek's types lack the X.509 builder's traits; these adapters supply them
/// (algorithm id-Ed25519, RFC 8410: OID 1.3.101.112 with absent parameters).
struct Ed25519Signer<'a>(&'a ed25519_dalek::SigningKey);
struct Ed25519Sig(ed25519_dalek::Signature);

const ID_ED25519: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.101.112");

impl spki::SignatureBitStringEncoding for Ed25519Sig {
    fn to_bitstring(&self) -> der::Result<der::asn1::BitString> {
        der::asn1::BitString::from_bytes(&self.0.to_bytes())
    }
}

impl signature::Signer<Ed25519Sig> for Ed25519Signer<'_> {
    fn try_sign(&self, message: &[u8]) -> Result<Ed25519Sig, signature::Error> {
        Ok(Ed25519Sig(self.0.sign(message)))
    }
}

impl signature::Keypair for Ed25519Signer<'_> {
    type VerifyingKey = ed25519_dalek::VerifyingKey;
    fn verifying_key(&self) -> Self::VerifyingKey {
        self.0.verifying_key()
    }
}

impl spki::DynSignatureAlgorithmIdentifier for Ed25519Signer<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<spki::AlgorithmIdentifierOwned> {
        Ok(spki::AlgorithmIdentifierOwned {
            oid: ID_ED25519,
            parameters: None,
        })
    }
}

/// An organization's root certificate authority.
pub struct CertificateAuthority {
    org: String,
    key: IdentityKey,
    certificate: Certificate,
}

fn serial() -> Result<SerialNumber, CaError> {
    use rand_core_06::RngCore as _;
    // 16 random bytes, top bit clear and non-zero first byte: a positive, minimal INTEGER.
    let mut bytes = [0u8; 16];
    rand_core_06::OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).map_err(|e| CaError::Encoding(e.to_string()))
}

fn validity(days: u32) -> Result<Validity, CaError> {
    Validity::from_now(Duration::from_secs(u64::from(days) * 86_400))
        .map_err(|e| CaError::Encoding(e.to_string()))
}

impl CertificateAuthority {
    /// A CA from its certificate and private key (as saved by [`Self::key`]'s PEM).
    pub fn from_parts(certificate: Certificate, key: IdentityKey) -> Result<Self, CaError> {
        let org = org_of(&certificate)
            .ok_or_else(|| CaError::Encoding("CA certificate names no organization".into()))?;
        if key.public_key_info()? != certificate.tbs_certificate.subject_public_key_info {
            return Err(CaError::Key(
                "the private key does not belong to the CA certificate".into(),
            ));
        }
        Ok(Self {
            org,
            key,
            certificate,
        })
    }

    pub fn key(&self) -> &IdentityKey {
        &self.key
    }

    /// A certificate revocation list of `revoked` (serial, time of revocation), valid for
    /// `days`, signed by this CA.
    pub fn crl(
        &self,
        revoked: &[(SerialNumber, SystemTime)],
        days: u32,
    ) -> Result<CertificateList, CaError> {
        let time = |t: SystemTime| Time::try_from(t).map_err(|e| CaError::Encoding(e.to_string()));
        let now = SystemTime::now();
        let entries = revoked
            .iter()
            .map(|(serial, at)| {
                Ok(RevokedCert {
                    serial_number: serial.clone(),
                    revocation_date: time(*at)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        let algorithm = signature_algorithm(&self.key)?;
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: algorithm.clone(),
            issuer: self.certificate.tbs_certificate.subject.clone(),
            this_update: time(now)?,
            next_update: Some(time(now + Duration::from_secs(u64::from(days) * 86_400))?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: None,
        };
        let signed = tbs.to_der().map_err(|e| CaError::Encoding(e.to_string()))?;
        Ok(CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: algorithm,
            signature: sign_bytes(&self.key, &signed)?,
        })
    }

    /// A new self-signed root CA for `org`, valid for `days`.
    pub fn new_root(org: &str, algorithm: KeyAlgorithm, days: u32) -> Result<Self, CaError> {
        Self::root_with_key(org, IdentityKey::generate(algorithm), days)
    }

    /// A self-signed root certificate for `org` over an existing key (renewing a root keeps
    /// its key, so certificates it issued stay verifiable).
    pub fn root_with_key(org: &str, key: IdentityKey, days: u32) -> Result<Self, CaError> {
        let name = subject(org, None, &format!("ca.{org}"))?;
        let certificate = build_signed(Profile::Root, name, key.public_key_info()?, days, &key)?;
        Ok(Self {
            org: org.to_string(),
            key,
            certificate,
        })
    }

    pub fn org(&self) -> &str {
        &self.org
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Issues a certificate for `public_key` to `common_name` of this organization in `role`.
    pub fn issue(
        &self,
        common_name: &str,
        role: Role,
        public_key: SubjectPublicKeyInfoOwned,
        days: u32,
    ) -> Result<Certificate, CaError> {
        let profile = Profile::Leaf {
            issuer: self.certificate.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        };
        let name = subject(&self.org, Some(role), common_name)?;
        build_signed(profile, name, public_key, days, &self.key)
    }
}

fn signature_algorithm(key: &IdentityKey) -> Result<spki::AlgorithmIdentifierOwned, CaError> {
    use spki::DynSignatureAlgorithmIdentifier as _;
    match key {
        IdentityKey::Secp256k1(k) => k.signature_algorithm_identifier(),
        IdentityKey::P256(k) => k.signature_algorithm_identifier(),
        IdentityKey::Ed25519(k) => Ed25519Signer(k).signature_algorithm_identifier(),
        IdentityKey::Sm2(k) => Sm2Signer(k).signature_algorithm_identifier(),
    }
    .map_err(|e| CaError::Encoding(e.to_string()))
}

/// Signs `message` with an identity key the way certificates and native transactions are
/// signed (ECDSA/SM2 in DER, Ed25519 raw): for documents an identity endorses, such as a channel
/// configuration.
pub fn sign_document(key: &IdentityKey, message: &[u8]) -> Result<Vec<u8>, CaError> {
    Ok(sign_bytes(key, message)?.raw_bytes().to_vec())
}

/// Checks a [`sign_document`] signature against the key of `certificate`.
pub fn verify_document(
    certificate: &Certificate,
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    verify_signature(
        &certificate.tbs_certificate.subject_public_key_info,
        message,
        signature,
    )
}

pub(crate) fn sign_bytes(
    key: &IdentityKey,
    message: &[u8],
) -> Result<der::asn1::BitString, CaError> {
    use signature::Signer as _;
    use spki::SignatureBitStringEncoding as _;
    match key {
        IdentityKey::Secp256k1(k) => {
            let sig: k256::ecdsa::DerSignature = k
                .try_sign(message)
                .map_err(|e| CaError::Signing(e.to_string()))?;
            sig.to_bitstring()
        }
        IdentityKey::P256(k) => {
            let sig: p256::ecdsa::DerSignature = k
                .try_sign(message)
                .map_err(|e| CaError::Signing(e.to_string()))?;
            sig.to_bitstring()
        }
        IdentityKey::Ed25519(k) => Ed25519Signer(k)
            .try_sign(message)
            .map_err(|e| CaError::Signing(e.to_string()))?
            .to_bitstring(),
        IdentityKey::Sm2(k) => Sm2Signer(k)
            .try_sign(message)
            .map_err(|e| CaError::Signing(e.to_string()))?
            .to_bitstring(),
    }
    .map_err(|e| CaError::Encoding(e.to_string()))
}

const ID_EC_PUBLIC_KEY: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256K1: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.132.0.10");
const PRIME256V1: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The PEM (`PUBLIC KEY`, SubjectPublicKeyInfo) of a public key.
pub fn public_key_pem(spki: &SubjectPublicKeyInfoOwned) -> Result<String, CaError> {
    use der::EncodePem as _;
    spki.to_pem(LineEnding::LF)
        .map_err(|e| CaError::Encoding(e.to_string()))
}

/// Checks a signature made by the holder of `spki` over `message`, as [`sign_document`]
/// makes them (ECDSA and SM2 in DER, Ed25519 raw).
pub fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    use signature::Verifier as _;
    let key = spki.subject_public_key.raw_bytes();
    let algorithm = &spki.algorithm;
    let curve = algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
    let ok = if algorithm.oid == ID_EC_PUBLIC_KEY && curve == Some(SECP256K1) {
        let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(key)
            .map_err(|_| VerifyError::BadSignature)?;
        let sig = k256::ecdsa::DerSignature::from_bytes(signature)
            .map_err(|_| VerifyError::BadSignature)?;
        key.verify(message, &sig).is_ok()
    } else if algorithm.oid == ID_EC_PUBLIC_KEY && curve == Some(PRIME256V1) {
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
            .map_err(|_| VerifyError::BadSignature)?;
        let sig = p256::ecdsa::DerSignature::from_bytes(signature)
            .map_err(|_| VerifyError::BadSignature)?;
        key.verify(message, &sig).is_ok()
    } else if algorithm.oid == ID_EC_PUBLIC_KEY && curve == Some(SM2_CURVE) {
        let key = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DIST_ID, key)
            .map_err(|_| VerifyError::BadSignature)?;
        let der = ecdsa::der::Signature::<sm2::Sm2>::from_bytes(signature)
            .map_err(|_| VerifyError::BadSignature)?;
        let components =
            ecdsa::Signature::<sm2::Sm2>::try_from(der).map_err(|_| VerifyError::BadSignature)?;
        let sig = sm2::dsa::Signature::from_slice(&components.to_bytes())
            .map_err(|_| VerifyError::BadSignature)?;
        key.verify(message, &sig).is_ok()
    } else if algorithm.oid == ID_ED25519 {
        let bytes: [u8; 32] = key.try_into().map_err(|_| VerifyError::BadSignature)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| VerifyError::BadSignature)?;
        let sig = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|_| VerifyError::BadSignature)?;
        key.verify_strict(message, &sig).is_ok()
    } else {
        return Err(VerifyError::UnsupportedAlgorithm(algorithm.oid.to_string()));
    };
    ok.then_some(()).ok_or(VerifyError::BadSignature)
}

/// Checks that `certificate` was issued by `ca` (issuer name and signature), is valid at `now`
/// and is not among `revoked` (serial, time of revocation).
pub fn verify_issued(
    ca: &Certificate,
    certificate: &Certificate,
    now: SystemTime,
    revoked: &[(SerialNumber, SystemTime)],
) -> Result<(), VerifyError> {
    verify_issuer(ca, certificate)?;
    let tbs = &certificate.tbs_certificate;
    if now < tbs.validity.not_before.to_system_time() {
        return Err(VerifyError::NotYetValid(
            tbs.validity.not_before.to_string(),
        ));
    }
    if now > tbs.validity.not_after.to_system_time() {
        return Err(VerifyError::Expired(tbs.validity.not_after.to_string()));
    }
    if let Some((serial, at)) = revoked
        .iter()
        .find(|(serial, at)| *serial == tbs.serial_number && *at <= now)
    {
        return Err(VerifyError::Revoked {
            serial: serial.to_string(),
            at: humantime_utc(*at),
        });
    }
    Ok(())
}

/// Checks only that `ca` issued `certificate` (issuer name and signature), not when it is valid.
pub fn verify_issuer(ca: &Certificate, certificate: &Certificate) -> Result<(), VerifyError> {
    let tbs = &certificate.tbs_certificate;
    if tbs.issuer != ca.tbs_certificate.subject {
        return Err(VerifyError::WrongIssuer {
            ca: ca.tbs_certificate.subject.to_string(),
            issuer: tbs.issuer.to_string(),
        });
    }
    let signed = tbs
        .to_der()
        .map_err(|e| VerifyError::Malformed(e.to_string()))?;
    let signature = certificate
        .signature
        .as_bytes()
        .ok_or_else(|| VerifyError::Malformed("signature has unused bits".into()))?;
    verify_signature(
        &ca.tbs_certificate.subject_public_key_info,
        &signed,
        signature,
    )
}

fn humantime_utc(at: SystemTime) -> String {
    Time::try_from(at).map_or_else(|_| format!("{at:?}"), |t| t.to_string())
}

/// PEM text of a CRL.
pub fn crl_pem(crl: &CertificateList) -> Result<String, CaError> {
    let der = crl.to_der().map_err(|e| CaError::Encoding(e.to_string()))?;
    der::pem::encode_string("X509 CRL", LineEnding::LF, &der)
        .map_err(|e| CaError::Encoding(e.to_string()))
}

/// PEM text of a certificate.
pub fn certificate_pem(certificate: &Certificate) -> Result<String, CaError> {
    certificate
        .to_pem(LineEnding::LF)
        .map_err(|e| CaError::Encoding(e.to_string()))
}

/// The role (OU) a certificate carries, if it is one of ours.
pub fn role_of(certificate: &Certificate) -> Option<Role> {
    attribute(certificate, const_oid::db::rfc4519::OU).and_then(|ou| ou.parse().ok())
}

/// The organization (O) a certificate names.
pub fn org_of(certificate: &Certificate) -> Option<String> {
    attribute(certificate, const_oid::db::rfc4519::O)
}

/// The certificate's subject common name.
pub fn common_name_of(certificate: &Certificate) -> Option<String> {
    attribute(certificate, const_oid::db::rfc4519::CN)
}

/// The certificate's serial number, lowercase hex.
pub fn serial_hex(certificate: &Certificate) -> String {
    hex::encode(certificate.tbs_certificate.serial_number.as_bytes())
}

/// A serial number from its hex (as [`serial_hex`] writes it), for a CRL entry.
pub fn serial_from_hex(text: &str) -> Result<SerialNumber, CaError> {
    let bytes = hex::decode(text).map_err(|e| CaError::Encoding(e.to_string()))?;
    SerialNumber::new(&bytes).map_err(|e| CaError::Encoding(e.to_string()))
}

fn attribute(certificate: &Certificate, oid: const_oid::ObjectIdentifier) -> Option<String> {
    certificate
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == oid)
        .and_then(|atv| {
            der::asn1::Utf8StringRef::try_from(&atv.value)
                .map(|s| s.as_str().to_string())
                .ok()
                .or_else(|| {
                    der::asn1::PrintableStringRef::try_from(&atv.value)
                        .map(|s| s.as_str().to_string())
                        .ok()
                })
        })
}

impl CertificateAuthority {
    /// The CA kept in `dir` as `ca.pem` and `ca.key` (the layout of `ricaas ca` and `ricaas up`).
    pub fn read_dir(dir: &std::path::Path) -> Result<Self, CaError> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| CaError::Key(format!("{}: {e}", dir.join(name).display())))
        };
        let certificate =
            certificate_from_pem(&read("ca.pem")?).map_err(|e| CaError::Encoding(e.to_string()))?;
        Self::from_parts(certificate, IdentityKey::from_pkcs8_pem(&read("ca.key")?)?)
    }

    /// Calldata of `IMembership.enroll` for client certificates this CA issues to `keys`
    /// (named `<prefix>-<i>`), valid for `days`.
    pub fn enroll_clients_call(
        &self,
        prefix: &str,
        keys: &[crate::DevKey],
        days: u32,
    ) -> Result<alloy_primitives::Bytes, CaError> {
        use alloy_sol_types::SolCall as _;
        let certificates = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let spki = key.identity_key().public_key_info()?;
                let certificate = self.issue(&format!("{prefix}-{i}"), Role::Client, spki, days)?;
                certificate_der(&certificate).map(alloy_primitives::Bytes::from)
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        Ok(
            ricaas_primitives::system::IMembership::enrollCall { certificates }
                .abi_encode()
                .into(),
        )
    }
}

/// Reads a DER certificate.
pub fn certificate_from_der(der: &[u8]) -> Result<Certificate, VerifyError> {
    Certificate::from_der(der).map_err(|e| VerifyError::Malformed(e.to_string()))
}

/// Reads a PEM certificate.
pub fn certificate_from_pem(pem: &str) -> Result<Certificate, VerifyError> {
    use der::DecodePem as _;
    Certificate::from_pem(pem.as_bytes()).map_err(|e| VerifyError::Malformed(e.to_string()))
}

/// DER bytes of a certificate.
pub fn certificate_der(certificate: &Certificate) -> Result<Vec<u8>, CaError> {
    certificate
        .to_der()
        .map_err(|e| CaError::Encoding(e.to_string()))
}

/// The account a certificate's key controls on chain: the Ethereum address for a secp256k1
/// key, else the last 20 bytes of Keccak-256 of its SubjectPublicKeyInfo (DER).
pub fn account_of(certificate: &Certificate) -> Option<alloy_primitives::Address> {
    account_of_key(&certificate.tbs_certificate.subject_public_key_info)
}

/// The account a public key controls on chain (see [`account_of`]).
pub fn account_of_key(spki: &SubjectPublicKeyInfoOwned) -> Option<alloy_primitives::Address> {
    if let Some(address) = ethereum_address_of_key(spki) {
        return Some(address);
    }
    let der = spki.to_der().ok()?;
    Some(alloy_primitives::Address::from_slice(
        &alloy_primitives::keccak256(der)[12..],
    ))
}

/// A SubjectPublicKeyInfo from its DER encoding.
pub fn public_key_info_from_der(der: &[u8]) -> Result<SubjectPublicKeyInfoOwned, VerifyError> {
    SubjectPublicKeyInfoOwned::from_der(der).map_err(|e| VerifyError::Malformed(e.to_string()))
}

/// DER of a certificate's SubjectPublicKeyInfo.
pub fn public_key_info_der(certificate: &Certificate) -> Result<Vec<u8>, CaError> {
    certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| CaError::Encoding(e.to_string()))
}

/// The Ethereum address of the certificate's key, if it is a secp256k1 key.
pub fn ethereum_address_of(certificate: &Certificate) -> Option<alloy_primitives::Address> {
    ethereum_address_of_key(&certificate.tbs_certificate.subject_public_key_info)
}

fn ethereum_address_of_key(spki: &SubjectPublicKeyInfoOwned) -> Option<alloy_primitives::Address> {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY || curve != Some(SECP256K1) {
        return None;
    }
    let key = k256::PublicKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).ok()?;
    let point = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key, false);
    let hash = alloy_primitives::keccak256(&point.as_bytes()[1..]);
    Some(alloy_primitives::Address::from_slice(&hash[12..]))
}

/// The certificate's Ed25519 public key (node keys), if it has one.
pub fn ed25519_key_of(certificate: &Certificate) -> Option<[u8; 32]> {
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    (spki.algorithm.oid == ID_ED25519)
        .then(|| spki.subject_public_key.raw_bytes().try_into().ok())
        .flatten()
}

/// The certificate's validity window as Unix seconds (not before, not after).
pub fn validity_of(certificate: &Certificate) -> (u64, u64) {
    let validity = &certificate.tbs_certificate.validity;
    let secs = |t: &Time| {
        t.to_system_time()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    (secs(&validity.not_before), secs(&validity.not_after))
}

/// A Unix time in seconds as RFC 3339 UTC text (for messages).
pub fn unix_time_text(secs: u64) -> String {
    der::DateTime::from_unix_duration(Duration::from_secs(secs))
        .map_or_else(|_| format!("unix time {secs}"), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_type_issues_certificates_whose_role_and_org_read_back() {
        for algorithm in [
            KeyAlgorithm::Secp256k1,
            KeyAlgorithm::P256,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::Sm2,
        ] {
            let ca = CertificateAuthority::new_root("org1", algorithm, 365).expect("root");
            for role in [Role::Admin, Role::Client, Role::Node] {
                let key = IdentityKey::generate(KeyAlgorithm::Secp256k1);
                let cert = ca
                    .issue("alice", role, key.public_key_info().expect("spki"), 30)
                    .expect("issued");
                assert_eq!(role_of(&cert), Some(role));
                assert_eq!(org_of(&cert).as_deref(), Some("org1"));
                assert_eq!(
                    cert.tbs_certificate.issuer,
                    ca.certificate().tbs_certificate.subject
                );
            }
        }
    }

    #[test]
    fn verification_checks_issuer_signature_validity_and_revocation() {
        for algorithm in [
            KeyAlgorithm::Secp256k1,
            KeyAlgorithm::P256,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::Sm2,
        ] {
            let ca = CertificateAuthority::new_root("org1", algorithm, 365).expect("root");
            let other = CertificateAuthority::new_root("org1", algorithm, 365).expect("root");
            let key = IdentityKey::generate(KeyAlgorithm::Secp256k1);
            let cert = ca
                .issue(
                    "alice",
                    Role::Client,
                    key.public_key_info().expect("spki"),
                    30,
                )
                .expect("issued");
            let now = SystemTime::now();
            assert_eq!(verify_issued(ca.certificate(), &cert, now, &[]), Ok(()));
            // Same organization name, different CA key: the signature gives it away.
            assert_eq!(
                verify_issued(other.certificate(), &cert, now, &[]),
                Err(VerifyError::BadSignature)
            );
            let later = now + Duration::from_secs(31 * 86_400);
            assert!(matches!(
                verify_issued(ca.certificate(), &cert, later, &[]),
                Err(VerifyError::Expired(_))
            ));
            let serial = cert.tbs_certificate.serial_number.clone();
            let revoked = [(serial, now - Duration::from_secs(5))];
            assert!(matches!(
                verify_issued(ca.certificate(), &cert, now, &revoked),
                Err(VerifyError::Revoked { .. })
            ));
            // Another organization's CA is not this certificate's issuer.
            let org2 = CertificateAuthority::new_root("org2", algorithm, 365).expect("root");
            assert!(matches!(
                verify_issued(org2.certificate(), &cert, now, &[]),
                Err(VerifyError::WrongIssuer { .. })
            ));
            // Keys survive a PEM round trip and must match the CA certificate.
            let pem = ca.key().to_pkcs8_pem().expect("pem");
            let reloaded = CertificateAuthority::from_parts(
                ca.certificate().clone(),
                IdentityKey::from_pkcs8_pem(&pem).expect("reads"),
            )
            .expect("same CA");
            assert_eq!(reloaded.org(), "org1");
            assert!(
                CertificateAuthority::from_parts(
                    ca.certificate().clone(),
                    IdentityKey::generate(algorithm)
                )
                .is_err()
            );
        }
    }

    #[test]
    fn names_outside_the_allowed_alphabet_are_refused() {
        let ca = CertificateAuthority::new_root("org1", KeyAlgorithm::P256, 1).expect("root");
        let key = IdentityKey::generate(KeyAlgorithm::P256);
        let err = ca
            .issue(
                "bob,O=org2",
                Role::Admin,
                key.public_key_info().expect("spki"),
                1,
            )
            .expect_err("injection refused");
        assert!(matches!(err, CaError::InvalidName(_)), "{err}");
    }

    /// `openssl x509 -text` parses our certificates and `openssl verify` validates the chain.
    #[test]
    fn openssl_parses_and_verifies_our_certificates() {
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_err()
        {
            panic!("openssl is required for this test (apt-get install openssl)");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        for (n, algorithm) in [
            KeyAlgorithm::Secp256k1,
            KeyAlgorithm::P256,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::Sm2,
        ]
        .into_iter()
        .enumerate()
        {
            let ca = CertificateAuthority::new_root("org1", algorithm, 365).expect("root");
            let key = IdentityKey::generate(algorithm);
            let cert = ca
                .issue(
                    "node0",
                    Role::Node,
                    key.public_key_info().expect("spki"),
                    30,
                )
                .expect("issued");
            let ca_path = dir.path().join(format!("ca{n}.pem"));
            let cert_path = dir.path().join(format!("cert{n}.pem"));
            std::fs::write(&ca_path, certificate_pem(ca.certificate()).expect("pem"))
                .expect("write");
            std::fs::write(&cert_path, certificate_pem(&cert).expect("pem")).expect("write");
            let text = std::process::Command::new("openssl")
                .args(["x509", "-noout", "-text", "-in"])
                .arg(&cert_path)
                .output()
                .expect("openssl runs");
            let stdout = String::from_utf8_lossy(&text.stdout);
            assert!(
                text.status.success(),
                "{algorithm:?}: {}",
                String::from_utf8_lossy(&text.stderr)
            );
            assert!(
                stdout.contains("OU = node") || stdout.contains("OU=node"),
                "{stdout}"
            );
            if algorithm == KeyAlgorithm::Sm2 {
                assert!(stdout.contains("SM2-with-SM3"), "{stdout}");
            }
            // OpenSSL's own default SM2 identifier is empty; ours is GB/T 35276's, so name it.
            let sm2_id: &[&str] = if algorithm == KeyAlgorithm::Sm2 {
                &["-vfyopt", "distid:1234567812345678"]
            } else {
                &[]
            };
            let verify = std::process::Command::new("openssl")
                .arg("verify")
                .args(sm2_id)
                .arg("-CAfile")
                .arg(&ca_path)
                .arg(&cert_path)
                .output()
                .expect("openssl runs");
            assert!(
                verify.status.success(),
                "{algorithm:?}: {}{}",
                String::from_utf8_lossy(&verify.stdout),
                String::from_utf8_lossy(&verify.stderr)
            );
            // A certificate from another CA does not verify against this one.
            let other = CertificateAuthority::new_root("org2", algorithm, 365).expect("root");
            let other_path = dir.path().join(format!("other{n}.pem"));
            std::fs::write(
                &other_path,
                certificate_pem(other.certificate()).expect("pem"),
            )
            .expect("write");
            let refused = std::process::Command::new("openssl")
                .arg("verify")
                .args(sm2_id)
                .arg("-CAfile")
                .arg(&other_path)
                .arg(&cert_path)
                .output()
                .expect("openssl runs");
            assert!(
                !refused.status.success(),
                "{algorithm:?}: foreign CA accepted"
            );
        }
    }
}
