//! `ricaas k8s`: a network's nodes as Kubernetes objects — rendered to YAML (no cluster needed)
//! or applied to the cluster of `KUBECONFIG` with server-side apply.

use anyhow::{Context as _, bail};
use ricaas_node::NodeConfig;
use ricaas_platform::networks::kubernetes::{self, KubeNode, KubeSettings};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct K8sArgs {
    /// Directory with one sub-directory per node, each holding its `ricaas.toml`: `<data dir>/nodes`
    /// of `ricaas up`, or a network's directory under the platform's (`<platform data
    /// dir>/networks/<network id>`).
    #[arg(long)]
    nodes_dir: PathBuf,
    /// The network's name: prefixes every object's name and labels them.
    #[arg(long)]
    network: String,
    #[arg(long, default_value = "ricaas")]
    namespace: String,
    /// Container image holding the `ricaas` binary (run as user 10001).
    #[arg(long)]
    image: String,
    /// Persistent volume per node.
    #[arg(long, default_value = "20Gi")]
    storage: String,
    #[arg(long)]
    storage_class: Option<String>,
    /// CPU each node requests.
    #[arg(long, default_value = "500m")]
    cpu: String,
    /// Memory each node requests and is limited to.
    #[arg(long, default_value = "1Gi")]
    memory: String,
    /// Write the YAML to this file (mode 0600: it holds the nodes' private keys) instead of
    /// standard output.
    #[arg(long, conflicts_with = "apply")]
    output: Option<PathBuf>,
    /// Apply the objects to the cluster (KUBECONFIG, or the pod's service account) instead of
    /// printing them.
    #[arg(long)]
    apply: bool,
}

/// Reads every node of `dir`: its configuration, key, organization and role.
fn read_nodes(dir: &std::path::Path) -> anyhow::Result<Vec<KubeNode>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("ricaas.toml").is_file())
        .collect();
    entries.sort();
    let mut nodes = Vec::new();
    for path in entries {
        let config = NodeConfig::load(&path.join("ricaas.toml"))?;
        let Some(bft) = &config.consensus else {
            bail!(
                "{} runs a solo channel: Kubernetes runs BFT networks",
                path.display()
            );
        };
        let key_pem = std::fs::read_to_string(&bft.key_file)
            .with_context(|| format!("reading the node key {}", bft.key_file.display()))?;
        let dir_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = if dir_name.chars().all(|c| c.is_ascii_digit()) {
            format!("node{dir_name}")
        } else {
            dir_name
        };
        let org = config
            .network
            .as_ref()
            .map(|n| n.org.clone())
            .unwrap_or_else(|| "org".into());
        nodes.push(KubeNode {
            name,
            org,
            role: String::new(),
            config,
            key_pem,
        });
    }
    if nodes.is_empty() {
        bail!(
            "{} holds no node directory with a ricaas.toml",
            dir.display()
        );
    }
    Ok(nodes)
}

pub async fn run(args: K8sArgs) -> anyhow::Result<()> {
    let mut nodes = read_nodes(&args.nodes_dir)?;
    // A node whose key its configuration lists among the validators is one; others observe.
    for node in &mut nodes {
        let key = kubernetes::node_public_key(&node.key_pem)
            .with_context(|| format!("node {}", node.name))?;
        let listed = node.config.consensus.as_ref().is_some_and(|bft| {
            bft.validators
                .iter()
                .any(|v| v.public_key.eq_ignore_ascii_case(&key))
        });
        node.role = if listed { "validator" } else { "observer" }.into();
    }
    let settings = KubeSettings {
        storage: args.storage,
        storage_class: args.storage_class,
        cpu: args.cpu,
        memory: args.memory,
        ..KubeSettings::new(&args.network, &args.namespace, &args.image)
    };
    let objects = kubernetes::render_network(&settings, &nodes)?;
    if args.apply {
        kubernetes::apply(&args.namespace, &objects).await?;
        eprintln!(
            "applied {} node(s) of network {} to namespace {}",
            objects.len(),
            args.network,
            args.namespace
        );
        return Ok(());
    }
    let yaml = kubernetes::to_yaml(&objects)?;
    match args.output {
        Some(path) => {
            crate::up::write_secret(&path, &yaml)?;
            eprintln!(
                "wrote {} node(s) to {} (it holds their private keys)",
                objects.len(),
                path.display()
            );
        }
        None => print!("{yaml}"),
    }
    Ok(())
}
