//! The native envelope end to end: an SM2 identity certified by org1's CA and enrolled by
//! org1's admin sends a transaction signed SM2-with-SM3 through `eth_sendRawTransaction`; the
//! node verifies it against the certificate, admits it by the membership state and executes it.
//! Once enrolled, the identity may name its certificate by id instead of carrying it.

use crate::common;

use alloy_primitives::{Address, Bytes, U256};
use common::{CHAIN_ID, Node, quantity};
use ricaas_crypto::{
    DevKey,
    ca::{self, CertificateAuthority, IdentityKey, KeyAlgorithm, Role},
    native::{sign_native, sign_native_enrolled},
};
use ricaas_primitives::NativeTxFields;
use serde_json::json;

fn native_raw(
    certificate: &ca::Certificate,
    key: &IdentityKey,
    nonce: u64,
    to: Address,
) -> (String, alloy_primitives::B256) {
    native_raw_with(sign_native, certificate, key, nonce, to)
}

type Signer = fn(
    NativeTxFields,
    &ca::Certificate,
    &IdentityKey,
) -> Result<ricaas_primitives::NativeTx, ca::CaError>;

fn native_raw_with(
    sign: Signer,
    certificate: &ca::Certificate,
    key: &IdentityKey,
    nonce: u64,
    to: Address,
) -> (String, alloy_primitives::B256) {
    let tx = sign(
        NativeTxFields {
            chain_id: CHAIN_ID,
            nonce,
            gas_price: 0,
            gas_limit: 50_000,
            to: Bytes::copy_from_slice(to.as_slice()),
            value: U256::ZERO,
            input: Bytes::from_static(b"traceability record 42"),
        },
        certificate,
        key,
    )
    .expect("signs");
    let raw = tx.encoded();
    (
        format!("0x{}", hex::encode(&raw)),
        alloy_primitives::keccak256(&raw),
    )
}

fn enroll(node: &Node, certificate: &ca::Certificate) {
    let rpc = node.rpc();
    let admin = DevKey::read(&node.data_dir.join("keys/org1-admin.key")).expect("admin key");
    let nonce = quantity(&rpc.call(
        "eth_getTransactionCount",
        json!([admin.address(), "pending"]),
    ));
    let input = {
        use alloy_sol_types::SolCall as _;
        ricaas_primitives::system::IMembership::enrollCall {
            certificates: vec![ca::certificate_der(certificate).expect("der").into()],
        }
        .abi_encode()
    };
    let (hash, raw) = common::signed(
        &admin,
        alloy_consensus::TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: 0,
            gas_limit: 200_000,
            to: alloy_primitives::TxKind::Call(ricaas_primitives::system::MEMBERSHIP_ADDRESS),
            value: U256::ZERO,
            input: input.into(),
        },
    );
    assert!(rpc.send_raw(&raw).get("result").is_some());
    assert_eq!(rpc.wait_receipt(hash)["status"], "0x1");
}

#[test]
fn an_enrolled_sm2_identity_transacts_through_the_native_envelope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::up(&dir.path().join("data"));
    let rpc = node.rpc();
    let org1 = CertificateAuthority::read_dir(&node.data_dir.join("orgs/org1/ca")).expect("CA");
    let key = IdentityKey::generate(KeyAlgorithm::Sm2);
    let certificate = org1
        .issue(
            "sm2-client",
            Role::Client,
            key.public_key_info().expect("spki"),
            30,
        )
        .expect("issued");
    let account = ca::account_of(&certificate).expect("account");
    let recipient = Address::repeat_byte(0x42);

    // Before enrollment: refused, naming the account the certificate's key controls.
    let (raw, _) = native_raw(&certificate, &key, 0, recipient);
    let response = rpc.send_raw(&raw);
    assert!(
        response["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!(
                "sender {account} is not enrolled in channel default"
            ))),
        "{response}"
    );

    enroll(&node, &certificate);
    let (raw, hash) = native_raw(&certificate, &key, 0, recipient);
    let response = rpc.send_raw(&raw);
    assert_eq!(response["result"], json!(hash), "{response}");
    let receipt = rpc.wait_receipt(hash);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["type"], "0x52");
    assert_eq!(receipt["from"], json!(account));
    let tx = rpc.call("eth_getTransactionByHash", json!([hash]));
    assert_eq!(tx["type"], "0x52");
    assert_eq!(tx["from"], json!(account));
    assert_eq!(tx["to"], json!(recipient));
    assert_eq!(
        tx["input"],
        json!(Bytes::from_static(b"traceability record 42"))
    );
    assert_eq!(
        quantity(&rpc.call("eth_getTransactionCount", json!([account, "latest"]))),
        1
    );
    // The full block lists it with its certificate.
    let block = rpc.call(
        "eth_getBlockByNumber",
        json!([receipt["blockNumber"], true]),
    );
    let listed = block["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .find(|t| t["hash"] == json!(hash))
        .expect("listed");
    assert_eq!(
        listed["certificate"],
        json!(Bytes::from(ca::certificate_der(&certificate).expect("der")))
    );

    // A signature over other fields, or someone else's certificate, is refused.
    let mut tampered = hex::decode(raw.trim_start_matches("0x")).expect("hex");
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let response = rpc.send_raw(&format!("0x{}", hex::encode(&tampered)));
    let message = response["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("does not verify against its certificate's key")
            || message.contains("invalid"),
        "{response}"
    );
    let other = IdentityKey::generate(KeyAlgorithm::Sm2);
    let (forged, _) = native_raw(&certificate, &other, 1, recipient);
    let response = rpc.send_raw(&forged);
    assert!(
        response["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not verify against its certificate's key")),
        "{response}"
    );

    // Enrolled: the certificate may be named by its id (32 bytes instead of ~500).
    let der = ca::certificate_der(&certificate).expect("der");
    let id = ricaas_primitives::certificate_id(&der);
    let (raw, hash) = native_raw_with(sign_native_enrolled, &certificate, &key, 1, recipient);
    assert!(raw.len() < der.len(), "the id form is shorter");
    let response = rpc.send_raw(&raw);
    assert_eq!(response["result"], json!(hash), "{response}");
    let receipt = rpc.wait_receipt(hash);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["from"], json!(account));
    let tx = rpc.call("eth_getTransactionByHash", json!([hash]));
    assert_eq!(tx["certificate"], json!(id));
    // The membership contract tells anyone the key behind an id.
    let key_info = {
        use alloy_sol_types::SolCall as _;
        let data = ricaas_primitives::system::IMembership::publicKeyOfCall { certificateId: id }
            .abi_encode();
        let out = rpc.call(
            "eth_call",
            json!([{"to": ricaas_primitives::system::MEMBERSHIP_ADDRESS, "data": Bytes::from(data)}, "latest"]),
        );
        let out: Bytes = serde_json::from_value(out).expect("bytes");
        ricaas_primitives::system::IMembership::publicKeyOfCall::abi_decode_returns(&out)
            .expect("decodes")
    };
    assert_eq!(
        key_info.as_ref(),
        ca::public_key_info_der(&certificate)
            .expect("spki")
            .as_slice()
    );
    // An id nobody enrolled, and an enrolled id signed by another key, are refused.
    let stranger = IdentityKey::generate(KeyAlgorithm::Sm2);
    let stranger_certificate = org1
        .issue(
            "stranger",
            Role::Client,
            stranger.public_key_info().expect("spki"),
            30,
        )
        .expect("issued");
    let (raw, _) = native_raw_with(
        sign_native_enrolled,
        &stranger_certificate,
        &stranger,
        0,
        recipient,
    );
    let response = rpc.send_raw(&raw);
    let stranger_id = ricaas_primitives::certificate_id(
        &ca::certificate_der(&stranger_certificate).expect("der"),
    );
    assert!(
        response["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("certificate id {stranger_id} is not enrolled"))),
        "{response}"
    );
    let (forged, _) = native_raw_with(sign_native_enrolled, &certificate, &other, 2, recipient);
    let response = rpc.send_raw(&forged);
    assert!(
        response["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not verify against its certificate's key")),
        "{response}"
    );
}
