//! The membership contract, run natively: `enroll`, `revoke`, `identityOf` and the observer
//! list of [`IMembership`], reading and writing its storage through revm's journal.

use super::{Consortium, PermissionError, SlotReader, check_record};
use crate::StateReadError;
use alloy_primitives::{Address, Bytes, Log, U256};
use alloy_sol_types::{Revert, SolCall, SolError, SolEvent, SolInterface};
use revm::{
    Database,
    context::{Block, Cfg, ContextTr, JournalTr},
    handler::{EthPrecompiles, PrecompileProvider},
    interpreter::{CallInputs, CallScheme, CallValue, Gas, InstructionResult, InterpreterResult},
    primitives::AddressSet,
};
use ricaas_crypto::ca;
use ricaas_primitives::system::{
    GOVERNANCE_ADDRESS, IMembership, IdentityRecord, LIFECYCLE_ADDRESS, MEMBERSHIP_ADDRESS,
    StoredRole,
};
use std::sync::Arc;

/// Gas of the membership calls: a certificate check costs about one signature verification.
const ENROLL_BASE_GAS: u64 = 20_000;
const ENROLL_PER_CERTIFICATE_GAS: u64 = 60_000;
const REVOKE_GAS: u64 = 25_000;
/// Listing or removing an observer rewrites the channel configuration.
const OBSERVER_GAS: u64 = 120_000;
pub(super) const VIEW_GAS: u64 = 5_000;

/// Ethereum's precompiles plus the channel's native system contracts.
pub(crate) struct RiChainPrecompiles {
    eth: EthPrecompiles,
    addresses: AddressSet,
    consortium: Option<Arc<Consortium>>,
}

impl RiChainPrecompiles {
    pub(crate) fn new(consortium: Option<Arc<Consortium>>) -> Self {
        let eth = EthPrecompiles::new(crate::HARDFORK);
        let mut addresses = eth.warm_addresses().clone();
        addresses.insert(MEMBERSHIP_ADDRESS);
        addresses.insert(GOVERNANCE_ADDRESS);
        addresses.insert(LIFECYCLE_ADDRESS);
        Self {
            eth,
            addresses,
            consortium,
        }
    }
}

impl<CTX> PrecompileProvider<CTX> for RiChainPrecompiles
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        if changed {
            let mut addresses = self.eth.warm_addresses().clone();
            addresses.insert(MEMBERSHIP_ADDRESS);
            addresses.insert(GOVERNANCE_ADDRESS);
            addresses.insert(LIFECYCLE_ADDRESS);
            self.addresses = addresses;
        }
        changed
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        if inputs.bytecode_address == GOVERNANCE_ADDRESS
            || inputs.bytecode_address == LIFECYCLE_ADDRESS
        {
            let input = Bytes::copy_from_slice(&inputs.input.as_bytes(context));
            let outcome = match &self.consortium {
                None => Outcome::Revert(
                    "this channel has no governance configuration".into(),
                    VIEW_GAS,
                ),
                Some(consortium) if inputs.bytecode_address == LIFECYCLE_ADDRESS => {
                    super::lifecycle::call(context, inputs, &input, consortium)
                        .map_err(|e| e.to_string())?
                }
                Some(consortium) => super::governance::call(context, inputs, &input, consortium)
                    .map_err(|e| e.to_string())?,
            };
            return Ok(Some(outcome.into_result(inputs.gas_limit)));
        }
        if inputs.bytecode_address != MEMBERSHIP_ADDRESS {
            return self.eth.run(context, inputs);
        }
        let input = Bytes::copy_from_slice(&inputs.input.as_bytes(context));
        let outcome = match &self.consortium {
            None => Outcome::Revert(
                "this channel has no membership configuration".into(),
                VIEW_GAS,
            ),
            Some(consortium) => {
                membership_call(context, inputs, &input, consortium).map_err(|e| e.to_string())?
            }
        };
        Ok(Some(outcome.into_result(inputs.gas_limit)))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.addresses
    }

    fn contains(&self, address: &Address) -> bool {
        self.addresses.contains(address)
    }
}

pub(super) enum Outcome {
    Return(Bytes, u64),
    Revert(String, u64),
}

impl Outcome {
    fn into_result(self, gas_limit: u64) -> InterpreterResult {
        let (result, output, cost) = match self {
            Outcome::Return(output, cost) => (InstructionResult::Return, output, cost),
            Outcome::Revert(reason, cost) => (
                InstructionResult::Revert,
                Bytes::from(Revert::from(reason).abi_encode()),
                cost,
            ),
        };
        let mut gas = Gas::new(gas_limit);
        if !gas.record_regular_cost(cost) {
            gas.spend_all();
            return InterpreterResult::new(InstructionResult::PrecompileOOG, Bytes::new(), gas);
        }
        InterpreterResult::new(result, output, gas)
    }
}

/// The membership contract's storage, read and written through the journal.
pub(super) struct Journal<'a, CTX>(pub(super) &'a mut CTX);

impl<CTX> SlotReader for Journal<'_, CTX>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    fn slot(&mut self, address: Address, slot: U256) -> Result<U256, StateReadError> {
        let journal = self.0.journal_mut();
        journal.load_account(address)?;
        Ok(journal.sload(address, slot)?.data)
    }
}

impl<CTX> super::SlotStore for Journal<'_, CTX>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    fn write(&mut self, address: Address, slot: U256, value: U256) -> Result<(), StateReadError> {
        let journal = self.0.journal_mut();
        journal.load_account(address)?;
        journal.sstore(address, slot, value)?;
        Ok(())
    }
}

impl<CTX> super::CodeReader for Journal<'_, CTX>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    fn code_hash(
        &mut self,
        address: Address,
    ) -> Result<Option<alloy_primitives::B256>, StateReadError> {
        let account = self.0.journal_mut().load_account(address)?;
        let hash = account.data.info.code_hash;
        Ok((hash != alloy_primitives::KECCAK256_EMPTY && !hash.is_zero()).then_some(hash))
    }
}

impl<CTX> Journal<'_, CTX>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    pub(super) fn write_record(
        &mut self,
        account: &Address,
        record: &IdentityRecord,
    ) -> Result<(), StateReadError> {
        let Some(values) = record.encode() else {
            return Ok(());
        };
        let journal = self.0.journal_mut();
        journal.load_account(MEMBERSHIP_ADDRESS)?;
        for (slot, value) in IdentityRecord::slots(account).into_iter().zip(values) {
            journal.sstore(MEMBERSHIP_ADDRESS, slot, value)?;
        }
        Ok(())
    }

    pub(super) fn record(
        &mut self,
        account: &Address,
    ) -> Result<Option<IdentityRecord>, StateReadError> {
        let [a, b] = IdentityRecord::slots(account);
        Ok(IdentityRecord::decode([
            self.slot(MEMBERSHIP_ADDRESS, a)?,
            self.slot(MEMBERSHIP_ADDRESS, b)?,
        ]))
    }

    pub(super) fn log(&mut self, data: alloy_primitives::LogData) {
        self.0.journal_mut().log(Log {
            address: MEMBERSHIP_ADDRESS,
            data,
        });
    }
}

/// The call a system contract received, or the revert refusing it: system contracts act for
/// their direct caller only and hold no ether, and take only their own interface's calls.
pub(super) fn decode_system_call<Calls: SolInterface>(
    inputs: &CallInputs,
    input: &[u8],
) -> Result<Calls, Outcome> {
    if let Some(refused) = refuse_indirect_or_paid(inputs) {
        return Err(refused);
    }
    Calls::abi_decode(input)
        .map_err(|_| Outcome::Revert("unknown function or malformed arguments".into(), VIEW_GAS))
}

/// Delegate calls (which would let a contract act with its caller's identity) and value
/// transfers are refused.
fn refuse_indirect_or_paid(inputs: &CallInputs) -> Option<Outcome> {
    if matches!(
        inputs.scheme,
        CallScheme::DelegateCall | CallScheme::CallCode
    ) {
        return Some(Outcome::Revert(
            "system contracts cannot be delegate-called".into(),
            VIEW_GAS,
        ));
    }
    if matches!(inputs.value, CallValue::Transfer(v) if !v.is_zero()) {
        return Some(Outcome::Revert(
            "system contracts do not accept value".into(),
            VIEW_GAS,
        ));
    }
    None
}

fn membership_call<CTX>(
    context: &mut CTX,
    inputs: &CallInputs,
    input: &[u8],
    consortium: &Consortium,
) -> Result<Outcome, StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    let call = match decode_system_call::<IMembership::IMembershipCalls>(inputs, input) {
        Ok(call) => call,
        Err(refused) => return Ok(refused),
    };
    let height = context.block().number().saturating_to::<u64>();
    let now = context.block().timestamp().saturating_to::<u64>();
    let caller = inputs.caller;
    let mut journal = Journal(context);
    match call {
        IMembership::IMembershipCalls::publicKeyOf(call) => Ok(
            match super::enrolled_key(&mut journal, &call.certificateId)? {
                Some(key) => Outcome::Return(
                    IMembership::publicKeyOfCall::abi_encode_returns(&Bytes::from(key)).into(),
                    VIEW_GAS,
                ),
                None => Outcome::Revert(
                    format!("no certificate with id {} is enrolled", call.certificateId),
                    VIEW_GAS,
                ),
            },
        ),
        IMembership::IMembershipCalls::identityOf(call) => {
            let Some(record) = journal.record(&call.account)? else {
                return Ok(Outcome::Revert(
                    format!(
                        "account {} is not enrolled in channel {}",
                        call.account, consortium.channel
                    ),
                    VIEW_GAS,
                ));
            };
            let output = IMembership::identityOfCall::abi_encode_returns_tuple(&(
                record.org.clone(),
                record.role.as_str().to_string(),
                record.not_before,
                record.not_after,
                record.revoked_at.unwrap_or_default(),
                record.revoked_at.is_some(),
            ));
            Ok(Outcome::Return(output.into(), VIEW_GAS))
        }
        IMembership::IMembershipCalls::enroll(call) => {
            let cost = ENROLL_BASE_GAS.saturating_add(
                ENROLL_PER_CERTIFICATE_GAS.saturating_mul(call.certificates.len() as u64),
            );
            if inputs.is_static {
                return Ok(Outcome::Revert("enroll writes state".into(), cost));
            }
            if cost > inputs.gas_limit {
                return Ok(Outcome::Revert("out of gas".into(), inputs.gas_limit));
            }
            let admin = match admin_of(&mut journal, consortium, caller, now)? {
                Ok(admin) => admin,
                Err(reason) => return Ok(Outcome::Revert(reason, cost)),
            };
            for (index, der) in call.certificates.iter().enumerate() {
                let refuse = |reason: String| {
                    Outcome::Revert(format!("certificate {index}: {reason}"), cost)
                };
                let certificate = match ca::certificate_from_der(der) {
                    Ok(c) => c,
                    Err(e) => return Ok(refuse(e.to_string())),
                };
                let (account, record) = match consortium.identity_record(&certificate) {
                    Ok(found) => found,
                    Err(reason) => return Ok(refuse(reason)),
                };
                if record.org != admin.org {
                    return Ok(refuse(format!(
                        "admins of {} cannot enroll identities of {}",
                        admin.org, record.org
                    )));
                }
                if now > record.not_after {
                    return Ok(refuse(format!(
                        "certificate expired at {}",
                        ca::unix_time_text(record.not_after)
                    )));
                }
                if let Some(previous) = journal.record(&account)?
                    && let Some(at) = previous.revoked_at
                {
                    return Ok(refuse(format!(
                        "account {account} was revoked at height {at}; enroll a new key"
                    )));
                }
                let (key_slot, key) = match super::key_record(&certificate) {
                    Ok(found) => found,
                    Err(reason) => return Ok(refuse(reason)),
                };
                journal.write_record(&account, &record)?;
                super::write_bytes(&mut journal, MEMBERSHIP_ADDRESS, key_slot, &key)?;
                journal.log(
                    IMembership::Enrolled {
                        account,
                        org: record.org.clone(),
                        role: record.role.as_str().to_string(),
                        notAfter: record.not_after,
                    }
                    .encode_log_data(),
                );
            }
            Ok(Outcome::Return(Bytes::new(), cost))
        }
        IMembership::IMembershipCalls::addObserver(call) => {
            let (admin, current) =
                match observer_caller(&mut journal, inputs, consortium, "addObserver", now)? {
                    Ok(found) => found,
                    Err(refused) => return Ok(refused),
                };
            Ok(
                match listed_observer(&current, &admin, &call.nodeCertificate, now) {
                    Err(reason) => Outcome::Revert(reason, OBSERVER_GAS),
                    Ok((key, certificate)) => {
                        let mut next = current.state().clone();
                        next.observers.push(certificate);
                        if let Err(e) = Consortium::new(next.clone()) {
                            return Ok(Outcome::Revert(e.to_string(), OBSERVER_GAS));
                        }
                        store_configuration(&mut journal, &next)?;
                        journal.log(
                            IMembership::ObserverAdded {
                                nodeKey: key.into(),
                                org: admin.org.clone(),
                            }
                            .encode_log_data(),
                        );
                        Outcome::Return(Bytes::new(), OBSERVER_GAS)
                    }
                },
            )
        }
        IMembership::IMembershipCalls::removeObserver(call) => {
            let (admin, current) =
                match observer_caller(&mut journal, inputs, consortium, "removeObserver", now)? {
                    Ok(found) => found,
                    Err(refused) => return Ok(refused),
                };
            let key: [u8; 32] = call.nodeKey.0;
            let Some(index) = current.observers.iter().position(|o| o.public_key == key) else {
                return Ok(Outcome::Revert(
                    format!(
                        "0x{} is not an observer of channel {}",
                        hex::encode(key),
                        current.channel
                    ),
                    OBSERVER_GAS,
                ));
            };
            if current.observers[index].org != admin.org {
                return Ok(Outcome::Revert(
                    format!(
                        "admins of {} cannot remove observers of {}",
                        admin.org, current.observers[index].org
                    ),
                    OBSERVER_GAS,
                ));
            }
            let mut next = current.state().clone();
            next.observers.remove(index);
            store_configuration(&mut journal, &next)?;
            journal.log(
                IMembership::ObserverRemoved {
                    nodeKey: call.nodeKey,
                    org: admin.org.clone(),
                }
                .encode_log_data(),
            );
            Ok(Outcome::Return(Bytes::new(), OBSERVER_GAS))
        }
        IMembership::IMembershipCalls::revoke(call) => {
            if inputs.is_static {
                return Ok(Outcome::Revert("revoke writes state".into(), REVOKE_GAS));
            }
            let admin = match admin_of(&mut journal, consortium, caller, now)? {
                Ok(admin) => admin,
                Err(reason) => return Ok(Outcome::Revert(reason, REVOKE_GAS)),
            };
            let Some(mut record) = journal.record(&call.account)? else {
                return Ok(Outcome::Revert(
                    format!("account {} is not enrolled", call.account),
                    REVOKE_GAS,
                ));
            };
            if record.org != admin.org {
                return Ok(Outcome::Revert(
                    format!(
                        "admins of {} cannot revoke identities of {}",
                        admin.org, record.org
                    ),
                    REVOKE_GAS,
                ));
            }
            if let Some(at) = record.revoked_at {
                return Ok(Outcome::Revert(
                    format!(
                        "account {} was already revoked at height {at}",
                        call.account
                    ),
                    REVOKE_GAS,
                ));
            }
            record.revoked_at = Some(height);
            journal.write_record(&call.account, &record)?;
            journal.log(
                IMembership::Revoked {
                    account: call.account,
                    height,
                }
                .encode_log_data(),
            );
            Ok(Outcome::Return(Bytes::new(), REVOKE_GAS))
        }
    }
}

/// For `addObserver` / `removeObserver` (`method`): the calling admin and the configuration as
/// of this transaction, or the revert that refuses the call.
fn observer_caller<CTX>(
    journal: &mut Journal<'_, CTX>,
    inputs: &CallInputs,
    consortium: &Consortium,
    method: &str,
    now: u64,
) -> Result<Result<(IdentityRecord, Arc<Consortium>), Outcome>, StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    if inputs.is_static {
        return Ok(Err(Outcome::Revert(
            format!("{method} writes state"),
            OBSERVER_GAS,
        )));
    }
    if OBSERVER_GAS > inputs.gas_limit {
        return Ok(Err(Outcome::Revert("out of gas".into(), inputs.gas_limit)));
    }
    let admin = match admin_of(journal, consortium, inputs.caller, now)? {
        Ok(admin) => admin,
        Err(reason) => return Ok(Err(Outcome::Revert(reason, OBSERVER_GAS))),
    };
    Ok(match current_configuration(journal)? {
        Ok(current) => Ok((admin, current)),
        Err(reason) => Err(Outcome::Revert(reason, OBSERVER_GAS)),
    })
}

/// The channel configuration as of this transaction (an earlier transaction of the block may
/// have changed it), or why it cannot be changed here.
fn current_configuration<CTX>(
    journal: &mut Journal<'_, CTX>,
) -> Result<Result<Arc<Consortium>, String>, StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    match Consortium::load(journal) {
        Ok(Some(current)) => Ok(Ok(current)),
        Ok(None) => Ok(Err(
            "this channel has no configuration to list nodes in".into()
        )),
        Err(super::ConsortiumError::State(e)) => Err(e),
        Err(e) => Ok(Err(e.to_string())),
    }
}

fn store_configuration<CTX>(
    journal: &mut Journal<'_, CTX>,
    next: &ricaas_primitives::system::ChannelConfigState,
) -> Result<(), StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    match Consortium::store(journal, next) {
        Ok(()) => Ok(()),
        Err(super::ConsortiumError::State(e)) => Err(e),
        // Serializing a configuration that was just checked cannot fail.
        Err(e) => Err(StateReadError(e.to_string())),
    }
}

/// The Ed25519 key and certificate (DER as hex) of a node `admin`'s organization may list as
/// an observer, or why it may not.
fn listed_observer(
    current: &Consortium,
    admin: &IdentityRecord,
    der: &[u8],
    now: u64,
) -> Result<([u8; 32], String), String> {
    let certificate = ca::certificate_from_der(der).map_err(|e| e.to_string())?;
    let (org, role) = current.issued_by_member(&certificate)?;
    if org != admin.org {
        return Err(format!(
            "admins of {} cannot list nodes of {org}",
            admin.org
        ));
    }
    if role != ca::Role::Node {
        return Err(format!(
            "the certificate's role is {}, not node",
            role.as_str()
        ));
    }
    let key = ca::ed25519_key_of(&certificate)
        .ok_or("an observer's node key must be Ed25519 (it authenticates p2p connections)")?;
    let (_, not_after) = ca::validity_of(&certificate);
    if now > not_after {
        return Err(format!(
            "the node certificate expired at {}",
            ca::unix_time_text(not_after)
        ));
    }
    if let Some(listed) = current.node(&key) {
        let what = if current.validators.iter().any(|v| v.public_key == key) {
            "a validator"
        } else {
            "an observer"
        };
        return Err(format!(
            "node 0x{} of {} is already {what} of channel {}",
            hex::encode(key),
            listed.org,
            current.channel
        ));
    }
    let node = ricaas_primitives::policy::Signer {
        org: org.clone(),
        role: ricaas_primitives::policy::PolicyRole::Node,
    };
    if !current
        .policies
        .readers
        .is_satisfied(&[node], &current.org_names)
    {
        return Err(format!(
            "the channel's Readers policy ({}) does not admit nodes of {org}: an observer replicates everything a reader sees",
            current.state().policies.readers
        ));
    }
    Ok((key, hex::encode(der)))
}

/// The caller's identity if it is a valid admin of a member organization, else why not.
pub(super) fn admin_of<CTX>(
    journal: &mut Journal<'_, CTX>,
    consortium: &Consortium,
    caller: Address,
    now: u64,
) -> Result<Result<IdentityRecord, String>, StateReadError>
where
    CTX: ContextTr,
    CTX::Db: Database<Error = StateReadError>,
{
    let Some(record) = journal.record(&caller)? else {
        return Ok(Err(PermissionError::NotEnrolled {
            sender: caller,
            channel: consortium.channel.clone(),
        }
        .to_string()));
    };
    let record = match check_record(consortium, caller, record, now) {
        Ok(record) => record,
        Err(refused) => return Ok(Err(refused.to_string())),
    };
    if record.role != StoredRole::Admin {
        return Ok(Err(format!(
            "caller {caller} is a {} of {}, not an admin",
            record.role.as_str(),
            record.org
        )));
    }
    Ok(Ok(record))
}
