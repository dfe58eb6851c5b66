//! Independent check of a channel's data directory: recovers every stored transaction's sender
//! from its signature again (a node may have taken gossiped senders on other validators' word,
//! `consensus.sender_trust`), re-executes every stored block from genesis into a scratch store
//! and compares each header, then recomputes the state commitment from a full scan of the stored
//! state. Used after crashes and by `ricaas replay`.

use crate::{channel::genesis_block, config::ChannelConfig};
use alloy_primitives::B256;
use ricaas_execution::{ChainRules, ExecutionError, TransactionsRoot, verify_block};
use ricaas_storage::{ChainStore, StorageError};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(
        "block {height}: stored header hash {stored} but the configuration's genesis is {replayed}"
    )]
    Diverged {
        height: u64,
        stored: B256,
        replayed: B256,
    },
    #[error(
        "stored state does not match the head's state root: header {header}, recomputed {recomputed}"
    )]
    StateMismatch { header: B256, recomputed: B256 },
    #[error("block {0} is missing from the store")]
    Missing(u64),
    #[error(
        "block {height}, transaction {index}: stored sender {stored}, but its signature {recovered}"
    )]
    Sender {
        height: u64,
        index: usize,
        stored: alloy_primitives::Address,
        recovered: String,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub struct ReplayReport {
    pub head: u64,
    pub head_hash: B256,
    pub transactions: usize,
}

/// Recovers each transaction's sender of `block` from its signature (native envelopes against
/// the certificates enrolled in `before`, the state the block executes on) and compares it with
/// the sender stored with the block.
fn check_senders(
    before: &ricaas_storage::Snapshot,
    height: u64,
    block: &ricaas_primitives::Block,
) -> Result<(), ReplayError> {
    use rayon::prelude::*;
    block
        .transactions
        .par_iter()
        .enumerate()
        .try_for_each(|(index, tx)| {
            let recovered = ricaas_crypto::native::recover_with(tx.envelope().clone(), |id| {
                ricaas_execution::system::enrolled_key(
                    &mut ricaas_execution::system::StateSlots(before),
                    &id,
                )
                .ok()
                .flatten()
            });
            match recovered {
                Ok(recovered) if recovered.sender() == tx.sender() => Ok(()),
                Ok(recovered) => Err(ReplayError::Sender {
                    height,
                    index,
                    stored: tx.sender(),
                    recovered: format!("recovers {}", recovered.sender()),
                }),
                Err(e) => Err(ReplayError::Sender {
                    height,
                    index,
                    stored: tx.sender(),
                    recovered: format!("does not verify: {e}"),
                }),
            }
        })
}

/// Replays the chain stored in `chain_db` (a `chain.redb`) using `scratch_dir` for the copy.
pub fn replay_chain(
    config: &ChannelConfig,
    chain_db: &Path,
    scratch_dir: &Path,
) -> Result<ReplayReport, ReplayError> {
    let source = ChainStore::open(chain_db)?;
    let original = source.snapshot()?;
    let head = original.head_height().ok_or(StorageError::NoGenesis)?;
    let replica = ChainStore::open(&scratch_dir.join("replay.redb"))?;
    let rules = ChainRules {
        chain_id: config.chain_id,
        block_gas_limit: config.block_gas_limit,
        tx_gas_limit: config.tx_gas_limit,
    };
    let genesis = genesis_block(config).map_err(ReplayError::Config)?;
    let stored_genesis = original.header(0)?.ok_or(ReplayError::Missing(0))?;
    if stored_genesis.hash() != genesis.block.hash() {
        return Err(ReplayError::Diverged {
            height: 0,
            stored: stored_genesis.hash(),
            replayed: genesis.block.hash(),
        });
    }
    replica.commit_block(&genesis)?;
    let mut transactions = 0;
    for height in 1..=head {
        let block = original
            .block(height)?
            .ok_or(ReplayError::Missing(height))?;
        transactions += block.transactions.len();
        let before = replica.snapshot()?;
        check_senders(&before, height, &block)?;
        let replayed = verify_block(&before, &rules, &block, TransactionsRoot::Compute)?;
        replica.commit_block(&replayed)?;
    }
    let head_header = original.head_header()?;
    let recomputed = original.recompute_state_root()?;
    if recomputed != head_header.state_root {
        return Err(ReplayError::StateMismatch {
            header: head_header.state_root,
            recomputed,
        });
    }
    Ok(ReplayReport {
        head,
        head_hash: head_header.hash(),
        transactions,
    })
}
