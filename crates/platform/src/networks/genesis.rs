//! The genesis of a network the platform creates, and each node's configuration file: the
//! files an operator would write by hand, written from the network's stored desired state.

use super::{Consensus, NetworkSpec};
use ricaas_node::{
    BftConfig, ChannelConfig, ConsortiumConfig, NetworkConfig, NodeConfig, OrgConfig, RpcConfig,
    ValidatorEntry,
};
use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
};

/// Name of each node's configuration file in its directory.
pub const CONFIG_FILE: &str = "ricaas.toml";
/// Name of each node's private key file (PKCS#8, mode 0600) in its directory.
pub const KEY_FILE: &str = "key.pem";
/// Name of each node's certificate file in its directory.
pub const CERTIFICATE_FILE: &str = "cert.pem";

/// The creating organization, as the genesis names it.
pub struct GenesisOrg {
    pub name: String,
    pub ca_certificate_pem: String,
    pub admin_certificate_pem: String,
}

/// A validator of the genesis: its certificate, key and where it listens.
pub struct GenesisValidator {
    pub certificate_pem: String,
    /// Ed25519 public key, hex.
    pub public_key: String,
    pub rpc_port: u16,
    pub p2p_port: u16,
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The channel configuration every node of the network starts from.
pub fn channel_config(
    spec: &NetworkSpec,
    org: &GenesisOrg,
    validators: &[GenesisValidator],
    genesis_timestamp_ms: u64,
) -> Result<ChannelConfig, String> {
    let mut channel =
        ChannelConfig::development(spec.channel.chain_id, Vec::new(), genesis_timestamp_ms);
    channel.name = ricaas_primitives::ChannelId::new(&spec.channel.name)
        .map_err(|e| format!("channel name: {e}"))?;
    channel.block_interval_ms = spec.block_interval_ms;
    channel.consortium = Some(ConsortiumConfig {
        readers: spec.channel.readers.clone(),
        writers: spec.channel.writers.clone(),
        contract_deployers: spec.channel.contract_deployers.clone(),
        admins: spec.channel.admins.clone(),
        orgs: vec![OrgConfig {
            name: org.name.clone(),
            ca_certificate: org.ca_certificate_pem.clone(),
        }],
        validators: validators
            .iter()
            .map(|v| v.certificate_pem.clone())
            .collect(),
        members: vec![org.admin_certificate_pem.clone()],
        epoch_length: spec.epoch_length,
        validator_addresses: validators
            .iter()
            .map(|v| (v.public_key.clone(), loopback(v.p2p_port)))
            .collect(),
        deployment: Default::default(),
    });
    Ok(channel)
}

/// The configuration file of validator `index` of `validators` (the genesis validators).
pub fn node_config(
    spec: &NetworkSpec,
    channel: &ChannelConfig,
    org: &str,
    validators: &[GenesisValidator],
    index: usize,
) -> Result<String, String> {
    let me = validators
        .get(index)
        .ok_or_else(|| format!("no validator {index}"))?;
    let orgs = channel
        .consortium
        .as_ref()
        .map(|c| c.orgs.clone())
        .unwrap_or_default();
    let entries = validators
        .iter()
        .map(|v| ValidatorEntry {
            public_key: v.public_key.clone(),
            address: loopback(v.p2p_port).into(),
        })
        .collect();
    Ok(node_config_with(spec, channel, org, orgs, me, entries))
}

/// The configuration file of a node of `org` that listens where `me` says, knows the network's
/// organizations `orgs` (name and CA) and reaches the channel's validators at `validators`
/// (a node added after genesis: it follows the chain, and votes once governance makes it a
/// validator).
pub fn node_config_with(
    spec: &NetworkSpec,
    channel: &ChannelConfig,
    org: &str,
    orgs: Vec<OrgConfig>,
    me: &GenesisValidator,
    validators: Vec<ValidatorEntry>,
) -> String {
    let config = NodeConfig {
        data_dir: PathBuf::from("data"),
        rpc: RpcConfig {
            listen: loopback(me.rpc_port),
            ..RpcConfig::default()
        },
        channel: channel.clone(),
        consensus: match spec.consensus {
            Consensus::Solo => None,
            Consensus::Bft => Some(BftConfig::local(
                PathBuf::from(KEY_FILE),
                loopback(me.p2p_port),
                validators,
            )),
        },
        network: match spec.consensus {
            Consensus::Solo => None,
            Consensus::Bft => Some(NetworkConfig {
                org: org.to_string(),
                channel_creation_policy: "ALL Admins".into(),
                orgs,
                // Organizations join by governance on the first channel after this is written.
                members_from_channel: true,
            }),
        },
    };
    config.documented_toml()
}
