//! Channel creation: a channel's genesis configuration endorsed by the admins of its member
//! organizations. A node opens a channel only from such a document, and only if the signatures
//! satisfy the network's channel-creation policy over the channel's members, every member is an
//! organization of the network with the CA the network knows, and this node is one of the
//! channel's validators.

use crate::config::{ChannelConfig, NetworkConfig};
use ricaas_crypto::ca::{self, Certificate, IdentityKey, Role};
use ricaas_primitives::policy::{Policy, PolicyRole, Signer};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// Largest signed channel configuration a node reads (genesis certificates included).
pub const MAX_SIGNED_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// What every signature covers: a domain tag and the exact configuration text.
fn signing_payload(config: &str) -> Vec<u8> {
    let mut payload = b"RiCaaS channel configuration v1\n".to_vec();
    payload.extend_from_slice(config.as_bytes());
    payload
}

/// One admin's endorsement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSignature {
    /// The admin's certificate (PEM).
    pub certificate: String,
    /// Signature over the configuration text (hex).
    pub signature: String,
}

/// A channel configuration (JSON text, kept verbatim so signatures stay valid) and its
/// endorsements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedChannelConfig {
    pub config: String,
    pub signatures: Vec<ConfigSignature>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreationError {
    #[error("the channel configuration is not valid JSON of a channel: {0}")]
    Malformed(String),
    #[error("channel {channel}: {message}")]
    Invalid { channel: String, message: String },
    #[error("channel {channel} names organization {org}, which is not in this node's network")]
    UnknownOrg { channel: String, org: String },
    #[error(
        "channel {channel} gives organization {org} a CA certificate different from the one this node's network knows"
    )]
    ForeignCa { channel: String, org: String },
    #[error("signature {index}: {message}")]
    BadSignature { index: usize, message: String },
    #[error(
        "channel {channel}: the signatures of {signers} do not satisfy the network's channel-creation policy {policy:?} over the members {members}"
    )]
    PolicyNotMet {
        channel: String,
        signers: String,
        policy: String,
        members: String,
    },
    #[error("signing: {0}")]
    Signing(String),
}

impl SignedChannelConfig {
    /// An unsigned document for `config`.
    pub fn new(config: &ChannelConfig) -> Result<Self, CreationError> {
        let text = serde_json::to_string_pretty(config)
            .map_err(|e| CreationError::Malformed(e.to_string()))?;
        Ok(Self {
            config: text,
            signatures: Vec::new(),
        })
    }

    /// The bytes an endorsement signs (for a key held elsewhere: a keystore or an HSM signs
    /// them as [`ca::sign_document`] would).
    pub fn signing_payload(&self) -> Vec<u8> {
        signing_payload(&self.config)
    }

    /// Adds the endorsement of the holder of `certificate` and `key`.
    pub fn sign(
        &mut self,
        certificate: &Certificate,
        key: &IdentityKey,
    ) -> Result<(), CreationError> {
        let signature = ca::sign_document(key, &signing_payload(&self.config))
            .map_err(|e| CreationError::Signing(e.to_string()))?;
        self.signatures.push(ConfigSignature {
            certificate: ca::certificate_pem(certificate)
                .map_err(|e| CreationError::Signing(e.to_string()))?,
            signature: hex::encode(signature),
        });
        Ok(())
    }

    /// The configuration, parsed and checked on its own (no signatures involved).
    pub fn channel_config(&self) -> Result<ChannelConfig, CreationError> {
        let config: ChannelConfig = serde_json::from_str(&self.config)
            .map_err(|e| CreationError::Malformed(e.to_string()))?;
        config
            .validate()
            .map_err(|message| CreationError::Invalid {
                channel: config.name.to_string(),
                message,
            })?;
        if config.consortium.is_none() {
            return Err(CreationError::Invalid {
                channel: config.name.to_string(),
                message: "a channel created on a network needs a consortium (members, validators, policies)".into(),
            });
        }
        Ok(config)
    }

    /// The configuration, if its endorsements satisfy `network`'s channel-creation policy.
    pub fn verify(&self, network: &NetworkConfig) -> Result<ChannelConfig, CreationError> {
        let config = self.channel_config()?;
        let channel = config.name.to_string();
        let consortium = config
            .consortium
            .as_ref()
            .ok_or_else(|| CreationError::Invalid {
                channel: channel.clone(),
                message: "no consortium".into(),
            })?;
        let same_ca = |a: &str, b: &str| {
            let der = |pem: &str| {
                ca::certificate_from_pem(pem)
                    .ok()
                    .and_then(|c| ca::certificate_der(&c).ok())
            };
            der(a).is_some() && der(a) == der(b)
        };
        let mut members = Vec::new();
        for org in &consortium.orgs {
            let known = network
                .ca_of(&org.name)
                .ok_or_else(|| CreationError::UnknownOrg {
                    channel: channel.clone(),
                    org: org.name.clone(),
                })?;
            if !same_ca(known, &org.ca_certificate) {
                return Err(CreationError::ForeignCa {
                    channel: channel.clone(),
                    org: org.name.clone(),
                });
            }
            members.push(org.name.clone());
        }
        let payload = signing_payload(&self.config);
        let now = SystemTime::now();
        let mut signers = Vec::new();
        for (index, endorsement) in self.signatures.iter().enumerate() {
            let bad = |message: String| CreationError::BadSignature { index, message };
            let certificate = ca::certificate_from_pem(&endorsement.certificate)
                .map_err(|e| bad(format!("certificate: {e}")))?;
            let org = ca::org_of(&certificate)
                .ok_or_else(|| bad("the certificate names no organization".into()))?;
            let org_ca = consortium
                .orgs
                .iter()
                .find(|o| o.name == org)
                .ok_or_else(|| bad(format!("{org} is not a member of channel {channel}")))?;
            let org_ca = ca::certificate_from_pem(&org_ca.ca_certificate)
                .map_err(|e| bad(format!("CA of {org}: {e}")))?;
            ca::verify_issued(&org_ca, &certificate, now, &[])
                .map_err(|e| bad(format!("certificate of {org}: {e}")))?;
            if ca::role_of(&certificate) != Some(Role::Admin) {
                return Err(bad(format!("the certificate is not an admin of {org}")));
            }
            let signature = hex::decode(&endorsement.signature)
                .map_err(|_| bad("signature is not hex".into()))?;
            ca::verify_document(&certificate, &payload, &signature)
                .map_err(|_| bad(format!("the signature of {org}'s admin does not verify")))?;
            signers.push(Signer {
                org,
                role: PolicyRole::Admin,
            });
        }
        let policy: Policy =
            network
                .channel_creation_policy
                .parse()
                .map_err(|e| CreationError::Invalid {
                    channel: channel.clone(),
                    message: format!("network channel-creation policy: {e}"),
                })?;
        if !policy.is_satisfied(&signers, &members) {
            let mut names: Vec<&str> = signers.iter().map(|s| s.org.as_str()).collect();
            names.dedup();
            return Err(CreationError::PolicyNotMet {
                channel,
                signers: if names.is_empty() {
                    "no one".into()
                } else {
                    names.join(", ")
                },
                policy: network.channel_creation_policy.clone(),
                members: members.join(", "),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConsortiumConfig, OrgConfig};
    use ricaas_crypto::ca::{CertificateAuthority, KeyAlgorithm, certificate_pem};

    struct Org {
        ca: CertificateAuthority,
        admin: (Certificate, IdentityKey),
        client: (Certificate, IdentityKey),
        node: Certificate,
    }

    fn identity(
        ca: &CertificateAuthority,
        name: &str,
        role: Role,
        algorithm: KeyAlgorithm,
    ) -> (Certificate, IdentityKey) {
        let key = IdentityKey::generate(algorithm);
        let certificate = ca
            .issue(name, role, key.public_key_info().expect("spki"), 1)
            .expect("issue");
        (certificate, key)
    }

    fn org(name: &str) -> Org {
        let ca = CertificateAuthority::new_root(name, KeyAlgorithm::P256, 1).expect("ca");
        Org {
            admin: identity(&ca, "admin", Role::Admin, KeyAlgorithm::Secp256k1),
            client: identity(&ca, "client", Role::Client, KeyAlgorithm::Secp256k1),
            node: identity(&ca, "node0", Role::Node, KeyAlgorithm::Ed25519).0,
            ca,
        }
    }

    fn org_config(org: &Org) -> OrgConfig {
        OrgConfig {
            name: org.ca.org().to_string(),
            ca_certificate: certificate_pem(org.ca.certificate()).expect("pem"),
        }
    }

    fn network(orgs: &[&Org], policy: &str) -> NetworkConfig {
        NetworkConfig {
            org: orgs[0].ca.org().to_string(),
            channel_creation_policy: policy.into(),
            orgs: orgs.iter().map(|o| org_config(o)).collect(),
            members_from_channel: false,
        }
    }

    fn channel(members: &[&Org]) -> ChannelConfig {
        let mut config = ChannelConfig::development(4000, Vec::new(), 0);
        config.name = ricaas_primitives::ChannelId::new("beta").expect("name");
        config.consortium = Some(ConsortiumConfig {
            readers: "ANY Members".into(),
            writers: "ANY Members".into(),
            contract_deployers: "ANY Members".into(),
            admins: "MAJORITY Admins".into(),
            orgs: members.iter().map(|o| org_config(o)).collect(),
            validators: members
                .iter()
                .map(|o| certificate_pem(&o.node).expect("pem"))
                .collect(),
            members: members
                .iter()
                .map(|o| certificate_pem(&o.admin.0).expect("pem"))
                .collect(),
            epoch_length: 10,
            validator_addresses: Default::default(),
            deployment: Default::default(),
        });
        config
    }

    fn signed_by(
        config: &ChannelConfig,
        signers: &[&(Certificate, IdentityKey)],
    ) -> SignedChannelConfig {
        let mut signed = SignedChannelConfig::new(config).expect("document");
        for (certificate, key) in signers {
            signed.sign(certificate, key).expect("sign");
        }
        signed
    }

    #[test]
    fn a_channel_opens_only_with_the_endorsements_the_network_policy_asks_for() {
        let (o1, o2, o3, outsider) = (org("org1"), org("org2"), org("org3"), org("org4"));
        let all = network(&[&o1, &o2, &o3, &outsider], "ALL Admins");
        let config = channel(&[&o1, &o2, &o3]);

        let signed = signed_by(&config, &[&o1.admin, &o2.admin, &o3.admin]);
        let verified = signed.verify(&all).expect("every member's admin signed");
        assert_eq!(verified, config);
        // The document survives its own JSON round trip (it travels as a file).
        let text = serde_json::to_string(&signed).expect("json");
        let back: SignedChannelConfig = serde_json::from_str(&text).expect("parse");
        assert!(back.verify(&all).is_ok());

        // One member missing: refused under ALL, accepted under MAJORITY.
        let two = signed_by(&config, &[&o1.admin, &o2.admin]);
        let error = two.verify(&all).expect_err("org3 did not sign").to_string();
        assert!(
            error.contains("org1, org2") && error.contains("ALL Admins"),
            "{error}"
        );
        assert!(
            two.verify(&network(&[&o1, &o2, &o3], "MAJORITY Admins"))
                .is_ok()
        );

        // A client's signature does not count; an outsider's admin is not a member.
        let client = signed_by(&config, &[&o1.admin, &o2.admin, &o3.client]);
        let error = client.verify(&all).expect_err("client").to_string();
        assert!(error.contains("not an admin of org3"), "{error}");
        let foreign = signed_by(&config, &[&o1.admin, &o2.admin, &outsider.admin]);
        let error = foreign.verify(&all).expect_err("outsider").to_string();
        assert!(
            error.contains("org4 is not a member of channel beta"),
            "{error}"
        );

        // Changing the configuration after signing breaks every signature.
        let mut tampered = signed.clone();
        tampered.config = tampered.config.replace("4000", "4001");
        let error = tampered.verify(&all).expect_err("tampered").to_string();
        assert!(error.contains("does not verify"), "{error}");

        // An admin's signature moved onto another admin's certificate does not verify.
        let mut swapped = signed.clone();
        swapped.signatures[2].certificate = swapped.signatures[1].certificate.clone();
        assert!(swapped.verify(&all).is_err());
    }

    #[test]
    fn a_channel_may_only_name_the_network_orgs_with_their_own_cas() {
        let (o1, o2, o3) = (org("org1"), org("org2"), org("org3"));
        // org3 is not in this network.
        let two = network(&[&o1, &o2], "ALL Admins");
        let config = channel(&[&o1, &o2, &o3]);
        let signed = signed_by(&config, &[&o1.admin, &o2.admin, &o3.admin]);
        assert!(matches!(
            signed.verify(&two),
            Err(CreationError::UnknownOrg { org, .. }) if org == "org3"
        ));
        // A look-alike "org2" with its own CA (and its own admin) is not the network's org2.
        let fake = org("org2");
        let config = channel(&[&o1, &fake]);
        let signed = signed_by(&config, &[&o1.admin, &fake.admin]);
        assert!(matches!(
            signed.verify(&two),
            Err(CreationError::ForeignCa { org, .. }) if org == "org2"
        ));
        // Garbage is a clear error, not a panic.
        let garbage = SignedChannelConfig {
            config: "{not json".into(),
            signatures: Vec::new(),
        };
        assert!(matches!(
            garbage.verify(&two),
            Err(CreationError::Malformed(_))
        ));
    }
}
