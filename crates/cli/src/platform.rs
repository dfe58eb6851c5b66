//! `ricaas platform`: runs the management plane — the REST API under `/api/v1`, its OpenAPI
//! document and `/health` — on SQLite under the data directory or on PostgreSQL.

use anyhow::Context;
use ricaas_platform::{MasterKey, Platform, Store};
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
    /// The data directory of a network `ricaas up` created: when the platform is created, its
    /// organizations become tenants (CA, admin key and certificate imported), their root
    /// credentials written once to tenant-credentials.json (mode 0600).
    #[arg(long)]
    local_network: Option<PathBuf>,
    /// A channel of --local-network the platform may reach, as `<network>/<channel>=<rpc url>`
    /// (repeatable).
    #[arg(long = "local-channel", requires = "local_network")]
    local_channels: Vec<String>,
    /// SMTP server for sign-up confirmation mail (`smtp://host:port`, `smtps://user:password@host`,
    /// `smtp://host?tls=required`); without it the platform offers no sign-up.
    #[arg(long, env = "RICAAS_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of the platform's mail.
    #[arg(long, default_value = "RiCaaS <noreply@ricaas.invalid>")]
    smtp_from: String,
    /// The console's address as its users reach it (links in mail); the listen address by default.
    #[arg(long)]
    public_url: Option<String>,
    /// Where solcjs compilers and npm Solidity packages are installed for tenants' compilations
    /// (default: `compilers` under --data-dir).
    #[arg(long, env = "RICAAS_COMPILER_CACHE")]
    compiler_cache: Option<PathBuf>,
    /// Stop when standard input closes: how `ricaas up` makes the platform it started end
    /// with it, even when `up` itself is killed.
    #[arg(long, hide = true)]
    exit_with_stdin: bool,
}

/// Name of the file the adopted organizations' root credentials are written to, once.
pub const TENANT_CREDENTIALS_FILE: &str = "tenant-credentials.json";

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
    // Networks tenants create run as supervised `ricaas node` processes of this binary.
    let provisioner = ricaas_platform::networks::local::LocalProvisioner::new(
        std::env::current_exe().context("locating the ricaas binary")?,
        args.data_dir.join("networks"),
        store.clone(),
    );
    let compiler_cache = args
        .compiler_cache
        .clone()
        .unwrap_or_else(|| args.data_dir.join("compilers"));
    let compiler = ricaas_solc::Compiler::new(ricaas_solc::CompilerConfig::new(compiler_cache));
    let mut platform = Platform::new(store, master_key)
        .with_provisioner(provisioner)
        .with_compiler(compiler);
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
        if let Some(network) = &args.local_network {
            adopt(&platform, network, &args.local_channels, &args.data_dir).await?;
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
    if let Some(smtp_url) = &args.smtp_url {
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let mailer = ricaas_platform::signup::Mailer::new(smtp_url, &args.smtp_from, &public_url)
            .context("configuring sign-up mail")?;
        platform = platform.with_mailer(mailer);
        println!("Sign-up by e-mail:    on (links point to {public_url})");
    }
    println!("RiCaaS console:       http://{address}/");
    println!("RiCaaS platform API:  http://{address}/api/v1");
    println!("OpenAPI document:     http://{address}/api/v1/openapi.json");
    println!("Press Ctrl-C to stop.");
    let stdin_closed = async move {
        if args.exit_with_stdin {
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            })
            .await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let reconciler = platform.start_reconciler();
    let served = ricaas_platform::serve(platform.clone(), listener, async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = stdin_closed => {}
        }
    })
    .await
    .context("serving the platform API");
    // Stopped on purpose: the nodes stop too (after a crash they keep running and the next
    // start adopts them).
    if let Some(reconciler) = reconciler {
        reconciler.abort();
    }
    platform.stop_nodes().await;
    served
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

/// Makes the organizations of the network in `network_dir` tenants of `platform`.
async fn adopt(
    platform: &Platform,
    network_dir: &Path,
    channels: &[String],
    data_dir: &Path,
) -> anyhow::Result<()> {
    use ricaas_platform::bootstrap::{LocalChannel, LocalOrg};
    let orgs_dir = network_dir.join(crate::orgs::ORGS_DIR);
    let mut names: Vec<String> = std::fs::read_dir(&orgs_dir)
        .with_context(|| format!("reading {}", orgs_dir.display()))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("ca/ca.pem").exists())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    let read = |org: &str, file: &str| {
        let path = orgs_dir.join(org).join(file);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let orgs = names
        .iter()
        .map(|name| {
            Ok(LocalOrg {
                name: name.clone(),
                ca_certificate_pem: read(name, "ca/ca.pem")?,
                ca_key_pem: read(name, "ca/ca.key")?,
                admin_certificate_pem: read(name, "admin/cert.pem")?,
                admin_key_pem: read(name, "admin/key.pem")?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let channels = channels
        .iter()
        .map(|spec| {
            let (path, rpc_url) = spec
                .split_once('=')
                .context("--local-channel is <network>/<channel>=<rpc url>")?;
            let (network, name) = path
                .split_once('/')
                .context("--local-channel is <network>/<channel>=<rpc url>")?;
            Ok(LocalChannel {
                network: network.to_owned(),
                name: name.to_owned(),
                rpc_url: rpc_url.to_owned(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let roots = orgs
        .iter()
        .map(|org| Platform::tenant_credentials(&org.name))
        .collect::<Result<Vec<_>, _>>()?;
    let path = data_dir.join(TENANT_CREDENTIALS_FILE);
    write_once_private(&path, &roots)?;
    let solo_rpc = channels
        .first()
        .and_then(|c| c.rpc_url.split("/channels/").next().map(str::to_owned));
    let network = local_network(network_dir, solo_rpc)?;
    platform
        .adopt_network(&orgs, &roots, &channels, network.as_ref())
        .await
        .context("making the network's organizations tenants")?;
    println!(
        "Tenants {} created from the network; their root credentials are in {} (mode 0600, written once).",
        names.join(", "),
        path.display()
    );
    Ok(())
}

/// The network `ricaas up` created in `dir` as the platform registers it (`local`): its
/// settings and every node, from the nodes' configuration files.
/// `solo_rpc` is where a single node actually answers (`up` may override its configured port).
fn local_network(
    dir: &Path,
    solo_rpc: Option<String>,
) -> anyhow::Result<Option<ricaas_platform::bootstrap::LocalNetwork>> {
    use ricaas_platform::networks::{ChannelSpec, Consensus, ExternalNode, NetworkSpec};
    let mut configs = Vec::new();
    while dir
        .join(format!("nodes/{}/ricaas.toml", configs.len()))
        .is_file()
    {
        configs.push(dir.join(format!("nodes/{}/ricaas.toml", configs.len())));
    }
    if configs.is_empty() && dir.join("ricaas.toml").is_file() {
        configs.push(dir.join("ricaas.toml"));
    }
    let configs = configs
        .iter()
        .map(|path| {
            ricaas_node::NodeConfig::load(path)
                .with_context(|| format!("reading {}", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let Some(first) = configs.first() else {
        return Ok(None);
    };
    let Some(consortium) = &first.channel.consortium else {
        return Ok(None);
    };
    let spec = NetworkSpec {
        name: "local".into(),
        consensus: if first.consensus.is_some() {
            Consensus::Bft
        } else {
            Consensus::Solo
        },
        validators: configs.len() as u32,
        epoch_length: consortium.epoch_length,
        block_interval_ms: first.channel.block_interval_ms,
        channel: ChannelSpec {
            name: first.channel.name.to_string(),
            chain_id: first.channel.chain_id,
            readers: consortium.readers.clone(),
            writers: consortium.writers.clone(),
            contract_deployers: consortium.contract_deployers.clone(),
            admins: consortium.admins.clone(),
        },
        kubernetes: None,
    };
    let nodes = configs
        .iter()
        .enumerate()
        .map(|(index, config)| {
            let p2p = config.consensus.as_ref().map(|bft| bft.p2p_listen);
            ExternalNode {
                org: config
                    .network
                    .as_ref()
                    .map_or_else(|| "org1".to_string(), |n| n.org.clone()),
                name: format!("validator{index}"),
                role: "validator".into(),
                rpc_url: match (&solo_rpc, &config.consensus) {
                    (Some(url), None) => url.trim_end_matches('/').to_owned(),
                    _ => format!("http://{}", config.rpc.listen),
                },
                p2p_address: p2p.map(|a| a.to_string()),
                public_key: config.consensus.as_ref().and_then(|bft| {
                    bft.validators
                        .iter()
                        .find(|v| p2p.is_some_and(|a| v.address == a.into()))
                        .map(|v| v.public_key.clone())
                }),
            }
        })
        .collect();
    Ok(Some(ricaas_platform::bootstrap::LocalNetwork {
        spec,
        nodes,
    }))
}

/// Writes `credentials` to a new file only its owner can read; refuses to overwrite one.
fn write_once_private(path: &Path, credentials: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "writing first credentials to {}: the file already exists but the database has \
                 no operator — move the file away, or point --database-url at the database it \
                 belongs to",
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
