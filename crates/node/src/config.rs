//! The node's TOML configuration. `NodeConfig::documented_toml` writes a file in which every
//! field carries its explanation; `NodeConfig::load` reads it back and checks it.

use alloy_primitives::{Address, U256};
use ricaas_primitives::ChannelId;
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the node keeps its databases. Relative paths are relative to the config file.
    pub data_dir: PathBuf,
    pub rpc: RpcConfig,
    pub channel: ChannelConfig,
    /// BFT replication among validators. Absent: this node orders blocks alone (solo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<BftConfig>,
    /// The network of organizations this node belongs to. Absent: the node serves only the
    /// channel above and cannot join others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkConfig>,
}

/// Who operates this node and which organizations may create channels with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// The organization that operates this node: its admins call the node's admin API.
    pub org: String,
    /// Whose admins must sign a channel's configuration before this node opens it: a policy over
    /// the channel's member organizations (e.g. `ALL Admins`: every member consents).
    pub channel_creation_policy: String,
    /// The network's organizations and their root CA certificates: a channel may only name
    /// these, with these CAs.
    pub orgs: Vec<OrgConfig>,
    /// Whether the network's organizations are those of the configured channel's committed
    /// configuration (organizations join and leave there by governance), rather than `orgs`
    /// alone: a channel created later may name an organization that joined after this file was
    /// written. Channels joined before are reopened if `orgs` or the channel knows them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub members_from_channel: bool,
}

impl NetworkConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        let policy: ricaas_primitives::policy::Policy = self
            .channel_creation_policy
            .parse()
            .map_err(|e| format!("network.channel_creation_policy: {e}"))?;
        let names: Vec<String> = self.orgs.iter().map(|o| o.name.clone()).collect();
        policy
            .check_orgs(&names)
            .map_err(|e| format!("network.channel_creation_policy: {e}"))?;
        if !names.contains(&self.org) {
            return Err(format!(
                "network.org {} is not among network.orgs",
                self.org
            ));
        }
        for org in &self.orgs {
            pem_certificate(&format!("network.orgs {}", org.name), &org.ca_certificate)?;
        }
        Ok(())
    }

    /// The root CA certificate of `org`, if it belongs to the network.
    pub fn ca_of(&self, org: &str) -> Option<&str> {
        self.orgs
            .iter()
            .find(|o| o.name == org)
            .map(|o| o.ca_certificate.as_str())
    }

    fn documented_toml(&self) -> String {
        let orgs: String = self
            .orgs
            .iter()
            .map(|o| {
                format!(
                    "\n[[network.orgs]]\nname = \"{}\"\nca_certificate = '''\n{}\n'''\n",
                    o.name,
                    o.ca_certificate.trim_end()
                )
            })
            .collect();
        format!(
            r#"
# The network of organizations this node belongs to. Channels beyond the one above are joined
# through the admin API (`ricaas channel join`), from a channel configuration signed by the
# admins of the channel's member organizations.
[network]
# The organization operating this node: its admins (certificates issued by its CA) may call
# the admin API at /admin.
org = "{org}"
# Whose admins must sign a channel configuration before this node opens the channel: a policy
# over the channel's member organizations (ANY / ALL / MAJORITY / N OF).
channel_creation_policy = "{policy}"{members}
{orgs}"#,
            org = self.org,
            policy = self.channel_creation_policy,
            members = if self.members_from_channel {
                "\n# The network's organizations are those of the channel above, as governance changes\n# them (the list below is where they started).\nmembers_from_channel = true"
            } else {
                ""
            },
        )
    }
}

/// Settings of a validator in a BFT network. Every validator of a channel lists the same
/// validators (with their addresses) and timeouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BftConfig {
    /// File holding this node's Ed25519 private key (hex), relative to the config file.
    pub key_file: PathBuf,
    /// Address the node accepts peer connections on (authenticated and encrypted).
    pub p2p_listen: SocketAddr,
    /// How long a view's leader has to propose before validators vote to skip it, in ms.
    pub leader_timeout_ms: u64,
    /// How long validators wait for a proposal to be notarized before moving on, in ms.
    pub certification_timeout_ms: u64,
    /// With no transactions waiting, a leader proposes an empty block after this long, in ms.
    /// Must stay below `leader_timeout_ms`.
    pub empty_block_interval_ms: u64,
    /// A leader caps its block so that executing it takes about this long on this machine, as
    /// measured on the blocks it built and verified last; every validator re-executes the block
    /// within the view, so this must stay well below `certification_timeout_ms`.
    #[serde(default = "default_execution_budget_ms")]
    pub execution_budget_ms: u64,
    /// When this node takes a gossiped transaction's sender without recovering its signature:
    /// `quorum` (2f + 1 validators recovered it alike; the default), `minority` (f + 1: faster,
    /// but f + 1 colluding validators could then forge a sender), or `recover` (always recover).
    /// Every validator of a network should use the same setting.
    #[serde(default)]
    pub sender_trust: ricaas_consensus::bft::SenderTrust,
    /// The channel's validators, this node included.
    pub validators: Vec<ValidatorEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorEntry {
    /// Ed25519 public key (hex) that identifies the validator on the p2p network and in votes.
    pub public_key: String,
    /// Where its p2p endpoint is reached: `ip:port`, or `host:port` resolved by DNS at every
    /// dial (a Kubernetes Service name, a load balancer).
    pub address: ricaas_consensus::bft::PeerAddress,
}

impl BftConfig {
    /// Defaults for validators on one machine or a LAN.
    pub fn local(
        key_file: PathBuf,
        p2p_listen: SocketAddr,
        validators: Vec<ValidatorEntry>,
    ) -> Self {
        Self {
            key_file,
            p2p_listen,
            leader_timeout_ms: 2_000,
            certification_timeout_ms: 3_000,
            empty_block_interval_ms: 1_000,
            execution_budget_ms: default_execution_budget_ms(),
            sender_trust: Default::default(),
            validators,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.validators.is_empty() {
            return Err("consensus.validators must list at least one validator".into());
        }
        if self.empty_block_interval_ms >= self.leader_timeout_ms {
            return Err(
                "consensus.empty_block_interval_ms must be below consensus.leader_timeout_ms"
                    .into(),
            );
        }
        if self.execution_budget_ms == 0 || self.execution_budget_ms >= self.leader_timeout_ms {
            return Err(
                "consensus.execution_budget_ms must be at least 1 and below consensus.leader_timeout_ms"
                    .into(),
            );
        }
        if self.certification_timeout_ms < self.leader_timeout_ms {
            return Err(
                "consensus.certification_timeout_ms must be at least consensus.leader_timeout_ms"
                    .into(),
            );
        }
        let mut keys = std::collections::HashSet::new();
        for v in &self.validators {
            if !keys.insert(v.public_key.to_lowercase()) {
                return Err(format!(
                    "consensus.validators lists public key {} twice",
                    v.public_key
                ));
            }
        }
        Ok(())
    }

    fn documented_toml(&self) -> String {
        let validators: String = self
            .validators
            .iter()
            .map(|v| {
                format!(
                    "\n[[consensus.validators]]\npublic_key = \"{}\"\naddress = \"{}\"\n",
                    v.public_key, v.address
                )
            })
            .collect();
        format!(
            r#"
# BFT replication (Commonware simplex). Remove this section to run a single node alone.
[consensus]
# This node's Ed25519 key (hex), relative to this file. Its public key must be listed below.
key_file = {key_file:?}
# Address other validators connect to. Connections are authenticated and encrypted; only the
# validators listed below may connect.
p2p_listen = "{p2p_listen}"
# Time a view's leader has to propose before the others vote to skip it, in milliseconds.
leader_timeout_ms = {leader_timeout_ms}
# Time to wait for a proposal to be notarized before moving on, in milliseconds.
certification_timeout_ms = {certification_timeout_ms}
# With nothing to order, a leader proposes an empty block after this long (below leader_timeout_ms).
empty_block_interval_ms = {empty_block_interval_ms}
# A leader caps its block so that executing it takes about this long here, as measured on recent
# blocks; every validator re-executes it within the view (below leader_timeout_ms).
execution_budget_ms = {execution_budget_ms}
# When a gossiped transaction's sender is taken without recovering its signature here: "quorum"
# (2f + 1 validators recovered it alike), "minority" (f + 1: faster, but f + 1 colluding
# validators could forge a sender) or "recover" (always). The same on every validator.
sender_trust = "{sender_trust}"

# The validators of the channel, this node included: public key and p2p address. Every
# validator must list the same set.
{validators}"#,
            key_file = self.key_file.display().to_string(),
            p2p_listen = self.p2p_listen,
            leader_timeout_ms = self.leader_timeout_ms,
            certification_timeout_ms = self.certification_timeout_ms,
            empty_block_interval_ms = self.empty_block_interval_ms,
            execution_budget_ms = self.execution_budget_ms,
            sender_trust = match self.sender_trust {
                ricaas_consensus::bft::SenderTrust::Quorum => "quorum",
                ricaas_consensus::bft::SenderTrust::Minority => "minority",
                ricaas_consensus::bft::SenderTrust::Recover => "recover",
            },
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcConfig {
    pub listen: SocketAddr,
    pub max_request_bytes: u32,
    pub max_connections: u32,
    pub max_batch_len: u32,
    /// Serve reads to clients without a read token. Off unless a local developer network asks.
    #[serde(default)]
    pub anonymous_reads: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: ChannelId,
    pub chain_id: u64,
    pub block_interval_ms: u64,
    pub empty_blocks: bool,
    pub max_block_txs: usize,
    pub block_gas_limit: u64,
    pub tx_gas_limit: u64,
    pub max_tx_bytes: usize,
    /// Largest encoded block, in bytes (bounds what a validator accepts from a proposer).
    #[serde(default = "default_max_block_bytes")]
    pub max_block_bytes: usize,
    pub min_gas_price: u128,
    pub mempool: MempoolConfig,
    pub genesis_timestamp_ms: u64,
    #[serde(default)]
    pub genesis: Vec<GenesisAccount>,
    /// Member organizations, validators, policies and the identities enrolled at genesis.
    /// Absent: an open development channel that admits every correctly signed transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consortium: Option<ConsortiumConfig>,
}

/// The consortium part of a channel's genesis. Certificates are PEM text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsortiumConfig {
    /// Who may query state and blocks.
    pub readers: String,
    /// Who may send transactions.
    pub writers: String,
    /// Who may create contracts.
    pub contract_deployers: String,
    /// Who approves changes of the channel configuration.
    pub admins: String,
    pub orgs: Vec<OrgConfig>,
    /// Node certificates (Ed25519) of the channel's validators.
    #[serde(default)]
    pub validators: Vec<String>,
    /// Certificates enrolled from the first block (admins and clients).
    #[serde(default)]
    pub members: Vec<String>,
    /// Heights per consensus epoch: validators added or removed by governance vote from the
    /// epoch after the change applies.
    #[serde(default = "default_epoch_length")]
    pub epoch_length: u64,
    /// Where the validators' p2p endpoints listen, by Ed25519 public key (hex). A node learns the
    /// addresses of a channel's genesis validators from here when its own configuration does
    /// not list them (channels joined after the first).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub validator_addresses: BTreeMap<String, SocketAddr>,
    /// How contracts are created: `"direct"` (default: any identity the ContractDeployers policy
    /// admits sends a creation transaction) or `"approved"` (only creation code a lifecycle
    /// proposal approved, sent by the proposer).
    #[serde(
        default,
        skip_serializing_if = "ricaas_primitives::system::Deployment::is_direct"
    )]
    pub deployment: ricaas_primitives::system::Deployment,
}

fn default_epoch_length() -> u64 {
    ricaas_primitives::system::DEFAULT_EPOCH_LENGTH
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    pub name: String,
    /// The organization's root CA certificate (PEM).
    pub ca_certificate: String,
}

/// A certificate given in the configuration, or why it is not one.
fn pem_certificate(what: &str, pem: &str) -> Result<ricaas_crypto::ca::Certificate, String> {
    ricaas_crypto::ca::certificate_from_pem(pem).map_err(|e| format!("{what}: {e}"))
}

impl ConsortiumConfig {
    /// The configuration the config contract will hold, checked.
    pub fn consortium(
        &self,
        channel: &ChannelId,
    ) -> Result<ricaas_execution::system::Consortium, String> {
        use ricaas_primitives::system::{ChannelConfigState, OrgState, PolicyTexts};
        let der_hex = |what: &str, pem: &str| {
            let certificate = pem_certificate(what, pem)?;
            ricaas_crypto::ca::certificate_der(&certificate)
                .map(hex::encode)
                .map_err(|e| format!("{what}: {e}"))
        };
        let state = ChannelConfigState {
            channel: channel.to_string(),
            orgs: self
                .orgs
                .iter()
                .map(|org| {
                    Ok(OrgState {
                        name: org.name.clone(),
                        ca_certificate: der_hex(
                            &format!("channel.consortium.orgs {}", org.name),
                            &org.ca_certificate,
                        )?,
                    })
                })
                .collect::<Result<_, String>>()?,
            policies: PolicyTexts {
                readers: self.readers.clone(),
                writers: self.writers.clone(),
                contract_deployers: self.contract_deployers.clone(),
                admins: self.admins.clone(),
                lifecycle: Default::default(),
            },
            validators: self
                .validators
                .iter()
                .enumerate()
                .map(|(i, pem)| der_hex(&format!("channel.consortium.validators[{i}]"), pem))
                .collect::<Result<_, String>>()?,
            validator_addresses: self
                .validator_addresses
                .iter()
                .map(|(key, address)| (key.to_lowercase(), *address))
                .collect(),
            // Observers are listed by their organizations on the running chain.
            observers: Vec::new(),
            epoch_length: self.epoch_length,
            parameters: Default::default(),
            deployment: self.deployment,
        };
        ricaas_execution::system::Consortium::new(state)
            .map_err(|e| format!("channel.consortium: {e}"))
    }

    /// The identities enrolled at genesis.
    pub fn member_certificates(&self) -> Result<Vec<ricaas_crypto::ca::Certificate>, String> {
        self.members
            .iter()
            .enumerate()
            .map(|(i, pem)| pem_certificate(&format!("channel.consortium.members[{i}]"), pem))
            .collect()
    }

    fn documented_toml(&self) -> String {
        let pem = |text: &str| format!("'''\n{}'''", text.trim_end().to_string() + "\n");
        let orgs: String = self
            .orgs
            .iter()
            .map(|o| {
                format!(
                    "\n[[channel.consortium.orgs]]\nname = \"{}\"\nca_certificate = {}\n",
                    o.name,
                    pem(&o.ca_certificate)
                )
            })
            .collect();
        let list = |items: &[String]| -> String {
            items
                .iter()
                .map(|c| format!("  {},\n", pem(c)))
                .collect::<String>()
        };
        format!(
            r#"
# The consortium: member organizations (their root CA certificates), the validators' node
# certificates, the identities enrolled at genesis, and the channel policies. Policies use
# ANY / ALL / MAJORITY / N OF (...) over Org.role or Admins / Clients / Nodes / Members.
# All of it is part of the genesis: every node of the channel must hold the same text.
[channel.consortium]
# Who may query state and blocks.
readers = "{readers}"
# Who may send transactions.
writers = "{writers}"
# Who may create contracts.
contract_deployers = "{contract_deployers}"
# Who approves changes of the channel configuration.
admins = "{admins}"
# How contracts are created: "direct" (a creation transaction from an identity contract_deployers
# admits) or "approved" (only creation code a lifecycle proposal approved — ILifecycle at
# 0x…1003 — sent by the proposer).
deployment = "{deployment}"
# Heights per consensus epoch. Validators added or removed by a governance vote take part from
# the epoch after the change applies.
epoch_length = {epoch_length}
# Node certificates of the validators (Ed25519 keys, issued by member CAs with OU=node).
validators = [
{validators}]
# Certificates enrolled from the first block; later ones are enrolled by their
# organization's admin through the membership contract (0x…1001).
members = [
{members}]
{orgs}{addresses}"#,
            addresses = if self.validator_addresses.is_empty() {
                String::new()
            } else {
                let entries: String = self
                    .validator_addresses
                    .iter()
                    .map(|(key, address)| format!("\"{key}\" = \"{address}\"\n"))
                    .collect();
                format!(
                    "\n# Where the validators' p2p endpoints listen, by public key (hex).\n[channel.consortium.validator_addresses]\n{entries}"
                )
            },
            readers = self.readers,
            writers = self.writers,
            contract_deployers = self.contract_deployers,
            admins = self.admins,
            deployment = match self.deployment {
                ricaas_primitives::system::Deployment::Direct => "direct",
                ricaas_primitives::system::Deployment::Approved => "approved",
            },
            epoch_length = self.epoch_length,
            validators = list(&self.validators),
            members = list(&self.members),
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    pub max_txs: usize,
    pub max_queued_per_sender: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub address: Address,
    pub balance: U256,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("config {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Half the default leader timeout: a block built in this long and re-executed as fast (or
/// somewhat slower) on the others still fits the default certification timeout.
fn default_execution_budget_ms() -> u64 {
    1_000
}

fn default_max_block_bytes() -> usize {
    16 * 1024 * 1024
}

/// Default `block_interval_ms` of a channel one sequencer orders: it batches for this long,
/// and since sealing and committing a block cost about as much for a few hundred transactions
/// as for thousands, fewer larger blocks carry the most (halving it cost a one-node network a
/// tenth of its throughput: BENCHMARKS.md, stop 47).
pub const SOLO_BLOCK_INTERVAL_MS: u64 = 500;

/// Default `block_interval_ms` of a channel BFT validators order: a leader proposes once its
/// parent is this old (or at once when a block is full). Under load a consensus round — build,
/// re-execute on every validator, two rounds of votes — takes longer than this, so blocks follow
/// each other as soon as the validators are ready and a transaction waits for the next round
/// only; 500 ms left them idle between rounds and doubled the median finality on four
/// validators (BENCHMARKS.md, stop 47).
pub const BFT_BLOCK_INTERVAL_MS: u64 = 200;

impl ChannelConfig {
    /// Defaults for a development channel; `genesis` funds the given accounts. Its block
    /// interval suits a one-node network ([`SOLO_BLOCK_INTERVAL_MS`]); a channel of validators
    /// takes [`BFT_BLOCK_INTERVAL_MS`].
    pub fn development(
        chain_id: u64,
        genesis: Vec<GenesisAccount>,
        genesis_timestamp_ms: u64,
    ) -> Self {
        Self {
            name: ChannelId::new("default").expect("static name is valid"),
            chain_id,
            block_interval_ms: SOLO_BLOCK_INTERVAL_MS,
            empty_blocks: false,
            max_block_txs: 20_000,
            block_gas_limit: 1_500_000_000,
            tx_gas_limit: 16_777_216,
            max_tx_bytes: 128 * 1024,
            max_block_bytes: default_max_block_bytes(),
            min_gas_price: 0,
            mempool: MempoolConfig {
                max_txs: 200_000,
                max_queued_per_sender: 1024,
            },
            genesis_timestamp_ms,
            genesis,
            consortium: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let checks = [
            (self.chain_id == 0, "channel.chain_id must not be 0"),
            (
                self.block_interval_ms == 0,
                "channel.block_interval_ms must be at least 1",
            ),
            (
                self.max_block_txs == 0,
                "channel.max_block_txs must be at least 1",
            ),
            (
                self.tx_gas_limit < 21_000,
                "channel.tx_gas_limit must be at least 21000",
            ),
            (
                self.block_gas_limit < self.tx_gas_limit,
                "channel.block_gas_limit must be at least channel.tx_gas_limit",
            ),
            (
                self.max_tx_bytes < 1024,
                "channel.max_tx_bytes must be at least 1024",
            ),
            (
                self.max_block_bytes < self.max_tx_bytes + 4096,
                "channel.max_block_bytes must exceed channel.max_tx_bytes by at least 4096",
            ),
            (
                self.mempool.max_txs == 0,
                "channel.mempool.max_txs must be at least 1",
            ),
        ];
        if let Some((_, message)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(message.to_string());
        }
        if let Some(consortium) = &self.consortium {
            consortium.consortium(&self.name)?;
            consortium.member_certificates()?;
        }
        Ok(())
    }
}

impl NodeConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config: NodeConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        config
            .channel
            .validate()
            .map_err(|message| ConfigError::Invalid {
                path: path.display().to_string(),
                message,
            })?;
        if let Some(bft) = &config.consensus {
            bft.validate().map_err(|message| ConfigError::Invalid {
                path: path.display().to_string(),
                message,
            })?;
        }
        if let Some(network) = &config.network {
            network.validate().map_err(|message| ConfigError::Invalid {
                path: path.display().to_string(),
                message,
            })?;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        if config.data_dir.is_relative() {
            config.data_dir = base.join(&config.data_dir);
        }
        if let Some(bft) = &mut config.consensus
            && bft.key_file.is_relative()
        {
            bft.key_file = base.join(&bft.key_file);
        }
        Ok(config)
    }

    /// The configuration as TOML with every field explained.
    pub fn documented_toml(&self) -> String {
        let c = &self.channel;
        let genesis: String = c
            .genesis
            .iter()
            .map(|a| {
                format!(
                    "\n[[channel.genesis]]\naddress = \"{}\"\nbalance = \"{}\"\n",
                    a.address, a.balance
                )
            })
            .collect();
        format!(
            r#"# RiCaaS node configuration. Run it with: ricaas node --config <this file>

# Directory holding the node's databases (one per channel). Relative to this file.
data_dir = {data_dir:?}

[rpc]
# Address of the Ethereum JSON-RPC server; HTTP and WebSocket share this port.
# The channel is served at /channels/<name> and, for tools that expect one chain, at /.
listen = "{listen}"
# Largest request body accepted, in bytes.
max_request_bytes = {max_request_bytes}
# Most simultaneous client connections.
max_connections = {max_connections}
# Most calls in one JSON-RPC batch.
max_batch_len = {max_batch_len}
# Serve queries (eth_call, balances, blocks, logs, …) to clients that present no read token.
# Off: a client sends `Authorization: Bearer ricaas-read.<expires>.<signature>` (an Ethereum
# personal_sign by an enrolled account, see README) and the channel's Readers policy decides.
# Sending transactions, eth_chainId, net_version and web3_clientVersion need no token.
anonymous_reads = {anonymous_reads}

[channel]
# Channel name: lowercase letters, digits, '-' and '_'.
name = "{name}"
# EIP-155 chain id: transactions must be signed for it.
chain_id = {chain_id}
# Longest time a transaction waits for its block, in milliseconds (a full block goes sooner).
block_interval_ms = {block_interval_ms}
# Produce blocks while idle (every block_interval_ms). Off: blocks only when there are transactions.
empty_blocks = {empty_blocks}
# Most transactions in one block.
max_block_txs = {max_block_txs}
# Most gas all transactions of one block may use.
block_gas_limit = {block_gas_limit}
# Most gas one transaction may ask for.
tx_gas_limit = {tx_gas_limit}
# Largest encoded transaction accepted, in bytes.
max_tx_bytes = {max_tx_bytes}
# Largest encoded block, in bytes: what a proposer may fill and a validator accepts.
max_block_bytes = {max_block_bytes}
# Lowest gas price accepted, in wei. 0 makes the chain gas-free (gas still bounds execution).
min_gas_price = {min_gas_price}
# Timestamp of the genesis block, in milliseconds since the Unix epoch. Part of the chain's identity.
genesis_timestamp_ms = {genesis_timestamp_ms}

[channel.mempool]
# Most transactions waiting in the pool (ready and queued).
max_txs = {max_txs}
# Most future-nonce transactions held per sender until the gap is filled. Tools that sign and
# send one account's transactions concurrently (Caliper) deliver them out of order: keep this roomy.
max_queued_per_sender = {max_queued}

# Accounts funded in the genesis block (balance in wei). Changing these after the chain was
# created makes the node refuse to start: the genesis block would differ.
{genesis}{consortium}{consensus}{network}"#,
            network = self
                .network
                .as_ref()
                .map(NetworkConfig::documented_toml)
                .unwrap_or_default(),
            consortium = c
                .consortium
                .as_ref()
                .map(ConsortiumConfig::documented_toml)
                .unwrap_or_default(),
            consensus = self
                .consensus
                .as_ref()
                .map(BftConfig::documented_toml)
                .unwrap_or_default(),
            data_dir = self.data_dir.display().to_string(),
            listen = self.rpc.listen,
            max_request_bytes = self.rpc.max_request_bytes,
            max_connections = self.rpc.max_connections,
            max_batch_len = self.rpc.max_batch_len,
            anonymous_reads = self.rpc.anonymous_reads,
            name = c.name,
            chain_id = c.chain_id,
            block_interval_ms = c.block_interval_ms,
            empty_blocks = c.empty_blocks,
            max_block_txs = c.max_block_txs,
            block_gas_limit = c.block_gas_limit,
            tx_gas_limit = c.tx_gas_limit,
            max_tx_bytes = c.max_tx_bytes,
            max_block_bytes = c.max_block_bytes,
            min_gas_price = c.min_gas_price,
            genesis_timestamp_ms = c.genesis_timestamp_ms,
            max_txs = c.mempool.max_txs,
            max_queued = c.mempool.max_queued_per_sender,
        )
    }
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_request_bytes: 10 * 1024 * 1024,
            max_connections: 1000,
            max_batch_len: 1000,
            anonymous_reads: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_toml_roundtrips_every_field() {
        let config = NodeConfig {
            data_dir: PathBuf::from("data"),
            rpc: RpcConfig::default(),
            consensus: Some(BftConfig::local(
                PathBuf::from("keys/node.key"),
                SocketAddr::from(([127, 0, 0, 1], 9000)),
                vec![ValidatorEntry {
                    public_key: "ab".repeat(32),
                    address: SocketAddr::from(([127, 0, 0, 1], 9000)).into(),
                }],
            )),
            channel: ChannelConfig::development(
                4242,
                vec![GenesisAccount {
                    address: Address::repeat_byte(7),
                    balance: U256::from(10).pow(U256::from(27)),
                }],
                1_700_000_000_000,
            ),
            network: None,
        };
        let text = config.documented_toml();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ricaas.toml");
        std::fs::write(&path, &text).expect("write");
        let loaded = NodeConfig::load(&path).expect("loads");
        assert_eq!(loaded.channel, config.channel);
        assert_eq!(loaded.rpc, config.rpc);
        assert_eq!(loaded.data_dir, dir.path().join("data"));
        let (loaded, written) = (
            loaded.consensus.expect("bft"),
            config.consensus.expect("bft"),
        );
        assert_eq!(loaded.validators, written.validators);
        assert_eq!(loaded.key_file, dir.path().join("keys/node.key"));
        assert_eq!(loaded.leader_timeout_ms, written.leader_timeout_ms);
        assert_eq!(loaded.execution_budget_ms, written.execution_budget_ms);
        // Configurations written before the execution budget existed load with its default.
        let older = text.replace("execution_budget_ms = 1000\n", "");
        assert_ne!(older, text);
        std::fs::write(&path, &older).expect("write");
        let loaded = NodeConfig::load(&path).expect("an older config loads");
        assert_eq!(loaded.consensus.expect("bft").execution_budget_ms, 1_000);
        // A budget as long as the leader timeout could never fit a view.
        std::fs::write(
            &path,
            text.replace("execution_budget_ms = 1000", "execution_budget_ms = 2000"),
        )
        .expect("write");
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("execution_budget_ms"), "{err}");
        // Sender trust: written as the default, read back, absent means the default, and a
        // misspelt value is refused with the accepted ones named.
        assert!(text.contains("sender_trust = \"quorum\""), "{text}");
        let minority = text.replace("sender_trust = \"quorum\"", "sender_trust = \"minority\"");
        std::fs::write(&path, &minority).expect("write");
        let loaded = NodeConfig::load(&path).expect("minority loads");
        assert_eq!(
            loaded.consensus.expect("bft").sender_trust,
            ricaas_consensus::bft::SenderTrust::Minority
        );
        std::fs::write(&path, text.replace("sender_trust = \"quorum\"\n", "")).expect("write");
        let loaded = NodeConfig::load(&path).expect("a config without sender_trust loads");
        assert_eq!(
            loaded.consensus.expect("bft").sender_trust,
            ricaas_consensus::bft::SenderTrust::Quorum
        );
        std::fs::write(
            &path,
            text.replace("sender_trust = \"quorum\"", "sender_trust = \"some\""),
        )
        .expect("write");
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("sender_trust") || err.contains("minority"),
            "{err}"
        );
    }

    #[test]
    fn the_consortium_section_round_trips_and_bad_certificates_are_refused() {
        use ricaas_crypto::ca::{
            CertificateAuthority, IdentityKey, KeyAlgorithm, Role, certificate_pem,
        };
        let org1 = CertificateAuthority::new_root("org1", KeyAlgorithm::P256, 30).expect("CA");
        let org2 = CertificateAuthority::new_root("org2", KeyAlgorithm::Sm2, 30).expect("CA");
        let node_key = IdentityKey::generate(KeyAlgorithm::Ed25519);
        let node = org2
            .issue(
                "node0",
                Role::Node,
                node_key.public_key_info().expect("spki"),
                30,
            )
            .expect("node cert");
        let admin_key = IdentityKey::generate(KeyAlgorithm::Secp256k1);
        let admin = org1
            .issue(
                "admin",
                Role::Admin,
                admin_key.public_key_info().expect("spki"),
                30,
            )
            .expect("admin cert");
        let mut channel = ChannelConfig::development(7, vec![], 1_700_000_000_000);
        channel.consortium = Some(ConsortiumConfig {
            epoch_length: 25,
            readers: "ANY Members".into(),
            writers: "ANY Members".into(),
            contract_deployers: "ANY Admins".into(),
            admins: "MAJORITY Admins".into(),
            orgs: vec![
                OrgConfig {
                    name: "org1".into(),
                    ca_certificate: certificate_pem(org1.certificate()).expect("pem"),
                },
                OrgConfig {
                    name: "org2".into(),
                    ca_certificate: certificate_pem(org2.certificate()).expect("pem"),
                },
            ],
            validators: vec![certificate_pem(&node).expect("pem")],
            members: vec![certificate_pem(&admin).expect("pem")],
            validator_addresses: [(
                hex::encode(ricaas_crypto::ca::ed25519_key_of(&node).expect("ed25519")),
                SocketAddr::from(([10, 0, 0, 2], 9000)),
            )]
            .into_iter()
            .collect(),
            deployment: Default::default(),
        });
        let orgs = channel
            .consortium
            .as_ref()
            .map(|c| c.orgs.clone())
            .unwrap_or_default();
        let config = NodeConfig {
            data_dir: PathBuf::from("data"),
            rpc: RpcConfig::default(),
            consensus: None,
            network: Some(NetworkConfig {
                org: "org2".into(),
                channel_creation_policy: "ALL Admins".into(),
                orgs,
                members_from_channel: false,
            }),
            channel,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ricaas.toml");
        std::fs::write(&path, config.documented_toml()).expect("write");
        let loaded = NodeConfig::load(&path).expect("loads");
        assert_eq!(loaded.channel, config.channel);
        assert_eq!(loaded.network, config.network);
        // The recorded address reaches the genesis configuration of the chain.
        let genesis = config
            .channel
            .consortium
            .as_ref()
            .map(|c| c.consortium(&config.channel.name).expect("valid"))
            .expect("consortium");
        assert_eq!(
            genesis.state().validator_addresses.values().next(),
            Some(&SocketAddr::from(([10, 0, 0, 2], 9000)))
        );
        // The network section must name its own org among its orgs, and a parsable policy.
        for (field, value) in [("org", "org9"), ("policy", "SOME Admins")] {
            let mut bad = config.clone();
            if let Some(network) = bad.network.as_mut() {
                match field {
                    "org" => network.org = value.into(),
                    _ => network.channel_creation_policy = value.into(),
                }
            }
            std::fs::write(&path, bad.documented_toml()).expect("write");
            let err = NodeConfig::load(&path).unwrap_err().to_string();
            assert!(err.contains("network."), "{err}");
        }
        assert!(
            !loaded.rpc.anonymous_reads,
            "anonymous reads are off by default"
        );

        // A validator certificate issued by no member CA is refused at load, with the reason.
        let stranger = CertificateAuthority::new_root("org3", KeyAlgorithm::P256, 30).expect("CA");
        let foreign = stranger
            .issue(
                "node9",
                Role::Node,
                node_key.public_key_info().expect("spki"),
                30,
            )
            .expect("cert");
        let mut bad = config.clone();
        if let Some(consortium) = bad.channel.consortium.as_mut() {
            consortium.validators = vec![certificate_pem(&foreign).expect("pem")];
        }
        std::fs::write(&path, bad.documented_toml()).expect("write");
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("validator certificate 0: organization org3 is not a member"),
            "{err}"
        );
        // A policy naming a non-member organization is refused.
        let mut bad = config.clone();
        if let Some(consortium) = bad.channel.consortium.as_mut() {
            consortium.writers = "ANY org7.client".into();
        }
        std::fs::write(&path, bad.documented_toml()).expect("write");
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("Writers policy"), "{err}");
    }

    #[test]
    fn invalid_values_and_unknown_fields_are_refused_with_the_field_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ricaas.toml");
        let mut config = NodeConfig {
            data_dir: PathBuf::from("data"),
            rpc: RpcConfig::default(),
            consensus: None,
            network: None,
            channel: ChannelConfig::development(1, vec![], 0),
        };
        config.channel.chain_id = 0;
        std::fs::write(&path, config.documented_toml()).expect("write");
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("chain_id"), "{err}");
        std::fs::write(&path, "data_dir = \"x\"\nbogus = 1\n").expect("write");
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("bogus") || err.contains("unknown field"),
            "{err}"
        );
    }
}
