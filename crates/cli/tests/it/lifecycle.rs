//! The contract lifecycle through JSON-RPC, as a client sees it: a channel created with
//! `--deployment approved` refuses a raw creation at admission naming the proposal route, takes
//! the approved creation, and a frozen contract's calls fail with the reason.

use crate::common;
use alloy_consensus::TxLegacy;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_sol_types::SolCall as _;
use common::{CHAIN_ID, Node, Rpc, quantity, signed};
use ricaas_crypto::DevKey;
use ricaas_primitives::system::{GOVERNANCE_ADDRESS, IGovernance, ILifecycle, LIFECYCLE_ADDRESS};
use serde_json::{Value, json};

/// Creation code of a counter: each call adds one to slot 0 and returns it.
fn counter_creation() -> Vec<u8> {
    let runtime = [
        0x60, 0x00, 0x54, 0x60, 0x01, 0x01, 0x80, 0x60, 0x00, 0x55, 0x60, 0x00, 0x52, 0x60, 0x20,
        0x60, 0x00, 0xf3,
    ];
    let mut code = vec![
        0x60,
        runtime.len() as u8,
        0x60,
        0x0c,
        0x60,
        0x00,
        0x39,
        0x60,
        runtime.len() as u8,
        0x60,
        0x00,
        0xf3,
    ];
    code.extend_from_slice(&runtime);
    code
}

fn send(rpc: &Rpc, key: &DevKey, to: TxKind, input: Vec<u8>) -> Value {
    let nonce = quantity(&rpc.call("eth_getTransactionCount", json!([key.address(), "pending"])));
    let (_, raw) = signed(
        key,
        TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: 0,
            gas_limit: 2_000_000,
            to,
            value: U256::ZERO,
            input: Bytes::from(input),
        },
    );
    rpc.send_raw(&raw)
}

/// Sends and waits for the receipt, which must succeed.
fn transact(rpc: &Rpc, key: &DevKey, to: TxKind, input: Vec<u8>) -> Value {
    let response = send(rpc, key, to, input);
    let hash: B256 = serde_json::from_value(response["result"].clone())
        .unwrap_or_else(|_| panic!("refused: {response}"));
    let receipt = rpc.wait_receipt(hash);
    assert_eq!(receipt["status"], "0x1", "reverted: {receipt}");
    receipt
}

/// Contract `name` of the registry (`Null` while none is registered).
fn contract_info(rpc: &Rpc, name: &str) -> Value {
    let response = rpc.call_raw(
        "eth_call",
        json!([{"to": LIFECYCLE_ADDRESS, "data": Bytes::from(ILifecycle::contractInfoCall { name: name.into() }.abi_encode())}, "latest"]),
    );
    if let Some(error) = response.get("error") {
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("no contract {name} is registered"))),
            "{response}"
        );
        return Value::Null;
    }
    let bytes: Bytes = serde_json::from_value(response["result"].clone()).expect("hex");
    let json = ILifecycle::contractInfoCall::abi_decode_returns(&bytes).expect("string");
    serde_json::from_str(&json).expect("JSON")
}

/// Waits until contract `name` is in `state` (changes apply in the block after approval).
fn wait_state(rpc: &Rpc, name: &str, state: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let record = contract_info(rpc, name);
        if record["state"] == state {
            return record;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never became {state}: {record}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn an_approved_channel_refuses_raw_creation_takes_the_approved_one_and_refuses_calls_once_frozen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::up_with(dir.path(), &["--orgs", "1", "--deployment", "approved"]);
    let rpc = node.rpc();
    let admin = DevKey::read(&dir.path().join("keys/org1-admin.key")).expect("admin key");
    let code = counter_creation();

    // Refused at admission, with the route to take.
    let refused = send(&rpc, &admin, TxKind::Create, code.clone());
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("creates contracts only through approved proposals")
            && message.contains("proposeDeploy"),
        "{refused}"
    );

    // Proposed (org1 is the only member: its vote approves), then created by the proposer.
    transact(
        &rpc,
        &admin,
        TxKind::Call(LIFECYCLE_ADDRESS),
        ILifecycle::proposeDeployCall {
            name: "counter".into(),
            initCodeHash: keccak256(&code),
            abi: "[]".into(),
            sourceHash: B256::ZERO,
            compiler: "hand-written".into(),
            reportHash: B256::ZERO,
            effectiveHeight: 0,
        }
        .abi_encode(),
    );
    wait_state(&rpc, "counter", "approved");
    let receipt = transact(&rpc, &admin, TxKind::Create, code);
    let address: Address =
        serde_json::from_value(receipt["contractAddress"].clone()).expect("created");
    let record = wait_state(&rpc, "counter", "normal");
    assert_eq!(record["address"], json!(address));
    let proposals = rpc.call(
        "eth_call",
        json!([{"to": GOVERNANCE_ADDRESS, "data": Bytes::from(IGovernance::proposalCountCall {}.abi_encode())}, "latest"]),
    );
    assert!(
        proposals.as_str().is_some_and(|hex| hex.ends_with('1')),
        "{proposals}"
    );

    // It answers; frozen, the same call fails saying since which height.
    let answered = rpc.call("eth_call", json!([{"to": address, "data": "0x"}, "latest"]));
    assert_eq!(
        answered,
        json!("0x0000000000000000000000000000000000000000000000000000000000000001")
    );
    // The freeze is proposed from the command line, as an operator would.
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ricaas"))
            .args(["governance", "--rpc", &node.url, "--admin-key-file"])
            .arg(dir.path().join("keys/org1-admin.key"))
            .args(args)
            .output()
            .expect("ricaas governance runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{args:?}: {text}");
        text
    };
    let listed = cli(&["contracts"]);
    assert!(
        listed.contains("\"name\":\"counter\"") && listed.contains("\"state\":\"normal\""),
        "{listed}"
    );
    let proposed = cli(&["contract-freeze", "--name", "counter"]);
    assert!(proposed.contains("proposal 1 submitted"), "{proposed}");
    let record = wait_state(&rpc, "counter", "frozen");
    let shown = cli(&["contract", "--name", "counter"]);
    assert!(shown.contains("\"state\":\"frozen\""), "{shown}");
    let frozen = rpc.call_raw("eth_call", json!([{"to": address, "data": "0x"}, "latest"]));
    let message = frozen["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "contract counter ({address}) is frozen since height {}",
            record["since"]
        )),
        "{frozen}"
    );
}
