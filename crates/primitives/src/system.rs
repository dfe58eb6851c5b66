//! The channel's system contracts: fixed addresses, their Solidity interfaces, and how the
//! membership contract lays out an identity in its storage. Execution implements them; clients,
//! the node's admission and tools read and call them through these definitions.

use crate::{Address, B256, U256, keccak256};
use alloy_primitives::address;
use serde::{Deserialize, Serialize};

/// Holds the channel configuration (member organizations, validators, policies).
pub const CONFIG_ADDRESS: Address = address!("0x0000000000000000000000000000000000001000");
/// Maps Ethereum accounts to enrolled certificates and records revocations.
pub const MEMBERSHIP_ADDRESS: Address = address!("0x0000000000000000000000000000000000001001");
/// Proposals to change the channel configuration, voted by organization admins.
pub const GOVERNANCE_ADDRESS: Address = address!("0x0000000000000000000000000000000000001002");
/// The contract lifecycle: a registry of the channel's contracts (name, address, versions,
/// state) changed by proposals voted like governance's (see [`ILifecycle`]).
pub const LIFECYCLE_ADDRESS: Address = address!("0x0000000000000000000000000000000000001003");

alloy_sol_types::sol! {
    /// The membership system contract. An organization's admin enrolls certificates its CA
    /// issued (`enroll`), and revokes its organization's accounts (`revoke`).
    #[derive(Debug, PartialEq, Eq)]
    interface IMembership {
        /// Enrolls certificates (DER; secp256k1 keys act through Ethereum transactions, SM2, P-256
        /// and Ed25519 keys through the native envelope); each must be issued by the CA of the
        /// organization its subject names, which must be the caller's organization.
        function enroll(bytes[] certificates) external;
        /// Revokes an account of the caller's organization from this block on.
        function revoke(address account) external;
        /// The public key (SubjectPublicKeyInfo, DER) of the enrolled certificate whose id is
        /// `certificateId` (Keccak-256 of its DER); reverts when none is enrolled. Native
        /// transactions may name their signer's certificate by this id.
        function publicKeyOf(bytes32 certificateId) external view returns (bytes publicKeyInfo);
        /// The identity behind `account`; reverts when it is not enrolled.
        function identityOf(address account) external view returns (
            string org, string role, uint64 notBefore, uint64 notAfter, uint64 revokedAtHeight, bool revoked
        );
        /// Lists a node of the caller's organization as an observer of the channel: a full
        /// replica that follows finalized blocks and serves JSON-RPC but never votes. The node
        /// certificate (DER, an Ed25519 key, role node) must be issued by the caller's CA and
        /// the channel's Readers policy must admit its organization's nodes. Validators accept
        /// its p2p connection from the next block on.
        function addObserver(bytes nodeCertificate) external;
        /// Removes the observer with Ed25519 key `nodeKey`, a node of the caller's organization.
        function removeObserver(bytes32 nodeKey) external;
        event Enrolled(address indexed account, string org, string role, uint64 notAfter);
        event Revoked(address indexed account, uint64 height);
        event ObserverAdded(bytes32 indexed nodeKey, string org);
        event ObserverRemoved(bytes32 indexed nodeKey, string org);
    }
}

alloy_sol_types::sol! {
    /// The governance system contract. An admin of a member organization proposes a change of
    /// the channel configuration; admins vote (one vote per organization, the proposer's
    /// included); once the channel's Admins policy is satisfied the change is approved and takes
    /// effect at the start of block `effectiveHeight` (or the next block, if that has passed).
    /// A proposal not approved within the channel's `proposal_lifetime_seconds` of block time
    /// (default 7 days) expires: it takes no more votes and never applies.
    #[derive(Debug, PartialEq, Eq)]
    interface IGovernance {
        /// `admins`: the new organization's first admin certificates (secp256k1, issued by its CA),
        /// enrolled when the change applies.
        function proposeAddOrg(string name, bytes caCertificate, bytes[] admins, uint64 effectiveHeight) external returns (uint64 id);
        function proposeRemoveOrg(string name, uint64 effectiveHeight) external returns (uint64 id);
        /// `policy` is one of readers, writers, contract_deployers, admins.
        function proposeSetPolicy(string policy, string text, uint64 effectiveHeight) external returns (uint64 id);
        function proposeRevoke(address account, uint64 effectiveHeight) external returns (uint64 id);
        /// `name` is tx_gas_limit, min_gas_price, proposal_lifetime_seconds or
        /// deploy_security_gate (0 off, 1 or 2: contract versions must name a security report).
        function proposeSetParameter(string name, uint256 value, uint64 effectiveHeight) external returns (uint64 id);
        /// Adds a validator from the next consensus epoch after `effectiveHeight`: `nodeCertificate`
        /// (DER) was issued by a member CA with OU=node and holds the node's Ed25519 key;
        /// `p2pAddress` (`host:port`, an IP address) is where the other nodes reach it.
        function proposeAddValidator(bytes nodeCertificate, string p2pAddress, uint64 effectiveHeight) external returns (uint64 id);
        /// Removes the validator with Ed25519 key `nodeKey` from the next consensus epoch after
        /// `effectiveHeight`.
        function proposeRemoveValidator(bytes32 nodeKey, uint64 effectiveHeight) external returns (uint64 id);
        function vote(uint64 id) external;
        /// The proposal as JSON: change, proposer, effective height, approving orgs, when it
        /// expires (`expires_at`, unix seconds of block time) and status (`voting`, `approved`,
        /// `applied`, `failed`, or `expired` once its deadline passed without approval).
        function proposal(uint64 id) external view returns (string json);
        /// How many proposals were made: their ids are 0 to count - 1.
        function proposalCount() external view returns (uint64 count);
        /// The channel configuration now, as JSON: `channel`, `orgs` (names), `policies`,
        /// `validators` and `observers` (each `{org, key}`, the Ed25519 node key in hex),
        /// `epoch_length` and `parameters`.
        function configuration() external view returns (string json);
        event Proposed(uint64 indexed id, address proposer, string change);
        event Voted(uint64 indexed id, address voter, string org);
        event Approved(uint64 indexed id, uint64 effectiveHeight);
    }
}

alloy_sol_types::sol! {
    /// The contract lifecycle system contract. A registry of the channel's contracts: name,
    /// address, versions (ABI, source hash, compiler, security report hash, code hash, height)
    /// and state — `approved` (deployment approved, not yet created), `normal`, `frozen`,
    /// `revoked` (final). Every change is a proposal with the governance contract's ids, votes
    /// (`IGovernance.vote`) and deadlines, approved under the channel's policy for that action
    /// (`contract_deploy`, `contract_upgrade`, `contract_freeze`, `contract_unfreeze`,
    /// `contract_revoke`; `MAJORITY Admins` unless governance set another). A frozen or revoked
    /// contract's code is replaced by one that reverts saying so and since which height, so it
    /// cannot be called directly or from another contract; unfreezing restores its code.
    #[derive(Debug, PartialEq, Eq)]
    interface ILifecycle {
        /// Approves creating contract `name` from the creation code (with constructor arguments)
        /// whose Keccak-256 is `initCodeHash`, sent by the proposer's account: once approved,
        /// that creation transaction registers the contract (in `approved` deployment mode the
        /// only way to create one). `abi` is the contract's ABI as JSON.
        function proposeDeploy(string name, bytes32 initCodeHash, string abi, bytes32 sourceHash, string compiler, bytes32 reportHash, uint64 effectiveHeight) external returns (uint64 id);
        /// Registers a contract created directly (deployment mode `direct`) at `target`.
        function proposeRegister(string name, address target, string abi, bytes32 sourceHash, string compiler, bytes32 reportHash, uint64 effectiveHeight) external returns (uint64 id);
        /// Replaces the code of contract `name` with `runtimeCode` at `effectiveHeight`, keeping
        /// its address and storage (no constructor runs).
        function proposeUpgrade(string name, bytes runtimeCode, string abi, bytes32 sourceHash, string compiler, bytes32 reportHash, uint64 effectiveHeight) external returns (uint64 id);
        function proposeFreeze(string name, uint64 effectiveHeight) external returns (uint64 id);
        function proposeUnfreeze(string name, uint64 effectiveHeight) external returns (uint64 id);
        function proposeRevoke(string name, uint64 effectiveHeight) external returns (uint64 id);
        /// The registered contracts as JSON: `[{name, address, state, since, version}]`.
        function contracts() external view returns (string json);
        /// Contract `name` as JSON, with every version (ABI included); reverts when unknown.
        function contractInfo(string name) external view returns (string json);
        /// The name of the contract registered at `target` (empty when none).
        function nameOf(address target) external view returns (string name);
        event ContractChanged(string name, address target, string state, uint64 version, uint64 height);
    }
}

/// The role an enrolled identity holds (its certificate's OU), as stored on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoredRole {
    Admin = 1,
    Client = 2,
    Node = 3,
}

impl StoredRole {
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Admin),
            2 => Some(Self::Client),
            3 => Some(Self::Node),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Client => "client",
            Self::Node => "node",
        }
    }

    pub fn policy_role(self) -> crate::policy::PolicyRole {
        use crate::policy::PolicyRole;
        match self {
            Self::Admin => PolicyRole::Admin,
            Self::Client => PolicyRole::Client,
            Self::Node => PolicyRole::Node,
        }
    }
}

/// An enrolled identity as the membership contract stores it for one account.
///
/// Storage: slot `keccak(account ‖ 0)` packs `[1, role, 0…, not_before: u64, not_after: u64,
/// revoked_at: u64]` (big-endian; `revoked_at` is the revocation height + 1, 0 while valid);
/// slot `keccak(account ‖ 1)` holds the organization name, left-aligned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityRecord {
    pub org: String,
    pub role: StoredRole,
    /// Validity of the certificate, Unix seconds.
    pub not_before: u64,
    pub not_after: u64,
    /// Height of the block that revoked the account.
    pub revoked_at: Option<u64>,
}

/// Longest organization name the membership contract can store.
pub const MAX_ORG_NAME: usize = 32;

/// Longest public key record the membership contract keeps (SubjectPublicKeyInfo DER).
pub const MAX_KEY_INFO_BYTES: usize = 1024;

/// Base slot of the membership contract's `bytes` holding the public key (SubjectPublicKeyInfo
/// DER) of the enrolled certificate with id `id`: `keccak(id ‖ 3)`.
pub fn certificate_key_slot(id: &B256) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(id.as_slice());
    preimage[63] = 3;
    U256::from_be_bytes(keccak256(preimage).0)
}

fn record_slot(account: &Address, field: u8) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(account.as_slice());
    preimage[63] = field;
    U256::from_be_bytes(keccak256(preimage).0)
}

impl IdentityRecord {
    /// The two storage slots that hold `account`'s record.
    pub fn slots(account: &Address) -> [U256; 2] {
        [record_slot(account, 0), record_slot(account, 1)]
    }

    /// The slot values of this record (`None` if the organization name is too long).
    pub fn encode(&self) -> Option<[U256; 2]> {
        let name = self.org.as_bytes();
        if name.is_empty() || name.len() > MAX_ORG_NAME {
            return None;
        }
        let mut packed = [0u8; 32];
        packed[0] = 1;
        packed[1] = self.role as u8;
        packed[8..16].copy_from_slice(&self.not_before.to_be_bytes());
        packed[16..24].copy_from_slice(&self.not_after.to_be_bytes());
        let revoked = self.revoked_at.map_or(0, |h| h.saturating_add(1));
        packed[24..32].copy_from_slice(&revoked.to_be_bytes());
        let mut org = [0u8; 32];
        org[..name.len()].copy_from_slice(name);
        Some([U256::from_be_bytes(packed), U256::from_be_bytes(org)])
    }

    /// Reads a record back from its slot values; `None` when nothing (or garbage) is stored.
    pub fn decode(values: [U256; 2]) -> Option<Self> {
        let packed: [u8; 32] = values[0].to_be_bytes();
        if packed[0] != 1 {
            return None;
        }
        let role = StoredRole::from_byte(packed[1])?;
        let word = |range: std::ops::Range<usize>| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&packed[range]);
            u64::from_be_bytes(bytes)
        };
        let revoked = word(24..32);
        let org_bytes: [u8; 32] = values[1].to_be_bytes();
        let len = org_bytes.iter().position(|b| *b == 0).unwrap_or(32);
        let org = std::str::from_utf8(&org_bytes[..len]).ok()?.to_string();
        Some(Self {
            org,
            role,
            not_before: word(8..16),
            not_after: word(16..24),
            revoked_at: revoked.checked_sub(1),
        })
    }
}

/// The channel configuration as the config contract holds it: JSON in its storage (Solidity
/// `bytes` layout at slot 0). Certificates are DER, hex-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfigState {
    pub channel: String,
    pub orgs: Vec<OrgState>,
    pub policies: PolicyTexts,
    /// Node certificates of the validators (their Ed25519 keys vote and connect).
    pub validators: Vec<String>,
    /// p2p addresses (`ip:port`) of validators added by governance, by Ed25519 key (hex). The
    /// genesis validators' addresses are in each node's configuration.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub validator_addresses: std::collections::BTreeMap<String, std::net::SocketAddr>,
    /// Node certificates of the observers (DER as hex): replicas that follow the chain without
    /// voting. Their organizations list them (`addObserver`); validators accept their keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observers: Vec<String>,
    /// Heights per consensus epoch. The validators of epoch e+1 are those of this
    /// configuration after epoch e's last block. Fixed at genesis.
    #[serde(default = "default_epoch_length")]
    pub epoch_length: u64,
    /// Chain parameters changed by governance since genesis (absent: the node configuration's).
    #[serde(default, skip_serializing_if = "ChainParameters::is_empty")]
    pub parameters: ChainParameters,
    /// How contracts are created: `direct` (a creation transaction from an identity the
    /// ContractDeployers policy admits) or `approved` (only creation code a lifecycle proposal
    /// approved, from the proposer's account).
    #[serde(default, skip_serializing_if = "Deployment::is_direct")]
    pub deployment: Deployment,
}

/// How a channel's contracts may be created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    /// Any identity the ContractDeployers policy admits sends a creation transaction (Hardhat,
    /// Foundry and ethers deployments work unchanged); such contracts may still be registered,
    /// frozen and revoked by proposal.
    #[default]
    Direct,
    /// Creation only of code approved by a lifecycle proposal (`ILifecycle.proposeDeploy`).
    Approved,
}

impl Deployment {
    pub fn is_direct(&self) -> bool {
        *self == Deployment::Direct
    }
}

impl std::str::FromStr for Deployment {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "direct" => Ok(Deployment::Direct),
            "approved" => Ok(Deployment::Approved),
            other => Err(format!(
                "deployment {other:?} is neither \"direct\" nor \"approved\""
            )),
        }
    }
}

/// Heights per consensus epoch unless the genesis configuration says otherwise.
pub const DEFAULT_EPOCH_LENGTH: u64 = 100;

/// Most validators a channel may have (it sizes the p2p network and consensus certificates).
pub const MAX_VALIDATORS: usize = 16;

/// Most observers a channel may list (each is a peer every validator keeps a connection and a
/// preallocated mailbox for).
pub const MAX_OBSERVERS: usize = 16;

fn default_epoch_length() -> u64 {
    DEFAULT_EPOCH_LENGTH
}

/// Chain parameters governance may change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainParameters {
    /// Most gas one transaction may ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_gas_limit: Option<u64>,
    /// Lowest gas price admitted, in wei.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gas_price: Option<u128>,
    /// How long a governance proposal stays open for votes, in seconds of block time
    /// ([`DEFAULT_PROPOSAL_LIFETIME_SECONDS`] unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_lifetime_seconds: Option<u64>,
    /// What a contract deployment, upgrade or registration must carry (see [`SecurityGate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_security_gate: Option<SecurityGate>,
}

/// The channel's rule for the security report of a contract version. The chain can only check
/// that a version names a report (its hash is recorded with the version); what the report says
/// — findings not yet resolved at or above the gate's severity — is checked by the platform
/// that proposes the version and shown to every member who votes on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityGate {
    /// A report is required; high-severity findings must be resolved.
    High = 1,
    /// A report is required; medium- and high-severity findings must be resolved.
    Medium = 2,
}

impl SecurityGate {
    /// The gate a `deploy_security_gate` parameter value sets (0 clears it).
    pub fn from_value(value: u64) -> Result<Option<Self>, String> {
        match value {
            0 => Ok(None),
            1 => Ok(Some(Self::High)),
            2 => Ok(Some(Self::Medium)),
            other => Err(format!(
                "deploy_security_gate must be 0 (off), 1 (no unresolved high findings) or 2 (no unresolved medium or high findings), not {other}"
            )),
        }
    }
}

/// A week: consortium members are separate companies, each with its own approval process.
pub const DEFAULT_PROPOSAL_LIFETIME_SECONDS: u64 = 7 * 24 * 3600;
/// Shortest and longest proposal lifetimes governance may set.
pub const PROPOSAL_LIFETIME_RANGE_SECONDS: std::ops::RangeInclusive<u64> = 60..=365 * 24 * 3600;

impl ChainParameters {
    pub fn is_empty(&self) -> bool {
        self.tx_gas_limit.is_none()
            && self.min_gas_price.is_none()
            && self.proposal_lifetime_seconds.is_none()
            && self.deploy_security_gate.is_none()
    }

    /// How long a proposal made now stays open for votes, in seconds.
    pub fn proposal_lifetime(&self) -> u64 {
        self.proposal_lifetime_seconds
            .unwrap_or(DEFAULT_PROPOSAL_LIFETIME_SECONDS)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgState {
    pub name: String,
    /// The organization's root CA certificate, DER as hex.
    pub ca_certificate: String,
}

/// The channel policies, in the policy language of [`crate::policy`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTexts {
    pub readers: String,
    pub writers: String,
    pub contract_deployers: String,
    pub admins: String,
    /// Who approves each contract lifecycle action (absent: [`DEFAULT_LIFECYCLE_POLICY`]).
    #[serde(default, skip_serializing_if = "LifecyclePolicyTexts::is_empty")]
    pub lifecycle: LifecyclePolicyTexts,
}

/// The policy a contract lifecycle action needs unless governance set another.
pub const DEFAULT_LIFECYCLE_POLICY: &str = "MAJORITY Admins";

/// The policies of the contract lifecycle actions (`None`: [`DEFAULT_LIFECYCLE_POLICY`]).
/// Registering a directly created contract needs the deploy policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecyclePolicyTexts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfreeze: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<String>,
}

/// A contract lifecycle action, each approved under its own channel policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleAction {
    Deploy = 0,
    Upgrade = 1,
    Freeze = 2,
    Unfreeze = 3,
    Revoke = 4,
}

impl LifecycleAction {
    pub const ALL: [LifecycleAction; 5] = [
        LifecycleAction::Deploy,
        LifecycleAction::Upgrade,
        LifecycleAction::Freeze,
        LifecycleAction::Unfreeze,
        LifecycleAction::Revoke,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Deploy => "deploy",
            LifecycleAction::Upgrade => "upgrade",
            LifecycleAction::Freeze => "freeze",
            LifecycleAction::Unfreeze => "unfreeze",
            LifecycleAction::Revoke => "revoke",
        }
    }

    /// The name governance's `proposeSetPolicy` knows its policy by: `contract_<action>`.
    pub fn policy_name(self) -> &'static str {
        match self {
            LifecycleAction::Deploy => "contract_deploy",
            LifecycleAction::Upgrade => "contract_upgrade",
            LifecycleAction::Freeze => "contract_freeze",
            LifecycleAction::Unfreeze => "contract_unfreeze",
            LifecycleAction::Revoke => "contract_revoke",
        }
    }

    pub fn from_policy_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.policy_name() == name)
    }
}

impl LifecyclePolicyTexts {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn slot(&mut self, action: LifecycleAction) -> &mut Option<String> {
        match action {
            LifecycleAction::Deploy => &mut self.deploy,
            LifecycleAction::Upgrade => &mut self.upgrade,
            LifecycleAction::Freeze => &mut self.freeze,
            LifecycleAction::Unfreeze => &mut self.unfreeze,
            LifecycleAction::Revoke => &mut self.revoke,
        }
    }

    /// The policy text of `action`, the default when unset.
    pub fn text(&self, action: LifecycleAction) -> &str {
        let set = match action {
            LifecycleAction::Deploy => &self.deploy,
            LifecycleAction::Upgrade => &self.upgrade,
            LifecycleAction::Freeze => &self.freeze,
            LifecycleAction::Unfreeze => &self.unfreeze,
            LifecycleAction::Revoke => &self.revoke,
        };
        set.as_deref().unwrap_or(DEFAULT_LIFECYCLE_POLICY)
    }
}

/// Storage slots and values of `bytes` stored Solidity-style at slot `base`: short values
/// (< 32 bytes) inline with `len * 2`; long ones as `len * 2 + 1` with the data in 32-byte
/// words from `keccak(base)`.
pub fn bytes_to_slots(base: U256, data: &[u8]) -> Vec<(U256, U256)> {
    let len = U256::from(data.len());
    if data.len() < 32 {
        let mut word = [0u8; 32];
        word[..data.len()].copy_from_slice(data);
        word[31] = (data.len() * 2) as u8;
        return vec![(base, U256::from_be_bytes(word))];
    }
    let mut slots = vec![(base, len * U256::from(2) + U256::from(1))];
    let start = U256::from_be_bytes(keccak256(B256::from(base)).0);
    for (i, chunk) in data.chunks(32).enumerate() {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        slots.push((start + U256::from(i), U256::from_be_bytes(word)));
    }
    slots
}

/// Reads `bytes` stored by [`bytes_to_slots`] through `read` (slot → value).
pub fn bytes_from_slots<E>(
    base: U256,
    max_len: usize,
    mut read: impl FnMut(U256) -> Result<U256, E>,
) -> Result<Option<Vec<u8>>, E> {
    let head = read(base)?;
    let head_bytes: [u8; 32] = head.to_be_bytes();
    if head_bytes[31] & 1 == 0 {
        let len = usize::from(head_bytes[31] / 2);
        return Ok((len < 32).then(|| head_bytes[..len].to_vec()));
    }
    let Ok(len) = usize::try_from((head - U256::from(1)) / U256::from(2)) else {
        return Ok(None);
    };
    if len > max_len {
        return Ok(None);
    }
    let start = U256::from_be_bytes(keccak256(B256::from(base)).0);
    let mut data = Vec::with_capacity(len);
    for i in 0..len.div_ceil(32) {
        let word: [u8; 32] = read(start + U256::from(i))?.to_be_bytes();
        let take = (len - data.len()).min(32);
        data.extend_from_slice(&word[..take]);
    }
    Ok(Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn records_round_trip_through_their_slots() {
        let record = IdentityRecord {
            org: "org1".into(),
            role: StoredRole::Client,
            not_before: 1_700_000_000,
            not_after: 1_800_000_000,
            revoked_at: Some(0),
        };
        let values = record.encode().expect("encodes");
        assert_eq!(IdentityRecord::decode(values), Some(record.clone()));
        let valid = IdentityRecord {
            revoked_at: None,
            ..record
        };
        assert_eq!(
            IdentityRecord::decode(valid.encode().expect("encodes")),
            Some(valid)
        );
        assert_eq!(IdentityRecord::decode([U256::ZERO, U256::ZERO]), None);
        let long = IdentityRecord {
            org: "o".repeat(33),
            role: StoredRole::Admin,
            not_before: 0,
            not_after: 0,
            revoked_at: None,
        };
        assert_eq!(long.encode(), None);
    }

    #[test]
    fn bytes_round_trip_short_and_long() {
        for len in [0usize, 1, 31, 32, 33, 64, 1000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let slots: HashMap<U256, U256> =
                bytes_to_slots(U256::ZERO, &data).into_iter().collect();
            let read = bytes_from_slots::<()>(U256::ZERO, 4096, |slot| {
                Ok(slots.get(&slot).copied().unwrap_or_default())
            })
            .expect("reads");
            assert_eq!(read, Some(data), "length {len}");
        }
    }
}
