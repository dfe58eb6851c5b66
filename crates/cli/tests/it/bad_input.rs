//! Bad input gets a precise error and loses nothing: malformed and mis-signed transactions,
//! wrong chain id, oversized payloads, unknown methods, wrong parameter types, huge batches.

use crate::common;

use alloy_consensus::{Signed, TxLegacy, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, Signature, TxKind, U256};
use common::{CHAIN_ID, Node, Rpc, quantity, signed, transfer};
use ricaas_crypto::DevKey;
use serde_json::{Value, json};

fn error_of(response: &Value) -> (i64, String) {
    let error = response
        .get("error")
        .unwrap_or_else(|| panic!("expected an error, got {response}"));
    (
        error["code"].as_i64().expect("code"),
        error["message"].as_str().expect("message").to_string(),
    )
}

fn legacy(nonce: u64) -> TxLegacy {
    TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: 0,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0x11)),
        value: U256::from(1),
        input: Bytes::new(),
    }
}

fn raw_with_signature(tx: TxLegacy, signature: Signature) -> String {
    let envelope = alloy_consensus::TxEnvelope::from(Signed::new_unhashed(tx, signature));
    format!("0x{}", hex::encode(envelope.encoded_2718()))
}

struct Fixture {
    _dir: tempfile::TempDir,
    node: Node,
    rpc: Rpc,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::up(&dir.path().join("data"));
    let rpc = node.rpc();
    Fixture {
        _dir: dir,
        node,
        rpc,
    }
}

/// After every bad request the node still answers and its data is unchanged.
fn assert_intact(f: &Fixture, balance: U256, height: u64) {
    assert_eq!(f.rpc.balance(f.node.dev_key.address()), balance);
    assert_eq!(f.rpc.block_number(), height);
}

#[test]
fn bad_transactions_are_rejected_precisely_and_the_node_keeps_its_data() {
    let f = fixture();
    let key = &f.node.dev_key;
    let stranger = DevKey::random();
    let unfunded = DevKey::random();
    common::enroll_clients(&f.rpc, &f.node.data_dir, std::slice::from_ref(&unfunded));
    // One good transaction first, so there is data to lose.
    let (hash, raw) = transfer(key, 0, Address::repeat_byte(0x22), U256::from(5));
    f.rpc.send_raw(&raw);
    f.rpc.wait_receipt(hash);
    let (balance, height) = (f.rpc.balance(key.address()), f.rpc.block_number());

    let cases: Vec<(&str, String, i64, &str)> = vec![
        (
            "malformed RLP",
            "0xdeadbeef".into(),
            -32602,
            "malformed transaction encoding",
        ),
        ("empty data", "0x".into(), -32602, "empty transaction data"),
        (
            "trailing bytes",
            format!("{}00", transfer(key, 1, Address::ZERO, U256::ZERO).1),
            -32602,
            "trailing bytes",
        ),
        (
            "zero r signature",
            raw_with_signature(legacy(1), Signature::new(U256::ZERO, U256::from(1), false)),
            -32000,
            "invalid signature",
        ),
        (
            "high-s signature",
            {
                let good = ricaas_crypto::sign_transaction(
                    TypedTransaction::Legacy(legacy(1)),
                    key.secret(),
                );
                let s = *good.signature();
                let n = U256::from_str_radix(
                    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
                    16,
                )
                .expect("n");
                raw_with_signature(legacy(1), Signature::new(s.r(), n - s.s(), !s.v()))
            },
            -32000,
            "EIP-2",
        ),
        (
            "wrong chain id",
            signed(
                key,
                TxLegacy {
                    chain_id: Some(1),
                    ..legacy(1)
                },
            )
            .1,
            -32000,
            "wrong chain id 1",
        ),
        (
            "no chain id",
            signed(
                key,
                TxLegacy {
                    chain_id: None,
                    ..legacy(1)
                },
            )
            .1,
            -32000,
            "not replay-protected",
        ),
        (
            "oversized",
            signed(
                key,
                TxLegacy {
                    input: Bytes::from(vec![1u8; 200 * 1024]),
                    gas_limit: 16_000_000,
                    ..legacy(1)
                },
            )
            .1,
            -32602,
            "larger than the limit",
        ),
        (
            "gas above tx limit",
            signed(
                key,
                TxLegacy {
                    gas_limit: 50_000_000,
                    ..legacy(1)
                },
            )
            .1,
            -32000,
            "per-transaction limit",
        ),
        (
            "intrinsic gas",
            signed(
                key,
                TxLegacy {
                    gas_limit: 20_000,
                    ..legacy(1)
                },
            )
            .1,
            -32000,
            "intrinsic gas too low",
        ),
        (
            "nonce too low",
            transfer(key, 0, Address::ZERO, U256::ZERO).1,
            -32000,
            "nonce too low",
        ),
        (
            "not enrolled",
            transfer(&stranger, 0, Address::ZERO, U256::from(1)).1,
            -32000,
            "is not enrolled in channel default",
        ),
        (
            "insufficient funds",
            transfer(&unfunded, 0, Address::ZERO, U256::from(1)).1,
            -32000,
            "insufficient funds",
        ),
    ];
    for (name, raw, code, message) in cases {
        let (got_code, got_message) = error_of(&f.rpc.send_raw(&raw));
        assert_eq!(got_code, code, "{name}: {got_message}");
        assert!(
            got_message.contains(message),
            "{name}: expected {message:?} in {got_message:?}"
        );
        assert_intact(&f, balance, height);
    }
    // Nonce too low names the next nonce, so the sender knows what to do.
    let (_, message) = error_of(
        &f.rpc
            .send_raw(&transfer(key, 0, Address::ZERO, U256::ZERO).1),
    );
    assert!(
        message.contains(&format!("{:?}", key.address()))
            || message
                .to_lowercase()
                .contains(&format!("{:x}", key.address())),
        "{message}"
    );
    assert!(message.contains("next nonce is 1"), "{message}");

    // The node counts each refusal by its reason at /metrics.
    let base = f.node.url.split("/channels/").next().expect("base");
    let metrics = ureq::get(&format!("{base}/metrics"))
        .call()
        .expect("metrics")
        .body_mut()
        .read_to_string()
        .expect("text");
    let refused = |reason: &str| {
        let series = format!(
            "ricaas_admission_rejections_total{{channel=\"default\",reason=\"{reason}\"}} "
        );
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&series)?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(refused("undecodable") >= 3.0, "{metrics}");
    for (reason, count) in [
        ("signature", 2.0),
        ("chain_id", 2.0),
        ("gas_limit", 1.0),
        ("intrinsic_gas", 1.0),
        ("nonce_too_low", 2.0),
        ("permission", 1.0),
        ("insufficient_funds", 1.0),
    ] {
        assert_eq!(refused(reason), count, "{reason}");
    }
    // The solo sequencer's blocks are timed and counted too.
    for series in [
        "ricaas_block_build_seconds_count{channel=\"default\"} ",
        "ricaas_block_commit_seconds_count{channel=\"default\"} ",
        "ricaas_finalized_transactions_total{channel=\"default\"} ",
    ] {
        let value: f64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.parse().ok())
            .unwrap_or_else(|| panic!("no {series}in {metrics}"));
        assert!(value >= 2.0, "{series}{value}");
    }
    let ready = ureq::get(&format!("{base}/ready"))
        .call()
        .expect("ready")
        .body_mut()
        .read_to_string()
        .expect("text");
    assert!(ready.contains("\"engine\":\"solo\""), "{ready}");
}

#[test]
fn resubmitting_a_known_transaction_is_idempotent() {
    let f = fixture();
    let (hash, raw) = transfer(
        &f.node.dev_key,
        0,
        Address::repeat_byte(0x33),
        U256::from(7),
    );
    let first = f.rpc.send_raw(&raw);
    let second = f.rpc.send_raw(&raw);
    assert_eq!(first["result"], json!(hash));
    assert_eq!(second["result"], json!(hash));
    f.rpc.wait_receipt(hash);
    assert_eq!(
        f.rpc.send_raw(&raw)["result"],
        json!(hash),
        "a committed transaction resubmitted is still accepted as known"
    );
    assert_eq!(
        f.rpc.balance(Address::repeat_byte(0x33)),
        U256::from(7),
        "executed once"
    );
}

#[test]
fn future_nonces_are_queued_and_released_in_order() {
    let f = fixture();
    let key = &f.node.dev_key;
    let (h2, raw2) = transfer(key, 2, Address::repeat_byte(0x44), U256::from(1));
    let (h1, raw1) = transfer(key, 1, Address::repeat_byte(0x44), U256::from(1));
    let (h0, raw0) = transfer(key, 0, Address::repeat_byte(0x44), U256::from(1));
    for raw in [&raw2, &raw1] {
        assert!(f.rpc.send_raw(raw).get("result").is_some());
    }
    assert_eq!(
        quantity(
            &f.rpc
                .call("eth_getTransactionCount", json!([key.address(), "pending"]))
        ),
        0,
        "gap: nothing ready"
    );
    assert!(f.rpc.send_raw(&raw0).get("result").is_some());
    let receipts: Vec<Value> = [h0, h1, h2]
        .iter()
        .map(|h| f.rpc.wait_receipt(*h))
        .collect();
    let order: Vec<(u64, u64)> = receipts
        .iter()
        .map(|r| {
            (
                quantity(&r["blockNumber"]),
                quantity(&r["transactionIndex"]),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "nonces executed in order");
    assert_eq!(f.rpc.balance(Address::repeat_byte(0x44)), U256::from(3));
}

#[test]
fn malformed_requests_get_standard_json_rpc_errors() {
    let f = fixture();
    let (balance, height) = (
        f.rpc.balance(f.node.dev_key.address()),
        f.rpc.block_number(),
    );

    let (code, message) = error_of(&f.rpc.call_raw("eth_noSuchMethod", json!([])));
    assert_eq!(code, -32601, "{message}");

    let (code, message) = error_of(&f.rpc.call_raw("eth_getBalance", json!([12345, "latest"])));
    assert_eq!(code, -32602, "{message}");
    let (code, _) = error_of(
        &f.rpc
            .call_raw("eth_getBlockByNumber", json!(["not-a-tag", false])),
    );
    assert_eq!(code, -32602);
    let (code, _) = error_of(&f.rpc.call_raw("eth_sendRawTransaction", json!([])));
    assert_eq!(code, -32602);

    let (status, body) = f.rpc.post_raw("{ this is not json");
    assert_eq!(status, 200);
    let parsed: Value = serde_json::from_str(&body).expect("JSON error response");
    assert_eq!(parsed["error"]["code"], json!(-32700));

    let huge_batch: Vec<Value> = (0..1001)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber", "params": []}))
        .collect();
    let (_, body) = f
        .rpc
        .post_raw(serde_json::to_string(&huge_batch).expect("json"));
    let parsed: Value = serde_json::from_str(&body).expect("JSON error response");
    let error = parsed
        .get("error")
        .or_else(|| parsed.get(0).and_then(|e| e.get("error")))
        .expect("batch refused");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains("batch"),
        "{error}"
    );

    let ok_batch: Vec<Value> = (0..3)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}))
        .collect();
    let (_, body) = f
        .rpc
        .post_raw(serde_json::to_string(&ok_batch).expect("json"));
    let parsed: Vec<Value> = serde_json::from_str(&body).expect("batch response");
    assert_eq!(parsed.len(), 3);
    assert!(
        parsed
            .iter()
            .all(|r| r["result"] == json!(format!("0x{CHAIN_ID:x}")))
    );

    // An 11 MiB body is refused from its Content-Length, before the node reads it.
    let status_line = {
        use std::io::{Read, Write};
        let host = f
            .rpc
            .url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .expect("host")
            .to_string();
        let mut stream = std::net::TcpStream::connect(&host).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            11 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).expect("write headers");
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).expect("response");
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        status_line.contains("413"),
        "oversized body refused: {status_line}"
    );

    let base = f
        .rpc
        .url
        .split("/channels")
        .next()
        .expect("base url")
        .to_string();
    let (status, body) = f.rpc.post_to(&format!("{base}/channels/nope"), "{}");
    assert_eq!(status, 404);
    assert!(
        body.contains("no channel is served at /channels/nope"),
        "{body}"
    );
    let (status, _) = f.rpc.post_to(
        &format!("{base}/"),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}).to_string(),
    );
    assert_eq!(status, 200, "the channel is also served at /");

    assert_intact(&f, balance, height);
}

#[test]
fn calls_report_revert_data_and_historical_state_is_refused_clearly() {
    let f = fixture();
    // Init code that reverts with Error("no"): PUSH the ABI payload to memory and REVERT.
    let payload = alloy_sol_types::SolError::abi_encode(&alloy_sol_types::Revert::from("no"));
    let mut code = Vec::new();
    for (i, chunk) in payload.chunks(32).enumerate() {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        code.push(0x7f); // PUSH32
        code.extend_from_slice(&word);
        code.extend_from_slice(&[0x60, (i * 32) as u8, 0x52]); // PUSH1 offset MSTORE
    }
    code.extend_from_slice(&[0x60, payload.len() as u8, 0x60, 0x00, 0xfd]); // PUSH1 len PUSH1 0 REVERT
    let response = f.rpc.call_raw(
        "eth_call",
        json!([{"data": format!("0x{}", hex::encode(&code))}, "latest"]),
    );
    let (code_num, message) = error_of(&response);
    assert_eq!(code_num, 3);
    assert_eq!(message, "execution reverted: no");
    assert_eq!(
        response["error"]["data"],
        json!(format!("0x{}", hex::encode(&payload)))
    );

    let (hash, raw) = transfer(
        &f.node.dev_key,
        0,
        Address::repeat_byte(0x55),
        U256::from(1),
    );
    f.rpc.send_raw(&raw);
    f.rpc.wait_receipt(hash);
    let (code_num, message) = error_of(
        &f.rpc
            .call_raw("eth_getBalance", json!([Address::repeat_byte(0x55), "0x0"])),
    );
    assert_eq!(code_num, -32000);
    assert!(
        message.contains("keeps the state of the head block"),
        "{message}"
    );
}
