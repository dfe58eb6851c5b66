//! `ricaas platform`: runs the management plane — the REST API under `/api/v1`, its OpenAPI
//! document and `/health` — on SQLite under the data directory or on PostgreSQL.

use anyhow::Context;
use ricaas_platform::{MasterKey, Platform, Store, accounts::InitialCredentials};
use std::{
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
};

#[derive(clap::Args)]
pub struct PlatformArgs {
    /// Directory of the platform's data: its SQLite database (unless --database-url is given)
    /// and the operator's first credentials.
    #[arg(long, default_value = "ricaas-platform")]
    data_dir: PathBuf,
    /// Address the API listens on.
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
    /// `postgres://user:password@host/database` to keep the platform's data in PostgreSQL
    /// instead of SQLite under --data-dir.
    #[arg(long, env = "RICAAS_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// A PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so) to keep `pkcs11` keys in; its
    /// user PIN comes from RICAAS_PKCS11_PIN.
    #[arg(long, requires = "pkcs11_token")]
    pkcs11_module: Option<PathBuf>,
    /// The label of the token in --pkcs11-module.
    #[arg(long, requires = "pkcs11_module")]
    pkcs11_token: Option<String>,
}

/// The environment variable carrying the HSM user PIN (never a flag: flags show in `ps`).
pub const PKCS11_PIN_ENV: &str = "RICAAS_PKCS11_PIN";

/// Name of the file holding the master key that seals second-factor seeds and keystore data
/// keys (mode 0600, created at first start) unless `RICAAS_MASTER_KEY` carries it.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Name of the file the first operator credentials are written to, once, mode 0600.
pub const OPERATOR_CREDENTIALS_FILE: &str = "operator-credentials.json";

pub async fn run(args: PlatformArgs) -> anyhow::Result<()> {
    create_private_dir(&args.data_dir)?;
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => Store::sqlite_url(&args.data_dir.join("platform.db")),
    };
    let store = Store::open(&url)
        .await
        .with_context(|| format!("opening the platform store at {}", redact(&url)))?;
    let master_key = MasterKey::load_or_create(&args.data_dir.join(MASTER_KEY_FILE))
        .context("loading the platform's master key")?;
    let mut platform = Platform::new(store, master_key);
    if let (Some(module), Some(token)) = (&args.pkcs11_module, &args.pkcs11_token) {
        let pin = std::env::var(PKCS11_PIN_ENV).with_context(|| {
            format!("--pkcs11-module needs the token's user PIN in {PKCS11_PIN_ENV}")
        })?;
        let hsm = ricaas_platform::keystore::hsm::Hsm::open(module, token, &pin)
            .with_context(|| format!("opening token {token:?} of {}", module.display()))?;
        platform = platform.with_hsm(hsm);
        println!("HSM: token {token:?} of {}", module.display());
    }
    if !platform.has_operator().await? {
        let credentials = Platform::operator_credentials("admin")?;
        let path = args.data_dir.join(OPERATOR_CREDENTIALS_FILE);
        write_once_private(&path, &credentials)?;
        if let Err(e) = platform.create_operator_with(&credentials).await {
            // Credentials for an account that does not exist must not linger.
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
        println!(
            "Operator account created; its credentials are in {} (mode 0600, written once).",
            path.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    println!("RiCaaS platform API:  http://{address}/api/v1");
    println!("OpenAPI document:     http://{address}/api/v1/openapi.json");
    println!("Press Ctrl-C to stop.");
    ricaas_platform::serve(platform, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("serving the platform API")
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Writes `credentials` to a new file only its owner can read; refuses to overwrite one.
fn write_once_private(path: &Path, credentials: &InitialCredentials) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "writing the operator's credentials to {}: the file already exists but the \
                 database has no operator — move the file away, or point --database-url at the \
                 database it belongs to",
                path.display()
            )
        })?;
    let text = serde_json::to_string_pretty(credentials)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_before_they_are_shown() {
        assert_eq!(
            redact("postgres://ricaas:s3cret@db:5432/platform"),
            "postgres://ricaas:***@db:5432/platform"
        );
        assert_eq!(
            redact("postgres://ricaas@db/platform"),
            "postgres://ricaas@db/platform"
        );
        assert_eq!(
            redact("sqlite:///tmp/p.db?mode=rwc"),
            "sqlite:///tmp/p.db?mode=rwc"
        );
    }
}
