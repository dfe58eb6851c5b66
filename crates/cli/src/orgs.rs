//! The consortium `ricaas up` creates: per organization a root CA, an admin, a client and the
//! node identities of its validators, on disk in the layout `ricaas ca` manages, and the
//! channel's consortium configuration that names them.

use crate::up::write_secret;
use anyhow::Context as _;
use ricaas_crypto::{
    DevKey,
    ca::{CertificateAuthority, IdentityKey, KeyAlgorithm, Role, certificate_pem},
};
use ricaas_node::{ConsortiumConfig, OrgConfig};
use std::path::{Path, PathBuf};

pub const ORGS_DIR: &str = "orgs";
const CA_DAYS: u32 = 3650;
const IDENTITY_DAYS: u32 = 365;

/// What `up` needs from the consortium it created.
pub struct CreatedConsortium {
    pub config: ConsortiumConfig,
    /// org1's client: the developer account tools use (`keys/dev.key`).
    pub dev_key: DevKey,
    /// org1's admin (`keys/org1-admin.key`; every org's admin has `keys/<org>-admin.key`).
    pub admin_key: DevKey,
    /// Per validator: its node key file (PKCS#8 Ed25519) and public key (hex).
    pub validators: Vec<(PathBuf, String)>,
}

/// Writes one identity's certificate and key under `orgs/<org>/<name>/`.
fn write_identity(
    org_dir: &Path,
    name: &str,
    key: &IdentityKey,
    certificate_text: &str,
) -> anyhow::Result<PathBuf> {
    let dir = org_dir.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_secret(&dir.join("key.pem"), &key.to_pkcs8_pem()?)?;
    std::fs::write(dir.join("cert.pem"), certificate_text)?;
    Ok(dir.join("key.pem"))
}

/// Creates `orgs` organizations (org1, org2, …) under `<dir>/orgs` and `validators` node
/// identities assigned round-robin (validator i belongs to org (i mod orgs) + 1).
pub fn create(
    dir: &Path,
    orgs: usize,
    validators: usize,
    epoch_length: u64,
    deployment: ricaas_primitives::system::Deployment,
) -> anyhow::Result<CreatedConsortium> {
    anyhow::ensure!(orgs >= 1, "--orgs must be at least 1");
    let mut config = ConsortiumConfig {
        readers: "ANY Members".into(),
        writers: "ANY Members".into(),
        contract_deployers: "ANY Members".into(),
        admins: "MAJORITY Admins".into(),
        orgs: Vec::new(),
        validators: Vec::new(),
        members: Vec::new(),
        epoch_length,
        validator_addresses: Default::default(),
        deployment,
    };
    let mut cas = Vec::new();
    let mut dev_key = None;
    let mut admin_key = None;
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| format!("creating {}", keys.display()))?;
    for index in 1..=orgs {
        let name = format!("org{index}");
        let org_dir = dir.join(ORGS_DIR).join(&name);
        let ca_dir = org_dir.join("ca");
        std::fs::create_dir_all(&ca_dir)
            .with_context(|| format!("creating {}", ca_dir.display()))?;
        let ca = CertificateAuthority::new_root(&name, KeyAlgorithm::P256, CA_DAYS)?;
        write_secret(&ca_dir.join("ca.key"), &ca.key().to_pkcs8_pem()?)?;
        let ca_pem = certificate_pem(ca.certificate())?;
        std::fs::write(ca_dir.join("ca.pem"), &ca_pem)?;
        std::fs::write(
            ca_dir.join("crl.pem"),
            ricaas_crypto::ca::crl_pem(&ca.crl(&[], 7)?)?,
        )?;
        config.orgs.push(OrgConfig {
            name: name.clone(),
            ca_certificate: ca_pem,
        });
        for role in [Role::Admin, Role::Client] {
            let key = DevKey::random();
            let identity = key.identity_key();
            let certificate = ca.issue(
                role.as_str(),
                role,
                identity.public_key_info()?,
                IDENTITY_DAYS,
            )?;
            let pem = certificate_pem(&certificate)?;
            write_identity(&org_dir, role.as_str(), &identity, &pem)?;
            config.members.push(pem);
            if role == Role::Admin {
                // Hex copy for Ethereum tools (`ricaas member`, `ricaas governance`).
                key.write_new(&keys.join(format!("{name}-admin.key")))?;
            }
            if index == 1 {
                match role {
                    Role::Admin => admin_key = Some(key),
                    _ => dev_key = Some(key),
                }
            }
        }
        cas.push((org_dir, ca));
    }
    let mut created_validators = Vec::new();
    for index in 0..validators {
        let (org_dir, ca) = &cas[index % orgs];
        let key = IdentityKey::generate(KeyAlgorithm::Ed25519);
        let name = format!("node{index}");
        let certificate = ca.issue(&name, Role::Node, key.public_key_info()?, IDENTITY_DAYS)?;
        let pem = certificate_pem(&certificate)?;
        let key_path = write_identity(org_dir, &name, &key, &pem)?;
        let public = ricaas_crypto::ca::ed25519_key_of(&certificate)
            .map(hex::encode)
            .context("node certificate without an Ed25519 key")?;
        config.validators.push(pem);
        created_validators.push((key_path, public));
    }
    let (Some(dev_key), Some(admin_key)) = (dev_key, admin_key) else {
        anyhow::bail!("no organization was created");
    };
    dev_key.write_new(&keys.join("dev.key"))?;
    Ok(CreatedConsortium {
        config,
        dev_key,
        admin_key,
        validators: created_validators,
    })
}
