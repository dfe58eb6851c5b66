//! Block execution: receipts, state changes, rejections, and that verification re-derives the
//! same header as building.

use alloy_consensus::{TxLegacy, TypedTransaction};
use alloy_primitives::{Address, B256, Bloom, Bytes, TxKind, U256};
use ricaas_crypto::{DevKey, recover_transaction, sign_transaction};
use ricaas_execution::{
    BlockContext, ChainRules, ExecutionError, Mode, TransactionsRoot, execute_block, seal_block,
    verify_block,
};
use ricaas_primitives::{Block, Header, RecoveredTx};
use ricaas_storage::{AccountState, ChainStore, ExecutedBlock, StateChanges, StateReader as _};

const RULES: ChainRules = ChainRules {
    chain_id: 7,
    block_gas_limit: 30_000_000,
    tx_gas_limit: 10_000_000,
};

fn tx(key: &DevKey, nonce: u64, to: TxKind, value: u64, input: Vec<u8>, gas: u64) -> RecoveredTx {
    let unsigned = TypedTransaction::Legacy(TxLegacy {
        chain_id: Some(RULES.chain_id),
        nonce,
        gas_price: 0,
        gas_limit: gas,
        to,
        value: U256::from(value),
        input: Bytes::from(input),
    });
    recover_transaction(sign_transaction(unsigned, key.secret())).expect("valid signature")
}

fn store_with_genesis(dir: &std::path::Path, funded: Address) -> ChainStore {
    let store = ChainStore::open(&dir.join("chain.redb")).expect("open");
    let mut changes = StateChanges::default();
    changes.accounts.insert(
        funded,
        Some(AccountState {
            balance: U256::from(1_000_000u64),
            ..Default::default()
        }),
    );
    let lattice = store
        .snapshot()
        .expect("snapshot")
        .lattice_after(&changes)
        .expect("lattice");
    let header = Header {
        parent_hash: B256::ZERO,
        height: 0,
        timestamp_ms: 1_000,
        transactions_root: Block::transactions_root(&[]),
        receipts_root: B256::ZERO,
        state_root: lattice.root(),
        logs_bloom: Bloom::default(),
        gas_limit: RULES.block_gas_limit,
        gas_used: 0,
        beneficiary: Address::ZERO,
    };
    store
        .commit_block(&ExecutedBlock {
            block: Block {
                header,
                transactions: vec![],
            },
            receipts: vec![],
            changes,
            lattice,
        })
        .expect("genesis");
    store
}

fn context(store: &ChainStore) -> BlockContext {
    let parent = store
        .snapshot()
        .expect("snapshot")
        .head_header()
        .expect("head");
    BlockContext {
        height: parent.height + 1,
        timestamp_ms: parent.timestamp_ms + 1_000,
        parent_hash: parent.hash(),
        beneficiary: Address::ZERO,
        gas_limit: RULES.block_gas_limit,
    }
}

/// Init code: SSTORE(0, 42); LOG1(memory[0..0], topic 0xaa..aa); STOP (deploys empty code).
fn storing_and_logging_init_code() -> Vec<u8> {
    let mut code = vec![0x60, 42, 0x60, 0x00, 0x55, 0x7f];
    code.extend_from_slice(&[0xaa; 32]);
    code.extend_from_slice(&[0x60, 0x00, 0x60, 0x00, 0xa1, 0x00]);
    code
}

#[test]
fn building_executes_transfers_creations_and_reverts_and_drops_invalid_transactions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = DevKey::random();
    let store = store_with_genesis(dir.path(), key.address());
    let recipient = Address::repeat_byte(0x42);
    let txs = vec![
        tx(&key, 0, TxKind::Call(recipient), 1_000, vec![], 21_000),
        tx(
            &key,
            1,
            TxKind::Create,
            0,
            storing_and_logging_init_code(),
            200_000,
        ),
        tx(
            &key,
            2,
            TxKind::Create,
            0,
            vec![0x60, 0x00, 0x60, 0x00, 0xfd],
            100_000,
        ), // REVERT(0, 0)
        tx(&key, 9, TxKind::Call(recipient), 1, vec![], 21_000), // nonce gap
        tx(
            &DevKey::random(),
            0,
            TxKind::Call(recipient),
            5,
            vec![],
            21_000,
        ), // no funds
    ];
    let ctx = context(&store);
    let snapshot = store.snapshot().expect("snapshot");
    let outcome =
        execute_block(&snapshot, &RULES, &ctx, txs.clone(), Mode::Build).expect("executes");

    assert_eq!(outcome.transactions.len(), 3);
    assert_eq!(outcome.rejected.len(), 2, "{:?}", outcome.rejected);
    assert!(
        outcome.rejected[0].reason.to_lowercase().contains("nonce"),
        "{}",
        outcome.rejected[0].reason
    );
    let receipts = &outcome.receipts;
    assert!(receipts[0].success && receipts[0].gas_used == 21_000);
    assert!(receipts[1].success);
    let created = receipts[1]
        .contract_address()
        .expect("creation has an address");
    assert_eq!(receipts[1].logs.len(), 1);
    assert_eq!(receipts[1].logs[0].address, created);
    assert!(!receipts[2].success, "REVERT gives status 0");
    assert_eq!(receipts[2].cumulative_gas_used, outcome.gas_used);
    assert!(
        outcome
            .logs_bloom
            .contains_input(alloy_primitives::BloomInput::Raw(created.as_slice()))
    );

    assert_eq!(
        outcome.changes.accounts[&recipient].map(|a| a.balance),
        Some(U256::from(1_000))
    );
    assert_eq!(
        outcome.changes.storage[&(created, U256::ZERO)],
        U256::from(42)
    );
    assert_eq!(
        outcome.changes.accounts[&key.address()].map(|a| a.nonce),
        Some(3)
    );

    // Verification of the built block on another node's copy re-derives the same header.
    let built = seal_block(&snapshot, &ctx, outcome).expect("seals");
    store.commit_block(&built).expect("commit");
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = store_with_genesis(other_dir.path(), key.address());
    let other_snapshot = other.snapshot().expect("snapshot");
    let verified = execute_block(
        &other_snapshot,
        &RULES,
        &ctx,
        built.block.transactions.clone(),
        Mode::Verify,
    )
    .expect("verifies");
    assert_eq!(
        seal_block(&other_snapshot, &ctx, verified)
            .expect("seals")
            .block
            .hash(),
        built.block.hash()
    );

    assert_eq!(
        verify_block(
            &other_snapshot,
            &RULES,
            &built.block,
            TransactionsRoot::Compute
        )
        .expect("verifies")
        .block
        .hash(),
        built.block.hash()
    );
    // Taking the transactions root from the header (checked at decode) seals the same block.
    assert_eq!(
        verify_block(
            &other_snapshot,
            &RULES,
            &built.block,
            TransactionsRoot::CheckedAgainstHeader
        )
        .expect("verifies")
        .block,
        built.block
    );
    let mut forged = built.block.clone();
    forged.header.state_root = B256::repeat_byte(9);
    for transactions_root in [
        TransactionsRoot::Compute,
        TransactionsRoot::CheckedAgainstHeader,
    ] {
        assert!(matches!(
            verify_block(&other_snapshot, &RULES, &forged, transactions_root),
            Err(ExecutionError::Diverged { height: 1, .. })
        ));
    }
    // Without the decode check a wrong transactions root is found by computing it.
    let mut forged = built.block.clone();
    forged.header.transactions_root = B256::repeat_byte(7);
    assert!(matches!(
        verify_block(&other_snapshot, &RULES, &forged, TransactionsRoot::Compute),
        Err(ExecutionError::Diverged { height: 1, .. })
    ));

    // A block containing an invalid transaction is refused in verification.
    let err = execute_block(&other_snapshot, &RULES, &ctx, txs, Mode::Verify).unwrap_err();
    assert!(err.to_string().contains("invalid"), "{err}");
}

#[test]
fn transactions_beyond_the_block_gas_limit_are_deferred_not_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = DevKey::random();
    let store = store_with_genesis(dir.path(), key.address());
    let mut ctx = context(&store);
    ctx.gas_limit = 50_000;
    let txs: Vec<_> = (0..3)
        .map(|n| tx(&key, n, TxKind::Call(Address::ZERO), 1, vec![], 21_000))
        .collect();
    let snapshot = store.snapshot().expect("snapshot");
    let outcome = execute_block(&snapshot, &RULES, &ctx, txs, Mode::Build).expect("executes");
    assert_eq!(outcome.transactions.len(), 2);
    assert_eq!(outcome.deferred.len(), 1);
    assert_eq!(outcome.deferred[0].nonce(), 2);
    assert!(outcome.rejected.is_empty());
}
