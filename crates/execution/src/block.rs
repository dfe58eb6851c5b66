//! Executing an ordered list of transactions into a block.

use crate::{
    ChainRules, HARDFORK, StateReadError,
    state::BlockState,
    system::{self, Action, Consortium, ConsortiumError, membership::RiChainPrecompiles},
    tx_env::tx_env,
};
use alloy_primitives::{
    Address, B256, Bloom, BloomInput, Bytes, Log, U256, keccak256,
    map::{AddressMap, B256Map},
};
use revm::{
    Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, result::EVMError},
    context_interface::result::ExecutionResult,
};
use ricaas_primitives::{Block, Header, RecoveredTx, StoredReceipt};
use ricaas_storage::{ExecutedBlock, StateChanges, StateLattice, StateReader, StorageError};

/// Where the block sits: everything the EVM's block environment is derived from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockContext {
    pub height: u64,
    pub timestamp_ms: u64,
    pub parent_hash: B256,
    pub beneficiary: Address,
    pub gas_limit: u64,
}

impl From<&Header> for BlockContext {
    /// The context a header was built in, for re-executing its block (or calling on top of it).
    fn from(header: &Header) -> Self {
        Self {
            height: header.height,
            timestamp_ms: header.timestamp_ms,
            parent_hash: header.parent_hash,
            beneficiary: header.beneficiary,
            gas_limit: header.gas_limit,
        }
    }
}

impl BlockContext {
    pub(crate) fn block_env(&self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.height),
            beneficiary: self.beneficiary,
            timestamp: U256::from(self.timestamp_ms / 1000),
            gas_limit: self.gas_limit,
            basefee: 0,
            difficulty: U256::ZERO,
            // No randomness beacon in a permissioned BFT chain: PREVRANDAO is the parent hash,
            // which is deterministic and known to every node. Contracts must not use it as entropy.
            prevrandao: Some(self.parent_hash),
            ..Default::default()
        }
    }
}

pub(crate) fn cfg_env(rules: &ChainRules) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(HARDFORK);
    cfg.chain_id = rules.chain_id;
    cfg.tx_gas_limit_cap = Some(rules.tx_gas_limit);
    cfg
}

/// Building a block drops transactions that cannot execute; verifying one refuses the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Build,
    Verify,
}

#[derive(Clone, Debug)]
pub struct RejectedTx {
    pub tx: RecoveredTx,
    pub reason: String,
}

#[derive(Debug)]
pub struct BlockOutcome {
    pub transactions: Vec<RecoveredTx>,
    pub receipts: Vec<StoredReceipt>,
    pub changes: StateChanges,
    pub gas_used: u64,
    pub logs_bloom: Bloom,
    /// Each receipt's bloom, in the order of `receipts`: computed once here for both the block's
    /// bloom and the receipts root (four Keccak hashes per ERC-20 transfer each time).
    pub receipt_blooms: Vec<Bloom>,
    /// Transactions that failed validation (nonce, balance, gas) and were left out.
    pub rejected: Vec<RejectedTx>,
    /// Valid transactions that did not fit in the block's remaining gas.
    pub deferred: Vec<RecoveredTx>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error(transparent)]
    State(#[from] StateReadError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("transaction {index} ({hash}) of the block is invalid: {reason}")]
    InvalidTransaction {
        index: usize,
        hash: B256,
        reason: String,
    },
    #[error("block uses {needed} gas, more than its limit {limit}")]
    BlockGasExceeded { needed: u64, limit: u64 },
    #[error("EVM failure: {0}")]
    Evm(String),
    #[error(transparent)]
    Consortium(#[from] ConsortiumError),
    #[error(
        "block {height} does not re-execute to its header: header hash {expected}, re-executed {actual}"
    )]
    Diverged {
        height: u64,
        expected: B256,
        actual: B256,
    },
}

/// Executes `transactions` in order on top of `snapshot`.
pub fn execute_block<S: StateReader + ?Sized>(
    snapshot: &S,
    rules: &ChainRules,
    context: &BlockContext,
    transactions: impl IntoIterator<Item = RecoveredTx>,
    mode: Mode,
) -> Result<BlockOutcome, ExecutionError> {
    let mut state = BlockState::new(snapshot);
    let transactions = transactions.into_iter();
    // A block of thousands would otherwise grow these a dozen times, copying them each time.
    let expected = transactions.size_hint().0;
    let mut outcome = BlockOutcome {
        transactions: Vec::with_capacity(expected),
        receipts: Vec::with_capacity(expected),
        changes: StateChanges::default(),
        gas_used: 0,
        logs_bloom: Bloom::default(),
        receipt_blooms: Vec::with_capacity(expected),
        rejected: Vec::new(),
        deferred: Vec::new(),
    };
    // Governance changes due at this height apply before any transaction sees the state.
    system::apply_due_changes(&mut state, context.height)?;
    let consortium = Consortium::load(&mut state)?;
    let rules = match &consortium {
        Some(consortium) => consortium.rules(rules),
        None => rules.clone(),
    };
    let now_secs = context.timestamp_ms / 1000;
    let mut bloom_hashes = BloomHashes::default();
    {
        let mut evm = Context::mainnet()
            .with_db(&mut state)
            .with_block(context.block_env())
            .with_cfg(cfg_env(&rules))
            .build_mainnet()
            .with_precompiles(RiChainPrecompiles::new(consortium.clone()));
        for (index, tx) in transactions.enumerate() {
            // Every node checks the sender against the membership state as of this point of
            // the block: a proposer cannot slip in a transaction admission would refuse.
            // An approved deployment registers the contract it creates under its name.
            let mut approved_creation = None;
            if let Some(consortium) = &consortium {
                let action = if tx.envelope().is_create() {
                    match system::creation_action(
                        consortium,
                        *revm::context::ContextTr::db_mut(&mut evm.ctx),
                        tx.sender(),
                        tx.envelope().input(),
                    )? {
                        Ok((action, name)) => {
                            approved_creation = name;
                            action
                        }
                        Err(refused) => {
                            reject(mode, &mut outcome, index, tx, refused.to_string())?;
                            continue;
                        }
                    }
                } else {
                    Action::Write
                };
                if let Err(refused) = system::check_sender(
                    consortium,
                    *revm::context::ContextTr::db_mut(&mut evm.ctx),
                    tx.sender(),
                    action,
                    now_secs,
                )? {
                    reject(mode, &mut outcome, index, tx, refused.to_string())?;
                    continue;
                }
            }
            let remaining = context.gas_limit.saturating_sub(outcome.gas_used);
            if tx.gas_limit() > remaining {
                match mode {
                    Mode::Build => {
                        outcome.deferred.push(tx);
                        continue;
                    }
                    Mode::Verify => {
                        return Err(ExecutionError::BlockGasExceeded {
                            needed: outcome.gas_used + tx.gas_limit(),
                            limit: context.gas_limit,
                        });
                    }
                }
            }
            let executed = match evm.transact(tx_env(&tx)) {
                Ok(executed) => executed,
                Err(EVMError::Database(e)) => return Err(e.into()),
                Err(EVMError::Transaction(invalid)) => {
                    reject(mode, &mut outcome, index, tx, invalid.to_string())?;
                    continue;
                }
                Err(other) => return Err(ExecutionError::Evm(other.to_string())),
            };
            // Where contracts are created only by approval, a contract may not create another
            // (a factory): the only account a transaction may create is the one its own
            // approved creation makes. Such a transaction is left out, like a refused sender.
            if let Some(consortium) = consortium
                .as_ref()
                .filter(|c| c.state().deployment == ricaas_primitives::system::Deployment::Approved)
            {
                let allowed = approved_creation
                    .as_ref()
                    .and(executed.result.created_address());
                if let Some(address) = executed
                    .state
                    .iter()
                    .find(|(address, account)| account.is_created() && Some(**address) != allowed)
                    .map(|(address, _)| *address)
                {
                    let refused = system::PermissionError::CreatedByContract {
                        address,
                        channel: consortium.channel.clone(),
                    };
                    reject(mode, &mut outcome, index, tx, refused.to_string())?;
                    continue;
                }
            }
            evm.commit(executed.state);
            let result = executed.result;
            if let (Some(name), Some(address)) = (&approved_creation, result.created_address())
                && result.is_success()
            {
                system::lifecycle::record_creation(
                    *revm::context::ContextTr::db_mut(&mut evm.ctx),
                    name,
                    address,
                    context.height,
                )?;
            }
            let receipt = receipt_for(&tx, &result, outcome.gas_used);
            outcome.gas_used = receipt.cumulative_gas_used;
            let bloom = bloom_hashes.bloom_of(&receipt.logs);
            outcome.logs_bloom |= bloom;
            outcome.receipt_blooms.push(bloom);
            outcome.receipts.push(receipt);
            outcome.transactions.push(tx);
        }
    }
    outcome.changes = state.into_changes();
    Ok(outcome)
}

/// Receipts' bloom filters, with the Keccak hash of each log address and topic kept for the
/// block: a token's transfers repeat its address, the event's signature and their parties in
/// log after log (four hashes per ERC-20 transfer otherwise). Equal to alloy's `logs_bloom`.
#[derive(Default)]
struct BloomHashes {
    addresses: AddressMap<B256>,
    topics: B256Map<B256>,
}

impl BloomHashes {
    fn bloom_of(&mut self, logs: &[Log]) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in logs {
            let address = *self
                .addresses
                .entry(log.address)
                .or_insert_with(|| keccak256(log.address));
            bloom.accrue(BloomInput::Hash(address));
            for topic in log.topics() {
                let hash = *self
                    .topics
                    .entry(*topic)
                    .or_insert_with(|| keccak256(topic));
                bloom.accrue(BloomInput::Hash(hash));
            }
        }
        bloom
    }
}

/// A transaction that cannot be executed: left out of a block being built, fatal to a block
/// being verified.
fn reject(
    mode: Mode,
    outcome: &mut BlockOutcome,
    index: usize,
    tx: RecoveredTx,
    reason: String,
) -> Result<(), ExecutionError> {
    match mode {
        Mode::Build => {
            outcome.rejected.push(RejectedTx { tx, reason });
            Ok(())
        }
        Mode::Verify => Err(ExecutionError::InvalidTransaction {
            index,
            hash: tx.hash(),
            reason,
        }),
    }
}

fn receipt_for(tx: &RecoveredTx, result: &ExecutionResult, gas_before: u64) -> StoredReceipt {
    let gas_used = result.tx_gas_used();
    let revert_data = match result {
        ExecutionResult::Revert { output, .. } => output.clone(),
        _ => Bytes::new(),
    };
    StoredReceipt {
        tx_type: tx.envelope().tx_type(),
        success: result.is_success(),
        cumulative_gas_used: gas_before + gas_used,
        gas_used,
        logs: result.logs().to_vec(),
        contract_address: result
            .created_address()
            .map(|a| Bytes::copy_from_slice(a.as_slice()))
            .unwrap_or_default(),
        revert_data,
    }
}

/// Blocks with at least this many transactions compute their receipts root on a thread of
/// its own (a thread costs tens of microseconds; the root a couple per transaction).
const PARALLEL_ROOTS_FROM_TXS: usize = 256;

/// Computes the header of an executed block: roots over transactions, receipts and state. The
/// three are independent, and sealing sits on the path of every block (after its last
/// transaction, before its commit or vote): a large block computes its receipts root (the
/// largest part: every receipt encoded with its bloom and hashed) on one thread while another
/// computes the transactions root and then the state lattice (itself split among cores when
/// many keys changed, [`StateReader::lattice_after`]).
pub fn seal_block<S: StateReader + Sync + ?Sized>(
    snapshot: &S,
    context: &BlockContext,
    outcome: BlockOutcome,
) -> Result<ExecutedBlock, ExecutionError> {
    seal_block_with(snapshot, context, outcome, None)
}

fn seal_block_with<S: StateReader + Sync + ?Sized>(
    snapshot: &S,
    context: &BlockContext,
    outcome: BlockOutcome,
    transactions_root: Option<B256>,
) -> Result<ExecutedBlock, ExecutionError> {
    let (header, lattice) = seal_header_with(snapshot, context, &outcome, transactions_root)?;
    Ok(ExecutedBlock {
        block: Block {
            header,
            transactions: outcome.transactions,
        },
        receipts: outcome.receipts,
        changes: outcome.changes,
        lattice,
    })
}

/// The header [`seal_block`] gives `outcome`, and the state lattice after it, without taking
/// the outcome: what the block holds can be written elsewhere while its roots are computed.
pub fn seal_header<S: StateReader + Sync + ?Sized>(
    snapshot: &S,
    context: &BlockContext,
    outcome: &BlockOutcome,
) -> Result<(Header, StateLattice), ExecutionError> {
    seal_header_with(snapshot, context, outcome, None)
}

/// [`seal_header`], taking the transactions root as given when the caller knows it holds for
/// `outcome`'s transactions.
fn seal_header_with<S: StateReader + Sync + ?Sized>(
    snapshot: &S,
    context: &BlockContext,
    outcome: &BlockOutcome,
    transactions_root: Option<B256>,
) -> Result<(Header, StateLattice), ExecutionError> {
    let receipts_root =
        || StoredReceipt::receipts_root_with_blooms(&outcome.receipts, &outcome.receipt_blooms);
    let the_rest = || {
        (
            transactions_root.unwrap_or_else(|| Block::transactions_root(&outcome.transactions)),
            snapshot.lattice_after(&outcome.changes),
        )
    };
    let (receipts_root, (transactions_root, lattice)) =
        if outcome.transactions.len() >= PARALLEL_ROOTS_FROM_TXS {
            std::thread::scope(|scope| {
                let receipts = scope.spawn(receipts_root);
                let rest = the_rest();
                // A panic computing the root is a bug: raised here as it would have been
                // without the thread.
                let receipts = receipts
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (receipts, rest)
            })
        } else {
            (receipts_root(), the_rest())
        };
    let lattice = lattice?;
    let header = Header {
        parent_hash: context.parent_hash,
        height: context.height,
        timestamp_ms: context.timestamp_ms,
        transactions_root,
        receipts_root,
        state_root: lattice.root(),
        logs_bloom: outcome.logs_bloom,
        gas_limit: context.gas_limit,
        gas_used: outcome.gas_used,
        beneficiary: context.beneficiary,
    };
    Ok((header, lattice))
}

/// What [`verify_block`] may assume of a block's transactions root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionsRoot {
    /// Compute it over the block's transactions, like every other root.
    Compute,
    /// The caller has matched the header's transactions root against these very transactions'
    /// encodings (a block decoded from the wire is refused otherwise), so it is not computed a
    /// second time. Verifying executes every transaction or refuses the block, so the executed
    /// list is the block's.
    CheckedAgainstHeader,
}

/// Re-executes a block produced elsewhere on top of `snapshot` and checks that it yields exactly
/// the block's header (transactions, receipts and state roots included).
pub fn verify_block<S: StateReader + Sync + ?Sized>(
    snapshot: &S,
    rules: &ChainRules,
    block: &Block,
    transactions_root: TransactionsRoot,
) -> Result<ExecutedBlock, ExecutionError> {
    let context = BlockContext::from(&block.header);
    let outcome = execute_block(
        snapshot,
        rules,
        &context,
        block.transactions.clone(),
        Mode::Verify,
    )?;
    let known_root = match transactions_root {
        TransactionsRoot::Compute => None,
        TransactionsRoot::CheckedAgainstHeader => {
            // Verify mode refuses a block rather than drop a transaction from it; should that
            // ever change, the root is computed again.
            let same = outcome.transactions.len() == block.transactions.len()
                && outcome
                    .transactions
                    .iter()
                    .zip(&block.transactions)
                    .all(|(executed, listed)| executed.hash() == listed.hash());
            same.then_some(block.header.transactions_root)
        }
    };
    let executed = seal_block_with(snapshot, &context, outcome, known_root)?;
    let (expected, actual) = (block.hash(), executed.block.hash());
    if expected != actual {
        return Err(ExecutionError::Diverged {
            height: block.header.height,
            expected,
            actual,
        });
    }
    Ok(executed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::LogData;

    #[test]
    fn blooms_from_kept_hashes_equal_alloys_logs_bloom() {
        let parties: Vec<Address> = (1u8..=5).map(Address::repeat_byte).collect();
        let topics: Vec<B256> = (1u8..=7).map(B256::repeat_byte).collect();
        let mut hashes = BloomHashes::default();
        // Receipts with zero to four topics, addresses and topics recurring across receipts
        // (where the kept hashes are reused) and within one.
        for receipt in 0..40usize {
            let logs: Vec<Log> = (0..receipt % 4)
                .map(|i| {
                    let chosen = (0..(receipt + i) % 5)
                        .map(|t| topics[(receipt * 3 + i + t) % topics.len()])
                        .collect();
                    Log {
                        address: parties[(receipt + i) % parties.len()],
                        data: LogData::new_unchecked(chosen, Bytes::from(vec![receipt as u8])),
                    }
                })
                .collect();
            assert_eq!(
                hashes.bloom_of(&logs),
                alloy_primitives::logs_bloom(&logs),
                "receipt {receipt}"
            );
        }
        assert_eq!(hashes.bloom_of(&[]), Bloom::ZERO);
    }
}
