//! Reads are authenticated: a client presents a read token (an Ethereum personal_sign by its
//! account) and the channel's Readers policy decides; sending a transaction and the chain's
//! public identity need no token.

use crate::common;

use alloy_consensus::TxLegacy;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_sol_types::SolCall as _;
use common::{CHAIN_ID, Node, quantity, signed, transfer};
use ricaas_crypto::DevKey;
use serde_json::{Value, json};

fn denial(response: &Value) -> String {
    let error = response
        .get("error")
        .unwrap_or_else(|| panic!("expected a refusal, got {response}"));
    assert_eq!(error["code"], -32001, "{response}");
    error["message"].as_str().expect("message").to_string()
}

#[test]
fn reads_need_the_token_of_an_enrolled_unrevoked_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::up(&dir.path().join("data"));
    let member = node.rpc();
    let anonymous = member.clone().anonymous();

    // No token: queries are refused with instructions; the chain's identity is public and a
    // signed transaction authenticates itself.
    let message = denial(&anonymous.call_raw("eth_blockNumber", json!([])));
    assert!(
        message.starts_with(
            "read access denied: this node serves channel default to enrolled identities only"
        ),
        "{message}"
    );
    assert_eq!(anonymous.call("eth_chainId", json!([])), json!("0x539"));
    let (hash, raw) = transfer(&node.dev_key, 0, Address::repeat_byte(9), U256::from(1));
    assert!(anonymous.send_raw(&raw).get("result").is_some());
    member.wait_receipt(hash);

    // A batch is judged call by call.
    let (_, text) = anonymous.post_raw(
        json!([
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_getBalance", "params": [node.dev_key.address(), "latest"]},
        ])
        .to_string(),
    );
    let batch: Vec<Value> = serde_json::from_str(&text).expect("batch response");
    let by_id = |id: u64| {
        batch
            .iter()
            .find(|r| r["id"] == id)
            .expect("answered")
            .clone()
    };
    assert_eq!(by_id(1)["result"], "0x539");
    assert!(denial(&by_id(2)).contains("enrolled identities only"));

    // An enrolled member reads.
    assert!(quantity(&member.call("eth_blockNumber", json!([]))) >= 1);

    // A stranger's valid signature is not enough.
    let stranger = DevKey::random();
    let message = denial(
        &anonymous
            .clone()
            .reading_as(&stranger)
            .call_raw("eth_blockNumber", json!([])),
    );
    assert_eq!(
        message,
        format!(
            "read access denied: reader {} is not enrolled in channel default",
            stranger.address()
        )
    );

    // Garbage and expired tokens are refused with the reason.
    let (_, text) = {
        let mut rpc = anonymous.clone();
        rpc = rpc.with_authorization("Bearer ricaas-read.12.0x00");
        rpc.post_raw(
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
                .to_string(),
        )
    };
    assert!(text.contains("malformed read token"), "{text}");
    let expired = ricaas_crypto::token::read_token(&node.dev_key, "default", CHAIN_ID, 1);
    let message = denial(
        &anonymous
            .clone()
            .with_authorization(&format!("Bearer {expired}"))
            .call_raw("eth_blockNumber", json!([])),
    );
    assert!(
        message.contains("read token expired at unix time 1"),
        "{message}"
    );

    // A token signed for another channel names some other account, which is not enrolled.
    let elsewhere = ricaas_crypto::token::read_token(&node.dev_key, "other", CHAIN_ID, u64::MAX);
    let response = anonymous
        .clone()
        .with_authorization(&format!("Bearer {elsewhere}"))
        .call_raw("eth_blockNumber", json!([]));
    assert!(response.get("error").is_some(), "{response}");

    // Revoked: org1's admin revokes a reader; its token stops working at once.
    let reader = DevKey::random();
    common::enroll_clients(&member, &node.data_dir, std::slice::from_ref(&reader));
    let as_reader = anonymous.clone().reading_as(&reader);
    assert!(
        as_reader
            .call_raw("eth_blockNumber", json!([]))
            .get("result")
            .is_some()
    );
    let admin = DevKey::read(&node.data_dir.join("keys/org1-admin.key")).expect("admin key");
    let nonce = quantity(&member.call(
        "eth_getTransactionCount",
        json!([admin.address(), "pending"]),
    ));
    let (hash, raw) = signed(
        &admin,
        TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: 0,
            gas_limit: 100_000,
            to: TxKind::Call(ricaas_primitives::system::MEMBERSHIP_ADDRESS),
            value: U256::ZERO,
            input: Bytes::from(
                ricaas_primitives::system::IMembership::revokeCall {
                    account: reader.address(),
                }
                .abi_encode(),
            ),
        },
    );
    assert!(member.send_raw(&raw).get("result").is_some());
    let receipt = member.wait_receipt(hash);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let message = denial(&as_reader.call_raw("eth_blockNumber", json!([])));
    assert_eq!(
        message,
        format!(
            "read access denied: reader {}: certificate revoked at height {}",
            reader.address(),
            quantity(&receipt["blockNumber"])
        )
    );
}
