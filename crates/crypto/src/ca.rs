//! Organization certificate authorities: a self-signed root per organization that issues X.509
//! certificates to its admins, clients and nodes. The role is the certificate's
//! OrganizationalUnit (`admin`, `client`, `node`, as Fabric's NodeOUs), the organization its O.
//! Keys: secp256k1 (Ethereum-compatible clients), P-256, Ed25519 (nodes).

use der::{Decode as _, EncodePem as _, pem::LineEnding};
use std::{str::FromStr, time::Duration};
use x509_cert::{
    Certificate,
    builder::{Builder, CertificateBuilder, Profile},
    name::Name,
    serial_number::SerialNumber,
    spki::SubjectPublicKeyInfoOwned,
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
}

/// A private key of one of the supported algorithms.
pub enum IdentityKey {
    Secp256k1(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
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
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            IdentityKey::Secp256k1(_) => KeyAlgorithm::Secp256k1,
            IdentityKey::P256(_) => KeyAlgorithm::P256,
            IdentityKey::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    pub fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned, CaError> {
        use spki::EncodePublicKey as _;
        let der = match self {
            IdentityKey::Secp256k1(k) => k.verifying_key().to_public_key_der(),
            IdentityKey::P256(k) => k.verifying_key().to_public_key_der(),
            IdentityKey::Ed25519(k) => k.verifying_key().to_public_key_der(),
        }
        .map_err(|e| CaError::Encoding(e.to_string()))?;
        SubjectPublicKeyInfoOwned::from_der(der.as_bytes())
            .map_err(|e| CaError::Encoding(e.to_string()))
    }
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
    /// A new self-signed root CA for `org`, valid for `days`.
    pub fn new_root(org: &str, algorithm: KeyAlgorithm, days: u32) -> Result<Self, CaError> {
        let key = IdentityKey::generate(algorithm);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_type_issues_certificates_whose_role_and_org_read_back() {
        for algorithm in [
            KeyAlgorithm::Secp256k1,
            KeyAlgorithm::P256,
            KeyAlgorithm::Ed25519,
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
            let verify = std::process::Command::new("openssl")
                .arg("verify")
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
