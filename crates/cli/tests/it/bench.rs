//! `ricaas bench` against a one-node network: every transfer it submits is accepted and seen
//! final — per request and in batches over raw HTTP, and over WebSocket through jsonrpsee.
//! Each sender's transfers go in nonce order, one after the other, while blocks commit: the
//! pattern that once stranded a sender's next transfer behind a nonce a block had just used.

use crate::common::{Node, printed};
use serde_json::Value;
use std::process::Command;

fn bench(node: &Node, rpc: &str, extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["bench", "--rpc", rpc, "--key-file"])
        .arg(node.data_dir.join("keys/dev.key"))
        .arg("--enroll-from")
        .arg(&node.data_dir)
        .args(["--json", "--timeout-secs", "90"])
        .args(extra)
        .output()
        .expect("ricaas bench runs");
    assert!(
        output.status.success(),
        "ricaas bench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "ricaas bench printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn assert_all_final(result: &Value, transfers: u64) {
    assert_eq!(result["transactions"], transfers, "{result}");
    assert_eq!(result["accepted"], transfers, "{result}");
    assert_eq!(result["rejected"], 0, "{result}");
    assert_eq!(
        result["finalized"], transfers,
        "every accepted transfer is final: {result}"
    );
    assert!(
        result["finalized_tps"]
            .as_f64()
            .is_some_and(|tps| tps > 0.0),
        "{result}"
    );
    // The machine's speed at recovering a sender, measured before and after the load, goes
    // with every result.
    for probe in ["recovery_probe_us", "recovery_probe_after_us"] {
        assert!(
            result[probe]
                .as_f64()
                .is_some_and(|us| us > 0.0 && us.is_finite()),
            "{probe}: {result}"
        );
    }
}

#[test]
fn every_transfer_the_bench_submits_is_accepted_and_final() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::up(&dir.path().join("data"));
    let per_request = bench(
        &node,
        &node.url,
        &["--txs", "400", "--senders", "10", "--concurrency", "4"],
    );
    assert_all_final(&per_request, 400);
    assert_eq!(per_request["batch"], 1);
    assert_eq!(
        per_request["finality_from"], "newHeads",
        "the node's WebSocket endpoint beside --rpc announces new heads: {per_request}"
    );
    let batched = bench(
        &node,
        &node.url,
        &[
            "--txs",
            "400",
            "--senders",
            "20",
            "--concurrency",
            "2",
            "--batch",
            "25",
        ],
    );
    assert_all_final(&batched, 400);
    let ws = printed(&node.printed, "JSON-RPC WS:")
        .and_then(|rest| rest.split_whitespace().next())
        .expect("ricaas up printed its WebSocket endpoint")
        .to_string();
    let over_ws = bench(
        &node,
        &ws,
        &[
            "--txs",
            "100",
            "--senders",
            "5",
            "--concurrency",
            "2",
            "--client-threads",
            "2",
        ],
    );
    assert_all_final(&over_ws, 100);
}
