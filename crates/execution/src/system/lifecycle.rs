//! The contract lifecycle contract ([`ILifecycle`] at [`LIFECYCLE_ADDRESS`]), run natively: a
//! registry of the channel's contracts changed only by proposals that share the governance
//! contract's ids, votes and deadlines, each approved under the channel's policy for its action.
//!
//! Enforcement works on code, not on a check in every call: freezing or revoking a contract
//! replaces its code with a few bytes that revert with the reason (and the height since when),
//! so a call fails the same way whether a client or another contract makes it, and costs nothing
//! to contracts that are not frozen. Unfreezing points the account back at its code, which stays
//! in the code store under its hash. An upgrade replaces the code and keeps address and storage.
//!
//! Deployment is approve-then-create: a `deploy` proposal approves a creation code hash for the
//! proposer's account; the creation transaction carrying exactly that code (constructor
//! arguments included) registers the contract under the approved name. In `approved` deployment
//! mode nothing else may create a contract.
//!
//! Storage (at [`LIFECYCLE_ADDRESS`], written only between transactions — as changes apply and
//! after an approved creation — so the account is created with nonce 1 on its first write): slot
//! 0 the names in registration order (JSON); each contract as JSON at `keccak(keccak(name) ‖ 1)`;
//! the name registered at an address at `keccak(address ‖ 2)`; the name whose creation code hash
//! is approved at `keccak(hash ‖ 3)`.

use super::{
    CodeReader, CodeStore, Consortium, SlotReader,
    governance::{self, Change},
    membership::{Journal, Outcome, VIEW_GAS},
    read_bytes, write_bytes,
};
use crate::StateReadError;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{Revert, SolCall, SolError};
use revm::{
    Database,
    context::{Block, ContextTr},
    interpreter::CallInputs,
};
use ricaas_primitives::system::{
    CONFIG_ADDRESS, GOVERNANCE_ADDRESS, ILifecycle, LIFECYCLE_ADDRESS, LifecycleAction,
    MEMBERSHIP_ADDRESS,
};
use serde::{Deserialize, Serialize};

const NAMES_SLOT: U256 = U256::ZERO;
/// Longest contract record (ABIs of every version included).
const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;
/// Longest contract name.
pub const MAX_CONTRACT_NAME: usize = 64;
/// Largest runtime code an upgrade may install (EIP-170's limit for created contracts).
pub const MAX_RUNTIME_CODE: usize = 24_576;
/// Gas of a lifecycle proposal: a governance proposal's, plus its size (ABIs and code are
/// stored).
const PROPOSE_BASE_GAS: u64 = 100_000;
const PROPOSE_GAS_PER_BYTE: u64 = 20;

/// Where a registered contract stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractState {
    /// Its deployment is approved; the creation transaction has not run yet.
    Approved,
    Normal,
    Frozen,
    /// Final: it can never be called again.
    Revoked,
}

impl ContractState {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractState::Approved => "approved",
            ContractState::Normal => "normal",
            ContractState::Frozen => "frozen",
            ContractState::Revoked => "revoked",
        }
    }
}

/// What a version of a contract was built from, as its proposal declared it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The ABI, JSON.
    pub abi: String,
    /// Keccak-256 of the sources it was compiled from.
    pub source_hash: B256,
    /// The compiler, e.g. `solc 0.8.26+commit.8a97fa7a`.
    pub compiler: String,
    /// Keccak-256 of its security report (zero when none was made).
    pub report_hash: B256,
}

/// One version of a registered contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractVersion {
    pub version: u64,
    #[serde(flatten)]
    pub info: VersionInfo,
    /// Keccak-256 of its runtime code.
    pub code_hash: B256,
    /// The height it took effect at.
    pub height: u64,
}

/// A deployment approved and not yet created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDeployment {
    pub init_code_hash: B256,
    /// The account that must send the creation transaction (the proposer).
    pub deployer: Address,
    #[serde(flatten)]
    pub info: VersionInfo,
}

/// A contract of the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    pub state: ContractState,
    /// The height its state began at.
    pub since: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingDeployment>,
    pub versions: Vec<ContractVersion>,
}

impl ContractRecord {
    fn current(&self) -> Option<&ContractVersion> {
        self.versions.last()
    }
}

fn keyed_slot(key: &[u8; 32], field: u8) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(key);
    preimage[63] = field;
    U256::from_be_bytes(keccak256(preimage).0)
}

fn record_slot(name: &str) -> U256 {
    keyed_slot(&keccak256(name.as_bytes()).0, 1)
}

fn address_slot(address: &Address) -> U256 {
    let mut key = [0u8; 32];
    key[12..].copy_from_slice(address.as_slice());
    keyed_slot(&key, 2)
}

fn init_code_slot(hash: &B256) -> U256 {
    keyed_slot(&hash.0, 3)
}

fn read_json<T: serde::de::DeserializeOwned>(
    store: &mut impl SlotReader,
    slot: U256,
) -> Result<Option<T>, StateReadError> {
    Ok(
        read_bytes(store, LIFECYCLE_ADDRESS, slot, MAX_RECORD_BYTES)?
            .filter(|bytes| !bytes.is_empty())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()),
    )
}

fn read_text(store: &mut impl SlotReader, slot: U256) -> Result<Option<String>, StateReadError> {
    Ok(read_bytes(store, LIFECYCLE_ADDRESS, slot, 1024)?
        .filter(|bytes| !bytes.is_empty())
        .and_then(|bytes| String::from_utf8(bytes).ok()))
}

/// The names of the registered contracts, in registration order.
pub fn names(store: &mut impl SlotReader) -> Result<Vec<String>, StateReadError> {
    Ok(read_json(store, NAMES_SLOT)?.unwrap_or_default())
}

/// Contract `name` of the registry.
pub fn record(
    store: &mut impl SlotReader,
    name: &str,
) -> Result<Option<ContractRecord>, StateReadError> {
    read_json(store, record_slot(name))
}

/// The name of the contract registered at `address`.
pub fn name_at(
    store: &mut impl SlotReader,
    address: &Address,
) -> Result<Option<String>, StateReadError> {
    read_text(store, address_slot(address))
}

/// The approved deployment whose creation code hashes to `init_code_hash`: its name and the
/// account that must send it.
pub fn approved_creation(
    store: &mut impl SlotReader,
    init_code_hash: &B256,
) -> Result<Option<(String, Address)>, StateReadError> {
    let Some(name) = read_text(store, init_code_slot(init_code_hash))? else {
        return Ok(None);
    };
    Ok(record(store, &name)?
        .and_then(|r| r.pending)
        .filter(|p| p.init_code_hash == *init_code_hash)
        .map(|p| (name, p.deployer)))
}

fn write_record(store: &mut impl CodeStore, record: &ContractRecord) -> Result<(), StateReadError> {
    store.ensure_account(LIFECYCLE_ADDRESS)?;
    let mut all = names(store)?;
    if !all.contains(&record.name) {
        all.push(record.name.clone());
        let json = serde_json::to_vec(&all).unwrap_or_default();
        write_bytes(store, LIFECYCLE_ADDRESS, NAMES_SLOT, &json)?;
    }
    let json = serde_json::to_vec(record).unwrap_or_default();
    write_bytes(store, LIFECYCLE_ADDRESS, record_slot(&record.name), &json)
}

/// Code that reverts every call with `message` (`Error(string)`, as Solidity's `require`):
/// copy the encoded error behind these 14 bytes into memory and revert with it.
pub fn refusing_code(message: &str) -> Bytes {
    let payload = Revert::from(message).abi_encode();
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let [high, low] = len.to_be_bytes();
    let mut code = vec![
        0x61, high, low, // PUSH2 len
        0x60, 14, // PUSH1 offset of the payload
        0x60, 0,    // PUSH1 0
        0x39, // CODECOPY(0, 14, len)
        0x61, high, low, // PUSH2 len
        0x60, 0,    // PUSH1 0
        0xfd, // REVERT(0, len)
    ];
    code.extend_from_slice(&payload);
    Bytes::from(code)
}

fn refusal(name: &str, address: &Address, state: ContractState, height: u64) -> String {
    match state {
        ContractState::Revoked => format!(
            "contract {name} ({address}) is revoked since height {height}: it can never be called again"
        ),
        _ => format!(
            "contract {name} ({address}) is frozen since height {height}: calls are refused until the channel unfreezes it"
        ),
    }
}

fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_CONTRACT_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "contract name {name:?} must be 1 to {MAX_CONTRACT_NAME} letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

fn valid_abi(abi: &str) -> Result<(), String> {
    match serde_json::from_str::<serde_json::Value>(abi) {
        Ok(serde_json::Value::Array(_)) => Ok(()),
        _ => Err("the ABI must be a JSON array (the compiler's `abi` output)".into()),
    }
}

fn registered(
    store: &mut impl SlotReader,
    name: &str,
) -> Result<Result<ContractRecord, String>, StateReadError> {
    Ok(record(store, name)?.ok_or_else(|| format!("no contract {name} is registered")))
}

/// Why `change` (a lifecycle change) cannot apply to the registry as `store` holds it.
pub(super) fn check(
    store: &mut (impl SlotReader + CodeReader),
    change: &Change,
) -> Result<Result<(), String>, StateReadError> {
    Ok(match change {
        Change::ContractDeploy {
            name,
            init_code_hash,
            version,
            ..
        } => {
            if let Err(reason) = valid_name(name).and_then(|()| valid_abi(&version.abi)) {
                return Ok(Err(reason));
            }
            if record(store, name)?.is_some() {
                return Ok(Err(format!("contract name {name} is taken")));
            }
            match read_text(store, init_code_slot(init_code_hash))? {
                Some(other) => Err(format!(
                    "this creation code is already approved as contract {other}"
                )),
                None => Ok(()),
            }
        }
        Change::ContractRegister {
            name,
            address,
            version,
        } => {
            if let Err(reason) = valid_name(name).and_then(|()| valid_abi(&version.abi)) {
                return Ok(Err(reason));
            }
            if [
                CONFIG_ADDRESS,
                MEMBERSHIP_ADDRESS,
                GOVERNANCE_ADDRESS,
                LIFECYCLE_ADDRESS,
            ]
            .contains(address)
            {
                return Ok(Err(format!("{address} is a system contract")));
            }
            if record(store, name)?.is_some() {
                return Ok(Err(format!("contract name {name} is taken")));
            }
            if let Some(other) = name_at(store, address)? {
                return Ok(Err(format!(
                    "{address} is already registered as contract {other}"
                )));
            }
            match store.code_hash(*address)? {
                Some(_) => Ok(()),
                None => Err(format!("no contract code at {address}")),
            }
        }
        Change::ContractUpgrade {
            name,
            code,
            version,
        } => {
            if let Err(reason) = valid_abi(&version.abi) {
                return Ok(Err(reason));
            }
            if code.is_empty() || code.len() > MAX_RUNTIME_CODE {
                return Ok(Err(format!(
                    "the runtime code must be 1 to {MAX_RUNTIME_CODE} bytes, not {}",
                    code.len()
                )));
            }
            match registered(store, name)? {
                Err(reason) => Err(reason),
                Ok(record) => transition(&record, LifecycleAction::Upgrade),
            }
        }
        Change::ContractFreeze { name } => match registered(store, name)? {
            Err(reason) => Err(reason),
            Ok(record) => transition(&record, LifecycleAction::Freeze),
        },
        Change::ContractUnfreeze { name } => match registered(store, name)? {
            Err(reason) => Err(reason),
            Ok(record) => transition(&record, LifecycleAction::Unfreeze),
        },
        Change::ContractRevoke { name } => match registered(store, name)? {
            Err(reason) => Err(reason),
            Ok(record) => transition(&record, LifecycleAction::Revoke),
        },
        _ => Ok(()),
    })
}

/// Whether `action` may happen to `record` in its state: NORMAL → FROZEN ⇄ NORMAL, NORMAL or
/// FROZEN (or an approved deployment not yet created) → REVOKED, upgrades of NORMAL only.
fn transition(record: &ContractRecord, action: LifecycleAction) -> Result<(), String> {
    use ContractState::*;
    let name = &record.name;
    let since = record.since;
    match (record.state, action) {
        (Normal, LifecycleAction::Upgrade | LifecycleAction::Freeze | LifecycleAction::Revoke)
        | (Frozen, LifecycleAction::Unfreeze | LifecycleAction::Revoke)
        | (Approved, LifecycleAction::Revoke) => Ok(()),
        (Revoked, _) => Err(format!(
            "contract {name} is revoked since height {since}: revocation is final"
        )),
        (Approved, _) => Err(format!(
            "contract {name} is approved but not created yet: send its creation transaction first"
        )),
        (Frozen, LifecycleAction::Freeze) => Err(format!(
            "contract {name} is already frozen since height {since}"
        )),
        (Frozen, _) => Err(format!(
            "contract {name} is frozen since height {since}: unfreeze it first"
        )),
        (Normal, _) => Err(format!("contract {name} is not frozen")),
    }
}

/// Applies lifecycle `change` at the start of block `height`; the inner error says why it no
/// longer could (the proposal then fails).
pub(super) fn apply(
    store: &mut impl CodeStore,
    change: &Change,
    height: u64,
) -> Result<Result<(), String>, StateReadError> {
    if let Err(reason) = check(store, change)? {
        return Ok(Err(reason));
    }
    match change {
        Change::ContractDeploy {
            name,
            init_code_hash,
            deployer,
            version,
        } => {
            write_record(
                store,
                &ContractRecord {
                    name: name.clone(),
                    address: None,
                    state: ContractState::Approved,
                    since: height,
                    pending: Some(PendingDeployment {
                        init_code_hash: *init_code_hash,
                        deployer: *deployer,
                        info: version.clone(),
                    }),
                    versions: Vec::new(),
                },
            )?;
            write_bytes(
                store,
                LIFECYCLE_ADDRESS,
                init_code_slot(init_code_hash),
                name.as_bytes(),
            )?;
        }
        Change::ContractRegister {
            name,
            address,
            version,
        } => {
            let code_hash = store.code_hash(*address)?.unwrap_or_default();
            register(store, name, *address, version.clone(), code_hash, height)?;
        }
        Change::ContractUpgrade {
            name,
            code,
            version,
        } => {
            let Some(mut record) = record(store, name)? else {
                return Ok(Err(format!("no contract {name} is registered")));
            };
            let Some(address) = record.address else {
                return Ok(Err(format!("contract {name} has no address")));
            };
            store.set_code(address, code.clone())?;
            record.versions.push(ContractVersion {
                version: record.versions.len() as u64 + 1,
                info: version.clone(),
                code_hash: keccak256(code),
                height,
            });
            write_record(store, &record)?;
        }
        Change::ContractFreeze { name }
        | Change::ContractUnfreeze { name }
        | Change::ContractRevoke { name } => {
            let Some(mut record) = record(store, name)? else {
                return Ok(Err(format!("no contract {name} is registered")));
            };
            let state = match change {
                Change::ContractFreeze { .. } => ContractState::Frozen,
                Change::ContractUnfreeze { .. } => ContractState::Normal,
                _ => ContractState::Revoked,
            };
            if let Some(address) = record.address {
                match state {
                    ContractState::Normal => {
                        let code_hash = record.current().map(|v| v.code_hash).unwrap_or_default();
                        store.set_code_hash(address, code_hash)?;
                    }
                    _ => store.set_code(
                        address,
                        refusing_code(&refusal(name, &address, state, height)),
                    )?,
                }
            }
            if let Some(pending) = record.pending.take() {
                write_bytes(
                    store,
                    LIFECYCLE_ADDRESS,
                    init_code_slot(&pending.init_code_hash),
                    &[],
                )?;
            }
            record.state = state;
            record.since = height;
            write_record(store, &record)?;
        }
        _ => {}
    }
    Ok(Ok(()))
}

fn register(
    store: &mut impl CodeStore,
    name: &str,
    address: Address,
    info: VersionInfo,
    code_hash: B256,
    height: u64,
) -> Result<(), StateReadError> {
    write_record(
        store,
        &ContractRecord {
            name: name.to_owned(),
            address: Some(address),
            state: ContractState::Normal,
            since: height,
            pending: None,
            versions: vec![ContractVersion {
                version: 1,
                info,
                code_hash,
                height,
            }],
        },
    )?;
    write_bytes(
        store,
        LIFECYCLE_ADDRESS,
        address_slot(&address),
        name.as_bytes(),
    )
}

/// Registers approved deployment `name` at `address`, which its creation transaction just
/// created in block `height`.
pub fn record_creation(
    store: &mut impl CodeStore,
    name: &str,
    address: Address,
    height: u64,
) -> Result<(), StateReadError> {
    let Some(pending) = record(store, name)?.and_then(|r| r.pending) else {
        return Ok(());
    };
    write_bytes(
        store,
        LIFECYCLE_ADDRESS,
        init_code_slot(&pending.init_code_hash),
        &[],
    )?;
    let code_hash = store.code_hash(address)?.unwrap_or_default();
    register(store, name, address, pending.info, code_hash, height)
}

/// The registry entry as `contracts()` lists it.
fn summary(record: &ContractRecord) -> serde_json::Value {
    serde_json::json!({
        "name": record.name,
        "address": record.address,
        "state": record.state,
        "since": record.since,
        "version": record.versions.len(),
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
    let call =
        match super::membership::decode_system_call::<ILifecycle::ILifecycleCalls>(inputs, input) {
            Ok(call) => call,
            Err(refused) => return Ok(refused),
        };
    let height = context.block().number().saturating_to::<u64>();
    let now = context.block().timestamp().saturating_to::<u64>();
    let caller = inputs.caller;
    let mut journal = Journal(context);
    use ILifecycle::ILifecycleCalls as Calls;
    let info = |abi: String, source: B256, compiler: String, report: B256| VersionInfo {
        abi,
        source_hash: source,
        compiler,
        report_hash: report,
    };
    let (change, effective) = match call {
        Calls::contracts(_) => {
            let mut list = Vec::new();
            for name in names(&mut journal)? {
                if let Some(record) = record(&mut journal, &name)? {
                    list.push(summary(&record));
                }
            }
            let json = serde_json::Value::Array(list).to_string();
            return Ok(Outcome::Return(
                ILifecycle::contractsCall::abi_encode_returns(&json).into(),
                VIEW_GAS,
            ));
        }
        Calls::contractInfo(call) => {
            return Ok(match record(&mut journal, &call.name)? {
                Some(record) => Outcome::Return(
                    ILifecycle::contractInfoCall::abi_encode_returns(
                        &serde_json::to_string(&record).unwrap_or_default(),
                    )
                    .into(),
                    VIEW_GAS,
                ),
                None => {
                    Outcome::Revert(format!("no contract {} is registered", call.name), VIEW_GAS)
                }
            });
        }
        Calls::nameOf(call) => {
            let name = name_at(&mut journal, &call.target)?.unwrap_or_default();
            return Ok(Outcome::Return(
                ILifecycle::nameOfCall::abi_encode_returns(&name).into(),
                VIEW_GAS,
            ));
        }
        Calls::proposeDeploy(call) => (
            Change::ContractDeploy {
                name: call.name,
                init_code_hash: call.initCodeHash,
                deployer: caller,
                version: info(call.abi, call.sourceHash, call.compiler, call.reportHash),
            },
            call.effectiveHeight,
        ),
        Calls::proposeRegister(call) => (
            Change::ContractRegister {
                name: call.name,
                address: call.target,
                version: info(call.abi, call.sourceHash, call.compiler, call.reportHash),
            },
            call.effectiveHeight,
        ),
        Calls::proposeUpgrade(call) => (
            Change::ContractUpgrade {
                name: call.name,
                code: call.runtimeCode,
                version: info(call.abi, call.sourceHash, call.compiler, call.reportHash),
            },
            call.effectiveHeight,
        ),
        Calls::proposeFreeze(call) => (
            Change::ContractFreeze { name: call.name },
            call.effectiveHeight,
        ),
        Calls::proposeUnfreeze(call) => (
            Change::ContractUnfreeze { name: call.name },
            call.effectiveHeight,
        ),
        Calls::proposeRevoke(call) => (
            Change::ContractRevoke { name: call.name },
            call.effectiveHeight,
        ),
    };
    let gas =
        PROPOSE_BASE_GAS.saturating_add(PROPOSE_GAS_PER_BYTE.saturating_mul(input.len() as u64));
    if inputs.is_static {
        return Ok(Outcome::Revert("propose writes state".into(), gas));
    }
    if let Err(reason) = check(&mut journal, &change)? {
        return Ok(Outcome::Revert(reason, gas));
    }
    if let Some(gate) = consortium.deploy_security_gate() {
        let version = match &change {
            Change::ContractDeploy { version, .. }
            | Change::ContractRegister { version, .. }
            | Change::ContractUpgrade { version, .. } => Some(version),
            _ => None,
        };
        if version.is_some_and(|v| v.report_hash.is_zero()) {
            return Ok(Outcome::Revert(
                format!(
                    "this channel's deploy_security_gate ({gate:?}) requires a security report: propose the version with the report hash of a security check of its sources"
                ),
                gas,
            ));
        }
    }
    governance::open_proposal(
        &mut journal,
        consortium,
        caller,
        change,
        effective,
        height,
        now,
        gas,
    )
}
