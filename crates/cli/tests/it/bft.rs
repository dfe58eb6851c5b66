//! BFT replication across real validator processes: agreement on every block, liveness with one
//! validator killed, no progress (and no conflicting blocks) without a quorum, catch-up after a
//! restart and resync of a wiped validator. Each test bounds its waits and kills its processes
//! by PID when it ends.

use crate::common;

use alloy_primitives::{B256, U256};
use common::{cluster::Cluster, load::Load, transfer};
use ricaas_crypto::DevKey;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CATCH_UP: Duration = Duration::from_secs(60);

/// Funds `count` fresh accounts from the developer key (sent through validator 0).
fn funded_senders(cluster: &Cluster, count: usize) -> Vec<DevKey> {
    let senders: Vec<DevKey> = (0..count).map(|_| DevKey::random()).collect();
    let rpc = cluster.rpc(0);
    let mut last = B256::ZERO;
    for (nonce, sender) in senders.iter().enumerate() {
        let (hash, raw) = transfer(
            &cluster.dev_key,
            nonce as u64,
            sender.address(),
            U256::from(10u64).pow(U256::from(20)),
        );
        let response = rpc.send_raw(&raw);
        assert!(response.get("result").is_some(), "{response}");
        last = hash;
    }
    rpc.wait_receipt(last);
    let enrolled = common::enroll_clients(&rpc, &cluster.dir, &senders);
    // Validators commit a finalized block independently: wait until all hold the enrollment.
    cluster.wait_all_reach(enrolled, CATCH_UP);
    senders
}

/// Every accepted transaction succeeded in a block of validator 0, and every running validator
/// holds the same blocks (hash, transactions and receipts roots) up to the last of them. Read
/// block by block — one call per block, not per transaction — as blocks are committed; fails
/// when no new block arrives for `CATCH_UP` while some are missing.
fn assert_all_finalized_everywhere(cluster: &Cluster, accepted: &[B256]) {
    let rpc = cluster.rpc(cluster.running()[0]);
    let mut missing: std::collections::HashSet<B256> = accepted.iter().copied().collect();
    let mut next = 1;
    let mut last_block = Instant::now();
    while !missing.is_empty() {
        if next > rpc.block_number() {
            assert!(
                last_block.elapsed() < CATCH_UP,
                "{} accepted transactions are not finalized after {:?} without a new block, e.g. {:?}\n{}",
                missing.len(),
                CATCH_UP,
                missing.iter().next(),
                cluster.status()
            );
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let receipts = rpc.call("eth_getBlockReceipts", json!([format!("0x{next:x}")]));
        for receipt in receipts.as_array().expect("receipts of a committed block") {
            let hash: B256 = serde_json::from_value(receipt["transactionHash"].clone())
                .expect("transaction hash");
            if missing.remove(&hash) {
                assert_eq!(receipt["status"], "0x1", "{receipt}");
            }
        }
        last_block = Instant::now();
        next += 1;
    }
    let last = next - 1;
    cluster.wait_all_reach(last, CATCH_UP);
    cluster.assert_identical_up_to(last);
}

#[test]
fn four_validators_finalize_the_same_blocks_whichever_node_receives_a_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::start(dir.path(), 4);
    let senders = funded_senders(&cluster, 4);
    // Each sender talks to a different validator.
    let mut hashes = Vec::new();
    for (index, key) in senders.iter().enumerate() {
        for nonce in 0..5 {
            let (hash, raw) = transfer(key, nonce, DevKey::random().address(), U256::from(7));
            let response = cluster.rpc(index).send_raw(&raw);
            assert_eq!(response["result"], json!(hash), "{response}");
            hashes.push(hash);
        }
    }
    assert_all_finalized_everywhere(&cluster, &hashes);
    let height = cluster.min_height();
    cluster.wait_all_reach(height, CATCH_UP);
    cluster.assert_identical_up_to(height);
    // The same transaction sent to two validators is executed once.
    let (hash, raw) = transfer(&senders[0], 5, DevKey::random().address(), U256::from(1));
    cluster.rpc(1).send_raw(&raw);
    cluster.rpc(2).send_raw(&raw);
    let receipt = cluster.rpc(3).wait_receipt(hash);
    assert_eq!(receipt["status"], "0x1");
    // Validators commit a finalized block independently: read node 0 once it holds it too.
    cluster.wait_all_reach(common::quantity(&receipt["blockNumber"]), CATCH_UP);
    let nonce = cluster.rpc(0).call(
        "eth_getTransactionCount",
        json!([senders[0].address(), "latest"]),
    );
    assert_eq!(nonce, json!("0x6"));

    // Each node reports the channel at /metrics, /health and /ready, read from itself.
    let (_, wrong_chain) = common::signed(
        &senders[1],
        alloy_consensus::TxLegacy {
            chain_id: Some(common::CHAIN_ID + 1),
            nonce: 5,
            gas_price: 0,
            gas_limit: 21_000,
            to: alloy_primitives::TxKind::Call(DevKey::random().address()),
            value: U256::from(1),
            input: Default::default(),
        },
    );
    assert!(cluster.rpc(2).send_raw(&wrong_chain).get("error").is_some());
    let committed = cluster.min_height();
    for index in 0..4 {
        let metrics = cluster.metrics(index).expect("metrics");
        let value = |name: &str| {
            sample(&metrics, name)
                .unwrap_or_else(|| panic!("node {index} has no {name}:\n{metrics}"))
        };
        assert!(value("ricaas_height{channel=\"default\"}") >= committed as f64);
        // Every node commits every block: 20 + 1 transfers and the senders' funding.
        assert!(value("ricaas_finalized_transactions_total{channel=\"default\"}") >= 25.0);
        assert!(
            value("ricaas_block_commit_seconds_count{channel=\"default\"}")
                >= committed as f64 - 1.0
        );
        assert!(value("ricaas_consensus_view{channel=\"default\"}") >= committed as f64);
        assert_eq!(value("ricaas_peers_connected"), 3.0, "node {index}");
        assert!(value("ricaas_storage_bytes{channel=\"default\"}") > 0.0);
        let rejected = sample(
            &metrics,
            "ricaas_admission_rejections_total{channel=\"default\",reason=\"chain_id\"}",
        );
        assert_eq!(rejected, (index == 2).then_some(1.0), "node {index}");
        let base = cluster
            .rpc(index)
            .url
            .split("/channels/")
            .next()
            .expect("base")
            .to_string();
        let health: Value = ureq::get(&format!("{base}/health"))
            .call()
            .expect("health")
            .body_mut()
            .read_to_string()
            .map(|text| serde_json::from_str::<Value>(&text).expect("json"))
            .expect("json");
        assert_eq!(health["status"], "alive");
        let ready: Value = ureq::get(&format!("{base}/ready"))
            .call()
            .expect("ready")
            .body_mut()
            .read_to_string()
            .map(|text| serde_json::from_str::<Value>(&text).expect("json"))
            .expect("json");
        assert_eq!(ready["channels"][0]["name"], "default");
        assert_eq!(ready["channels"][0]["engine"], "bft");
    }
    // Blocks proposed by one validator are re-executed by the others.
    let verified: f64 = (0..4)
        .map(|i| {
            sample(
                &cluster.metrics(i).expect("metrics"),
                "ricaas_block_verify_seconds_count{channel=\"default\"}",
            )
            .unwrap_or(0.0)
        })
        .sum();
    assert!(verified > 0.0);
    // Senders of gossiped transfers were vouched for (the default, a quorum: the forwarder and
    // the two validators after it recover, the fourth takes their word).
    let (mut recovered, mut vouched) = (0.0, 0.0);
    for i in 0..4 {
        let metrics = cluster.metrics(i).expect("metrics");
        let read = |name: &str| {
            sample(&metrics, name).unwrap_or_else(|| panic!("node {i} has no {name}:\n{metrics}"))
        };
        recovered += read("ricaas_admission_senders_recovered{channel=\"default\"}");
        vouched += read("ricaas_admission_senders_vouched{channel=\"default\"}");
    }
    assert!(
        vouched > 0.0,
        "no sender was vouched for ({recovered} recovered)"
    );
}

/// The value of the sample named exactly `series` (name and labels) in Prometheus text.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn one_validator_killed_under_load_progress_continues_and_it_catches_up_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 4);
    let senders = funded_senders(&cluster, 6);
    let endpoints: Vec<_> = (0..3).map(|i| cluster.rpc(i)).collect();
    let load = Load::start(&endpoints, senders, Duration::from_millis(2));
    cluster.wait_all_reach(cluster.min_height() + 3, CATCH_UP);

    cluster.kill_9(3);
    let before = cluster.min_height();
    cluster.wait_all_reach(before + 5, CATCH_UP);

    cluster.launch(3);
    let accepted = load.finish();
    assert!(accepted.len() > 50, "load too small: {}", accepted.len());
    assert_all_finalized_everywhere(&cluster, &accepted);
    let head = cluster.height(0).expect("validator 0 answers");
    cluster.wait_all_reach(head, CATCH_UP);
    cluster.assert_identical_up_to(head);
}

#[test]
fn without_a_quorum_no_block_is_finalized_and_progress_resumes_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 4);
    cluster.wait_all_reach(2, CATCH_UP);
    cluster.kill_9(2);
    cluster.kill_9(3);
    // Let in-flight finalizations land, then watch for a while: nothing may be finalized by
    // the two remaining validators (2 of 4 is below the 3 votes a quorum needs). This waits
    // for an absence, so it can only be a bounded observation window.
    std::thread::sleep(Duration::from_secs(2));
    let stalled = (
        cluster.height(0).expect("up"),
        cluster.height(1).expect("up"),
    );
    let senders = funded_senders_no_wait(&cluster);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        (
            cluster.height(0).expect("up"),
            cluster.height(1).expect("up")
        ),
        stalled,
        "blocks were finalized without a quorum"
    );
    cluster.launch(2);
    cluster.launch(3);
    let receipt_deadline = Instant::now() + CATCH_UP;
    while cluster.rpc(0).receipt(senders).is_none() {
        assert!(
            Instant::now() < receipt_deadline,
            "no progress after the quorum returned"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let head = cluster.height(0).expect("up");
    cluster.wait_all_reach(head, CATCH_UP);
    cluster.assert_identical_up_to(head);
}

/// Submits one transfer without waiting for it; returns its hash.
fn funded_senders_no_wait(cluster: &Cluster) -> B256 {
    let (hash, raw) = transfer(
        &cluster.dev_key,
        0,
        DevKey::random().address(),
        U256::from(1),
    );
    let response = cluster.rpc(0).send_raw(&raw);
    assert!(response.get("result").is_some(), "{response}");
    hash
}

#[test]
fn a_validator_with_a_wiped_data_directory_resyncs_from_genesis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 4);
    let senders = funded_senders(&cluster, 2);
    let mut hashes = Vec::new();
    for key in &senders {
        for nonce in 0..3 {
            let (hash, raw) = transfer(key, nonce, DevKey::random().address(), U256::from(3));
            cluster.rpc(1).send_raw(&raw);
            hashes.push(hash);
        }
    }
    assert_all_finalized_everywhere(&cluster, &hashes);
    cluster.kill_9(3);
    std::fs::remove_dir_all(cluster.data(3)).expect("wipe validator 3");
    let head = cluster.height(0).expect("up");
    cluster.launch(3);
    cluster.wait_all_reach(head, CATCH_UP);
    cluster.assert_identical_up_to(head);
    for hash in &hashes {
        assert!(
            cluster.rpc(3).receipt(*hash).is_some(),
            "{hash} missing after resync"
        );
    }
}

#[test]
fn a_partitioned_validator_stalls_alone_and_catches_up_when_the_partition_heals() {
    use common::proxy::Proxy;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::create(dir.path(), 4);
    // Every connection between validator 3 and the others runs through a proxy the test cuts.
    let mut proxies = Vec::new();
    let isolated = 3;
    let isolated_addr = cluster.p2p_addr(isolated);
    let to_isolated = Proxy::start(isolated_addr);
    for other in 0..3 {
        cluster.redirect(other, isolated_addr, to_isolated.addr);
        let addr = cluster.p2p_addr(other);
        let proxy = Proxy::start(addr);
        cluster.redirect(isolated, addr, proxy.addr);
        proxies.push(proxy);
    }
    proxies.push(to_isolated);
    for index in 0..4 {
        cluster.launch(index);
    }
    cluster.wait_all_reach(3, CATCH_UP);

    proxies.iter().for_each(Proxy::cut);
    let stalled_at = cluster.height(isolated).expect("answers");
    let senders = funded_senders_no_wait(&cluster);
    let target = cluster.height(0).expect("answers") + 5;
    let deadline = Instant::now() + CATCH_UP;
    while (0..3).any(|i| cluster.height(i).is_none_or(|h| h < target)) {
        assert!(
            Instant::now() < deadline,
            "the majority stopped while one validator was cut off"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // At most a block that was already being finalized when the partition started.
    assert!(
        cluster.height(isolated).expect("answers") <= stalled_at + 1,
        "the isolated validator kept finalizing alone"
    );

    proxies.iter().for_each(Proxy::heal);
    let head = cluster.height(0).expect("answers");
    cluster.wait_all_reach(head, CATCH_UP);
    cluster.assert_identical_up_to(head);
    assert!(cluster.rpc(isolated).receipt(senders).is_some());
}

/// Validators are the holders of the node certificates in the channel configuration: a config
/// that lists another key is refused at start, with the reason.
#[test]
fn a_validator_key_without_a_certificate_in_the_channel_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::create(dir.path(), 4);
    let path = cluster.config(0);
    let text = std::fs::read_to_string(&path).expect("config");
    let listed = text
        .lines()
        .find_map(|l| l.strip_prefix("public_key = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a listed validator key")
        .to_string();
    let stranger = ricaas_consensus::bft::public_key_to_hex(&ricaas_consensus::bft::public_key_of(
        &ricaas_consensus::bft::generate_node_key(),
    ));
    std::fs::write(&path, text.replacen(&listed, &stranger, 1)).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["node", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ricaas node starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node kept running with an uncertified validator key");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert!(!status.success());
    assert!(
        stderr.contains(&format!(
            "consensus.validators lists {stranger}, which is not the key of a validator certificate in channel default"
        )),
        "{stderr}"
    );
}

/// Runs `ricaas governance` against validator `index`; returns (success, stdout + stderr).
fn governance(cluster: &Cluster, index: usize, key: &str, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args([
            "governance",
            "--rpc",
            &cluster.rpc(index).url,
            "--admin-key-file",
        ])
        .arg(cluster.dir.join("keys").join(key))
        .args(args)
        .output()
        .expect("ricaas governance runs");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// A policy change voted by a majority of the four organizations' admins (through different
/// validators) takes effect on every validator at its height, and only then.
#[test]
fn a_governance_policy_change_applies_on_every_validator_at_its_height() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::start(dir.path(), 4);
    // Far enough ahead that proposing and three votes (each awaiting its receipt) fit before it
    // on a loaded machine; idle validators make a block a second.
    let at = cluster.rpc(0).block_number() + 30;
    let at_text = at.to_string();
    let (ok, out) = governance(
        &cluster,
        0,
        "org1-admin.key",
        &[
            "set-policy",
            "--policy",
            "contract_deployers",
            "--text",
            "ANY Admins",
            "--at",
            &at_text,
        ],
    );
    assert!(ok && out.contains("proposal 0 submitted"), "{out}");
    // The developer key is org1's client: its vote is refused.
    let (ok, out) = governance(&cluster, 1, "dev.key", &["vote", "--id", "0"]);
    assert!(
        !ok && out.contains("is a client of org1, not an admin"),
        "{out}"
    );
    for (index, key) in [(1, "org2-admin.key"), (2, "org3-admin.key")] {
        let (ok, out) = governance(&cluster, index, key, &["vote", "--id", "0"]);
        assert!(ok, "{out}");
    }
    // Validators commit finalized blocks independently: let validator 3 hold the last vote.
    cluster.wait_all_reach(cluster.rpc(2).block_number(), CATCH_UP);
    let (ok, out) = governance(&cluster, 3, "org4-admin.key", &["show", "--id", "0"]);
    assert!(ok && out.contains("\"state\":\"approved\""), "{out}");
    assert!(
        cluster.rpc(3).block_number() < at,
        "the test was too slow to see the change pending"
    );

    cluster.wait_all_reach(at, CATCH_UP);
    // Every validator applied it in the same block.
    let hashes: Vec<Value> = (0..4)
        .map(|i| cluster.block(i, at)["hash"].clone())
        .collect();
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
    // Every validator now refuses a client's contract creation, naming the new policy.
    let nonce = common::quantity(&cluster.rpc(0).call(
        "eth_getTransactionCount",
        serde_json::json!([cluster.dev_key.address(), "pending"]),
    ));
    let (_, raw) = common::signed(
        &cluster.dev_key,
        alloy_consensus::TxLegacy {
            chain_id: Some(common::CHAIN_ID),
            nonce,
            gas_price: 0,
            gas_limit: 100_000,
            to: alloy_primitives::TxKind::Create,
            value: U256::ZERO,
            input: alloy_primitives::Bytes::from(vec![0x00]),
        },
    );
    for index in 0..4 {
        let response = cluster.rpc(index).send_raw(&raw);
        let message = response["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains("(org1.client) is not allowed by the ContractDeployers policy of channel default: ANY Admins"),
            "validator {index}: {response}"
        );
    }
}

/// Proposes a validator change through validator 0 as org1's admin and has org2 and org3 vote
/// (MAJORITY of four); returns the height it applies at.
fn vote_validator_change(cluster: &Cluster, id: u64, change: &[&str]) -> u64 {
    let at = cluster.rpc(0).block_number() + 4;
    let mut args = change.to_vec();
    let at_text = at.to_string();
    args.extend(["--at", &at_text]);
    let (ok, out) = governance(cluster, 0, "org1-admin.key", &args);
    assert!(
        ok && out.contains(&format!("proposal {id} submitted")),
        "{out}"
    );
    let id_text = id.to_string();
    for key in ["org2-admin.key", "org3-admin.key"] {
        let (ok, out) = governance(cluster, 0, key, &["vote", "--id", &id_text]);
        assert!(ok, "{out}");
    }
    let (ok, out) = governance(cluster, 0, "org4-admin.key", &["show", "--id", &id_text]);
    assert!(ok && out.contains("\"state\":\"approved\""), "{out}");
    // Approved after `at` had passed: it applies in the next block.
    at.max(cluster.rpc(0).block_number())
}

/// The running nodes all commit `blocks` more blocks within `within`.
fn progresses(cluster: &Cluster, blocks: u64, within: Duration) {
    let from = cluster
        .running()
        .iter()
        .filter_map(|i| cluster.height(*i))
        .max()
        .unwrap_or(0);
    cluster.wait_all_reach(from + blocks, within);
}

/// Governance changes the validator set of a running network without stopping it: a fifth
/// validator, voted in, joins at the next consensus epoch (it syncs from genesis as a follower,
/// then votes), and a validator voted out stops counting from the epoch after. The end state is
/// proved by quorum arithmetic: with validators 2 and 3 down, only {0, 1, new} run. Under the
/// original four they could not finalize (2 of 4 < 3), nor under five (3 of 5 < 4); they do
/// only under {0, 1, 2, new}, where 3 of 4 suffice, so the new validator votes and the removed
/// one no longer counts.
#[test]
fn a_fifth_validator_joins_and_one_is_removed_without_stopping_the_chain() {
    const EPOCH: u64 = 10;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::create_with(dir.path(), 4, &["--epoch-length", "10"]);
    for index in 0..4 {
        cluster.launch(index);
    }

    // org2 certifies a new node; its configuration is a copy of validator 0's with its own key,
    // listen addresses and data.
    let orgs = cluster.dir.join("orgs");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["ca", "--dir"])
        .arg(&orgs)
        .args([
            "--org", "org2", "enroll", "--name", "node4", "--role", "node",
        ])
        .args(["--key-type", "ed25519"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("ricaas ca runs");
    assert!(status.success());
    // The cluster's next reserved p2p port (validators 0-3 use the first four).
    let p2p = std::net::SocketAddr::from(([127, 0, 0, 1], cluster.p2p_base + 4));
    let template = std::fs::read_to_string(cluster.config(0)).expect("config");
    let mut config = String::new();
    for line in template.lines() {
        let line = if line.starts_with("key_file = ") {
            "key_file = \"../../orgs/org2/node4/key.pem\"".to_string()
        } else if line.starts_with("p2p_listen = ") {
            format!("p2p_listen = \"{p2p}\"")
        } else if line.starts_with("listen = ") {
            "listen = \"127.0.0.1:0\"".to_string()
        } else {
            line.to_string()
        };
        config.push_str(&line);
        config.push('\n');
    }
    let joiner = cluster.add_node(&config);
    assert_eq!(joiner, 4);
    // Not a validator yet: it starts, serves its (empty) chain, and waits.
    cluster.launch(joiner);

    let certificate = orgs.join("org2/node4/cert.pem");
    let p2p_text = p2p.to_string();
    let applied = vote_validator_change(
        &cluster,
        0,
        &[
            "add-validator",
            "--cert",
            certificate.to_str().expect("utf-8 path"),
            "--p2p-address",
            &p2p_text,
        ],
    );
    // It votes from the epoch after the one the change applied in.
    let joined_at = (applied / EPOCH + 1) * EPOCH;
    cluster.wait_all_reach(joined_at + 3, CATCH_UP * 2);
    cluster.assert_identical_up_to(joined_at + 3);
    let joined_epoch = format!(
        "entered consensus epoch epoch={} validators=5 voting=true",
        joined_at / EPOCH
    );
    let log = cluster.log(joiner);
    assert!(log.contains(&joined_epoch), "{log}");
    let log = cluster.log(0);
    assert!(
        log.contains(&format!(
            "entered consensus epoch epoch={} validators=5",
            joined_at / EPOCH
        )),
        "{log}"
    );

    // One original validator down: 3 of the 4 originals cannot finalize alone among 5.
    cluster.kill_9(3);
    progresses(&cluster, 5, CATCH_UP);

    // Remove the stopped validator; from the next epoch the remaining four need only three.
    let removed_key = cluster.public_key(3);
    let applied = vote_validator_change(
        &cluster,
        1,
        &["remove-validator", "--key", &format!("0x{removed_key}")],
    );
    let smaller_from = (applied / EPOCH + 1) * EPOCH;
    cluster.wait_all_reach(smaller_from + 2, CATCH_UP);
    let log = cluster.log(0);
    assert!(
        log.contains(&format!(
            "entered consensus epoch epoch={} validators=4",
            smaller_from / EPOCH
        )),
        "{log}"
    );
    cluster.kill_9(2);
    progresses(&cluster, 5, CATCH_UP);
    let next_epoch = (cluster.min_height() / EPOCH + 1) * EPOCH;
    cluster.wait_all_reach(next_epoch + 1, CATCH_UP);

    // Validator 2 restarts epochs later: it resumes from its recorded epochs, catches up across
    // the boundaries it missed and votes again.
    cluster.launch(2);
    progresses(&cluster, 3, CATCH_UP);
    let height = cluster.min_height();
    cluster.assert_identical_up_to(height);
}

/// Runs `ricaas member` as `key`'s organization admin against validator 0.
fn member(cluster: &Cluster, key: &str, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["member", "--rpc", &cluster.rpc(0).url, "--admin-key-file"])
        .arg(cluster.dir.join("keys").join(key))
        .args(args)
        .output()
        .expect("ricaas member runs");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The value of a metric sample on a running node (0 when absent).
fn node_metric(cluster: &Cluster, index: usize, series: &str) -> f64 {
    cluster
        .metrics(index)
        .and_then(|metrics| sample(&metrics, series))
        .unwrap_or(0.0)
}

/// An observer: a node of org2 that its admin lists on chain (no vote of the others), reaching
/// the validators by DNS name, follows
/// the finalized chain, serves JSON-RPC (a transaction sent to it is finalized by the
/// validators), catches up after being down, never votes, and never makes a quorum: with two of
/// four validators down the two left and the observer finalize nothing while views keep timing
/// out. Removed by its organization, the validators drop its connection.
#[test]
fn an_observer_follows_serves_rpc_catches_up_and_never_counts_in_a_quorum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 4);

    // org2 certifies the observer's node key; its configuration is validator 0's with its own
    // key, p2p endpoint and data directory.
    let orgs = cluster.dir.join("orgs");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["ca", "--dir"])
        .arg(&orgs)
        .args([
            "--org", "org2", "enroll", "--name", "observer", "--role", "node",
        ])
        .args(["--key-type", "ed25519"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("ricaas ca runs");
    assert!(status.success());
    let p2p = std::net::SocketAddr::from(([127, 0, 0, 1], cluster.p2p_base + 4));
    let template = std::fs::read_to_string(cluster.config(0)).expect("config");
    let config: String = template
        .lines()
        .map(|line| {
            if line.starts_with("key_file = ") {
                "key_file = \"../../orgs/org2/observer/key.pem\"".to_string()
            } else if line.starts_with("p2p_listen = ") {
                format!("p2p_listen = \"{p2p}\"")
            } else if line.starts_with("listen = ") {
                "listen = \"127.0.0.1:0\"".to_string()
            } else if let Some(port) = line.strip_prefix("address = \"127.0.0.1:") {
                // It reaches the validators by name (as in Kubernetes, through Services): the
                // validators never dial an observer, so following proves DNS dialing works.
                format!("address = \"localhost:{port}")
            } else {
                line.to_string()
            }
        })
        .map(|line| line + "\n")
        .collect();
    assert!(config.contains("address = \"localhost:"), "{config}");
    let observer = cluster.add_node(&config);
    cluster.launch(observer);

    // Another organization cannot list org2's node; org2's admin can.
    let certificate = orgs.join("org2/observer/cert.pem");
    let cert = certificate.to_str().expect("utf-8 path");
    let (ok, out) = member(
        &cluster,
        "org1-admin.key",
        &["add-observer", "--cert", cert],
    );
    assert!(
        !ok && out.contains("admins of org1 cannot list nodes of org2"),
        "{out}"
    );
    let (ok, out) = member(
        &cluster,
        "org2-admin.key",
        &["add-observer", "--cert", cert],
    );
    assert!(ok && out.contains("listed in block"), "{out}");
    let listed_at: u64 = out
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("block number");
    cluster.wait_all_reach(listed_at + 3, CATCH_UP);
    cluster.assert_identical_up_to(listed_at + 3);
    let log = cluster.log(observer);
    assert!(log.contains("voting=false"), "{log}");
    assert!(!log.contains("voting=true"), "{log}");

    // It serves JSON-RPC: a transfer sent to it reaches the validators and is finalized.
    let (hash, raw) = transfer(
        &cluster.dev_key,
        0,
        DevKey::random().address(),
        U256::from(7),
    );
    let sent = cluster.rpc(observer).send_raw(&raw);
    assert!(sent.get("error").is_none(), "{sent}");
    let receipt = cluster.rpc(0).wait_receipt(hash);
    assert_eq!(receipt["status"], "0x1");
    cluster.wait_all_reach(common::quantity(&receipt["blockNumber"]), CATCH_UP);
    assert_eq!(
        cluster
            .rpc(observer)
            .receipt(hash)
            .expect("the observer has it")["blockHash"],
        receipt["blockHash"]
    );

    // Down while the chain moves on, then back: it catches up.
    cluster.kill_9(observer);
    progresses(&cluster, 5, CATCH_UP);
    cluster.launch(observer);
    let head = cluster.height(0).expect("up");
    cluster.wait_all_reach(head, CATCH_UP);
    cluster.assert_identical_up_to(head);

    // Two validators down: validators 0 and 1 and the observer are three live nodes, but
    // only two of the four votes a quorum needs three of. Once both validators left have
    // timed out waiting for a view to end, a transaction sent to the observer reaches their
    // pools, and still nothing is finalized. This waits for an absence, so its last step can
    // only be a bounded observation window.
    let timeouts = "simplex_voter_state_timeouts_total";
    let timed_out = [0, 1].map(|i| cluster.metric_sum(i, timeouts));
    cluster.kill_9(2);
    cluster.kill_9(3);
    let deadline = Instant::now() + CATCH_UP;
    while [0, 1]
        .iter()
        .any(|&i| cluster.metric_sum(i, timeouts) <= timed_out[i])
    {
        assert!(Instant::now() < deadline, "{}", cluster.status());
        std::thread::sleep(Duration::from_millis(100));
    }
    let stalled: Vec<Option<u64>> = [0, 1, observer]
        .iter()
        .map(|i| cluster.height(*i))
        .collect();
    let (stuck, raw) = transfer(
        &cluster.dev_key,
        1,
        DevKey::random().address(),
        U256::from(7),
    );
    let sent = cluster.rpc(observer).send_raw(&raw);
    assert!(sent.get("error").is_none(), "{sent}");
    let pooled = "ricaas_mempool_transactions{channel=\"default\"}";
    while [0, 1]
        .iter()
        .any(|&i| node_metric(&cluster, i, pooled) < 1.0)
    {
        assert!(Instant::now() < deadline, "{}", cluster.status());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(5));
    let after: Vec<Option<u64>> = [0, 1, observer]
        .iter()
        .map(|i| cluster.height(*i))
        .collect();
    // A node that lagged when the two were killed may still fetch blocks finalized before it
    // (the observer follows a little behind), so the bound is the highest block any live node
    // had then: nothing above it can be finalized without a third vote.
    let ceiling = stalled.iter().flatten().max().copied();
    assert!(
        after
            .iter()
            .all(|height| height.is_some() && *height <= ceiling),
        "a block was finalized without a quorum of validators: heights {after:?}, \
         highest before {ceiling:?}"
    );
    assert!(cluster.rpc(0).receipt(stuck).is_none());

    // One validator back: three of four vote again, and the observer follows.
    cluster.launch(2);
    progresses(&cluster, 3, CATCH_UP);
    let receipt = cluster.rpc(0).wait_receipt(stuck);
    assert_eq!(receipt["status"], "0x1");

    // org2 removes its observer: the validators drop its connection.
    let key = ricaas_crypto::ca::certificate_from_pem(
        &std::fs::read_to_string(&certificate).expect("certificate"),
    )
    .ok()
    .and_then(|c| ricaas_crypto::ca::ed25519_key_of(&c))
    .map(hex::encode)
    .expect("an Ed25519 node key");
    let connected = "ricaas_peers_connected";
    let with_observer = node_metric(&cluster, 0, connected);
    let (ok, out) = member(
        &cluster,
        "org2-admin.key",
        &["remove-observer", "--key", &format!("0x{key}")],
    );
    assert!(ok && out.contains("removed in block"), "{out}");
    let deadline = Instant::now() + CATCH_UP;
    while node_metric(&cluster, 0, connected) >= with_observer {
        assert!(
            Instant::now() < deadline,
            "validator 0 still has {with_observer} peers connected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
