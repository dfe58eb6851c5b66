//! `ricaas ca`: an organization's certificate authority on disk — create it, enroll (issue) and
//! renew identities, revoke them and publish the CRL.
//!
//! Layout under `--dir`: `<org>/ca/{ca.pem, ca.key, revoked.txt, crl.pem}`,
//! `<org>/<name>/{cert.pem, key.pem}`. Private keys are PKCS#8 PEM, mode 0600.

use anyhow::{Context as _, bail};
use der::{Decode as _, DecodePem as _};
use ricaas_crypto::ca::{
    CertificateAuthority, IdentityKey, KeyAlgorithm, Role, certificate_pem, crl_pem, org_of,
    role_of, verify_issued,
};
use std::{
    io::Write as _,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};
use x509_cert::{Certificate, serial_number::SerialNumber};

#[derive(clap::Args)]
pub struct CaArgs {
    /// Directory holding the organizations' CAs and identities.
    #[arg(long, default_value = "ricaas-data/orgs")]
    dir: PathBuf,
    /// The organization (letters, digits, '-', '_', '.').
    #[arg(long)]
    org: String,
    #[command(subcommand)]
    command: CaCommand,
}

#[derive(clap::Subcommand)]
enum CaCommand {
    /// Create the organization's self-signed root CA.
    Init {
        /// secp256k1, p256, ed25519 or sm2.
        #[arg(long, default_value = "p256")]
        key_type: KeyAlgorithm,
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Issue a certificate (and a new key) to an identity of the organization.
    Enroll {
        #[arg(long)]
        name: String,
        /// admin, client or node.
        #[arg(long)]
        role: Role,
        /// secp256k1 (Ethereum-compatible, default), p256, ed25519 (nodes) or sm2 (SM2-with-SM3).
        #[arg(long, default_value = "secp256k1")]
        key_type: KeyAlgorithm,
        /// Certify an existing secp256k1 key (hex file, as `keys/dev.key`) instead of generating
        /// one: its key stays where it is, only the certificate is written.
        #[arg(long, conflicts_with = "key_type")]
        key_file: Option<PathBuf>,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Issue a fresh certificate for an identity's existing key and role.
    Renew {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Revoke an identity's current certificate and rewrite the CRL.
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// Write the signed CRL (`<org>/ca/crl.pem`) and print its path.
    Crl {
        /// Days until the next CRL is due.
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// Check a certificate against this CA: issuer, signature, validity, revocation.
    Verify {
        #[arg(long)]
        cert: PathBuf,
    },
}

fn read_certificate(path: &Path) -> anyhow::Result<Certificate> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Certificate::from_pem(&text)
        .or_else(|_| Certificate::from_der(&text))
        .with_context(|| format!("{} is not an X.509 certificate", path.display()))
}

struct Store {
    org_dir: PathBuf,
}

impl Store {
    fn ca_dir(&self) -> PathBuf {
        self.org_dir.join("ca")
    }

    fn identity_dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        if name.is_empty()
            || name == "ca"
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || name.starts_with('.')
        {
            bail!("invalid identity name {name:?}: use letters, digits, '-', '_' and '.'");
        }
        Ok(self.org_dir.join(name))
    }

    fn load_ca(&self) -> anyhow::Result<CertificateAuthority> {
        let dir = self.ca_dir();
        let certificate = read_certificate(&dir.join("ca.pem"))
            .context("the organization has no CA yet: run `ricaas ca --org <org> init`")?;
        let key = std::fs::read_to_string(dir.join("ca.key"))
            .with_context(|| format!("reading {}", dir.join("ca.key").display()))?;
        Ok(CertificateAuthority::from_parts(
            certificate,
            IdentityKey::from_pkcs8_pem(&key)?,
        )?)
    }

    /// Revocations: one `serial-hex unix-seconds` line each.
    fn revoked(&self) -> anyhow::Result<Vec<(SerialNumber, SystemTime)>> {
        let path = self.ca_dir().join("revoked.txt");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let (serial, at) = line
                    .split_once(' ')
                    .with_context(|| format!("malformed line in {}: {line}", path.display()))?;
                let serial = SerialNumber::new(&hex::decode(serial)?)
                    .map_err(|e| anyhow::anyhow!("bad serial {serial}: {e}"))?;
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs(at.parse()?);
                Ok((serial, at))
            })
            .collect()
    }

    fn write_crl(&self, ca: &CertificateAuthority, days: u32) -> anyhow::Result<PathBuf> {
        let crl = ca.crl(&self.revoked()?, days)?;
        let path = self.ca_dir().join("crl.pem");
        std::fs::write(&path, crl_pem(&crl)?)?;
        Ok(path)
    }
}

fn serial_hex(certificate: &Certificate) -> String {
    hex::encode(certificate.tbs_certificate.serial_number.as_bytes())
}

pub fn run(args: CaArgs) -> anyhow::Result<()> {
    let store = Store {
        org_dir: args.dir.join(&args.org),
    };
    match args.command {
        CaCommand::Init { key_type, days } => {
            let dir = store.ca_dir();
            if dir.join("ca.pem").exists() {
                bail!("{} already has a CA at {}", args.org, dir.display());
            }
            let ca = CertificateAuthority::new_root(&args.org, key_type, days)?;
            std::fs::create_dir_all(&dir)?;
            crate::up::write_secret(&dir.join("ca.key"), &ca.key().to_pkcs8_pem()?)?;
            std::fs::write(dir.join("ca.pem"), certificate_pem(ca.certificate())?)?;
            let crl = store.write_crl(&ca, 7)?;
            println!(
                "CA of {} created: {}",
                args.org,
                dir.join("ca.pem").display()
            );
            println!("  CRL: {}", crl.display());
        }
        CaCommand::Enroll {
            name,
            role,
            key_type,
            key_file,
            days,
        } => {
            let ca = store.load_ca()?;
            let dir = store.identity_dir(&name)?;
            if dir.join("cert.pem").exists() {
                bail!(
                    "{name} is already enrolled in {}: renew or revoke it instead",
                    args.org
                );
            }
            let (key, key_path) = match &key_file {
                Some(path) => (
                    ricaas_crypto::DevKey::read(path)?.identity_key(),
                    path.clone(),
                ),
                None => (IdentityKey::generate(key_type), dir.join("key.pem")),
            };
            let certificate = ca.issue(&name, role, key.public_key_info()?, days)?;
            std::fs::create_dir_all(&dir)?;
            if key_file.is_none() {
                crate::up::write_secret(&key_path, &key.to_pkcs8_pem()?)?;
            }
            std::fs::write(dir.join("cert.pem"), certificate_pem(&certificate)?)?;
            println!(
                "enrolled {name} ({}) in {}: serial {}",
                role.as_str(),
                args.org,
                serial_hex(&certificate)
            );
            println!("  certificate: {}", dir.join("cert.pem").display());
            println!("  key:         {}", key_path.display());
            if let Some(address) = key.ethereum_address() {
                println!("  address:     {address}");
            }
        }
        CaCommand::Renew { name, days } => {
            let ca = store.load_ca()?;
            let dir = store.identity_dir(&name)?;
            let old = read_certificate(&dir.join("cert.pem"))
                .with_context(|| format!("{name} is not enrolled in {}", args.org))?;
            let role = role_of(&old).context("the certificate carries no role")?;
            if store
                .revoked()?
                .iter()
                .any(|(serial, _)| *serial == old.tbs_certificate.serial_number)
            {
                bail!("{name}'s certificate is revoked: enroll a new identity instead of renewing");
            }
            let certificate = ca.issue(
                &name,
                role,
                old.tbs_certificate.subject_public_key_info.clone(),
                days,
            )?;
            std::fs::write(dir.join("cert.pem"), certificate_pem(&certificate)?)?;
            println!(
                "renewed {name}: serial {} (was {})",
                serial_hex(&certificate),
                serial_hex(&old)
            );
        }
        CaCommand::Revoke { name } => {
            let ca = store.load_ca()?;
            let dir = store.identity_dir(&name)?;
            let certificate = read_certificate(&dir.join("cert.pem"))
                .with_context(|| format!("{name} is not enrolled in {}", args.org))?;
            let serial = serial_hex(&certificate);
            let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(store.ca_dir().join("revoked.txt"))?;
            writeln!(file, "{serial} {}", now.as_secs())?;
            let crl = store.write_crl(&ca, 7)?;
            println!("revoked {name} (serial {serial}); CRL: {}", crl.display());
            // The CRL is for off-chain verifiers; channels learn of it through their
            // membership contract.
            if let Some(account) = ricaas_crypto::ca::account_of(&certificate) {
                println!(
                    "  on each channel: ricaas member --admin-key-file <{} admin key> revoke --account {account}",
                    args.org
                );
            }
        }
        CaCommand::Crl { days } => {
            let ca = store.load_ca()?;
            println!("{}", store.write_crl(&ca, days)?.display());
        }
        CaCommand::Verify { cert } => {
            let ca = store.load_ca()?;
            let certificate = read_certificate(&cert)?;
            verify_issued(
                ca.certificate(),
                &certificate,
                SystemTime::now(),
                &store.revoked()?,
            )
            .with_context(|| {
                format!("{} is not a valid identity of {}", cert.display(), args.org)
            })?;
            println!(
                "valid: {} of {}, role {}",
                certificate.tbs_certificate.subject,
                org_of(&certificate).unwrap_or_default(),
                role_of(&certificate).map_or("none", Role::as_str)
            );
        }
    }
    Ok(())
}
