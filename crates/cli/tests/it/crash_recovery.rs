//! Durability: a node SIGKILLed under sustained load restarts with every transaction whose
//! receipt a client saw, in the same block, and its stored state equals a replay of the chain.

use crate::common;

use alloy_primitives::{B256, U256};
use common::{Node, load::Load, quantity, transfer};
use ricaas_crypto::DevKey;
use serde_json::json;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

#[test]
fn kill_9_under_load_loses_no_acknowledged_transaction_and_state_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let node = Node::up(&data);
    let rpc = node.rpc();

    let senders: Vec<DevKey> = (0..6).map(|_| DevKey::random()).collect();
    let mut last = B256::ZERO;
    for (nonce, sender) in senders.iter().enumerate() {
        let (hash, raw) = transfer(
            &node.dev_key,
            nonce as u64,
            sender.address(),
            U256::from(10u64).pow(U256::from(20)),
        );
        assert!(rpc.send_raw(&raw).get("result").is_some());
        last = hash;
    }
    rpc.wait_receipt(last);
    common::enroll_clients(&rpc, &data, &senders);

    // Sustained load: every sender submits transfers in nonce order until the node dies.
    let load = Load::start(std::slice::from_ref(&rpc), senders, Duration::ZERO);

    // A client polls receipts; what it saw must survive the crash.
    let mut seen: HashMap<B256, (String, u64)> = HashMap::new();
    let started = Instant::now();
    while seen.len() < 400 || started.elapsed() < Duration::from_millis(1500) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "load did not produce receipts in time"
        );
        let pending: Vec<B256> = load
            .accepted()
            .iter()
            .filter(|h| !seen.contains_key(*h))
            .copied()
            .take(200)
            .collect();
        for hash in pending {
            if let Some(receipt) = rpc.receipt(hash) {
                let block_hash = receipt["blockHash"]
                    .as_str()
                    .expect("blockHash")
                    .to_string();
                seen.insert(hash, (block_hash, quantity(&receipt["blockNumber"])));
            }
        }
    }
    let highest_seen = seen.values().map(|(_, n)| *n).max().expect("receipts seen");
    node.kill_9();
    load.finish();

    let node = Node::up(&data);
    let rpc = node.rpc();
    assert!(
        rpc.block_number() >= highest_seen,
        "height went backwards after restart"
    );
    for (hash, (block_hash, number)) in &seen {
        let receipt = rpc
            .receipt(*hash)
            .unwrap_or_else(|| panic!("receipt of {hash} lost in the crash"));
        assert_eq!(
            receipt["blockHash"].as_str(),
            Some(block_hash.as_str()),
            "{hash} moved to another block"
        );
        assert_eq!(quantity(&receipt["blockNumber"]), *number);
        let block = rpc.call(
            "eth_getBlockByNumber",
            json!([format!("0x{number:x}"), false]),
        );
        assert_eq!(block["hash"].as_str(), Some(block_hash.as_str()));
    }

    // The chain continues after the restart.
    let head_before = rpc.block_number();
    let nonce = quantity(&rpc.call(
        "eth_getTransactionCount",
        json!([node.dev_key.address(), "pending"]),
    ));
    let (hash, raw) = transfer(
        &node.dev_key,
        nonce,
        DevKey::random().address(),
        U256::from(1),
    );
    assert!(rpc.send_raw(&raw).get("result").is_some());
    assert!(quantity(&rpc.wait_receipt(hash)["blockNumber"]) > head_before);
    node.stop();

    // Re-executing every block from genesis gives the same headers, and the stored state is
    // exactly what the head's state root commits to.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["replay", "--config"])
        .arg(data.join("ricaas.toml"))
        .output()
        .expect("replay runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "replay failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("replay ok"), "{stdout}");
}
