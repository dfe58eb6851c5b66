//! Joining a network, each organization acting from its own account: a member invites a
//! tenant; the invitee accepts (its CA, admin key and admin certificate are made if it has
//! none) or declines; a member proposes on chain to add the organization (its custodial admin
//! key signs `IGovernance.proposeAddOrg`, which counts as its vote); every member votes from its
//! own account (its admin key signs `vote`) until the channel's Admins policy holds; once the
//! change applies on chain, the invitee is a member here too. Proposals expire on chain.

use super::{NetworkSpec, NetworkStatus};
use crate::{
    accounts::{AccountsError, Platform, check_name},
    ids::{InvitationId, NetworkId, TenantId},
    store::now_ms,
};
use alloy_primitives::Bytes;
use alloy_sol_types::SolCall as _;
use ricaas_primitives::system::{GOVERNANCE_ADDRESS, IGovernance};
use serde::Serialize;
use serde_json::Value;

/// How long an invitation waits for its answer.
const INVITATION_DAYS: i64 = 14;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Gas for a proposal carrying two certificates, and for a vote.
const PROPOSE_GAS: u64 = 400_000;
const VOTE_GAS: u64 = 120_000;

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    /// Waiting for the invitee's answer.
    Pending,
    /// The invitee accepted; a member may propose adding it.
    Accepted,
    Declined,
    /// Not answered in time.
    Expired,
    /// On chain: the members are voting (`proposal_id`).
    Proposed,
    /// The change applied: the invitee is a member.
    Joined,
    /// The proposal expired or could not apply (`detail` says why).
    Rejected,
}

impl InvitationStatus {
    fn parse(text: &str) -> Result<Self, AccountsError> {
        Ok(match text {
            "pending" => Self::Pending,
            "accepted" => Self::Accepted,
            "declined" => Self::Declined,
            "expired" => Self::Expired,
            "proposed" => Self::Proposed,
            "joined" => Self::Joined,
            "rejected" => Self::Rejected,
            other => {
                return Err(AccountsError::Corrupt(format!(
                    "invitation status {other:?}"
                )));
            }
        })
    }
}

/// An invitation, as the inviter and the invitee see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    #[schema(value_type = String)]
    pub id: InvitationId,
    pub network: String,
    /// The tenant that sent it.
    pub inviter: String,
    /// The tenant invited.
    pub invitee: String,
    /// `received` or `sent`, from the caller's side.
    pub direction: String,
    pub status: InvitationStatus,
    pub message: String,
    /// The invitee's organization on chain, once it accepted.
    pub org: Option<String>,
    /// The governance proposal adding it, once proposed.
    pub proposal_id: Option<i64>,
    /// Why it was rejected, or what the chain said.
    pub detail: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub updated_at: i64,
}

/// A governance proposal of a network's channel, with who voted and who has not.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Proposal {
    pub id: u64,
    /// `add_org`, `remove_org`, `set_policy`, `set_parameter`, `revoke`, `add_validator`,
    /// `remove_validator`.
    pub kind: String,
    /// The change as the chain stores it.
    #[schema(value_type = Object)]
    pub change: Value,
    pub proposer: String,
    /// Member organizations that voted for it.
    pub approvals: Vec<String>,
    /// Member organizations that have not voted.
    pub waiting_for: Vec<String>,
    /// `voting`, `approved`, `applied`, `failed` or `expired`.
    pub status: String,
    #[schema(value_type = Object)]
    pub status_detail: Value,
    /// Unix seconds (block time) when voting closes.
    pub expires_at: Option<u64>,
    pub effective_height: u64,
}

type InvitationRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
    i64,
);

const INVITATION_COLUMNS: &str = "i.id, n.name, a.name, b.name, i.status, i.message, i.org, \
     i.proposal_id, i.detail, i.created_at, i.expires_at, i.updated_at";

fn invitation_from_row(row: InvitationRow, me: &str) -> Result<Invitation, AccountsError> {
    let (
        id,
        network,
        inviter,
        invitee,
        status,
        message,
        org,
        proposal,
        detail,
        created,
        expires,
        updated,
    ) = row;
    Ok(Invitation {
        id: InvitationId::from_stored(id),
        direction: if invitee == me { "received" } else { "sent" }.into(),
        network,
        inviter,
        invitee,
        status: InvitationStatus::parse(&status)?,
        message,
        org,
        proposal_id: proposal,
        detail,
        created_at: created,
        expires_at: expires,
        updated_at: updated,
    })
}

impl Platform {
    /// Invites tenant `invitee` into network `network` (the caller must be a member).
    pub async fn invite(
        &self,
        tenant: &TenantId,
        network: &str,
        invitee: &str,
        message: &str,
    ) -> Result<Invitation, AccountsError> {
        let network = self.network(tenant, network).await?;
        if network.status != NetworkStatus::Running {
            return Err(AccountsError::Conflict(format!(
                "network {} is not running yet: invite once its creation finished",
                network.name
            )));
        }
        check_name("tenant", invitee)?;
        if message.len() > 500 {
            return Err(AccountsError::Invalid(
                "message is longer than 500 characters".into(),
            ));
        }
        let invitee_id: Option<String> =
            sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
                .bind(invitee)
                .fetch_optional(self.store().pool())
                .await?;
        let invitee_id = invitee_id.ok_or_else(|| {
            AccountsError::Invalid(format!(
                "there is no tenant {invitee:?} on this platform: check the name with the organization"
            ))
        })?;
        if network.members.iter().any(|m| m.tenant == invitee) {
            return Err(AccountsError::Conflict(format!(
                "{invitee} is already a member of network {}",
                network.name
            )));
        }
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM invitations WHERE network_id = $1 AND invitee_tenant_id = $2 \
             AND status IN ('pending', 'accepted', 'proposed') AND expires_at > $3",
        )
        .bind(network.id.as_str())
        .bind(&invitee_id)
        .bind(now_ms())
        .fetch_one(self.store().pool())
        .await?;
        if open > 0 {
            return Err(AccountsError::Conflict(format!(
                "{invitee} already has an open invitation to network {}",
                network.name
            )));
        }
        let id = InvitationId::generate();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO invitations (id, network_id, inviter_tenant_id, invitee_tenant_id, status, message, \
             created_at, expires_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $6)",
        )
        .bind(id.as_str())
        .bind(network.id.as_str())
        .bind(tenant.as_str())
        .bind(&invitee_id)
        .bind(message)
        .bind(now)
        .bind(now + INVITATION_DAYS * DAY_MS)
        .execute(self.store().pool())
        .await?;
        self.invitation(tenant, &id).await
    }

    /// The invitations `tenant` received or sent (sent: by any member of its networks, newest
    /// first, at most 200).
    pub async fn invitations(&self, tenant: &TenantId) -> Result<Vec<Invitation>, AccountsError> {
        self.expire_invitations().await?;
        let me = self.tenant_name(tenant).await?;
        let rows: Vec<InvitationRow> = sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations i JOIN networks n ON n.id = i.network_id \
             JOIN tenants a ON a.id = i.inviter_tenant_id JOIN tenants b ON b.id = i.invitee_tenant_id \
             WHERE i.invitee_tenant_id = $1 OR i.network_id IN \
             (SELECT network_id FROM network_members WHERE tenant_id = $1) \
             ORDER BY i.created_at DESC LIMIT 200"
        ))
        .bind(tenant.as_str())
        .fetch_all(self.store().pool())
        .await?;
        rows.into_iter()
            .map(|row| invitation_from_row(row, &me))
            .collect()
    }

    /// Invitation `id`, if `tenant` is its invitee or a member of its network.
    pub async fn invitation(
        &self,
        tenant: &TenantId,
        id: &InvitationId,
    ) -> Result<Invitation, AccountsError> {
        self.invitations(tenant)
            .await?
            .into_iter()
            .find(|i| &i.id == id)
            .ok_or_else(|| AccountsError::NotFound {
                what: "invitation",
                name: id.to_string(),
            })
    }

    async fn expire_invitations(&self) -> Result<(), AccountsError> {
        sqlx::query(
            "UPDATE invitations SET status = 'expired', updated_at = $1 \
             WHERE status IN ('pending', 'accepted') AND expires_at <= $1",
        )
        .bind(now_ms())
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// The invitee's answer. Accepting makes its CA, admin key and admin certificate if it has
    /// none (its own request), so members can propose adding it.
    pub async fn answer_invitation(
        &self,
        tenant: &TenantId,
        id: &InvitationId,
        accept: bool,
    ) -> Result<Invitation, AccountsError> {
        let invitation = self.invitation(tenant, id).await?;
        if invitation.direction != "received" {
            return Err(AccountsError::Conflict(format!(
                "invitation {id} was sent to {}: only it may answer",
                invitation.invitee
            )));
        }
        if invitation.status != InvitationStatus::Pending {
            return Err(AccountsError::Conflict(format!(
                "invitation {id} is {}: it was answered already",
                status_text(invitation.status)
            )));
        }
        let (status, org) = if accept {
            let org = match self.ca_info(tenant).await {
                Ok(ca) => ca.org,
                Err(AccountsError::Missing(_)) => invitation.invitee.clone(),
                Err(e) => return Err(e),
            };
            self.ensure_org_identity(tenant, &org).await?;
            ("accepted", Some(org))
        } else {
            ("declined", None)
        };
        sqlx::query(
            "UPDATE invitations SET status = $1, org = $2, updated_at = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(status)
        .bind(&org)
        .bind(now_ms())
        .bind(id.as_str())
        .execute(self.store().pool())
        .await?;
        self.invitation(tenant, id).await
    }

    /// A member proposes on chain to add the invitee's organization, signed by its own
    /// `admin_key` (its vote for it).
    pub async fn propose_join(
        &self,
        tenant: &TenantId,
        id: &InvitationId,
        admin_key: &str,
    ) -> Result<Invitation, AccountsError> {
        let invitation = self.invitation(tenant, id).await?;
        if invitation.direction != "sent" {
            return Err(AccountsError::Conflict(
                "an organization cannot propose itself: a member of the network proposes it".into(),
            ));
        }
        if invitation.status != InvitationStatus::Accepted {
            return Err(AccountsError::Conflict(format!(
                "invitation {id} is {}: a proposal needs an accepted invitation",
                status_text(invitation.status)
            )));
        }
        let (network_id, invitee): (String, String) =
            sqlx::query_as("SELECT network_id, invitee_tenant_id FROM invitations WHERE id = $1")
                .bind(id.as_str())
                .fetch_one(self.store().pool())
                .await?;
        let invitee = TenantId::from_stored(invitee);
        let org = invitation
            .org
            .clone()
            .ok_or_else(|| AccountsError::Corrupt("accepted invitation without org".into()))?;
        let ca = self.ca_info(&invitee).await?;
        let admin = self.admin_certificate(&invitee).await?.ok_or_else(|| {
            AccountsError::Conflict(format!(
                "{} has no valid admin certificate any more: it must accept again",
                invitation.invitee
            ))
        })?;
        let der = |pem: &str| -> Result<Bytes, AccountsError> {
            let certificate = ricaas_crypto::ca::certificate_from_pem(pem)
                .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
            ricaas_crypto::ca::certificate_der(&certificate)
                .map(Bytes::from)
                .map_err(|e| AccountsError::Corrupt(e.to_string()))
        };
        let input = IGovernance::proposeAddOrgCall {
            name: org.clone(),
            caCertificate: der(&ca.certificate_pem)?,
            admins: vec![der(&admin)?],
            effectiveHeight: 0,
        }
        .abi_encode()
        .into();
        let channel = self
            .governance_channel(&NetworkId::from_stored(network_id))
            .await?;
        let receipt = self
            .system_call(
                tenant,
                &channel,
                admin_key,
                GOVERNANCE_ADDRESS,
                input,
                PROPOSE_GAS,
            )
            .await?;
        let proposal = proposed_id(&receipt).ok_or_else(|| {
            AccountsError::Corrupt("the proposal's receipt names no proposal id".into())
        })?;
        sqlx::query(
            "UPDATE invitations SET status = 'proposed', proposal_id = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(proposal as i64)
        .bind(now_ms())
        .bind(id.as_str())
        .execute(self.store().pool())
        .await?;
        self.sync_invitations().await?;
        self.invitation(tenant, id).await
    }

    /// The channel a network's governance runs on (its first channel, registered when the
    /// network was created or adopted).
    /// The channel governance proposals of `network` are read from and sent to: its first
    /// channel, or `channel` created on it (running); with the organizations that vote there.
    pub(super) async fn proposal_channel(
        &self,
        network: &super::Network,
        channel: Option<&str>,
    ) -> Result<(crate::chain::Channel, Vec<String>), AccountsError> {
        match channel {
            None => Ok((
                self.governance_channel(&network.id).await?,
                network.members.iter().map(|m| m.org.clone()).collect(),
            )),
            Some(name) if name == network.spec.channel.name => Ok((
                self.governance_channel(&network.id).await?,
                network.members.iter().map(|m| m.org.clone()).collect(),
            )),
            Some(name) => {
                let row: Option<(String, String)> = sqlx::query_as(
                    "SELECT members, status FROM network_channels WHERE network_id = $1 AND name = $2",
                )
                .bind(network.id.as_str())
                .bind(name)
                .fetch_optional(self.store().pool())
                .await?;
                let Some((members, status)) = row else {
                    return Err(AccountsError::NotFound {
                        what: "channel",
                        name: format!("{}/{name}", network.name),
                    });
                };
                if status != "running" {
                    return Err(AccountsError::Conflict(format!(
                        "channel {name} is {status}: it has no governance until it runs"
                    )));
                }
                let channel = self.channel(&format!("{}/{name}", network.name)).await?;
                Ok((channel, serde_json::from_str(&members).unwrap_or_default()))
            }
        }
    }

    pub(super) async fn governance_channel(
        &self,
        network: &NetworkId,
    ) -> Result<crate::chain::Channel, AccountsError> {
        // Only the name and the spec: not the members and nodes `network_by_id` also reads.
        let (name, spec): (String, String) =
            sqlx::query_as("SELECT name, spec FROM networks WHERE id = $1")
                .bind(network.as_str())
                .fetch_optional(self.store().pool())
                .await?
                .ok_or_else(|| AccountsError::Corrupt(format!("network {network} vanished")))?;
        self.spec_governance_channel(&name, &spec).await
    }

    /// Network `name` (if `tenant` is a member) and its governance channel, in two reads:
    /// what every gateway call needs first.
    pub(super) async fn member_governance_channel(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<(NetworkId, crate::chain::Channel), AccountsError> {
        let (id, spec): (String, String) = sqlx::query_as(
            "SELECT n.id, n.spec FROM networks n JOIN network_members m ON m.network_id = n.id \
             WHERE n.name = $1 AND m.tenant_id = $2",
        )
        .bind(name)
        .bind(tenant.as_str())
        .fetch_optional(self.store().pool())
        .await?
        .ok_or_else(|| AccountsError::NotFound {
            what: "network",
            name: name.to_owned(),
        })?;
        let channel = self.spec_governance_channel(name, &spec).await?;
        Ok((NetworkId::from_stored(id), channel))
    }

    /// The governance channel of network `name` whose stored spec is `spec`.
    async fn spec_governance_channel(
        &self,
        name: &str,
        spec: &str,
    ) -> Result<crate::chain::Channel, AccountsError> {
        let spec: NetworkSpec = serde_json::from_str(spec)
            .map_err(|e| AccountsError::Corrupt(format!("network spec: {e}")))?;
        self.channel(&format!("{name}/{}", spec.channel.name))
            .await
            .map_err(|_| {
                AccountsError::Conflict(format!(
                    "network {name}'s channel is not reachable from the platform yet"
                ))
            })
    }

    /// The governance proposals of network `network`, newest first, read as the caller's
    /// `admin_key` (it signs the read token).
    pub async fn proposals(
        &self,
        tenant: &TenantId,
        network: &str,
        admin_key: &str,
        channel: Option<&str>,
    ) -> Result<Vec<Proposal>, AccountsError> {
        let network = self.network(tenant, network).await?;
        let (channel, members) = self.proposal_channel(&network, channel).await?;
        let count = self
            .system_view(
                tenant,
                &channel,
                admin_key,
                GOVERNANCE_ADDRESS,
                IGovernance::proposalCountCall {}.abi_encode().into(),
            )
            .await?;
        let count = IGovernance::proposalCountCall::abi_decode_returns(&count)
            .map_err(|e| AccountsError::Unavailable(format!("proposal count: {e}")))?;
        let mut proposals = Vec::new();
        for id in (0..count).rev().take(100) {
            let output = self
                .system_view(
                    tenant,
                    &channel,
                    admin_key,
                    GOVERNANCE_ADDRESS,
                    IGovernance::proposalCall { id }.abi_encode().into(),
                )
                .await?;
            let json = IGovernance::proposalCall::abi_decode_returns(&output)
                .map_err(|e| AccountsError::Unavailable(format!("proposal {id}: {e}")))?;
            let stored: Value = serde_json::from_str(&json)
                .map_err(|e| AccountsError::Unavailable(format!("proposal {id}: {e}")))?;
            let mut proposal = proposal_view(id, stored, &members);
            // A validator's removal names its key: name the node too.
            if let Some(node) = proposal.change["key"].as_str().and_then(|key| {
                network
                    .nodes
                    .iter()
                    .find(|n| n.public_key.as_deref() == Some(key))
            }) {
                proposal.change["node"] = Value::String(node.name.clone());
            }
            proposals.push(proposal);
        }
        Ok(proposals)
    }

    /// The caller's organization votes for proposal `id`, its `admin_key` signing the vote.
    pub async fn vote(
        &self,
        tenant: &TenantId,
        network: &str,
        id: u64,
        admin_key: &str,
        on: Option<&str>,
    ) -> Result<Proposal, AccountsError> {
        let found = self.network(tenant, network).await?;
        let (channel, _) = self.proposal_channel(&found, on).await?;
        self.system_call(
            tenant,
            &channel,
            admin_key,
            GOVERNANCE_ADDRESS,
            IGovernance::voteCall { id }.abi_encode().into(),
            VOTE_GAS,
        )
        .await?;
        self.sync_invitations().await?;
        self.proposals(tenant, network, admin_key, on)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AccountsError::Corrupt(format!("proposal {id} vanished")))
    }

    /// Moves proposed invitations along with their proposal on chain: applied → the invitee
    /// is a member; expired or failed → rejected. Reads as the inviter's admin key.
    pub(crate) async fn sync_invitations(&self) -> Result<(), AccountsError> {
        self.sync_changes().await?;
        let open: Vec<(String, String, String, String, i64, String)> = sqlx::query_as(
            "SELECT id, network_id, inviter_tenant_id, invitee_tenant_id, proposal_id, org FROM invitations \
             WHERE status = 'proposed' AND proposal_id IS NOT NULL AND org IS NOT NULL",
        )
        .fetch_all(self.store().pool())
        .await?;
        for (id, network, inviter, invitee, proposal, org) in open {
            let network = NetworkId::from_stored(network);
            // One network out of reach must not hold up the others.
            let Some(stored) = self
                .read_proposal(&network, &TenantId::from_stored(inviter), proposal as u64)
                .await
            else {
                continue;
            };
            let state = stored["status"]["state"].as_str().unwrap_or_default();
            let now = now_ms();
            match state {
                "applied" => {
                    let mut tx = self.store().pool().begin().await?;
                    sqlx::query(
                        "INSERT INTO network_members (network_id, tenant_id, org, joined_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (network_id, tenant_id) DO NOTHING",
                    )
                    .bind(network.as_str())
                    .bind(&invitee)
                    .bind(&org)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE invitations SET status = 'joined', detail = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(format!(
                        "added at height {}",
                        stored["status"]["height"].as_u64().unwrap_or_default()
                    ))
                    .bind(now)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
                "expired" | "failed" => {
                    let detail = match state {
                        "expired" => {
                            "the proposal expired before the Admins policy was met".to_string()
                        }
                        _ => format!(
                            "the change could not apply: {}",
                            stored["status"]["reason"]
                                .as_str()
                                .unwrap_or("no reason given")
                        ),
                    };
                    sqlx::query(
                        "UPDATE invitations SET status = 'rejected', detail = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(detail)
                    .bind(now)
                    .bind(&id)
                    .execute(self.store().pool())
                    .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A change of a network's channel a member may propose (joining goes through invitations).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeRequest {
    /// Remove a member organization (its identities stop acting from the block it applies).
    RemoveOrg { name: String },
    /// Replace one of the channel's policies: `readers`, `writers`, `contract_deployers` or
    /// `admins`, e.g. `MAJORITY Admins`.
    SetPolicy { policy: String, text: String },
    /// Set a chain parameter: `tx_gas_limit`, `min_gas_price`, `proposal_lifetime_seconds`, or
    /// `deploy_security_gate` (0 off; 1: contract versions must name a security report with no
    /// unresolved high findings; 2: nor medium ones).
    SetParameter { name: String, value: u64 },
    /// Take validator node `node` (its name on the network) out of the channel's validator set
    /// from the next epoch. On the network's first channel the platform then stops and deletes
    /// the node if it runs it.
    RemoveValidator { node: String },
}

impl ChangeRequest {
    fn kind(&self) -> &'static str {
        match self {
            ChangeRequest::RemoveOrg { .. } => "remove_org",
            ChangeRequest::SetPolicy { .. } => "set_policy",
            ChangeRequest::SetParameter { .. } => "set_parameter",
            ChangeRequest::RemoveValidator { .. } => "remove_validator",
        }
    }
}

impl Platform {
    /// The caller's organization proposes `change` on network `network`'s channel, signed by
    /// its `admin_key` (its vote for it); the platform follows the proposal until it applies.
    pub async fn propose_change(
        &self,
        tenant: &TenantId,
        network: &str,
        change: ChangeRequest,
        admin_key: &str,
        on: Option<&str>,
    ) -> Result<Proposal, AccountsError> {
        let found = self.network(tenant, network).await?;
        let created_channel = on.filter(|name| *name != found.spec.channel.name);
        let input: Bytes = match &change {
            ChangeRequest::RemoveOrg { name } => {
                if !found.members.iter().any(|m| &m.org == name) {
                    return Err(AccountsError::Invalid(format!(
                        "{name} is not a member of network {network}"
                    )));
                }
                IGovernance::proposeRemoveOrgCall {
                    name: name.clone(),
                    effectiveHeight: 0,
                }
                .abi_encode()
                .into()
            }
            ChangeRequest::SetPolicy { policy, text } => IGovernance::proposeSetPolicyCall {
                policy: policy.clone(),
                text: text.clone(),
                effectiveHeight: 0,
            }
            .abi_encode()
            .into(),
            ChangeRequest::SetParameter { name, value } => IGovernance::proposeSetParameterCall {
                name: name.clone(),
                value: alloy_primitives::U256::from(*value),
                effectiveHeight: 0,
            }
            .abi_encode()
            .into(),
            ChangeRequest::RemoveValidator { node } => IGovernance::proposeRemoveValidatorCall {
                nodeKey: self
                    .validator_to_remove(tenant, &found, node, created_channel)
                    .await?,
                effectiveHeight: 0,
            }
            .abi_encode()
            .into(),
        };
        let id = match created_channel {
            // The platform's view of the network follows changes of its first channel; a
            // created channel's configuration is read from the channel itself.
            Some(_) => {
                let (channel, _) = self.proposal_channel(&found, created_channel).await?;
                let receipt = self
                    .system_call(
                        tenant,
                        &channel,
                        admin_key,
                        GOVERNANCE_ADDRESS,
                        input,
                        PROPOSE_GAS,
                    )
                    .await?;
                proposed_id(&receipt).ok_or_else(|| {
                    AccountsError::Corrupt("the proposal's receipt names no proposal id".into())
                })?
            }
            None => {
                let change_json = serde_json::to_value(&change).unwrap_or_default();
                self.propose_raw(
                    tenant,
                    &found.id,
                    change.kind(),
                    &change_json,
                    input,
                    admin_key,
                    PROPOSE_GAS,
                )
                .await?
            }
        };
        self.proposals(tenant, network, admin_key, on)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AccountsError::Corrupt(format!("proposal {id} vanished")))
    }

    /// The key of validator `node` of `network`, checked to be removable from `channel` (`None`:
    /// the first channel): a validator there, not already on its way out, and — for the first
    /// channel, whose removal stops the node — no longer a validator of a created channel, which
    /// would otherwise lose a voter without a vote.
    async fn validator_to_remove(
        &self,
        tenant: &TenantId,
        network: &super::Network,
        node: &str,
        channel: Option<&str>,
    ) -> Result<alloy_primitives::B256, AccountsError> {
        let found = network
            .nodes
            .iter()
            .find(|n| n.name == node)
            .ok_or_else(|| AccountsError::NotFound {
                what: "node",
                name: format!("{}/{node}", network.name),
            })?;
        let channels = self.network_channels(tenant, &network.name).await?;
        let validates = |name: &str| {
            channels
                .iter()
                .any(|c| c.name == name && c.validators.iter().any(|v| v == node))
        };
        let on = channel.unwrap_or(&network.spec.channel.name);
        if !validates(on) {
            return Err(AccountsError::Invalid(format!(
                "{node} is not a validator of channel {on}"
            )));
        }
        if channel.is_none() {
            if let Some(height) = found.leaves_at {
                return Err(AccountsError::Conflict(format!(
                    "{node} already leaves the network at height {height}"
                )));
            }
            if let Some(other) = channels
                .iter()
                .skip(1)
                .find(|c| c.validators.iter().any(|v| v == node))
            {
                return Err(AccountsError::Conflict(format!(
                    "{node} also validates channel {}: propose its removal there first (a remove_validator proposal with \"channel\": \"{}\")",
                    other.name, other.name
                )));
            }
            let open: Vec<(i64, String)> = sqlx::query_as(
                "SELECT proposal_id, change FROM network_proposals WHERE network_id = $1 \
                 AND kind = 'remove_validator' AND status IN ('voting', 'approved')",
            )
            .bind(network.id.as_str())
            .fetch_all(self.store().pool())
            .await?;
            if let Some((id, _)) = open.iter().find(|(_, change)| {
                serde_json::from_str::<ChangeRequest>(change).is_ok_and(
                    |c| matches!(c, ChangeRequest::RemoveValidator { node: n } if n == node),
                )
            }) {
                return Err(AccountsError::Conflict(format!(
                    "proposal #{id} already proposes removing {node}: vote for it"
                )));
            }
        }
        let key = found.public_key.as_deref().ok_or_else(|| {
            AccountsError::Corrupt(format!("validator {node} has no recorded key"))
        })?;
        format!("0x{key}")
            .parse()
            .map_err(|_| AccountsError::Corrupt(format!("node key {key}")))
    }

    /// Sends governance call `input` signed by `tenant`'s `admin_key` and records the proposal
    /// it makes (`kind`, `change`) so the platform follows it; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn propose_raw(
        &self,
        tenant: &TenantId,
        network: &NetworkId,
        kind: &str,
        change: &Value,
        input: Bytes,
        admin_key: &str,
        gas: u64,
    ) -> Result<u64, AccountsError> {
        self.propose_to(
            tenant,
            network,
            GOVERNANCE_ADDRESS,
            kind,
            change,
            input,
            admin_key,
            gas,
        )
        .await
    }

    /// [`Platform::propose_raw`] through system contract `to` (the lifecycle contract proposes
    /// into the same proposal list).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn propose_to(
        &self,
        tenant: &TenantId,
        network: &NetworkId,
        to: alloy_primitives::Address,
        kind: &str,
        change: &Value,
        input: Bytes,
        admin_key: &str,
        gas: u64,
    ) -> Result<u64, AccountsError> {
        let channel = self.governance_channel(network).await?;
        let receipt = self
            .system_call(tenant, &channel, admin_key, to, input, gas)
            .await?;
        let id = proposed_id(&receipt).ok_or_else(|| {
            AccountsError::Corrupt("the proposal's receipt names no proposal id".into())
        })?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO network_proposals (network_id, proposal_id, kind, change, proposer_tenant_id, \
             status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'voting', $6, $6)",
        )
        .bind(network.as_str())
        .bind(id as i64)
        .bind(kind)
        .bind(change.to_string())
        .bind(tenant.as_str())
        .bind(now)
        .execute(self.store().pool())
        .await?;
        self.sync_invitations().await?;
        Ok(id)
    }

    /// Follows the changes proposed through the platform: once one applies, the platform's view
    /// of the network follows (a removed organization is no longer a member; a changed policy
    /// shows in the network's settings).
    async fn sync_changes(&self) -> Result<(), AccountsError> {
        let open: Vec<(String, i64, String, String)> = sqlx::query_as(
            "SELECT network_id, proposal_id, change, proposer_tenant_id FROM network_proposals \
             WHERE status IN ('voting', 'approved')",
        )
        .fetch_all(self.store().pool())
        .await?;
        for (network, proposal, change, proposer) in open {
            let network = NetworkId::from_stored(network);
            // Changes the platform reflects; others (a validator added) only change status.
            let change = serde_json::from_str::<ChangeRequest>(&change).ok();
            let Some(stored) = self
                .read_proposal(&network, &TenantId::from_stored(proposer), proposal as u64)
                .await
            else {
                continue;
            };
            let state = stored["status"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if state == "voting" {
                continue;
            }
            let mut tx = self.store().pool().begin().await?;
            if state == "applied" {
                match &change {
                    // Parameters are read from the chain when they matter.
                    None | Some(ChangeRequest::SetParameter { .. }) => {}
                    Some(ChangeRequest::RemoveValidator { node }) => {
                        // It votes until the epoch after the change ends; past that (at most one
                        // epoch on), the network runs without it.
                        let spec: String =
                            sqlx::query_scalar("SELECT spec FROM networks WHERE id = $1")
                                .bind(network.as_str())
                                .fetch_one(&mut *tx)
                                .await?;
                        let epoch = serde_json::from_str::<super::NetworkSpec>(&spec)
                            .map(|s| s.epoch_length)
                            .unwrap_or(super::default_epoch_length());
                        let applied = stored["status"]["height"].as_u64().unwrap_or_default();
                        sqlx::query(
                            "UPDATE nodes SET leaves_at_height = $1 WHERE network_id = $2 AND name = $3",
                        )
                        .bind(i64::try_from(applied + epoch + 1).unwrap_or(i64::MAX))
                        .bind(network.as_str())
                        .bind(node)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Some(ChangeRequest::RemoveOrg { name }) => {
                        sqlx::query(
                            "DELETE FROM network_members WHERE network_id = $1 AND org = $2",
                        )
                        .bind(network.as_str())
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Some(ChangeRequest::SetPolicy { policy, text }) => {
                        let spec: String =
                            sqlx::query_scalar("SELECT spec FROM networks WHERE id = $1")
                                .bind(network.as_str())
                                .fetch_one(&mut *tx)
                                .await?;
                        if let Ok(mut spec) = serde_json::from_str::<super::NetworkSpec>(&spec) {
                            let slot = match policy.as_str() {
                                "readers" => Some(&mut spec.channel.readers),
                                "writers" => Some(&mut spec.channel.writers),
                                "contract_deployers" => Some(&mut spec.channel.contract_deployers),
                                "admins" => Some(&mut spec.channel.admins),
                                _ => None,
                            };
                            if let Some(slot) = slot {
                                *slot = text.clone();
                            }
                            sqlx::query(
                                "UPDATE networks SET spec = $1, updated_at = $2 WHERE id = $3",
                            )
                            .bind(serde_json::to_string(&spec).unwrap_or_default())
                            .bind(now_ms())
                            .bind(network.as_str())
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
            }
            sqlx::query(
                "UPDATE network_proposals SET status = $1, updated_at = $2 WHERE network_id = $3 AND proposal_id = $4",
            )
            .bind(&state)
            .bind(now_ms())
            .bind(network.as_str())
            .bind(proposal)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Proposal `id` of `network`'s channel as stored on chain, read as `reader`'s admin key
    /// (`None` when the channel cannot be read now).
    pub(super) async fn read_proposal(
        &self,
        network: &NetworkId,
        reader: &TenantId,
        id: u64,
    ) -> Option<Value> {
        let channel = self.governance_channel(network).await.ok()?;
        let output = self
            .system_view(
                reader,
                &channel,
                super::reconciler::ADMIN_KEY,
                GOVERNANCE_ADDRESS,
                IGovernance::proposalCall { id }.abi_encode().into(),
            )
            .await
            .map_err(|e| tracing::debug!(%network, id, error = %e, "reading a proposal failed"))
            .ok()?;
        let json = IGovernance::proposalCall::abi_decode_returns(&output).ok()?;
        serde_json::from_str(&json).ok()
    }
}

fn status_text(status: InvitationStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The id in the `Proposed` event of a governance receipt.
fn proposed_id(receipt: &Value) -> Option<u64> {
    use alloy_sol_types::SolEvent as _;
    let topic = format!("{:#x}", IGovernance::Proposed::SIGNATURE_HASH);
    receipt["logs"].as_array()?.iter().find_map(|log| {
        let topics = log["topics"].as_array()?;
        if topics.first()?.as_str()? != topic {
            return None;
        }
        u64::from_str_radix(topics.get(1)?.as_str()?.trim_start_matches("0x"), 16).ok()
    })
}

fn proposal_view(id: u64, stored: Value, members: &[String]) -> Proposal {
    let approvals: Vec<String> = stored["approvals"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let waiting_for = members
        .iter()
        .filter(|m| !approvals.contains(m))
        .cloned()
        .collect();
    Proposal {
        id,
        kind: stored["change"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        change: stored["change"].clone(),
        proposer: stored["proposer"].as_str().unwrap_or_default().to_owned(),
        approvals,
        waiting_for,
        status: stored["status"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        status_detail: stored["status"].clone(),
        expires_at: stored["expires_at"].as_u64(),
        effective_height: stored["effective_height"].as_u64().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proposal_id_is_read_from_the_proposed_event() {
        use alloy_sol_types::SolEvent as _;
        let topic = format!("{:#x}", IGovernance::Proposed::SIGNATURE_HASH);
        let receipt = serde_json::json!({"logs": [
            {"topics": ["0x01"]},
            {"topics": [topic, format!("0x{:064x}", 7)]},
        ]});
        assert_eq!(proposed_id(&receipt), Some(7));
        let zero = serde_json::json!({"logs": [{"topics": [topic, format!("0x{:064x}", 0)]}]});
        assert_eq!(proposed_id(&zero), Some(0));
        assert_eq!(proposed_id(&serde_json::json!({"logs": []})), None);
    }

    #[test]
    fn a_proposal_names_who_has_not_voted() {
        let stored = serde_json::json!({"change": {"kind": "add_org", "name": "org5"}, "proposer": "0xabc",
            "approvals": ["org1", "org3"], "status": {"state": "voting"}, "expires_at": 99, "effective_height": 5});
        let view = proposal_view(
            3,
            stored,
            &["org1".into(), "org2".into(), "org3".into(), "org4".into()],
        );
        assert_eq!(view.kind, "add_org");
        assert_eq!(view.waiting_for, vec!["org2", "org4"]);
        assert_eq!(view.status, "voting");
        assert_eq!(view.expires_at, Some(99));
    }
}
