//! The governance contract: admins of member organizations propose changes of the channel
//! configuration and vote on them; a change approved under the Admins policy takes effect at the
//! start of its effective block, on every node alike (`apply_due_changes` runs before the
//! block's transactions, in building and in verification).
//!
//! Storage: slot 0 the next proposal id; slot 1 the ids approved but not yet applied (JSON);
//! each proposal as JSON (`bytes`) at `keccak(id ‖ 2)`.

use super::lifecycle::VersionInfo;
use super::{
    CodeStore, Consortium, SlotReader, SlotStore,
    membership::{Journal, Outcome, VIEW_GAS, admin_of, decode_system_call},
    read_bytes, write_bytes,
};
use crate::StateReadError;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent};
use revm::{
    Database,
    context::{Block, ContextTr},
    interpreter::CallInputs,
};
use ricaas_crypto::ca;
use ricaas_primitives::{
    policy::Signer,
    system::{
        ChannelConfigState, GOVERNANCE_ADDRESS, IGovernance, IdentityRecord, LifecycleAction,
        MEMBERSHIP_ADDRESS, OrgState, StoredRole,
    },
};
use serde::{Deserialize, Serialize};

const NEXT_ID_SLOT: U256 = U256::ZERO;
const APPROVED_SLOT: U256 = U256::from_limbs([1, 0, 0, 0]);
const MAX_PROPOSAL_BYTES: usize = 1024 * 1024;
const PROPOSE_GAS: u64 = 100_000;
const VOTE_GAS: u64 = 50_000;

/// A change of the channel configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    AddOrg {
        name: String,
        ca_certificate: String,
        /// First admin certificates (DER, hex), enrolled when the change applies.
        admins: Vec<String>,
    },
    RemoveOrg {
        name: String,
    },
    SetParameter {
        name: String,
        value: U256,
    },
    SetPolicy {
        policy: String,
        text: String,
    },
    Revoke {
        account: Address,
    },
    AddValidator {
        /// The node certificate, DER as hex.
        certificate: String,
        address: std::net::SocketAddr,
    },
    RemoveValidator {
        /// The validator's Ed25519 key, hex.
        key: String,
    },
    /// Approves creating contract `name` from the creation code hashing to `init_code_hash`,
    /// sent by `deployer` (the proposer).
    ContractDeploy {
        name: String,
        init_code_hash: B256,
        deployer: Address,
        #[serde(flatten)]
        version: VersionInfo,
    },
    /// Registers a contract created directly.
    ContractRegister {
        name: String,
        address: Address,
        #[serde(flatten)]
        version: VersionInfo,
    },
    /// Replaces a contract's code, keeping its address and storage.
    ContractUpgrade {
        name: String,
        code: Bytes,
        #[serde(flatten)]
        version: VersionInfo,
    },
    ContractFreeze {
        name: String,
    },
    ContractUnfreeze {
        name: String,
    },
    ContractRevoke {
        name: String,
    },
}

impl Change {
    /// The contract lifecycle action this change is, whose policy approves it (`None`: a change
    /// of the configuration, approved under the Admins policy).
    pub fn lifecycle_action(&self) -> Option<LifecycleAction> {
        Some(match self {
            Change::ContractDeploy { .. } | Change::ContractRegister { .. } => {
                LifecycleAction::Deploy
            }
            Change::ContractUpgrade { .. } => LifecycleAction::Upgrade,
            Change::ContractFreeze { .. } => LifecycleAction::Freeze,
            Change::ContractUnfreeze { .. } => LifecycleAction::Unfreeze,
            Change::ContractRevoke { .. } => LifecycleAction::Revoke,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProposalStatus {
    Voting,
    Approved,
    Applied {
        height: u64,
    },
    /// Approved, but the configuration it would produce was no longer valid when it came due.
    Failed {
        height: u64,
        reason: String,
    },
    /// Its deadline (`at`, unix seconds of block time) passed before the Admins policy was met:
    /// it takes no more votes and never applies. Shown by the `proposal` view; the stored
    /// status stays `voting`, so expiry needs no transaction.
    Expired {
        at: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: u64,
    pub change: Change,
    pub proposer: Address,
    pub effective_height: u64,
    /// Organizations whose admins voted for it.
    pub approvals: Vec<String>,
    pub status: ProposalStatus,
    /// When voting closes, in unix seconds of block time (absent on proposals made before
    /// proposals had deadlines: those stay open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl Proposal {
    /// The deadline, if it has passed at block time `now` while the proposal was still voting.
    fn expired(&self, now: u64) -> Option<u64> {
        let at = self.expires_at?;
        (self.status == ProposalStatus::Voting && now >= at).then_some(at)
    }
}

fn proposal_slot(id: u64) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[24..32].copy_from_slice(&id.to_be_bytes());
    preimage[63] = 2;
    U256::from_be_bytes(keccak256(preimage).0)
}

fn read_proposal(store: &mut impl SlotReader, id: u64) -> Result<Option<Proposal>, StateReadError> {
    Ok(read_bytes(
        store,
        GOVERNANCE_ADDRESS,
        proposal_slot(id),
        MAX_PROPOSAL_BYTES,
    )?
    .filter(|bytes| !bytes.is_empty())
    .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

fn write_proposal(store: &mut impl SlotStore, proposal: &Proposal) -> Result<(), StateReadError> {
    let json = serde_json::to_vec(proposal).unwrap_or_default();
    write_bytes(store, GOVERNANCE_ADDRESS, proposal_slot(proposal.id), &json)
}

fn approved_ids(store: &mut impl SlotReader) -> Result<Vec<u64>, StateReadError> {
    Ok(
        read_bytes(store, GOVERNANCE_ADDRESS, APPROVED_SLOT, MAX_PROPOSAL_BYTES)?
            .filter(|bytes| !bytes.is_empty())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default(),
    )
}

fn write_approved_ids(store: &mut impl SlotStore, ids: &[u64]) -> Result<(), StateReadError> {
    let json = if ids.is_empty() {
        Vec::new()
    } else {
        serde_json::to_vec(ids).unwrap_or_default()
    };
    write_bytes(store, GOVERNANCE_ADDRESS, APPROVED_SLOT, &json)
}

/// The observer certificates of `state` (parsed as `current`) without those `leaving` picks.
fn observers_except(
    current: &Consortium,
    state: &ChannelConfigState,
    leaving: impl Fn(&super::consortium::Validator) -> bool,
) -> Vec<String> {
    current
        .observers
        .iter()
        .zip(&state.observers)
        .filter(|(observer, _)| !leaving(observer))
        .map(|(_, certificate)| certificate.clone())
        .collect()
}

/// The configuration `change` produces from `state`, checked as a whole.
fn changed_config(
    state: &ChannelConfigState,
    change: &Change,
) -> Result<ChannelConfigState, String> {
    let mut next = state.clone();
    match change {
        Change::AddOrg {
            name,
            ca_certificate,
            ..
        } => {
            if next.orgs.iter().any(|o| &o.name == name) {
                return Err(format!("organization {name} is already a member"));
            }
            next.orgs.push(OrgState {
                name: name.clone(),
                ca_certificate: ca_certificate.clone(),
            });
        }
        Change::RemoveOrg { name } => {
            let current = Consortium::new(state.clone()).map_err(|e| e.to_string())?;
            if current.validators.iter().any(|v| &v.org == name) {
                return Err(format!(
                    "organization {name} still runs validators: remove them first (proposeRemoveValidator)"
                ));
            }
            // Its observers leave with it.
            next.observers = observers_except(&current, state, |o| &o.org == name);
            let before = next.orgs.len();
            next.orgs.retain(|o| &o.name != name);
            if next.orgs.len() == before {
                return Err(format!("organization {name} is not a member"));
            }
        }
        Change::SetPolicy { policy, text } => {
            if let Some(action) = LifecycleAction::from_policy_name(policy) {
                *next.policies.lifecycle.slot(action) = Some(text.clone());
            } else {
                let slot = match policy.as_str() {
                    "readers" => &mut next.policies.readers,
                    "writers" => &mut next.policies.writers,
                    "contract_deployers" => &mut next.policies.contract_deployers,
                    "admins" => &mut next.policies.admins,
                    other => {
                        return Err(format!(
                            "unknown policy {other:?}: expected readers, writers, contract_deployers, admins, contract_deploy, contract_upgrade, contract_freeze, contract_unfreeze or contract_revoke"
                        ));
                    }
                };
                *slot = text.clone();
            }
        }
        Change::SetParameter { name, value } => {
            let too_big = || format!("{name} {value} is out of range");
            match name.as_str() {
                "tx_gas_limit" => {
                    let limit = u64::try_from(*value).map_err(|_| too_big())?;
                    if limit < 21_000 {
                        return Err("tx_gas_limit must be at least 21000".into());
                    }
                    next.parameters.tx_gas_limit = Some(limit);
                }
                "min_gas_price" => {
                    next.parameters.min_gas_price =
                        Some(u128::try_from(*value).map_err(|_| too_big())?);
                }
                "proposal_lifetime_seconds" => {
                    let seconds = u64::try_from(*value).map_err(|_| too_big())?;
                    let range = ricaas_primitives::system::PROPOSAL_LIFETIME_RANGE_SECONDS;
                    if !range.contains(&seconds) {
                        return Err(format!(
                            "proposal_lifetime_seconds must be between {} and {} (a minute to a year)",
                            range.start(),
                            range.end()
                        ));
                    }
                    next.parameters.proposal_lifetime_seconds = Some(seconds);
                }
                "deploy_security_gate" => {
                    let value = u64::try_from(*value).map_err(|_| too_big())?;
                    next.parameters.deploy_security_gate =
                        ricaas_primitives::system::SecurityGate::from_value(value)?;
                }
                other => {
                    return Err(format!(
                        "unknown parameter {other:?}: expected tx_gas_limit, min_gas_price, proposal_lifetime_seconds or deploy_security_gate"
                    ));
                }
            }
        }
        // Lifecycle changes leave the configuration as it is (the registry checks them).
        Change::Revoke { .. }
        | Change::ContractDeploy { .. }
        | Change::ContractRegister { .. }
        | Change::ContractUpgrade { .. }
        | Change::ContractFreeze { .. }
        | Change::ContractUnfreeze { .. }
        | Change::ContractRevoke { .. } => {}
        Change::AddValidator {
            certificate,
            address,
        } => {
            let der = hex::decode(certificate).map_err(|e| e.to_string())?;
            let parsed = ca::certificate_from_der(&der).map_err(|e| e.to_string())?;
            let key =
                ca::ed25519_key_of(&parsed).ok_or("a validator's node key must be Ed25519")?;
            let key = hex::encode(key);
            if state.validator_addresses.values().any(|a| a == address) {
                return Err(format!(
                    "p2p address {address} is already used by a validator"
                ));
            }
            // An observer that caught up is typically what becomes a validator.
            let current = Consortium::new(state.clone()).map_err(|e| e.to_string())?;
            next.observers =
                observers_except(&current, state, |o| hex::encode(o.public_key) == key);
            next.validators.push(certificate.clone());
            next.validator_addresses.insert(key, *address);
        }
        Change::RemoveValidator { key } => {
            let consortium = Consortium::new(state.clone()).map_err(|e| e.to_string())?;
            let Some(index) = consortium
                .validators
                .iter()
                .position(|v| hex::encode(v.public_key) == *key)
            else {
                return Err(format!("{key} is not a validator of this channel"));
            };
            if consortium.validators.len() == 1 {
                return Err("the channel's last validator cannot be removed".into());
            }
            next.validators.remove(index);
            next.validator_addresses.remove(key);
        }
    }
    let checked = Consortium::new(next.clone()).map_err(|e| e.to_string())?;
    if let Change::AddOrg { name, admins, .. } = change {
        if admins.is_empty() {
            return Err(format!(
                "organization {name} needs at least one admin certificate"
            ));
        }
        for (index, der) in admins.iter().enumerate() {
            let (_, record) = first_admin(&checked, name, der)
                .map_err(|reason| format!("admin certificate {index}: {reason}"))?;
            debug_assert_eq!(record.org, *name);
        }
    }
    Ok(next)
}

/// An admin certificate of the organization `org` being added, as a membership record.
fn first_admin(
    consortium: &Consortium,
    org: &str,
    der_hex: &str,
) -> Result<(Address, IdentityRecord), String> {
    let der = hex::decode(der_hex).map_err(|e| e.to_string())?;
    let certificate = ca::certificate_from_der(&der).map_err(|e| e.to_string())?;
    let (account, record) = consortium.identity_record(&certificate)?;
    if record.org != org || record.role != StoredRole::Admin {
        return Err(format!(
            "it is a {} of {}, not an admin of {org}",
            record.role.as_str(),
            record.org
        ));
    }
    Ok((account, record))
}

/// Applies every approved change whose effective height has come (`height` is the block being
/// executed). Runs before the block's transactions.
pub fn apply_due_changes(
    store: &mut impl CodeStore,
    height: u64,
) -> Result<(), super::ConsortiumError> {
    let approved = approved_ids(store)?;
    if approved.is_empty() {
        return Ok(());
    }
    let mut remaining = Vec::new();
    for id in approved {
        let Some(mut proposal) = read_proposal(store, id)? else {
            continue;
        };
        if proposal.effective_height > height {
            remaining.push(id);
            continue;
        }
        let Some(current) = Consortium::load(store)? else {
            continue;
        };
        proposal.status = match apply(store, current.state(), &proposal.change, height)? {
            Ok(()) => ProposalStatus::Applied { height },
            Err(reason) => ProposalStatus::Failed { height, reason },
        };
        write_proposal(store, &proposal)?;
    }
    write_approved_ids(store, &remaining)?;
    Ok(())
}

fn apply(
    store: &mut impl CodeStore,
    state: &ChannelConfigState,
    change: &Change,
    height: u64,
) -> Result<Result<(), String>, super::ConsortiumError> {
    if change.lifecycle_action().is_some() {
        return Ok(super::lifecycle::apply(store, change, height)?);
    }
    if let Change::Revoke { account } = change {
        let [a, b] = IdentityRecord::slots(account);
        let values = [
            store.slot(MEMBERSHIP_ADDRESS, a)?,
            store.slot(MEMBERSHIP_ADDRESS, b)?,
        ];
        let Some(mut record) = IdentityRecord::decode(values) else {
            return Ok(Err(format!("account {account} is not enrolled")));
        };
        if record.revoked_at.is_none() {
            record.revoked_at = Some(height);
            if let Some(values) = record.encode() {
                store.write(MEMBERSHIP_ADDRESS, a, values[0])?;
                store.write(MEMBERSHIP_ADDRESS, b, values[1])?;
            }
        }
        return Ok(Ok(()));
    }
    let next = match changed_config(state, change) {
        Ok(next) => next,
        Err(reason) => return Ok(Err(reason)),
    };
    Consortium::store(store, &next)?;
    if let Change::AddOrg { name, admins, .. } = change {
        let consortium = Consortium::new(next)?;
        for der in admins {
            let Ok((account, record)) = first_admin(&consortium, name, der) else {
                continue;
            };
            if let Some(values) = record.encode() {
                for (slot, value) in IdentityRecord::slots(&account).into_iter().zip(values) {
                    store.write(MEMBERSHIP_ADDRESS, slot, value)?;
                }
            }
            let key = hex::decode(der)
                .ok()
                .and_then(|der| ca::certificate_from_der(&der).ok())
                .and_then(|certificate| super::key_record(&certificate).ok());
            if let Some((slot, key)) = key {
                write_bytes(store, MEMBERSHIP_ADDRESS, slot, &key)?;
            }
        }
    }
    Ok(Ok(()))
}

/// Whether the admins of `approvals` satisfy the policy that approves `change`: the channel's
/// Admins policy, or for a contract lifecycle change that action's policy.
fn approved(consortium: &Consortium, change: &Change, approvals: &[String]) -> bool {
    let signers: Vec<Signer> = approvals
        .iter()
        .map(|org| Signer {
            org: org.clone(),
            role: StoredRole::Admin.policy_role(),
        })
        .collect();
    let policy = match change.lifecycle_action() {
        Some(action) => consortium.policies.lifecycle(action),
        None => &consortium.policies.admins,
    };
    policy.is_satisfied(&signers, &consortium.org_names)
}

/// What `configuration()` returns: the configuration without its certificates (clients
/// that need those read the member CAs and node certificates where they were issued).
fn configuration_json(consortium: &Consortium) -> serde_json::Value {
    let nodes = |list: &[super::consortium::Validator]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|n| serde_json::json!({"org": n.org, "key": hex::encode(n.public_key)}))
            .collect()
    };
    let state = consortium.state();
    serde_json::json!({
        "channel": consortium.channel,
        "orgs": consortium.org_names,
        "policies": state.policies,
        "validators": nodes(&consortium.validators),
        "observers": nodes(&consortium.observers),
        "epoch_length": state.epoch_length,
        "parameters": state.parameters,
    })
}

pub(super) fn call<CTX>(
    context: &mut CTX,
    inputs: &CallInputs,
    input: &[u8],
    consortium: &Consortium,
) -> Result<Outcome, StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    let call = match decode_system_call::<IGovernance::IGovernanceCalls>(inputs, input) {
        Ok(call) => call,
        Err(refused) => return Ok(refused),
    };
    let height = context.block().number().saturating_to::<u64>();
    let now = context.block().timestamp().saturating_to::<u64>();
    let caller = inputs.caller;
    let mut journal = Journal(context);
    use IGovernance::IGovernanceCalls as Calls;
    let (change, effective) = match call {
        Calls::proposalCount(_) => {
            let count = journal
                .slot(GOVERNANCE_ADDRESS, NEXT_ID_SLOT)?
                .saturating_to::<u64>();
            return Ok(Outcome::Return(
                IGovernance::proposalCountCall::abi_encode_returns(&count).into(),
                VIEW_GAS,
            ));
        }
        Calls::configuration(_) => {
            let json = configuration_json(consortium).to_string();
            return Ok(Outcome::Return(
                IGovernance::configurationCall::abi_encode_returns(&json).into(),
                VIEW_GAS,
            ));
        }
        Calls::proposal(call) => {
            let json = read_proposal(&mut journal, call.id)?.map(|mut p| {
                if let Some(at) = p.expired(now) {
                    p.status = ProposalStatus::Expired { at };
                }
                serde_json::to_string(&p).unwrap_or_default()
            });
            return Ok(match json {
                Some(json) => Outcome::Return(
                    IGovernance::proposalCall::abi_encode_returns(&json).into(),
                    VIEW_GAS,
                ),
                None => Outcome::Revert(format!("no proposal {}", call.id), VIEW_GAS),
            });
        }
        Calls::vote(call) => return vote(&mut journal, consortium, caller, call.id, height, now),
        Calls::proposeAddOrg(call) => (
            Change::AddOrg {
                name: call.name,
                ca_certificate: hex::encode(&call.caCertificate),
                admins: call.admins.iter().map(hex::encode).collect(),
            },
            call.effectiveHeight,
        ),
        Calls::proposeRemoveOrg(call) => {
            (Change::RemoveOrg { name: call.name }, call.effectiveHeight)
        }
        Calls::proposeSetPolicy(call) => (
            Change::SetPolicy {
                policy: call.policy,
                text: call.text,
            },
            call.effectiveHeight,
        ),
        Calls::proposeSetParameter(call) => (
            Change::SetParameter {
                name: call.name,
                value: call.value,
            },
            call.effectiveHeight,
        ),
        Calls::proposeRevoke(call) => (
            Change::Revoke {
                account: call.account,
            },
            call.effectiveHeight,
        ),
        Calls::proposeAddValidator(call) => {
            let address = match call.p2pAddress.parse::<std::net::SocketAddr>() {
                Ok(address) => address,
                Err(_) => {
                    return Ok(Outcome::Revert(
                        format!(
                            "p2p address {:?} is not an ip:port address",
                            call.p2pAddress
                        ),
                        PROPOSE_GAS,
                    ));
                }
            };
            (
                Change::AddValidator {
                    certificate: hex::encode(&call.nodeCertificate),
                    address,
                },
                call.effectiveHeight,
            )
        }
        Calls::proposeRemoveValidator(call) => (
            Change::RemoveValidator {
                key: hex::encode(call.nodeKey),
            },
            call.effectiveHeight,
        ),
    };
    if inputs.is_static {
        return Ok(Outcome::Revert("propose writes state".into(), PROPOSE_GAS));
    }
    if let Err(reason) = changed_config(consortium.state(), &change) {
        return Ok(Outcome::Revert(
            format!("the change would make an invalid configuration: {reason}"),
            PROPOSE_GAS,
        ));
    }
    open_proposal(
        &mut journal,
        consortium,
        caller,
        change,
        effective,
        height,
        now,
        PROPOSE_GAS,
    )
}

/// Records `change` proposed by `caller` (who must be an admin of a member organization: its
/// organization's vote counts at once), approving it if that already satisfies its policy.
/// Returns the proposal id; `gas` is what the call costs.
#[allow(clippy::too_many_arguments)]
pub(super) fn open_proposal<CTX>(
    journal: &mut Journal<'_, CTX>,
    consortium: &Consortium,
    caller: Address,
    change: Change,
    effective: u64,
    height: u64,
    now: u64,
    gas: u64,
) -> Result<Outcome, StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    let admin = match admin_of(journal, consortium, caller, now)? {
        Ok(admin) => admin,
        Err(reason) => return Ok(Outcome::Revert(reason, gas)),
    };
    let id = journal
        .slot(GOVERNANCE_ADDRESS, NEXT_ID_SLOT)?
        .saturating_to::<u64>();
    journal.write(GOVERNANCE_ADDRESS, NEXT_ID_SLOT, U256::from(id + 1))?;
    let proposal = Proposal {
        id,
        change,
        proposer: caller,
        effective_height: effective.max(height + 1),
        approvals: vec![admin.org.clone()],
        status: ProposalStatus::Voting,
        expires_at: Some(now.saturating_add(consortium.state().parameters.proposal_lifetime())),
    };
    journal.log(
        IGovernance::Proposed {
            id,
            proposer: caller,
            change: serde_json::to_string(&proposal.change).unwrap_or_default(),
        }
        .encode_log_data(),
    );
    journal.log(
        IGovernance::Voted {
            id,
            voter: caller,
            org: admin.org.clone(),
        }
        .encode_log_data(),
    );
    finish_vote(journal, consortium, proposal)?;
    Ok(Outcome::Return(
        IGovernance::proposeAddOrgCall::abi_encode_returns(&id).into(),
        gas,
    ))
}

fn vote<CTX>(
    journal: &mut Journal<'_, CTX>,
    consortium: &Consortium,
    caller: Address,
    id: u64,
    height: u64,
    now: u64,
) -> Result<Outcome, StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    let admin = match admin_of(journal, consortium, caller, now)? {
        Ok(admin) => admin,
        Err(reason) => return Ok(Outcome::Revert(reason, VOTE_GAS)),
    };
    let Some(mut proposal) = read_proposal(journal, id)? else {
        return Ok(Outcome::Revert(format!("no proposal {id}"), VOTE_GAS));
    };
    if let Some(at) = proposal.expired(now) {
        return Ok(Outcome::Revert(
            format!(
                "proposal {id} expired at {at} (unix seconds of block time) before its approval policy was met; propose the change again"
            ),
            VOTE_GAS,
        ));
    }
    if proposal.status != ProposalStatus::Voting {
        return Ok(Outcome::Revert(
            format!("proposal {id} is no longer open for votes"),
            VOTE_GAS,
        ));
    }
    if proposal.approvals.contains(&admin.org) {
        return Ok(Outcome::Revert(
            format!("{} already voted for proposal {id}", admin.org),
            VOTE_GAS,
        ));
    }
    proposal.approvals.push(admin.org.clone());
    proposal.effective_height = proposal.effective_height.max(height + 1);
    journal.log(
        IGovernance::Voted {
            id,
            voter: caller,
            org: admin.org,
        }
        .encode_log_data(),
    );
    finish_vote(journal, consortium, proposal)?;
    Ok(Outcome::Return(Bytes::new(), VOTE_GAS))
}

/// Stores the proposal, approving it when the Admins policy is now satisfied.
fn finish_vote<CTX>(
    journal: &mut Journal<'_, CTX>,
    consortium: &Consortium,
    mut proposal: Proposal,
) -> Result<(), StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    if approved(consortium, &proposal.change, &proposal.approvals) {
        proposal.status = ProposalStatus::Approved;
        let mut approved = approved_ids(journal)?;
        approved.push(proposal.id);
        write_approved_ids(journal, &approved)?;
        journal.log(
            IGovernance::Approved {
                id: proposal.id,
                effectiveHeight: proposal.effective_height,
            }
            .encode_log_data(),
        );
    }
    write_proposal(journal, &proposal)
}
