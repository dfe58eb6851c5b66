//! Channels created on a running network from members' accounts. A member proposes one (its
//! members, validators and policies); the platform writes its genesis configuration once and
//! every member organization approves that exact text from its own account (its custodial admin
//! key signs it, as `ricaas channel sign` would). Once the signatures satisfy the network's
//! channel-creation policy (every member's admins, as the platform's node configurations say),
//! the platform asks each validator node to join through its admin API, with a token signed by
//! the node's own organization — which consented by approving. The platform never signs for an
//! organization that did not approve.

use super::{NetworkStatus, reconciler::ADMIN_KEY};
use crate::{
    accounts::{AccountsError, Platform},
    ids::{NetworkId, TenantId},
    keystore::Scheme,
    store::now_ms,
};
use ricaas_node::{
    ChannelConfig, ConfigSignature, ConsortiumConfig, CreationError, NetworkConfig, OrgConfig,
    SignedChannelConfig,
};
use serde::{Deserialize, Serialize};

/// The channel-creation policy the platform writes into every node's configuration.
const CREATION_POLICY: &str = "ALL Admins";

/// A channel as a member proposes it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelRequest {
    /// 2–63 lowercase letters, digits and hyphens, unique in the network.
    pub name: String,
    /// Its chain id (default: the network's first channel's plus the number of channels).
    pub chain_id: Option<u64>,
    /// Member organizations (the proposer's is added if missing).
    pub members: Vec<String>,
    /// Validator nodes (by name) of member organizations (default: all of them).
    pub validators: Option<Vec<String>>,
    pub readers: Option<String>,
    pub writers: Option<String>,
    pub contract_deployers: Option<String>,
    pub admins: Option<String>,
    /// The proposer's custodial admin key that signs its approval (default `admin`).
    pub admin_key: Option<String>,
}

/// The four policies of a channel.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelPolicies {
    pub readers: String,
    pub writers: String,
    pub contract_deployers: String,
    pub admins: String,
}

/// A channel of a network: who is in it, who approved it, which nodes serve it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct NetworkChannel {
    pub network: String,
    pub name: String,
    pub chain_id: u64,
    /// `approving` (waiting for members), `joining` (approved; validators being joined),
    /// `running`, or `failed` (see `message`).
    pub status: String,
    pub message: Option<String>,
    /// The organization that proposed it (`null` for the network's first channel).
    pub proposer: Option<String>,
    pub members: Vec<String>,
    /// Validator nodes, by name.
    pub validators: Vec<String>,
    /// Observer nodes, by name (the first channel's; a created channel has none yet).
    pub observers: Vec<String>,
    pub policies: ChannelPolicies,
    /// Organizations that approved its configuration, and those still to approve.
    pub approvals: Vec<String>,
    pub waiting_for: Vec<String>,
    /// Validator nodes that serve it.
    pub joined: Vec<String>,
    pub created_at: i64,
}

type ChannelRow = (
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
);

impl Platform {
    /// Proposes a channel on `network`; the proposer's approval is signed at once.
    pub async fn propose_channel(
        &self,
        tenant: &TenantId,
        network: &str,
        request: ChannelRequest,
    ) -> Result<NetworkChannel, AccountsError> {
        let found = self.network(tenant, network).await?;
        crate::accounts::check_name("channel", &request.name)?;
        if found.status != NetworkStatus::Running {
            return Err(AccountsError::Conflict(format!(
                "network {network} is {}: create channels once it runs",
                found.status.as_str()
            )));
        }
        if found.consensus != super::Consensus::Bft || found.provisioner != "local" {
            return Err(AccountsError::Conflict(format!(
                "network {network} is not a BFT network whose nodes this platform runs"
            )));
        }
        if request.name == found.spec.channel.name {
            return Err(AccountsError::Conflict(format!(
                "channel {} is network {network}'s first channel",
                request.name
            )));
        }
        let me = self.tenant_name(tenant).await?;
        let my_org = found
            .members
            .iter()
            .find(|m| m.tenant == me)
            .map(|m| m.org.clone())
            .ok_or_else(|| AccountsError::Corrupt("member without an organization".into()))?;
        let mut members = vec![my_org.clone()];
        for org in &request.members {
            if !found.members.iter().any(|m| &m.org == org) {
                return Err(AccountsError::Invalid(format!(
                    "{org} is not a member of network {network}: members are {}",
                    found
                        .members
                        .iter()
                        .map(|m| m.org.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if !members.contains(org) {
                members.push(org.clone());
            }
        }
        let candidates: Vec<&super::Node> = found
            .nodes
            .iter()
            .filter(|n| n.role == "validator" && n.managed && members.contains(&n.org))
            .collect();
        let validators: Vec<&super::Node> = match &request.validators {
            None => candidates.clone(),
            Some(names) => names
                .iter()
                .map(|name| {
                    candidates
                        .iter()
                        .find(|n| &n.name == name)
                        .copied()
                        .ok_or_else(|| {
                            AccountsError::Invalid(format!(
                                "{name} is not a validator node the platform runs for a member of the channel"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        if validators.is_empty() {
            return Err(AccountsError::Invalid(
                "a channel needs at least one validator node of its members".into(),
            ));
        }
        let taken: Vec<i64> =
            sqlx::query_scalar("SELECT chain_id FROM network_channels WHERE network_id = $1")
                .bind(found.id.as_str())
                .fetch_all(self.store().pool())
                .await?;
        let chain_id = request
            .chain_id
            .unwrap_or(found.spec.channel.chain_id + 1 + taken.len() as u64);
        if chain_id == found.spec.channel.chain_id || taken.contains(&(chain_id as i64)) {
            return Err(AccountsError::Conflict(format!(
                "chain id {chain_id} is used by another channel of network {network}: a transaction signed for one must not be valid on another"
            )));
        }

        // The genesis: member CAs, validator certificates and addresses, every member's admin
        // certificate enrolled from the first block.
        let mut orgs = Vec::new();
        let mut admins = Vec::new();
        for org in &members {
            let member = self.member_tenant(&found.id, org).await?;
            let ca = self.ca_info(&member).await?;
            orgs.push(OrgConfig {
                name: org.clone(),
                ca_certificate: ca.certificate_pem,
            });
            if let Some(admin) = self.admin_certificate(&member).await? {
                admins.push(admin);
            }
        }
        let mut certificates = Vec::new();
        let mut addresses = std::collections::BTreeMap::new();
        for node in &validators {
            let (certificate,): (String,) = sqlx::query_as(
                "SELECT c.certificate FROM certificates c JOIN nodes n \
                 ON c.tenant_id = n.tenant_id AND c.serial = n.certificate_serial WHERE n.id = $1",
            )
            .bind(node.id.as_str())
            .fetch_one(self.store().pool())
            .await?;
            certificates.push(certificate);
            if let (Some(key), Some(address)) = (&node.public_key, &node.p2p_address) {
                let address = address
                    .parse()
                    .map_err(|_| AccountsError::Corrupt(format!("p2p address {address}")))?;
                addresses.insert(key.clone(), address);
            }
        }
        let mut config = ChannelConfig::development(chain_id, Vec::new(), now_ms() as u64);
        config.name = ricaas_primitives::ChannelId::new(&request.name)
            .map_err(|e| AccountsError::Invalid(format!("channel name: {e}")))?;
        config.block_interval_ms = found.spec.block_interval_ms;
        let spec = &found.spec.channel;
        config.consortium = Some(ConsortiumConfig {
            readers: request.readers.unwrap_or_else(|| spec.readers.clone()),
            writers: request.writers.unwrap_or_else(|| spec.writers.clone()),
            contract_deployers: request
                .contract_deployers
                .unwrap_or_else(|| spec.contract_deployers.clone()),
            admins: request.admins.unwrap_or_else(|| spec.admins.clone()),
            orgs,
            validators: certificates,
            members: admins,
            epoch_length: found.spec.epoch_length,
            validator_addresses: addresses,
            deployment: Default::default(),
        });
        let document = SignedChannelConfig::new(&config).map_err(invalid)?;
        document.channel_config().map_err(invalid)?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO network_channels (network_id, name, chain_id, proposer_tenant_id, config, \
             members, validators, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'approving', $8, $8)",
        )
        .bind(found.id.as_str())
        .bind(&request.name)
        .bind(chain_id as i64)
        .bind(tenant.as_str())
        .bind(&document.config)
        .bind(serde_json::to_string(&members).unwrap_or_default())
        .bind(
            serde_json::to_string(&validators.iter().map(|n| &n.name).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .bind(now)
        .execute(self.store().pool())
        .await
        .map_err(|e| crate::accounts::exists_or(e, "channel", &request.name))?;
        let admin_key = request.admin_key.unwrap_or_else(|| ADMIN_KEY.into());
        self.approve_channel(tenant, network, &request.name, &admin_key)
            .await
    }

    /// The organization `tenant`'s `admin_key` approves channel `channel` of `network`: it
    /// signs the channel's configuration. Once every member approved, its validators join.
    pub async fn approve_channel(
        &self,
        tenant: &TenantId,
        network: &str,
        channel: &str,
        admin_key: &str,
    ) -> Result<NetworkChannel, AccountsError> {
        let found = self.network(tenant, network).await?;
        let me = self.tenant_name(tenant).await?;
        let my_org = found
            .members
            .iter()
            .find(|m| m.tenant == me)
            .map(|m| m.org.clone())
            .ok_or_else(|| AccountsError::Corrupt("member without an organization".into()))?;
        let view = self.channel_view(&found, channel).await?;
        if !view.members.contains(&my_org) {
            return Err(AccountsError::Conflict(format!(
                "{my_org} is not a member of channel {channel}: only its members approve it"
            )));
        }
        if view.approvals.contains(&my_org) {
            return Err(AccountsError::Conflict(format!(
                "{my_org} already approved channel {channel}"
            )));
        }
        let certificate = self
            .admin_certificate_of_key(tenant, admin_key)
            .await?
            .ok_or_else(|| {
                AccountsError::Invalid(format!(
                    "key {admin_key} has no valid admin certificate of {my_org}: issue one for it first"
                ))
            })?;
        let (config,): (String,) = sqlx::query_as(
            "SELECT config FROM network_channels WHERE network_id = $1 AND name = $2",
        )
        .bind(found.id.as_str())
        .bind(channel)
        .fetch_one(self.store().pool())
        .await?;
        let document = SignedChannelConfig {
            config,
            signatures: Vec::new(),
        };
        let signature = self
            .sign_unbounded(
                tenant,
                admin_key,
                &document.signing_payload(),
                Scheme::Document,
            )
            .await?;
        sqlx::query(
            "INSERT INTO network_channel_approvals (network_id, channel, org, tenant_id, key_name, \
             certificate, signature, approved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(found.id.as_str())
        .bind(channel)
        .bind(&my_org)
        .bind(tenant.as_str())
        .bind(admin_key)
        .bind(&certificate)
        .bind(signature.signature.trim_start_matches("0x"))
        .bind(now_ms())
        .execute(self.store().pool())
        .await
        .map_err(|e| crate::accounts::exists_or(e, "approval", channel))?;
        self.advance_channel(&found.id, channel).await?;
        let found = self.network(tenant, network).await?;
        self.channel_view(&found, channel).await
    }

    /// The channels of `network`: its first channel and those created on it.
    pub async fn network_channels(
        &self,
        tenant: &TenantId,
        network: &str,
    ) -> Result<Vec<NetworkChannel>, AccountsError> {
        let found = self.network(tenant, network).await?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM network_channels WHERE network_id = $1 ORDER BY created_at",
        )
        .bind(found.id.as_str())
        .fetch_all(self.store().pool())
        .await?;
        let mut channels = vec![first_channel(&found)];
        for name in names {
            channels.push(self.channel_view(&found, &name).await?);
        }
        // What governance changed since: members, validators, observers and policies as each
        // running channel's configuration holds them now (the stored genesis if unreadable).
        for channel in &mut channels {
            if channel.status != "running" {
                continue;
            }
            match self
                .current_configuration(tenant, &found, &channel.name)
                .await
            {
                Ok(current) => apply_current(channel, &current, &found),
                Err(e) => {
                    tracing::debug!(channel = %channel.name, error = %e, "reading a channel's configuration")
                }
            }
        }
        Ok(channels)
    }

    /// The governance contract's `configuration()` of `channel`, read as the caller's
    /// organization (its admin key signs the read token).
    pub(crate) async fn current_configuration(
        &self,
        tenant: &TenantId,
        found: &super::Network,
        channel: &str,
    ) -> Result<serde_json::Value, AccountsError> {
        use alloy_sol_types::SolCall as _;
        use ricaas_primitives::system::{GOVERNANCE_ADDRESS, IGovernance};
        let (channel, _) = self.proposal_channel(found, Some(channel)).await?;
        let output = self
            .system_view(
                tenant,
                &channel,
                ADMIN_KEY,
                GOVERNANCE_ADDRESS,
                IGovernance::configurationCall {}.abi_encode().into(),
            )
            .await?;
        let json = IGovernance::configurationCall::abi_decode_returns(&output)
            .map_err(|e| AccountsError::Unavailable(format!("channel configuration: {e}")))?;
        serde_json::from_str(&json)
            .map_err(|e| AccountsError::Unavailable(format!("channel configuration: {e}")))
    }

    /// Follows channels whose validators are still to join (after a failed join or a restart).
    pub(crate) async fn sync_channels(&self) -> Result<(), AccountsError> {
        let pending: Vec<(String, String)> = sqlx::query_as(
            "SELECT network_id, name FROM network_channels WHERE status = 'joining'",
        )
        .fetch_all(self.store().pool())
        .await?;
        for (network, name) in pending {
            if let Err(e) = self
                .advance_channel(&NetworkId::from_stored(network), &name)
                .await
            {
                tracing::warn!(channel = %name, error = %e, "joining a channel's validators");
            }
        }
        Ok(())
    }

    /// Once the approvals satisfy the creation policy, joins every validator node not serving
    /// the channel yet; once all do, registers it with the platform and marks it running.
    async fn advance_channel(
        &self,
        network: &NetworkId,
        channel: &str,
    ) -> Result<(), AccountsError> {
        let found = self.network_by_id(network).await?;
        let (config, members, validators, status): (String, String, String, String) =
            sqlx::query_as(
                "SELECT config, members, validators, status FROM network_channels \
                 WHERE network_id = $1 AND name = $2",
            )
            .bind(network.as_str())
            .bind(channel)
            .fetch_one(self.store().pool())
            .await?;
        if status == "running" {
            return Ok(());
        }
        let members: Vec<String> = serde_json::from_str(&members).unwrap_or_default();
        let validators: Vec<String> = serde_json::from_str(&validators).unwrap_or_default();
        let approvals: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT org, certificate, signature FROM network_channel_approvals \
             WHERE network_id = $1 AND channel = $2 ORDER BY approved_at",
        )
        .bind(network.as_str())
        .bind(channel)
        .fetch_all(self.store().pool())
        .await?;
        let signed = SignedChannelConfig {
            config,
            signatures: approvals
                .iter()
                .map(|(_, certificate, signature)| ConfigSignature {
                    certificate: certificate.clone(),
                    signature: signature.clone(),
                })
                .collect(),
        };
        let mut orgs = Vec::new();
        for org in &members {
            let member = self.member_tenant(network, org).await?;
            orgs.push(OrgConfig {
                name: org.clone(),
                ca_certificate: self.ca_info(&member).await?.certificate_pem,
            });
        }
        let policy = NetworkConfig {
            org: members.first().cloned().unwrap_or_default(),
            channel_creation_policy: CREATION_POLICY.into(),
            orgs,
            members_from_channel: false,
        };
        match signed.verify(&policy) {
            Ok(_) => {}
            Err(CreationError::PolicyNotMet { .. }) => return Ok(()),
            Err(e) => {
                self.set_channel_status(network, channel, "failed", Some(&e.to_string()))
                    .await?;
                return Ok(());
            }
        }
        self.set_channel_status(network, channel, "joining", None)
            .await?;
        let joined: Vec<String> = sqlx::query_scalar(
            "SELECT node_id FROM network_channel_nodes WHERE network_id = $1 AND channel = $2",
        )
        .bind(network.as_str())
        .bind(channel)
        .fetch_all(self.store().pool())
        .await?;
        let mut failures = Vec::new();
        for name in &validators {
            let Some(node) = found.nodes.iter().find(|n| &n.name == name) else {
                failures.push(format!("node {name} is gone"));
                continue;
            };
            if joined.iter().any(|id| id == node.id.as_str()) {
                continue;
            }
            match self.join_node(network, node, &signed).await {
                Ok(()) => {
                    sqlx::query(
                        "INSERT INTO network_channel_nodes (network_id, channel, node_id, joined_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(network.as_str())
                    .bind(channel)
                    .bind(node.id.as_str())
                    .bind(now_ms())
                    .execute(self.store().pool())
                    .await?;
                }
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        if !failures.is_empty() {
            let message = format!("joining validators (retried): {}", failures.join("; "));
            return self
                .set_channel_status(network, channel, "joining", Some(&message))
                .await;
        }
        let first = validators
            .first()
            .and_then(|name| found.nodes.iter().find(|n| &n.name == name))
            .and_then(|n| n.rpc_url.clone())
            .ok_or_else(|| AccountsError::Corrupt("a channel without a validator".into()))?;
        match self
            .register_channel(&found.name, channel, &format!("{first}/channels/{channel}"))
            .await
        {
            Ok(_) | Err(AccountsError::Exists { .. }) => {}
            Err(e) => return Err(e),
        }
        self.set_channel_status(network, channel, "running", None)
            .await
    }

    /// Asks `node` to join the channel, with an admin token its own organization's admin key
    /// signs (that organization approved the channel: its consent).
    async fn join_node(
        &self,
        network: &NetworkId,
        node: &super::Node,
        signed: &SignedChannelConfig,
    ) -> Result<(), AccountsError> {
        let owner = self.member_tenant(network, &node.org).await?;
        let (key_name,): (String,) = sqlx::query_as(
            "SELECT key_name FROM network_channel_approvals a JOIN network_channels c \
             ON a.network_id = c.network_id AND a.channel = c.name \
             WHERE a.network_id = $1 AND a.org = $2 AND c.config = $3",
        )
        .bind(network.as_str())
        .bind(&node.org)
        .bind(&signed.config)
        .fetch_one(self.store().pool())
        .await?;
        let certificate = self
            .admin_certificate_of_key(&owner, &key_name)
            .await?
            .ok_or_else(|| {
                AccountsError::Conflict(format!(
                    "{}'s approving key {key_name} has no valid admin certificate any more",
                    node.org
                ))
            })?;
        let (Some(node_key), Some(rpc_url)) = (&node.public_key, &node.rpc_url) else {
            return Err(AccountsError::Corrupt(format!(
                "node {} has no key or address",
                node.name
            )));
        };
        let expires = crate::chain::unix_seconds() + 300;
        let statement = ricaas_crypto::token::admin_token_statement(node_key, expires);
        let signature = self
            .sign_unbounded(&owner, &key_name, statement.as_bytes(), Scheme::Document)
            .await?;
        let der: Vec<u8> = ricaas_crypto::ca::certificate_from_pem(&certificate)
            .map_err(|e| AccountsError::Corrupt(e.to_string()))
            .and_then(|c| {
                ricaas_crypto::ca::certificate_der(&c)
                    .map_err(|e| AccountsError::Corrupt(e.to_string()))
            })?;
        let signature = hex::decode(signature.signature.trim_start_matches("0x"))
            .map_err(|_| AccountsError::Corrupt("keystore signature".into()))?;
        let token = ricaas_crypto::token::admin_token_from_signature(&der, expires, &signature);
        match crate::chain::admin_call(rpc_url, &token, "admin_joinChannel", signed).await {
            Ok(_) => Ok(()),
            Err(AccountsError::Conflict(reason)) if reason.contains("already serves it") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn set_channel_status(
        &self,
        network: &NetworkId,
        channel: &str,
        status: &str,
        message: Option<&str>,
    ) -> Result<(), AccountsError> {
        sqlx::query(
            "UPDATE network_channels SET status = $1, message = $2, updated_at = $3 \
             WHERE network_id = $4 AND name = $5",
        )
        .bind(status)
        .bind(message)
        .bind(now_ms())
        .bind(network.as_str())
        .bind(channel)
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// The tenant that holds organization `org` in `network`.
    async fn member_tenant(
        &self,
        network: &NetworkId,
        org: &str,
    ) -> Result<TenantId, AccountsError> {
        let tenant: Option<String> = sqlx::query_scalar(
            "SELECT tenant_id FROM network_members WHERE network_id = $1 AND org = $2",
        )
        .bind(network.as_str())
        .bind(org)
        .fetch_optional(self.store().pool())
        .await?;
        tenant
            .map(TenantId::from_stored)
            .ok_or_else(|| AccountsError::Invalid(format!("{org} is not a member of the network")))
    }

    async fn channel_view(
        &self,
        found: &super::Network,
        channel: &str,
    ) -> Result<NetworkChannel, AccountsError> {
        let row: Option<ChannelRow> = sqlx::query_as(
            "SELECT name, chain_id, proposer_tenant_id, config, members, validators, status, message, \
             created_at FROM network_channels WHERE network_id = $1 AND name = $2",
        )
        .bind(found.id.as_str())
        .bind(channel)
        .fetch_optional(self.store().pool())
        .await?;
        let Some((
            name,
            chain_id,
            proposer,
            config,
            members,
            validators,
            status,
            message,
            created_at,
        )) = row
        else {
            return Err(AccountsError::NotFound {
                what: "channel",
                name: format!("{}/{channel}", found.name),
            });
        };
        let members: Vec<String> = serde_json::from_str(&members).unwrap_or_default();
        let approvals: Vec<String> = sqlx::query_scalar(
            "SELECT org FROM network_channel_approvals WHERE network_id = $1 AND channel = $2 \
             ORDER BY approved_at",
        )
        .bind(found.id.as_str())
        .bind(channel)
        .fetch_all(self.store().pool())
        .await?;
        let joined_ids: Vec<String> = sqlx::query_scalar(
            "SELECT node_id FROM network_channel_nodes WHERE network_id = $1 AND channel = $2",
        )
        .bind(found.id.as_str())
        .bind(channel)
        .fetch_all(self.store().pool())
        .await?;
        let proposer_name = self
            .tenant_name(&TenantId::from_stored(proposer))
            .await
            .ok();
        let proposer = found
            .members
            .iter()
            .find(|m| Some(&m.tenant) == proposer_name.as_ref())
            .map(|m| m.org.clone());
        let consortium = serde_json::from_str::<ChannelConfig>(&config)
            .ok()
            .and_then(|c| c.consortium);
        let policies = consortium.map_or_else(
            || ChannelPolicies {
                readers: String::new(),
                writers: String::new(),
                contract_deployers: String::new(),
                admins: String::new(),
            },
            |c| ChannelPolicies {
                readers: c.readers,
                writers: c.writers,
                contract_deployers: c.contract_deployers,
                admins: c.admins,
            },
        );
        Ok(NetworkChannel {
            network: found.name.clone(),
            name,
            chain_id: chain_id as u64,
            status,
            message,
            proposer,
            waiting_for: members
                .iter()
                .filter(|m| !approvals.contains(m))
                .cloned()
                .collect(),
            members,
            validators: serde_json::from_str(&validators).unwrap_or_default(),
            observers: Vec::new(),
            policies,
            approvals,
            joined: found
                .nodes
                .iter()
                .filter(|n| joined_ids.iter().any(|id| id == n.id.as_str()))
                .map(|n| n.name.clone())
                .collect(),
            created_at,
        })
    }
}

/// Overwrites what a channel's stored description says with its current configuration.
fn apply_current(
    channel: &mut NetworkChannel,
    current: &serde_json::Value,
    found: &super::Network,
) {
    let names = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .filter_map(|node| {
                        let key = node["key"].as_str()?;
                        Some(
                            found
                                .nodes
                                .iter()
                                .find(|n| n.public_key.as_deref() == Some(key))
                                .map(|n| n.name.clone())
                                .unwrap_or_else(|| {
                                    format!(
                                        "{} node {}…",
                                        node["org"].as_str().unwrap_or("?"),
                                        &key[..key.len().min(12)]
                                    )
                                }),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(orgs) = current["orgs"].as_array() {
        channel.members = orgs
            .iter()
            .filter_map(|o| o.as_str().map(str::to_owned))
            .collect();
    }
    channel.validators = names(&current["validators"]);
    channel.observers = names(&current["observers"]);
    let policy = |name: &str, fallback: &str| {
        current["policies"][name]
            .as_str()
            .unwrap_or(fallback)
            .to_owned()
    };
    channel.policies = ChannelPolicies {
        readers: policy("readers", &channel.policies.readers),
        writers: policy("writers", &channel.policies.writers),
        contract_deployers: policy("contract_deployers", &channel.policies.contract_deployers),
        admins: policy("admins", &channel.policies.admins),
    };
}

/// The network's first channel, as its specification and nodes describe it.
fn first_channel(found: &super::Network) -> NetworkChannel {
    let spec = &found.spec.channel;
    let nodes = |role: &str| -> Vec<String> {
        found
            .nodes
            .iter()
            .filter(|n| n.role == role)
            .map(|n| n.name.clone())
            .collect()
    };
    NetworkChannel {
        network: found.name.clone(),
        name: spec.name.clone(),
        chain_id: spec.chain_id,
        status: found.status.as_str().to_owned(),
        message: None,
        proposer: None,
        members: found.members.iter().map(|m| m.org.clone()).collect(),
        validators: nodes("validator"),
        observers: nodes("observer"),
        policies: ChannelPolicies {
            readers: spec.readers.clone(),
            writers: spec.writers.clone(),
            contract_deployers: spec.contract_deployers.clone(),
            admins: spec.admins.clone(),
        },
        approvals: Vec::new(),
        waiting_for: Vec::new(),
        joined: nodes("validator"),
        created_at: found.created_at,
    }
}

fn invalid(e: CreationError) -> AccountsError {
    AccountsError::Invalid(e.to_string())
}
