//! The channel configuration held by the config system contract, parsed and checked: member
//! organizations with their CA certificates, validators and observers with their node
//! certificates, and the channel policies.

use super::SlotReader;
use crate::StateReadError;
use alloy_primitives::{Address, U256, keccak256};
use ricaas_crypto::ca::{self, Certificate, Role};
use ricaas_primitives::{
    policy::{Policy, PolicyError},
    system::{
        CONFIG_ADDRESS, ChannelConfigState, IdentityRecord, LifecycleAction, MAX_KEY_INFO_BYTES,
        MAX_OBSERVERS, MAX_ORG_NAME, MAX_VALIDATORS, MEMBERSHIP_ADDRESS, StoredRole,
        bytes_from_slots, bytes_to_slots, certificate_key_slot,
    },
};
use std::sync::{Arc, Mutex};

/// Slot of the config contract holding the configuration JSON (Solidity `bytes` layout).
const CONFIG_SLOT: U256 = U256::ZERO;
/// Slot holding the Keccak-256 of that JSON: one read tells whether a cached parse is current.
const CONFIG_HASH_SLOT: U256 = U256::from_limbs([1, 0, 0, 0]);
/// Largest configuration accepted from state (bounds the reads a corrupt length could cause).
const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConsortiumError {
    #[error("channel configuration is not valid JSON: {0}")]
    Json(String),
    #[error("channel configuration names no organization")]
    NoOrgs,
    #[error("organization {0:?} is listed twice")]
    DuplicateOrg(String),
    #[error("organization name {0:?} is empty or longer than {MAX_ORG_NAME} bytes")]
    OrgName(String),
    #[error("CA certificate of {org}: {reason}")]
    CaCertificate { org: String, reason: String },
    #[error("{name} policy: {error}")]
    Policy {
        name: &'static str,
        error: PolicyError,
    },
    #[error("validator certificate {index}: {reason}")]
    Validator { index: usize, reason: String },
    #[error("a channel may have at most {MAX_VALIDATORS} validators, this configuration lists {0}")]
    TooManyValidators(usize),
    #[error("observer certificate {index}: {reason}")]
    Observer { index: usize, reason: String },
    #[error("a channel may list at most {MAX_OBSERVERS} observers, this configuration lists {0}")]
    TooManyObservers(usize),
    #[error("a p2p address is recorded for {0}, which is not a validator")]
    StrayAddress(String),
    #[error("epoch_length must be at least 2 heights, got {0}")]
    EpochLength(u64),
    #[error("genesis identity {index}: {reason}")]
    Identity { index: usize, reason: String },
    #[error("the channel configuration in state is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    State(#[from] StateReadError),
}

/// Where the membership contract keeps an enrolled certificate's public key, and the key
/// (SubjectPublicKeyInfo DER): native transactions may name the certificate by id.
pub fn key_record(certificate: &Certificate) -> Result<(U256, Vec<u8>), String> {
    let der = ca::certificate_der(certificate).map_err(|e| e.to_string())?;
    let key = ca::public_key_info_der(certificate).map_err(|e| e.to_string())?;
    if key.len() > MAX_KEY_INFO_BYTES {
        return Err(format!(
            "its public key is {} bytes, more than {MAX_KEY_INFO_BYTES}",
            key.len()
        ));
    }
    Ok((
        certificate_key_slot(&ricaas_primitives::certificate_id(&der)),
        key,
    ))
}

/// The public key (SubjectPublicKeyInfo DER) of the enrolled certificate with id `id`.
pub fn enrolled_key(
    reader: &mut impl SlotReader,
    id: &alloy_primitives::B256,
) -> Result<Option<Vec<u8>>, StateReadError> {
    Ok(super::read_bytes(
        reader,
        MEMBERSHIP_ADDRESS,
        certificate_key_slot(id),
        MAX_KEY_INFO_BYTES,
    )?
    .filter(|key| !key.is_empty()))
}

/// A member organization: its name and root CA certificate.
#[derive(Clone, Debug)]
pub struct MemberOrg {
    pub name: String,
    pub ca: Certificate,
}

/// A validator: the node certificate its org CA issued and the Ed25519 key in it.
#[derive(Clone, Debug)]
pub struct Validator {
    pub org: String,
    pub certificate: Certificate,
    pub public_key: [u8; 32],
}

/// The channel's policies, parsed.
#[derive(Clone, Debug)]
pub struct ChannelPolicies {
    pub readers: Policy,
    pub writers: Policy,
    pub contract_deployers: Policy,
    pub admins: Policy,
    /// Who approves each contract lifecycle action, in [`LifecycleAction::ALL`] order.
    pub lifecycle: [Policy; 5],
}

impl ChannelPolicies {
    /// The policy that approves contract lifecycle `action`.
    pub fn lifecycle(&self, action: LifecycleAction) -> &Policy {
        &self.lifecycle[action as usize]
    }
}

/// The channel configuration, checked: every CA certificate is self-signed by its named
/// organization, every validator certificate was issued by a member CA to a node, and every
/// policy parses and names only member organizations.
#[derive(Clone, Debug)]
pub struct Consortium {
    pub channel: String,
    pub orgs: Vec<MemberOrg>,
    pub org_names: Vec<String>,
    pub validators: Vec<Validator>,
    /// Nodes that follow the chain without voting (same shape as a validator's entry).
    pub observers: Vec<Validator>,
    pub policies: ChannelPolicies,
    state: ChannelConfigState,
}

impl Consortium {
    pub fn new(state: ChannelConfigState) -> Result<Self, ConsortiumError> {
        if state.orgs.is_empty() {
            return Err(ConsortiumError::NoOrgs);
        }
        if state.validators.len() > MAX_VALIDATORS {
            return Err(ConsortiumError::TooManyValidators(state.validators.len()));
        }
        if state.epoch_length < 2 {
            return Err(ConsortiumError::EpochLength(state.epoch_length));
        }
        let mut orgs: Vec<MemberOrg> = Vec::with_capacity(state.orgs.len());
        for org in &state.orgs {
            if org.name.is_empty() || org.name.len() > MAX_ORG_NAME {
                return Err(ConsortiumError::OrgName(org.name.clone()));
            }
            if orgs.iter().any(|o| o.name == org.name) {
                return Err(ConsortiumError::DuplicateOrg(org.name.clone()));
            }
            let bad = |reason: String| ConsortiumError::CaCertificate {
                org: org.name.clone(),
                reason,
            };
            let der = hex::decode(&org.ca_certificate).map_err(|e| bad(e.to_string()))?;
            let certificate = ca::certificate_from_der(&der).map_err(|e| bad(e.to_string()))?;
            if ca::org_of(&certificate).as_deref() != Some(org.name.as_str()) {
                return Err(bad(format!(
                    "its subject names organization {:?}",
                    ca::org_of(&certificate).unwrap_or_default()
                )));
            }
            ca::verify_issuer(&certificate, &certificate)
                .map_err(|e| bad(format!("not a self-signed root: {e}")))?;
            orgs.push(MemberOrg {
                name: org.name.clone(),
                ca: certificate,
            });
        }
        let org_names: Vec<String> = orgs.iter().map(|o| o.name.clone()).collect();
        let policy = |name: &'static str, text: &str| {
            let policy: Policy = text
                .parse()
                .map_err(|error| ConsortiumError::Policy { name, error })?;
            policy
                .check_orgs(&org_names)
                .map_err(|error| ConsortiumError::Policy { name, error })?;
            Ok::<_, ConsortiumError>(policy)
        };
        let policies = ChannelPolicies {
            readers: policy("Readers", &state.policies.readers)?,
            writers: policy("Writers", &state.policies.writers)?,
            contract_deployers: policy("ContractDeployers", &state.policies.contract_deployers)?,
            admins: policy("Admins", &state.policies.admins)?,
            lifecycle: [
                policy(
                    "contract_deploy",
                    state.policies.lifecycle.text(LifecycleAction::Deploy),
                )?,
                policy(
                    "contract_upgrade",
                    state.policies.lifecycle.text(LifecycleAction::Upgrade),
                )?,
                policy(
                    "contract_freeze",
                    state.policies.lifecycle.text(LifecycleAction::Freeze),
                )?,
                policy(
                    "contract_unfreeze",
                    state.policies.lifecycle.text(LifecycleAction::Unfreeze),
                )?,
                policy(
                    "contract_revoke",
                    state.policies.lifecycle.text(LifecycleAction::Revoke),
                )?,
            ],
        };
        let mut consortium = Self {
            channel: state.channel.clone(),
            orgs,
            org_names,
            validators: Vec::new(),
            observers: Vec::new(),
            policies,
            state: ChannelConfigState {
                validators: Vec::new(),
                ..state.clone()
            },
        };
        for (index, hex_der) in state.validators.iter().enumerate() {
            let bad = |reason: String| ConsortiumError::Validator { index, reason };
            let der = hex::decode(hex_der).map_err(|e| bad(e.to_string()))?;
            let certificate = ca::certificate_from_der(&der).map_err(|e| bad(e.to_string()))?;
            let (org, role) = consortium.issued_by_member(&certificate).map_err(bad)?;
            if role != Role::Node {
                return Err(bad(format!("role is {}, not node", role.as_str())));
            }
            let public_key = ca::ed25519_key_of(&certificate)
                .ok_or_else(|| bad("a validator's node key must be Ed25519".into()))?;
            if consortium
                .validators
                .iter()
                .any(|v| v.public_key == public_key)
            {
                return Err(bad("the same node key is listed twice".into()));
            }
            consortium.validators.push(Validator {
                org,
                certificate,
                public_key,
            });
        }
        if let Some(stray) = state.validator_addresses.keys().find(|key| {
            !consortium
                .validators
                .iter()
                .any(|v| hex::encode(v.public_key) == **key)
        }) {
            return Err(ConsortiumError::StrayAddress(stray.clone()));
        }
        if state.observers.len() > MAX_OBSERVERS {
            return Err(ConsortiumError::TooManyObservers(state.observers.len()));
        }
        for (index, hex_der) in state.observers.iter().enumerate() {
            let bad = |reason: String| ConsortiumError::Observer { index, reason };
            let der = hex::decode(hex_der).map_err(|e| bad(e.to_string()))?;
            let certificate = ca::certificate_from_der(&der).map_err(|e| bad(e.to_string()))?;
            let (org, role) = consortium.issued_by_member(&certificate).map_err(bad)?;
            if role != Role::Node {
                return Err(bad(format!("role is {}, not node", role.as_str())));
            }
            let public_key = ca::ed25519_key_of(&certificate)
                .ok_or_else(|| bad("an observer's node key must be Ed25519".into()))?;
            if consortium.node(&public_key).is_some() {
                return Err(bad(
                    "the node key is already listed as a validator or an observer".into(),
                ));
            }
            consortium.observers.push(Validator {
                org,
                certificate,
                public_key,
            });
        }
        consortium.state.validators = state.validators;
        Ok(consortium)
    }

    /// The organization and role of a certificate issued by the CA of the member organization
    /// its subject names (an organization's CA cannot issue for another organization).
    pub fn issued_by_member(&self, certificate: &Certificate) -> Result<(String, Role), String> {
        let org = ca::org_of(certificate).ok_or("the certificate names no organization")?;
        let member = self.org(&org).ok_or_else(|| {
            format!(
                "organization {org} is not a member of channel {}",
                self.channel
            )
        })?;
        ca::verify_issuer(&member.ca, certificate).map_err(|e| e.to_string())?;
        let role = ca::role_of(certificate)
            .ok_or("the certificate carries no role (OU admin, client or node)")?;
        Ok((org, role))
    }

    /// The chain rules in force: the genesis `rules` with governance's changes applied.
    pub fn rules(&self, rules: &crate::ChainRules) -> crate::ChainRules {
        let mut effective = rules.clone();
        if let Some(limit) = self.state.parameters.tx_gas_limit {
            // Never above what a block can hold.
            effective.tx_gas_limit = limit.min(rules.block_gas_limit);
        }
        effective
    }

    /// The lowest gas price admitted: governance's value, else `configured`.
    /// What a contract version must carry, if the channel set a gate.
    pub fn deploy_security_gate(&self) -> Option<ricaas_primitives::system::SecurityGate> {
        self.state.parameters.deploy_security_gate
    }

    pub fn min_gas_price(&self, configured: u128) -> u128 {
        self.state.parameters.min_gas_price.unwrap_or(configured)
    }

    /// The validator or observer whose node key is `key`.
    pub fn node(&self, key: &[u8; 32]) -> Option<&Validator> {
        self.validators
            .iter()
            .chain(&self.observers)
            .find(|node| &node.public_key == key)
    }

    pub fn org(&self, name: &str) -> Option<&MemberOrg> {
        self.orgs.iter().find(|o| o.name == name)
    }

    pub fn state(&self) -> &ChannelConfigState {
        &self.state
    }

    /// Storage of the system contracts at genesis: this configuration, and the `identities`
    /// (secp256k1 certificates of member organizations) enrolled from the first block.
    pub fn genesis_storage(
        &self,
        identities: &[Certificate],
    ) -> Result<Vec<(Address, U256, U256)>, ConsortiumError> {
        let json =
            serde_json::to_vec(&self.state).map_err(|e| ConsortiumError::Json(e.to_string()))?;
        let mut writes: Vec<(Address, U256, U256)> = bytes_to_slots(CONFIG_SLOT, &json)
            .into_iter()
            .map(|(slot, value)| (CONFIG_ADDRESS, slot, value))
            .collect();
        writes.push((
            CONFIG_ADDRESS,
            CONFIG_HASH_SLOT,
            U256::from_be_bytes(keccak256(&json).0),
        ));
        for (index, certificate) in identities.iter().enumerate() {
            let bad = |reason: String| ConsortiumError::Identity { index, reason };
            let (account, record) = self.identity_record(certificate).map_err(bad)?;
            let values = record
                .encode()
                .ok_or_else(|| bad("organization name too long".into()))?;
            for (slot, value) in IdentityRecord::slots(&account).into_iter().zip(values) {
                writes.push((MEMBERSHIP_ADDRESS, slot, value));
            }
            let (base, key) = key_record(certificate).map_err(bad)?;
            for (slot, value) in bytes_to_slots(base, &key) {
                writes.push((MEMBERSHIP_ADDRESS, slot, value));
            }
        }
        Ok(writes)
    }

    /// The account and membership record a certificate enrolls (validity is checked by the
    /// caller, at its own notion of now).
    pub fn identity_record(
        &self,
        certificate: &Certificate,
    ) -> Result<(Address, IdentityRecord), String> {
        let (org, role) = self.issued_by_member(certificate)?;
        // secp256k1 keys act through Ethereum transactions; SM2, P-256 and Ed25519 keys through
        // the native envelope, from the account their key derives.
        let account = ca::account_of(certificate).ok_or("the certificate's key is unreadable")?;
        let (not_before, not_after) = ca::validity_of(certificate);
        let role = match role {
            Role::Admin => StoredRole::Admin,
            Role::Client => StoredRole::Client,
            Role::Node => StoredRole::Node,
        };
        Ok((
            account,
            IdentityRecord {
                org,
                role,
                not_before,
                not_after,
                revoked_at: None,
            },
        ))
    }

    /// Replaces the configuration in state with `state` (already checked by [`Self::new`]).
    pub(crate) fn store(
        store: &mut impl super::SlotStore,
        state: &ChannelConfigState,
    ) -> Result<(), ConsortiumError> {
        let json = serde_json::to_vec(state).map_err(|e| ConsortiumError::Json(e.to_string()))?;
        super::write_bytes(store, CONFIG_ADDRESS, CONFIG_SLOT, &json)?;
        store.write(
            CONFIG_ADDRESS,
            CONFIG_HASH_SLOT,
            U256::from_be_bytes(keccak256(&json).0),
        )?;
        Ok(())
    }

    /// Reads the channel configuration from state; `None` on a chain without one. Parsed
    /// configurations are cached by hash, so a block pays one slot read when nothing changed.
    pub fn load(reader: &mut impl SlotReader) -> Result<Option<Arc<Self>>, ConsortiumError> {
        static CACHE: Mutex<Vec<(U256, Arc<Consortium>)>> = Mutex::new(Vec::new());
        const CACHED: usize = 16;
        let hash = reader.slot(CONFIG_ADDRESS, CONFIG_HASH_SLOT)?;
        if hash.is_zero() {
            return Ok(None);
        }
        let cached = |cache: &[(U256, Arc<Consortium>)]| {
            cache
                .iter()
                .find(|(h, _)| *h == hash)
                .map(|(_, c)| c.clone())
        };
        if let Some(found) = CACHE.lock().ok().and_then(|c| cached(&c)) {
            return Ok(Some(found));
        }
        let json = bytes_from_slots(CONFIG_SLOT, MAX_CONFIG_BYTES, |slot| {
            reader.slot(CONFIG_ADDRESS, slot)
        })?
        .ok_or_else(|| ConsortiumError::Corrupt("bad length".into()))?;
        if U256::from_be_bytes(keccak256(&json).0) != hash {
            return Err(ConsortiumError::Corrupt("hash does not match".into()));
        }
        let state: ChannelConfigState =
            serde_json::from_slice(&json).map_err(|e| ConsortiumError::Json(e.to_string()))?;
        let consortium = Arc::new(Self::new(state)?);
        if let Ok(mut cache) = CACHE.lock() {
            if cache.len() >= CACHED {
                cache.remove(0);
            }
            cache.push((hash, consortium.clone()));
        }
        Ok(Some(consortium))
    }
}
