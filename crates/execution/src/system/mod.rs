//! System contracts of a channel and the permission check every transaction passes.
//!
//! The config contract ([`CONFIG_ADDRESS`]) holds the channel configuration in its storage;
//! the membership contract ([`MEMBERSHIP_ADDRESS`]) maps Ethereum accounts to enrolled
//! certificates and runs natively inside the EVM (a precompile with access to the journal), so
//! its writes revert with the transaction and land in the state commitment like any other.
//! Admission and block execution both call [`check_sender`]: a block carrying a transaction
//! whose sender is not permitted does not verify.

mod consortium;
mod governance;
pub mod lifecycle;
pub(crate) mod membership;

pub use consortium::{
    ChannelPolicies, Consortium, ConsortiumError, MemberOrg, Validator, enrolled_key, key_record,
};

use crate::StateReadError;
use alloy_primitives::{Address, B256, Bytes, U256};
use ricaas_primitives::{
    policy::Signer,
    system::{CONFIG_ADDRESS, Deployment, IdentityRecord, LIFECYCLE_ADDRESS, MEMBERSHIP_ADDRESS},
};
use ricaas_storage::StateReader;

/// Reads one storage slot of one account.
pub trait SlotReader {
    fn slot(&mut self, address: Address, slot: U256) -> Result<U256, StateReadError>;

    /// Where `account`'s membership record is stored ([`IdentityRecord::slots`]: two Keccak
    /// hashes). A reader that serves every transaction of a block keeps them per account.
    fn identity_slots(&mut self, account: &Address) -> [U256; 2] {
        IdentityRecord::slots(account)
    }
}

/// Reads and writes storage slots (the EVM journal inside a call, the block state between
/// transactions).
pub trait SlotStore: SlotReader {
    fn write(&mut self, address: Address, slot: U256, value: U256) -> Result<(), StateReadError>;
}

pub use governance::{Change, Proposal, ProposalStatus, apply_due_changes};

/// Reads which code an account runs.
pub trait CodeReader {
    /// The hash of `address`'s code; `None` when it has none.
    fn code_hash(&mut self, address: Address) -> Result<Option<B256>, StateReadError>;
}

/// Replaces accounts' code between transactions (the contract lifecycle's upgrades, freezes and
/// revocations) and writes storage.
pub trait CodeStore: SlotStore + CodeReader {
    /// Installs `code` as `address`'s code (kept in the code store under its hash).
    fn set_code(&mut self, address: Address, code: Bytes) -> Result<(), StateReadError>;
    /// Points `address` back at code already in the code store.
    fn set_code_hash(&mut self, address: Address, code_hash: B256) -> Result<(), StateReadError>;
    /// Creates `address` with nonce 1 if it does not exist (so that it is never empty).
    fn ensure_account(&mut self, address: Address) -> Result<(), StateReadError>;
}

/// What a creation transaction is, as far as permissions care: an approved deployment (sent by
/// the account that proposed it: it needs the Writers policy and registers the contract under
/// its approved name), or a direct creation (the ContractDeployers policy; refused where the
/// channel deploys only through approved proposals).
pub fn creation_action(
    consortium: &Consortium,
    reader: &mut impl SlotReader,
    sender: Address,
    init_code: &[u8],
) -> Result<Result<(Action, Option<String>), PermissionError>, StateReadError> {
    let hash = alloy_primitives::keccak256(init_code);
    let approved = lifecycle::approved_creation(reader, &hash)?;
    Ok(match approved {
        Some((name, deployer)) if deployer == sender => Ok((Action::Write, Some(name))),
        Some((name, deployer)) if consortium.state().deployment == Deployment::Approved => {
            Err(PermissionError::NotApprovedFor {
                sender,
                name,
                deployer,
            })
        }
        _ if consortium.state().deployment == Deployment::Approved => {
            Err(PermissionError::NotApproved {
                channel: consortium.channel.clone(),
            })
        }
        _ => Ok((Action::Deploy, None)),
    })
}

/// Reads `bytes` stored Solidity-style at `base` of `address` (at most `max_len` bytes).
pub(crate) fn read_bytes(
    store: &mut impl SlotReader,
    address: Address,
    base: U256,
    max_len: usize,
) -> Result<Option<Vec<u8>>, StateReadError> {
    ricaas_primitives::system::bytes_from_slots(base, max_len, |slot| store.slot(address, slot))
}

/// Writes `data` as `bytes` at `base` of `address`, zeroing words a longer old value used.
pub(crate) fn write_bytes(
    store: &mut impl SlotStore,
    address: Address,
    base: U256,
    data: &[u8],
) -> Result<(), StateReadError> {
    let old_len = read_bytes(store, address, base, usize::MAX)?.map_or(0, |old| old.len());
    let writes = ricaas_primitives::system::bytes_to_slots(base, data);
    if old_len >= 32 {
        let start =
            U256::from_be_bytes(alloy_primitives::keccak256(alloy_primitives::B256::from(base)).0);
        let new_words = if data.len() >= 32 {
            data.len().div_ceil(32)
        } else {
            0
        };
        for i in new_words..old_len.div_ceil(32) {
            store.write(address, start + U256::from(i), U256::ZERO)?;
        }
    }
    for (slot, value) in writes {
        store.write(address, slot, value)?;
    }
    Ok(())
}

/// A [`SlotReader`] over a committed or pending state.
pub struct StateSlots<'a, S: ?Sized>(pub &'a S);

impl<S: StateReader + ?Sized> SlotReader for StateSlots<'_, S> {
    fn slot(&mut self, address: Address, slot: U256) -> Result<U256, StateReadError> {
        Ok(self.0.storage(&address, &slot)?)
    }
}

/// What a transaction does, as far as policies care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Queries state or blocks: the Readers policy.
    Read,
    /// Calls or transfers: the Writers policy.
    Write,
    /// Creates a contract: the ContractDeployers policy.
    Deploy,
}

/// Why a sender may not do what its transaction does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("sender {sender} is not enrolled in channel {channel}")]
    NotEnrolled { sender: Address, channel: String },
    #[error("sender {sender}: certificate revoked at height {height}")]
    Revoked { sender: Address, height: u64 },
    #[error("sender {sender}: certificate expired at {at}")]
    Expired { sender: Address, at: String },
    #[error("sender {sender}: certificate is not valid before {from}")]
    NotYetValid { sender: Address, from: String },
    #[error("sender {sender} belongs to {org}, which is not a member of channel {channel}")]
    NotAMember {
        sender: Address,
        org: String,
        channel: String,
    },
    #[error(
        "sender {sender} ({org}.{role}) is not allowed by the {policy_name} policy of channel {channel}: {policy}"
    )]
    Denied {
        sender: Address,
        org: String,
        role: &'static str,
        policy_name: &'static str,
        policy: String,
        channel: String,
    },
    #[error(
        "channel {channel} creates contracts only through approved proposals: propose the deployment (ILifecycle.proposeDeploy at {LIFECYCLE_ADDRESS}, or POST /api/v1/networks/{{network}}/contracts on the platform), then send this creation transaction from the proposing account once it is approved"
    )]
    NotApproved { channel: String },
    #[error(
        "the deployment of contract {name} was approved for account {deployer}, not {sender}: send it from the proposing account"
    )]
    NotApprovedFor {
        sender: Address,
        name: String,
        deployer: Address,
    },
    #[error(
        "this call would create contract {address} from another contract, and channel {channel} creates contracts only through approved proposals: propose each contract's deployment (ILifecycle.proposeDeploy at {LIFECYCLE_ADDRESS}) and create it from the proposing account"
    )]
    CreatedByContract { address: Address, channel: String },
}

/// The identity of `account` if it is enrolled, valid at `now_secs` and not revoked.
pub fn valid_identity(
    consortium: &Consortium,
    reader: &mut impl SlotReader,
    account: Address,
    now_secs: u64,
) -> Result<Result<IdentityRecord, PermissionError>, StateReadError> {
    let record = identity_record(reader, account)?;
    Ok(judge_identity(consortium, account, record, now_secs))
}

/// The membership record of `account` as `reader` holds it (`None`: never enrolled). Reading it
/// is the part of a permission check that depends on state; callers that check many
/// transactions against one state read it once per account and judge it per transaction.
pub fn identity_record(
    reader: &mut impl SlotReader,
    account: Address,
) -> Result<Option<IdentityRecord>, StateReadError> {
    let [a, b] = reader.identity_slots(&account);
    let values = [
        reader.slot(MEMBERSHIP_ADDRESS, a)?,
        reader.slot(MEMBERSHIP_ADDRESS, b)?,
    ];
    Ok(IdentityRecord::decode(values))
}

/// Whether the identity `record` (as [`identity_record`] read it) is enrolled, valid at
/// `now_secs`, unrevoked and of a member organization.
pub fn judge_identity(
    consortium: &Consortium,
    account: Address,
    record: Option<IdentityRecord>,
    now_secs: u64,
) -> Result<IdentityRecord, PermissionError> {
    let Some(record) = record else {
        return Err(PermissionError::NotEnrolled {
            sender: account,
            channel: consortium.channel.clone(),
        });
    };
    check_record(consortium, account, record, now_secs)
}

fn check_record(
    consortium: &Consortium,
    account: Address,
    record: IdentityRecord,
    now_secs: u64,
) -> Result<IdentityRecord, PermissionError> {
    if let Some(height) = record.revoked_at {
        return Err(PermissionError::Revoked {
            sender: account,
            height,
        });
    }
    if now_secs > record.not_after {
        return Err(PermissionError::Expired {
            sender: account,
            at: ricaas_crypto::ca::unix_time_text(record.not_after),
        });
    }
    if now_secs < record.not_before {
        return Err(PermissionError::NotYetValid {
            sender: account,
            from: ricaas_crypto::ca::unix_time_text(record.not_before),
        });
    }
    if consortium.org(&record.org).is_none() {
        return Err(PermissionError::NotAMember {
            sender: account,
            org: record.org,
            channel: consortium.channel.clone(),
        });
    }
    Ok(record)
}

/// Whether `sender` may do `action` at `now_secs`: enrolled, valid,
/// unrevoked, of a member organization, and admitted by the Writers (or ContractDeployers)
/// policy. The outer error is a state read failure, the inner one the refusal.
pub fn check_sender(
    consortium: &Consortium,
    reader: &mut impl SlotReader,
    sender: Address,
    action: Action,
    now_secs: u64,
) -> Result<Result<(), PermissionError>, StateReadError> {
    let record = identity_record(reader, sender)?;
    Ok(judge_sender(consortium, sender, record, action, now_secs))
}

/// [`check_sender`] on a record already read with [`identity_record`].
pub fn judge_sender(
    consortium: &Consortium,
    sender: Address,
    record: Option<IdentityRecord>,
    action: Action,
    now_secs: u64,
) -> Result<(), PermissionError> {
    let record = judge_identity(consortium, sender, record, now_secs)?;
    let (policy_name, policy) = match action {
        Action::Read => ("Readers", &consortium.policies.readers),
        Action::Write => ("Writers", &consortium.policies.writers),
        Action::Deploy => ("ContractDeployers", &consortium.policies.contract_deployers),
    };
    let signer = Signer {
        org: record.org.clone(),
        role: record.role.policy_role(),
    };
    if policy.is_satisfied(std::slice::from_ref(&signer), &consortium.org_names) {
        Ok(())
    } else {
        Err(PermissionError::Denied {
            sender,
            org: record.org,
            role: record.role.as_str(),
            policy_name,
            policy: policy.to_string(),
            channel: consortium.channel.clone(),
        })
    }
}

/// The system contracts' state in a channel's genesis: the configuration and the `identities`
/// enrolled from the first block. The contract accounts get nonce 1 so they are never empty
/// (EIP-161 would otherwise clear them).
pub fn genesis_state(
    consortium: &Consortium,
    identities: &[ricaas_crypto::ca::Certificate],
) -> Result<ricaas_storage::StateChanges, ConsortiumError> {
    let mut changes = ricaas_storage::StateChanges::default();
    for address in [
        CONFIG_ADDRESS,
        MEMBERSHIP_ADDRESS,
        ricaas_primitives::system::GOVERNANCE_ADDRESS,
    ] {
        changes.accounts.insert(
            address,
            Some(ricaas_storage::AccountState {
                nonce: 1,
                ..Default::default()
            }),
        );
    }
    for (address, slot, value) in consortium.genesis_storage(identities)? {
        changes.storage.insert((address, slot), value);
    }
    Ok(changes)
}
