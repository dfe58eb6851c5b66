//! A member organization adds a validator of its own to a running network: the platform runs
//! a new node for it (its key and certificate from the organization's CA), which follows the
//! chain at once; the organization proposes it on chain (`proposeAddValidator`, signed by its
//! custodial admin key: its vote), the members vote, and it votes in consensus from the epoch
//! after the change applies.

use super::{
    Consensus, NetworkStatus, Node,
    genesis::{self, GenesisValidator},
    invitations::Proposal,
};
use crate::{
    accounts::{AccountsError, Platform},
    ids::{NetworkId, NodeId, TenantId},
    store::now_ms,
};
use alloy_primitives::Bytes;
use alloy_sol_types::SolCall as _;
use ricaas_node::{ChannelConfig, OrgConfig, ValidatorEntry};
use ricaas_primitives::system::{IGovernance, IMembership, MEMBERSHIP_ADDRESS};
use serde::Serialize;

/// Gas for a proposal carrying a node certificate.
const PROPOSE_GAS: u64 = 300_000;
/// Gas for listing or removing an observer (the contract charges 120,000).
const OBSERVER_GAS: u64 = 200_000;

/// A node added to a network, and the proposal that makes it a validator.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AddedValidator {
    pub node: Node,
    pub proposal: Proposal,
}

/// What removing a node did.
#[derive(Debug)]
pub enum NodeRemoval {
    /// It is gone.
    Removed,
    /// A validator: its removal from the validator set is proposed; the node goes once the
    /// members voted it out and the network runs without it.
    Proposed(Box<Proposal>),
}

impl Platform {
    /// Runs a new node of the caller's organization on `network` and proposes it as a
    /// validator, signed by the organization's `admin_key`.
    pub async fn add_validator(
        &self,
        tenant: &TenantId,
        network: &str,
        admin_key: &str,
    ) -> Result<AddedValidator, AccountsError> {
        let found = self.network(tenant, network).await?;
        let started = self.run_member_node(tenant, &found, "validator").await?;

        // The proposal, signed by the organization's admin key: its vote.
        let input: Bytes = IGovernance::proposeAddValidatorCall {
            nodeCertificate: Bytes::from(started.certificate_der.clone()),
            p2pAddress: started.p2p_address.clone(),
            effectiveHeight: 0,
        }
        .abi_encode()
        .into();
        let proposal = self
            .propose_raw(
                tenant,
                &found.id,
                "add_validator",
                &serde_json::json!({"node": started.name}),
                input,
                admin_key,
                PROPOSE_GAS,
            )
            .await?;
        let node = self.node_view(&found.id, &started.id).await?;
        let proposal = self
            .proposals(tenant, network, admin_key, None)
            .await?
            .into_iter()
            .find(|p| p.id == proposal)
            .ok_or_else(|| AccountsError::Corrupt(format!("proposal {proposal} vanished")))?;
        Ok(AddedValidator { node, proposal })
    }

    /// Runs a new node of the caller's organization on `network` as an observer: it follows
    /// the chain from genesis and serves JSON-RPC, never votes. The organization lists it on
    /// chain (`addObserver`, signed by its `admin_key`; no other member's vote is needed) so
    /// that the validators accept its connection. If the listing is refused, the node is
    /// stopped and removed again.
    pub async fn add_observer(
        &self,
        tenant: &TenantId,
        network: &str,
        admin_key: &str,
    ) -> Result<Node, AccountsError> {
        let found = self.network(tenant, network).await?;
        // The key must be able to sign before a node is started for it.
        self.key(tenant, admin_key).await?;
        let started = self.run_member_node(tenant, &found, "observer").await?;
        let input: Bytes = IMembership::addObserverCall {
            nodeCertificate: Bytes::from(started.certificate_der.clone()),
        }
        .abi_encode()
        .into();
        let listed = match self.governance_channel(&found.id).await {
            Ok(channel) => {
                self.system_call(
                    tenant,
                    &channel,
                    admin_key,
                    MEMBERSHIP_ADDRESS,
                    input,
                    OBSERVER_GAS,
                )
                .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = listed {
            self.discard_node(&found.id, &started.id).await;
            return Err(e);
        }
        self.node_view(&found.id, &started.id).await
    }

    async fn node_view(&self, network: &NetworkId, node: &NodeId) -> Result<Node, AccountsError> {
        self.network_by_id(network)
            .await?
            .nodes
            .into_iter()
            .find(|n| &n.id == node)
            .ok_or_else(|| AccountsError::Corrupt("node vanished".into()))
    }

    /// Stops a node the platform started and forgets it (best effort: used to undo a node
    /// whose on-chain part was refused).
    pub(crate) async fn discard_node(&self, network: &NetworkId, node: &NodeId) {
        if let Some(provisioner) = self.provisioner()
            && let Ok(launch) = self.launch_of(network, node).await
        {
            if let Err(e) = provisioner.stop(&launch.node).await {
                tracing::warn!(node = %node.as_str(), error = %e, "stopping a discarded node");
            }
            let _ = std::fs::remove_dir_all(&launch.dir);
        }
        if let Err(e) = self.forget_node(node).await {
            tracing::warn!(node = %node.as_str(), error = %e, "forgetting a discarded node");
        }
    }

    /// Deletes node `node`'s row and the records of the channels it joined.
    async fn forget_node(&self, node: &NodeId) -> Result<(), AccountsError> {
        let mut tx = self.store().pool().begin().await?;
        sqlx::query("DELETE FROM network_channel_nodes WHERE node_id = $1")
            .bind(node.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(node.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a new node of the caller's organization on a running BFT network the platform
    /// runs: a name, a directory, a node identity from the organization's CA, free ports, a
    /// configuration that reaches the known validators and knows every member organization.
    /// It follows the chain until the chain makes it a validator or lists it as an observer.
    async fn run_member_node(
        &self,
        tenant: &TenantId,
        found: &super::Network,
        role: &str,
    ) -> Result<StartedNode, AccountsError> {
        let network = &found.name;
        if found.status != NetworkStatus::Running {
            return Err(AccountsError::Conflict(format!(
                "network {network} is {}: add nodes once it runs",
                found.status.as_str()
            )));
        }
        if found.provisioner != "local" || found.consensus != Consensus::Bft {
            return Err(AccountsError::Conflict(format!(
                "network {network} is not a BFT network whose nodes this platform runs: add its nodes where it runs"
            )));
        }
        let provisioner = self.provisioner().cloned().ok_or_else(|| {
            AccountsError::Unavailable("this platform runs no nodes (no provisioner)".into())
        })?;
        let me = self.tenant_name(tenant).await?;
        let org = found
            .members
            .iter()
            .find(|m| m.tenant == me)
            .map(|m| m.org.clone())
            .ok_or_else(|| AccountsError::Corrupt("member without an organization".into()))?;
        let genesis: Option<String> =
            sqlx::query_scalar("SELECT genesis FROM networks WHERE id = $1")
                .bind(found.id.as_str())
                .fetch_one(self.store().pool())
                .await?;
        let channel: ChannelConfig = genesis
            .as_deref()
            .and_then(|g| serde_json::from_str(g).ok())
            .ok_or_else(|| AccountsError::Corrupt("running network without a genesis".into()))?;

        let taken = found
            .nodes
            .iter()
            .filter(|n| n.org == org && n.role == role)
            .count();
        let name = (taken..)
            .map(|i| format!("{org}-{role}{i}"))
            .find(|candidate| found.nodes.iter().all(|n| &n.name != candidate))
            .unwrap_or_else(|| format!("{org}-{role}{taken}"));
        let node = NodeId::generate();
        sqlx::query(
            "INSERT INTO nodes (id, network_id, tenant_id, name, role, managed, desired, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, 'running', $6)",
        )
        .bind(node.as_str())
        .bind(found.id.as_str())
        .bind(tenant.as_str())
        .bind(&name)
        .bind(role)
        .bind(now_ms())
        .execute(self.store().pool())
        .await
        .map_err(|e| crate::accounts::exists_or(e, "node", &name))?;
        let dir = provisioner.network_dir(found.id.as_str()).join(&name);
        let (certificate_pem, public_key) =
            self.issue_node_identity(tenant, &node, &name, &dir).await?;
        let ports = free_ports(2)?;
        let me_node = GenesisValidator {
            certificate_pem: certificate_pem.clone(),
            public_key,
            rpc_port: ports[0],
            p2p_port: ports[1],
        };
        let p2p_address = format!("127.0.0.1:{}", ports[1]);
        sqlx::query("UPDATE nodes SET rpc_url = $1, p2p_address = $2 WHERE id = $3")
            .bind(format!("http://127.0.0.1:{}", ports[0]))
            .bind(&p2p_address)
            .bind(node.as_str())
            .execute(self.store().pool())
            .await?;
        // It starts from the genesis validators (epoch 0's set; later ones and their
        // addresses it learns from the chain), and knows every member organization.
        let genesis_keys: Vec<String> = channel
            .consortium
            .iter()
            .flat_map(|c| &c.validators)
            .filter_map(|pem| ricaas_crypto::ca::certificate_from_pem(pem).ok())
            .filter_map(|c| ricaas_crypto::ca::ed25519_key_of(&c).map(hex::encode))
            .collect();
        let validators: Vec<ValidatorEntry> = found
            .nodes
            .iter()
            .filter(|n| {
                n.public_key
                    .as_ref()
                    .is_some_and(|key| genesis_keys.contains(key))
            })
            .filter_map(|n| {
                Some(ValidatorEntry {
                    public_key: n.public_key.clone()?,
                    address: n.p2p_address.as_deref()?.parse().ok()?,
                })
            })
            .collect();
        let mut orgs = Vec::new();
        for member in &found.members {
            let member_tenant: String =
                sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
                    .bind(&member.tenant)
                    .fetch_one(self.store().pool())
                    .await?;
            let ca = self.ca_info(&TenantId::from_stored(member_tenant)).await?;
            orgs.push(OrgConfig {
                name: member.org.clone(),
                ca_certificate: ca.certificate_pem,
            });
        }
        let text =
            genesis::node_config_with(&found.spec, &channel, &org, orgs, &me_node, validators);
        std::fs::write(dir.join(genesis::CONFIG_FILE), text).map_err(|e| {
            AccountsError::Unavailable(format!("writing the node's configuration: {e}"))
        })?;
        let launch = self.launch_of(&found.id, &node).await?;
        provisioner
            .ensure_running(launch)
            .await
            .map_err(|e| AccountsError::Unavailable(e.to_string()))?;
        let certificate = ricaas_crypto::ca::certificate_from_pem(&certificate_pem)
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
        let certificate_der = ricaas_crypto::ca::certificate_der(&certificate)
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
        Ok(StartedNode {
            id: node,
            name,
            certificate_der,
            p2p_address,
        })
    }
}

/// A node the platform just started for an organization.
struct StartedNode {
    id: NodeId,
    name: String,
    certificate_der: Vec<u8>,
    p2p_address: String,
}

fn free_ports(count: usize) -> Result<Vec<u16>, AccountsError> {
    super::local::free_ports(count)
        .map_err(|e| AccountsError::Unavailable(format!("picking free ports: {e}")))
}

/// A node an organization runs itself, as it registers it.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRegistration {
    /// 2–63 lowercase letters, digits and hyphens, unique in the network.
    pub name: String,
    /// `validator` or `observer`: what it serves as (a validator also needs the members' vote,
    /// proposed on chain).
    pub role: String,
    /// Base URL of its JSON-RPC server (`http://host:port`), where the platform reads its status.
    pub rpc_url: String,
    /// Where its p2p endpoint listens (`ip:port`).
    pub p2p_address: Option<String>,
    /// Its node certificate (PEM), issued by the organization's CA, holding its Ed25519 key.
    pub certificate_pem: String,
}

impl Platform {
    /// Registers a node the caller's organization runs outside the platform: checked against
    /// the organization's CA, then watched like the platform's own nodes (never started or
    /// stopped by it).
    pub async fn register_node(
        &self,
        tenant: &TenantId,
        network: &str,
        registration: NodeRegistration,
    ) -> Result<Node, AccountsError> {
        let found = self.network(tenant, network).await?;
        crate::accounts::check_name("node", &registration.name)?;
        if !matches!(registration.role.as_str(), "validator" | "observer") {
            return Err(AccountsError::Invalid(
                "role must be validator or observer".into(),
            ));
        }
        let url = registration.rpc_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 300 {
            return Err(AccountsError::Invalid(
                "rpc_url must be the http:// or https:// base URL of the node's JSON-RPC server"
                    .into(),
            ));
        }
        if let Some(address) = &registration.p2p_address
            && address.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(AccountsError::Invalid(format!(
                "p2p_address {address:?} is not an ip:port address"
            )));
        }
        let certificate = ricaas_crypto::ca::certificate_from_pem(&registration.certificate_pem)
            .map_err(|e| {
                AccountsError::Invalid(format!("certificate_pem is not a PEM certificate: {e}"))
            })?;
        let authority = self.authority(tenant).await?;
        ricaas_crypto::ca::verify_issued(
            authority.certificate(),
            &certificate,
            std::time::SystemTime::now(),
            &[],
        )
        .map_err(|e| {
            AccountsError::Invalid(format!(
                "the certificate is not a valid identity of your organization: {e}"
            ))
        })?;
        if ricaas_crypto::ca::role_of(&certificate) != Some(ricaas_crypto::ca::Role::Node) {
            return Err(AccountsError::Invalid(
                "the certificate is not a node certificate (OU=node)".into(),
            ));
        }
        let public_key = ricaas_crypto::ca::ed25519_key_of(&certificate)
            .map(hex::encode)
            .ok_or_else(|| {
                AccountsError::Invalid("a node certificate holds an Ed25519 key".into())
            })?;
        let node = NodeId::generate();
        sqlx::query(
            "INSERT INTO nodes (id, network_id, tenant_id, name, role, managed, rpc_url, p2p_address, \
             public_key, certificate_serial, desired, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, 'running', $10)",
        )
        .bind(node.as_str())
        .bind(found.id.as_str())
        .bind(tenant.as_str())
        .bind(&registration.name)
        .bind(&registration.role)
        .bind(url)
        .bind(&registration.p2p_address)
        .bind(&public_key)
        .bind(ricaas_crypto::ca::serial_hex(&certificate))
        .bind(now_ms())
        .execute(self.store().pool())
        .await
        .map_err(|e| crate::accounts::exists_or(e, "node", &registration.name))?;
        self.network_by_id(&found.id)
            .await?
            .nodes
            .into_iter()
            .find(|n| n.id == node)
            .ok_or_else(|| AccountsError::Corrupt("node vanished".into()))
    }

    /// Whether removing `node` signs a transaction with the organization's admin key (an
    /// observer the platform runs is unlisted on chain; the removal of a validator it runs is
    /// proposed).
    pub async fn node_signs_removal(
        &self,
        tenant: &TenantId,
        network: &str,
        node: &str,
    ) -> Result<bool, AccountsError> {
        let (_, target) = self.own_node(tenant, network, node).await?;
        Ok(target.managed)
    }

    /// Removes a node of the caller's organization. A registered node (one it runs itself) is
    /// forgotten. An observer the platform runs is removed from the channel's observer list
    /// (signed by `admin_key`; the validators drop its connection), then stopped and deleted.
    /// A validator the platform runs leaves the validator set by governance: its removal is
    /// proposed (signed by `admin_key`: the organization's vote), and once the members voted
    /// it out and the next epoch runs without it, the platform stops and deletes it.
    pub async fn remove_node(
        &self,
        tenant: &TenantId,
        network: &str,
        node: &str,
        admin_key: &str,
    ) -> Result<NodeRemoval, AccountsError> {
        let (found, target) = self.own_node(tenant, network, node).await?;
        if target.managed && target.role == "validator" {
            let proposal = self
                .propose_change(
                    tenant,
                    network,
                    super::invitations::ChangeRequest::RemoveValidator { node: node.into() },
                    admin_key,
                    None,
                )
                .await?;
            return Ok(NodeRemoval::Proposed(Box::new(proposal)));
        }
        if target.managed {
            if let Some(key) = target.public_key.as_deref() {
                let key: alloy_primitives::B256 = format!("0x{key}")
                    .parse()
                    .map_err(|_| AccountsError::Corrupt(format!("node key {key}")))?;
                let channel = self.governance_channel(&found.id).await?;
                let input: Bytes = IMembership::removeObserverCall { nodeKey: key }
                    .abi_encode()
                    .into();
                match self
                    .system_call(
                        tenant,
                        &channel,
                        admin_key,
                        MEMBERSHIP_ADDRESS,
                        input,
                        OBSERVER_GAS,
                    )
                    .await
                {
                    Ok(_) => {}
                    // Never listed (its listing failed) or already removed: nothing to undo.
                    Err(AccountsError::Conflict(reason))
                        if reason.contains("is not an observer") => {}
                    Err(e) => return Err(e),
                }
            }
            self.discard_node(&found.id, &target.id).await;
            return Ok(NodeRemoval::Removed);
        }
        self.forget_node(&target.id).await?;
        Ok(NodeRemoval::Removed)
    }
}
