use alloy_primitives::{Address, B256, Bloom, U256};
use ricaas_primitives::{Block, Header};
use ricaas_storage::{
    AccountState, ChainStore, CommitOutcome, ExecutedBlock, StateChanges, StateLattice,
    StateReader as _, StorageError,
};

fn block_with(
    store: &ChainStore,
    height: u64,
    parent: B256,
    changes: StateChanges,
) -> ExecutedBlock {
    let snapshot = store.snapshot().expect("snapshot");
    let lattice = snapshot.lattice_after(&changes).expect("lattice");
    let header = Header {
        parent_hash: parent,
        height,
        timestamp_ms: 1000 * height,
        transactions_root: Block::transactions_root(&[]),
        receipts_root: B256::ZERO,
        state_root: lattice.root(),
        logs_bloom: Bloom::default(),
        gas_limit: 1,
        gas_used: 0,
        beneficiary: Address::ZERO,
    };
    ExecutedBlock {
        block: Block {
            header,
            transactions: vec![],
        },
        receipts: vec![],
        changes,
        lattice,
    }
}

/// A store in a fresh directory with its genesis block (no state) committed.
fn store_with_genesis() -> (tempfile::TempDir, ChainStore, ExecutedBlock) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ChainStore::open(&dir.path().join("chain.redb")).expect("open");
    let genesis = block_with(&store, 0, B256::ZERO, StateChanges::default());
    store.commit_block(&genesis).expect("genesis");
    (dir, store, genesis)
}

fn set_balance(changes: &mut StateChanges, byte: u8, balance: u64) {
    changes.accounts.insert(
        Address::repeat_byte(byte),
        Some(AccountState {
            balance: U256::from(balance),
            ..Default::default()
        }),
    );
}

#[test]
fn blocks_survive_reopen_and_commit_is_idempotent_by_height() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.redb");
    let (genesis, second) = {
        let store = ChainStore::open(&path).expect("open");
        let mut changes = StateChanges::default();
        set_balance(&mut changes, 1, 100);
        changes
            .storage
            .insert((Address::repeat_byte(1), U256::from(7)), U256::from(9));
        let genesis = block_with(&store, 0, B256::ZERO, changes);
        assert_eq!(
            store.commit_block(&genesis).expect("commit"),
            CommitOutcome::Committed
        );
        let mut changes = StateChanges::default();
        set_balance(&mut changes, 2, 5);
        changes
            .storage
            .insert((Address::repeat_byte(1), U256::from(7)), U256::ZERO);
        let second = block_with(&store, 1, genesis.block.hash(), changes);
        store.commit_block(&second).expect("commit");
        assert_eq!(
            store.commit_block(&second).expect("again"),
            CommitOutcome::AlreadyCommitted
        );
        (genesis, second)
    };
    let store = ChainStore::open(&path).expect("reopen");
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(snapshot.head_height(), Some(1));
    assert_eq!(snapshot.head_header().expect("head"), second.block.header);
    assert_eq!(
        snapshot.height_of(&genesis.block.hash()).expect("lookup"),
        Some(0)
    );
    assert_eq!(
        snapshot
            .storage(&Address::repeat_byte(1), &U256::from(7))
            .expect("slot"),
        U256::ZERO
    );
    assert_eq!(
        snapshot
            .account(&Address::repeat_byte(2))
            .expect("acct")
            .map(|a| a.balance),
        Some(U256::from(5))
    );

    // The incremental state root equals one built from scratch over the final state.
    let mut fresh = StateLattice::default();
    fresh.add_account(
        &Address::repeat_byte(1),
        &AccountState {
            balance: U256::from(100),
            ..Default::default()
        },
    );
    fresh.add_account(
        &Address::repeat_byte(2),
        &AccountState {
            balance: U256::from(5),
            ..Default::default()
        },
    );
    assert_eq!(second.block.header.state_root, fresh.root());
}

#[test]
fn conflicting_and_out_of_order_blocks_are_refused() {
    let (_dir, store, genesis) = store_with_genesis();
    let mut other = StateChanges::default();
    set_balance(&mut other, 3, 1);
    let conflicting = block_with(&store, 0, B256::ZERO, other);
    assert!(matches!(
        store.commit_block(&conflicting),
        Err(StorageError::Conflict { height: 0, .. })
    ));
    let gap = block_with(&store, 5, genesis.block.hash(), StateChanges::default());
    assert!(matches!(
        store.commit_block(&gap),
        Err(StorageError::OutOfOrder { head: 0, got: 5 })
    ));
}

#[test]
fn wiping_storage_removes_every_slot_from_state_and_commitment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ChainStore::open(&dir.path().join("chain.redb")).expect("open");
    let contract = Address::repeat_byte(4);
    let mut changes = StateChanges::default();
    for slot in 0..3u64 {
        changes
            .storage
            .insert((contract, U256::from(slot)), U256::from(slot + 1));
    }
    let genesis = block_with(&store, 0, B256::ZERO, changes);
    store.commit_block(&genesis).expect("commit");
    let mut wipe = StateChanges::default();
    wipe.wiped_storage.insert(contract);
    let block = block_with(&store, 1, genesis.block.hash(), wipe);
    store.commit_block(&block).expect("commit");
    let snapshot = store.snapshot().expect("snapshot");
    assert!(snapshot.storage_of(&contract).expect("range").is_empty());
    assert_eq!(
        block.block.header.state_root,
        StateLattice::default().root()
    );
}

/// A transaction as the chain stores it: its EIP-2718 bytes, decoded, with a claimed sender.
/// Storage never checks signatures, so any well-formed one will do.
fn stored_tx(nonce: u64, typed: bool) -> ricaas_primitives::RecoveredTx {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Signature, TxKind};
    let signature = Signature::new(
        U256::from(7 + nonce),
        U256::from(11 + nonce),
        nonce % 2 == 1,
    );
    let to = TxKind::Call(Address::repeat_byte(0x42));
    let envelope: TxEnvelope = if typed {
        TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 10,
            to,
            value: U256::from(nonce),
            ..Default::default()
        }
        .into_signed(signature)
        .into()
    } else {
        TxLegacy {
            chain_id: Some(1),
            nonce,
            gas_price: 10,
            gas_limit: 21_000,
            to,
            value: U256::from(nonce),
            ..Default::default()
        }
        .into_signed(signature)
        .into()
    };
    let raw = envelope.encoded_2718();
    let decoded = ricaas_primitives::decode_raw_transaction(&raw, usize::MAX).expect("canonical");
    ricaas_primitives::RecoveredTx::from_verified_parts(
        decoded,
        Address::repeat_byte(nonce as u8 + 1),
        raw.into(),
    )
}

/// Hash-only and single-transaction reads (what `eth_getBlockByNumber` without full
/// transactions, `eth_getLogs` and receipt lookups use) agree with decoding the whole block.
#[test]
fn transaction_hashes_and_single_transactions_agree_with_the_whole_block() {
    let (_dir, store, genesis) = store_with_genesis();
    let mut block = block_with(&store, 1, genesis.block.hash(), StateChanges::default());
    block.block.transactions = (0..6).map(|n| stored_tx(n, n % 2 == 0)).collect();
    block.block.header.transactions_root = Block::transactions_root(&block.block.transactions);
    store.commit_block(&block).expect("commit");

    let snapshot = store.snapshot().expect("snapshot");
    let whole = snapshot.transactions(1).expect("decoded");
    assert_eq!(whole, block.block.transactions);
    let hashes = snapshot.transaction_hashes(1).expect("hashes");
    assert_eq!(hashes, whole.iter().map(|tx| tx.hash()).collect::<Vec<_>>());
    for (index, tx) in whole.iter().enumerate() {
        assert_eq!(
            snapshot.transaction(1, index).expect("one").as_ref(),
            Some(tx)
        );
    }
    assert_eq!(
        snapshot.transaction(1, whole.len()).expect("past the end"),
        None
    );
    assert_eq!(snapshot.transaction(2, 0).expect("no such block"), None);
    assert!(
        snapshot
            .transaction_hashes(0)
            .expect("empty block")
            .is_empty()
    );
    assert!(
        snapshot
            .transaction_hashes(2)
            .expect("no such block")
            .is_empty()
    );
}

/// A block's transaction hashes are stored when it commits; a block committed by a version
/// that did not store them (no `tx_hashes` table) still answers, hashing its stored encodings.
#[test]
fn transaction_hashes_of_blocks_committed_before_they_were_stored_are_computed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.redb");
    let expected: Vec<B256> = {
        let store = ChainStore::open(&path).expect("open");
        let genesis = block_with(&store, 0, B256::ZERO, StateChanges::default());
        store.commit_block(&genesis).expect("genesis");
        let mut block = block_with(&store, 1, genesis.block.hash(), StateChanges::default());
        block.block.transactions = (0..4).map(|n| stored_tx(n, n % 2 == 0)).collect();
        block.block.header.transactions_root = Block::transactions_root(&block.block.transactions);
        store.commit_block(&block).expect("commit");
        assert_eq!(
            store
                .snapshot()
                .expect("snapshot")
                .transaction_hashes(1)
                .expect("stored hashes"),
            block
                .block
                .transactions
                .iter()
                .map(|tx| tx.hash())
                .collect::<Vec<_>>()
        );
        block
            .block
            .transactions
            .iter()
            .map(|tx| tx.hash())
            .collect()
    };
    // What an older version left: the same database without the table.
    {
        let db = redb::Database::open(&path).expect("reopen");
        let txn = db.begin_write().expect("write");
        let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("tx_hashes");
        assert!(
            txn.delete_table(table).expect("delete"),
            "the table existed"
        );
        txn.commit().expect("commit");
    }
    let store = ChainStore::open(&path).expect("open an older database");
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(snapshot.transaction_hashes(1).expect("computed"), expected);
}

/// One receipt read by itself (what `eth_getTransactionReceipt` uses) equals the one decoded
/// with the whole block, with the count of the logs before it, for receipts with no log, one,
/// several, big logs (long RLP headers), a created contract and revert data; past the end, or
/// in a block that does not exist, there is none.
#[test]
fn a_receipt_read_alone_agrees_with_the_whole_blocks_receipts() {
    use alloy_primitives::{Bytes, Log, LogData};
    use ricaas_primitives::StoredReceipt;
    let (_dir, store, genesis) = store_with_genesis();
    let log = |topics: usize, data: usize| Log {
        address: Address::repeat_byte(0x42),
        data: LogData::new_unchecked(
            (0..topics).map(|t| B256::repeat_byte(t as u8)).collect(),
            Bytes::from(vec![7u8; data]),
        ),
    };
    let logs_of = [0usize, 1, 3, 0, 2, 1];
    let receipts: Vec<StoredReceipt> = logs_of
        .iter()
        .enumerate()
        .map(|(i, &count)| StoredReceipt {
            tx_type: (i % 3) as u8,
            success: i != 3,
            cumulative_gas_used: 21_000 * (i as u64 + 1),
            gas_used: 21_000,
            logs: (0..count).map(|n| log(n + 1, 70_000 * (i % 2))).collect(),
            contract_address: if i == 2 {
                Bytes::from(vec![9u8; 20])
            } else {
                Bytes::new()
            },
            revert_data: if i == 3 {
                Bytes::from(vec![8u8; 68])
            } else {
                Bytes::new()
            },
        })
        .collect();
    let mut block = block_with(&store, 1, genesis.block.hash(), StateChanges::default());
    block.block.transactions = (0..receipts.len() as u64)
        .map(|n| stored_tx(n, n % 2 == 0))
        .collect();
    block.block.header.transactions_root = Block::transactions_root(&block.block.transactions);
    block.receipts = receipts.clone();
    store.commit_block(&block).expect("commit");

    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(snapshot.receipts(1).expect("all"), receipts);
    let mut logs_before = 0;
    for (index, expected) in receipts.iter().enumerate() {
        assert_eq!(
            snapshot.receipt(1, index).expect("one"),
            Some((expected.clone(), logs_before)),
            "receipt {index}"
        );
        logs_before += expected.logs.len();
    }
    assert_eq!(
        snapshot.receipt(1, receipts.len()).expect("past the end"),
        None
    );
    assert_eq!(snapshot.receipt(0, 0).expect("genesis has none"), None);
    assert_eq!(snapshot.receipt(2, 0).expect("no such block"), None);
}

/// A block staged (its contents written while its header is computed) is invisible until its
/// header commits it, then reads exactly as the same block committed at once; a staged block
/// dropped leaves nothing, and only the block after the head can be staged.
#[test]
fn a_staged_block_is_invisible_until_committed_and_then_reads_as_one_committed_at_once() {
    let (_at_once_dir, at_once, genesis) = store_with_genesis();
    let (_staged_dir, staged, _) = store_with_genesis();
    let mut changes = StateChanges::default();
    set_balance(&mut changes, 1, 100);
    changes
        .storage
        .insert((Address::repeat_byte(2), U256::from(5)), U256::from(0xbeef));
    let mut block = block_with(&at_once, 1, genesis.block.hash(), changes);
    block.block.transactions = (0..4).map(|n| stored_tx(n, n % 2 == 0)).collect();
    block.block.header.transactions_root = Block::transactions_root(&block.block.transactions);
    let hashes: Vec<B256> = block
        .block
        .transactions
        .iter()
        .map(|tx| tx.hash())
        .collect();
    at_once.commit_block(&block).expect("commit at once");

    let pending = staged
        .stage_block(
            1,
            &block.block.transactions,
            &block.receipts,
            &block.changes,
        )
        .expect("stages");
    let before = staged.snapshot().expect("snapshot");
    assert_eq!(before.head_height(), Some(0), "nothing is visible yet");
    assert_eq!(before.tx_location(&hashes[0]).expect("reads"), None);
    assert_eq!(
        before.account(&Address::repeat_byte(1)).expect("reads"),
        None
    );
    pending
        .commit(&block.block.header, &block.lattice)
        .expect("commits");

    let (a, b) = (
        at_once.snapshot().expect("snapshot"),
        staged.snapshot().expect("snapshot"),
    );
    assert_eq!(b.head_height(), Some(1));
    assert_eq!(
        b.head_header().expect("head"),
        a.head_header().expect("head")
    );
    assert_eq!(
        b.height_of(&block.block.hash()).expect("reads"),
        Some(1),
        "the hash index names the block"
    );
    assert_eq!(b.block(1).expect("reads"), a.block(1).expect("reads"));
    assert_eq!(b.transaction_hashes(1).expect("reads"), hashes);
    for hash in &hashes {
        assert_eq!(
            b.tx_location(hash).expect("reads"),
            a.tx_location(hash).expect("reads")
        );
        assert!(b.tx_location(hash).expect("reads").is_some());
    }
    assert_eq!(
        b.account(&Address::repeat_byte(1)).expect("reads"),
        a.account(&Address::repeat_byte(1)).expect("reads")
    );
    assert_eq!(
        b.storage(&Address::repeat_byte(2), &U256::from(5))
            .expect("reads"),
        U256::from(0xbeef)
    );
    assert_eq!(
        b.recompute_state_root().expect("recomputes"),
        block.block.header.state_root,
        "the stored lattice is the block's"
    );

    // Only the block after the head can be staged; a header of another height is refused.
    for height in [1, 3] {
        assert!(matches!(
            staged.stage_block(height, &[], &[], &StateChanges::default()),
            Err(StorageError::OutOfOrder { head: 1, got }) if got == height
        ));
    }
    let next = block_with(&staged, 2, block.block.hash(), StateChanges::default());
    let wrong = staged
        .stage_block(2, &[], &[], &StateChanges::default())
        .expect("stages");
    assert!(wrong.commit(&block.block.header, &block.lattice).is_err());
    // Dropped after writing a transaction: nothing of it remains, and block 2 commits as usual.
    let mut extra = StateChanges::default();
    set_balance(&mut extra, 3, 7);
    let late = stored_tx(9, false);
    drop(
        staged
            .stage_block(2, std::slice::from_ref(&late), &[], &extra)
            .expect("stages"),
    );
    let after = staged.snapshot().expect("snapshot");
    assert_eq!(after.head_height(), Some(1));
    assert_eq!(after.tx_location(&late.hash()).expect("reads"), None);
    assert_eq!(
        after.account(&Address::repeat_byte(3)).expect("reads"),
        None
    );
    assert_eq!(
        staged.commit_block(&next).expect("commits"),
        CommitOutcome::Committed
    );
}
