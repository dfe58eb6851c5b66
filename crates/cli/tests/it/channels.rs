//! Channels on a running network of real validator processes: a channel is created from a
//! configuration its member orgs' admins sign, joined through the nodes' admin API without a
//! restart, orders transactions among its validators only, survives a kill -9 of one of them,
//! and stays invisible to the organization outside it (no endpoint, no data, no reads, no
//! writes). The p2p-level proof that no message of a channel reaches a connected outsider is
//! `crates/node/tests/bft_simulated.rs::simulated_channels_share_connections_but_not_traffic`.

use crate::common;

use alloy_consensus::TxLegacy;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use common::{Rpc, cluster::Cluster, quantity, signed};
use ricaas_crypto::DevKey;
use serde_json::json;
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

const BETA_CHAIN_ID: u64 = 4_000;
const CATCH_UP: Duration = Duration::from_secs(60);

fn ricaas(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("ricaas runs");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn path(dir: &Path, relative: &str) -> String {
    dir.join(relative).display().to_string()
}

/// The node's base JSON-RPC address (without the channel path).
fn base_url(cluster: &Cluster, index: usize) -> String {
    let url = &cluster.nodes[index].as_ref().expect("running").url;
    url.split("/channels/").next().expect("url").to_string()
}

/// `ricaas channel join|list` against validator `index` as the admin of `org`.
fn as_admin(cluster: &Cluster, index: usize, org: &str, command: &[&str]) -> (bool, String) {
    let (cert, key) = (
        path(&cluster.dir, &format!("orgs/{org}/admin/cert.pem")),
        path(&cluster.dir, &format!("orgs/{org}/admin/key.pem")),
    );
    let rpc = base_url(cluster, index);
    let mut args = vec!["channel"];
    args.extend_from_slice(command);
    args.extend_from_slice(&["--rpc", &rpc, "--admin-cert", &cert, "--admin-key", &key]);
    ricaas(&args)
}

/// An org's client key as an Ethereum key (its PKCS#8 file is what `ricaas up` wrote).
fn client_key(dir: &Path, org: &str) -> DevKey {
    let pem = std::fs::read_to_string(dir.join(format!("orgs/{org}/client/key.pem"))).expect("key");
    match ricaas_crypto::ca::IdentityKey::from_pkcs8_pem(&pem).expect("pkcs8") {
        ricaas_crypto::ca::IdentityKey::Secp256k1(key) => {
            DevKey::from_hex(&hex::encode(key.to_bytes())).expect("secp256k1 key")
        }
        _ => panic!("client keys are secp256k1"),
    }
}

fn beta(cluster: &Cluster, index: usize, reader: &DevKey) -> Rpc {
    Rpc::new(&format!("{}/channels/beta", base_url(cluster, index))).reading_channel_as(
        reader,
        "beta",
        BETA_CHAIN_ID,
    )
}

fn wait_height(rpc: &Rpc, height: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(h) = rpc
            .try_call("eth_blockNumber", json!([]))
            .map(|v| quantity(&v))
            && h >= height
        {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not reach height {height}",
            rpc.url
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn beta_transfer(key: &DevKey, nonce: u64) -> (alloy_primitives::B256, String) {
    signed(
        key,
        TxLegacy {
            chain_id: Some(BETA_CHAIN_ID),
            nonce,
            gas_price: 0,
            gas_limit: 21_000,
            to: TxKind::Call(Address::with_last_byte(0x42)),
            value: U256::ZERO,
            input: Bytes::new(),
        },
    )
}

/// Every file and directory name under `dir`.
fn names_under(dir: &Path) -> Vec<PathBuf> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            names.push(path);
        }
    }
    names
}

#[test]
fn a_channel_is_created_on_a_running_network_and_only_its_members_see_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 4);
    cluster.wait_all_reach(1, CATCH_UP);
    let d = cluster.dir.clone();
    let config = path(&d, "beta.json");

    // Channel beta: org1-org3, validated by their nodes 0-2; org4 (node 3) stays outside.
    let mut create = vec![
        "channel".to_string(),
        "create".into(),
        "--name".into(),
        "beta".into(),
        "--chain-id".into(),
        BETA_CHAIN_ID.to_string(),
        "--epoch-length".into(),
        "10".into(),
        "--out".into(),
        config.clone(),
    ];
    for org in ["org1", "org2", "org3"] {
        create.push("--org".into());
        create.push(format!(
            "{org}={}",
            path(&d, &format!("orgs/{org}/ca/ca.pem"))
        ));
        create.push("--member".into());
        create.push(path(&d, &format!("orgs/{org}/admin/cert.pem")));
        create.push("--member".into());
        create.push(path(&d, &format!("orgs/{org}/client/cert.pem")));
    }
    for (index, org) in ["org1", "org2", "org3"].iter().enumerate() {
        create.push("--validator".into());
        create.push(format!(
            "{}@{}",
            path(&d, &format!("orgs/{org}/node{index}/cert.pem")),
            cluster.p2p_addr(index)
        ));
    }
    // Only org1's and org2's admins sign at first.
    for org in ["org1", "org2"] {
        create.push("--sign".into());
        create.push(format!(
            "{},{}",
            path(&d, &format!("orgs/{org}/admin/cert.pem")),
            path(&d, &format!("orgs/{org}/admin/key.pem"))
        ));
    }
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    let (ok, out) = ricaas(&create);
    assert!(ok, "{out}");

    // The network's policy is ALL Admins of the members: org3 has not signed yet.
    let (ok, out) = as_admin(&cluster, 0, "org1", &["join", "--file", &config]);
    assert!(
        !ok && out
            .contains("do not satisfy the network's channel-creation policy \\\"ALL Admins\\\""),
        "{out}"
    );
    let (ok, out) = ricaas(&[
        "channel",
        "sign",
        "--file",
        &config,
        "--cert",
        &path(&d, "orgs/org3/admin/cert.pem"),
        "--key",
        &path(&d, "orgs/org3/admin/key.pem"),
    ]);
    assert!(ok && out.contains("3 signature(s)"), "{out}");

    // Only an admin of the node's own org may use its admin API; org4's node is no validator.
    let (ok, out) = as_admin(&cluster, 0, "org2", &["join", "--file", &config]);
    assert!(
        !ok && out.contains("admin access denied") && out.contains("not a valid identity of org1"),
        "{out}"
    );
    let (status, body) = Rpc::new(&format!("{}/admin", base_url(&cluster, 0))).post_raw(
        json!({"jsonrpc": "2.0", "id": 1, "method": "admin_channels", "params": []}).to_string(),
    );
    assert!(
        status == 200 && body.contains("admin access denied"),
        "{body}"
    );
    let (ok, out) = as_admin(&cluster, 3, "org4", &["join", "--file", &config]);
    assert!(
        !ok && out.contains("is not among the channel's validators"),
        "{out}"
    );

    // Nodes 0-2 join while the default channel keeps running.
    let default_before = cluster.rpc(0).block_number();
    for (index, org) in ["org1", "org2", "org3"].iter().enumerate() {
        let (ok, out) = as_admin(&cluster, index, org, &["join", "--file", &config]);
        assert!(
            ok && out.contains("beta") && out.contains("joined"),
            "{out}"
        );
    }
    let (ok, out) = as_admin(&cluster, 1, "org2", &["join", "--file", &config]);
    assert!(!ok && out.contains("already serves it"), "{out}");
    let (ok, out) = as_admin(&cluster, 0, "org1", &["list"]);
    assert!(
        ok && out.contains("beta") && out.contains("default") && out.contains("org1,org2,org3"),
        "{out}"
    );

    // Beta orders a transaction of org1's client among its validators.
    let dev = cluster.dev_key.clone();
    let (hash, raw) = beta_transfer(&dev, 0);
    let response = beta(&cluster, 1, &dev).send_raw(&raw);
    assert!(response.get("result").is_some(), "{response}");
    let receipt = beta(&cluster, 0, &dev).wait_receipt(hash);
    assert_eq!(receipt["status"], "0x1");
    let included = quantity(&receipt["blockNumber"]);
    for index in 0..3 {
        wait_height(&beta(&cluster, index, &dev), included, CATCH_UP);
        let block = beta(&cluster, index, &dev).call(
            "eth_getBlockByNumber",
            json!([format!("0x{included:x}"), false]),
        );
        let reference = beta(&cluster, 0, &dev).call(
            "eth_getBlockByNumber",
            json!([format!("0x{included:x}"), false]),
        );
        assert_eq!(block["hash"], reference["hash"], "beta validators agree");
    }
    // The transaction exists on beta only.
    assert!(cluster.rpc(0).receipt(hash).is_none());

    // Org4 sees nothing of beta: its node serves no such channel and holds none of its data…
    let (status, body) = Rpc::new(&format!("{}/channels/beta", base_url(&cluster, 3))).post_raw(
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).to_string(),
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("no channel is served at /channels/beta"),
        "{body}"
    );
    let outsider_files = names_under(&cluster.dir.join("nodes/3"));
    assert!(
        !outsider_files.iter().any(|p| p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("beta"))),
        "node 3 holds beta data: {outsider_files:?}"
    );
    // …and its identities can neither read nor write beta through a member's node.
    let org4 = client_key(&cluster.dir, "org4");
    let refused = beta(&cluster, 0, &org4).call_raw("eth_blockNumber", json!([]));
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("read access denied"), "{refused}");
    let (_, raw) = beta_transfer(&org4, 0);
    let refused = beta(&cluster, 0, &dev).send_raw(&raw);
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not enrolled"), "{refused}");
    // Org2's client, a member, may read.
    let org2 = client_key(&cluster.dir, "org2");
    assert!(
        beta(&cluster, 2, &org2)
            .try_call("eth_blockNumber", json!([]))
            .is_some()
    );

    // The default channel never stopped, on all four nodes.
    cluster.wait_all_reach(default_before + 3, CATCH_UP);

    // Beta crosses an epoch boundary (epochs of 10 blocks). Then a beta validator killed with
    // -9 reopens beta on its own (no second join) and, with it back, its three validators
    // (no fault tolerated among three) go on.
    let crossed = wait_height(&beta(&cluster, 0, &dev), 12, CATCH_UP);
    cluster.kill_9(1);
    cluster.launch(1);
    let target = crossed + 3;
    let at_target = |index: usize| {
        wait_height(&beta(&cluster, index, &dev), target, CATCH_UP);
        beta(&cluster, index, &dev).call(
            "eth_getBlockByNumber",
            json!([format!("0x{target:x}"), false]),
        )["hash"]
            .clone()
    };
    let reference = at_target(0);
    assert_eq!(at_target(1), reference);
    assert_eq!(at_target(2), reference);
    // Served once after the join, once after the restart (the log is appended to).
    let served = cluster
        .log(1)
        .lines()
        .filter(|l| l.contains("serving channel") && l.contains("channel=beta"))
        .count();
    assert_eq!(served, 2, "{}", cluster.log(1));
}
