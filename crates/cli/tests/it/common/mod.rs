//! Test harness: the real `ricaas` binary in a temporary data directory, spoken to over HTTP.
//! Every process started here is killed by PID when its handle drops.

#![allow(dead_code)]

use alloy_consensus::{TxLegacy, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use ricaas_crypto::{DevKey, sign_transaction};
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub mod cluster;
pub mod load;
pub mod proxy;

pub const CHAIN_ID: u64 = 1337;

/// Starts `command` (the `ricaas` binary, logging warnings only) and reads its standard output
/// until it prints `Press Ctrl-C`; returns the child and what followed `prefix` on the last line
/// that started with it.
pub fn start_until_ready(command: &mut Command, prefix: &str) -> (Child, Option<String>) {
    let (child, lines) = start_collecting(command);
    let found = lines
        .iter()
        .filter_map(|line| line.trim().strip_prefix(prefix))
        .next_back()
        .map(|rest| rest.trim().to_string());
    (child, found)
}

/// Starts `command` like [`start_until_ready`] and returns every line it printed up to
/// `Press Ctrl-C`.
pub fn start_collecting(command: &mut Command) -> (Child, Vec<String>) {
    let mut child = command
        .env("RICAAS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ricaas starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("stdout readable");
        let done = line.starts_with("Press Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    (child, lines)
}

/// What follows `prefix` on the last of `lines` that starts with it (after trimming).
pub fn printed<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines
        .iter()
        .filter_map(|line| line.trim().strip_prefix(prefix))
        .next_back()
        .map(str::trim)
}

pub struct Node {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub dev_key: DevKey,
    /// The platform API `ricaas up` runs beside the node (`…/api/v1`).
    pub platform_api: Option<String>,
    /// Everything `ricaas up` printed until it was ready.
    pub printed: Vec<String>,
}

impl Node {
    /// Runs `ricaas up` on `data_dir` (creating or reopening the network) and waits for its endpoints.
    pub fn up(data_dir: &Path) -> Node {
        Self::up_with(data_dir, &[])
    }

    /// [`Node::up`] with more `ricaas up` arguments (used when the network is created).
    pub fn up_with(data_dir: &Path, extra: &[&str]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ricaas"));
        command
            .args(["up", "--nodes", "1", "--data-dir"])
            .arg(data_dir)
            .args(["--rpc-port", "0", "--platform-listen", "127.0.0.1:0"])
            .args(extra);
        let (child, lines) = start_collecting(&mut command);
        let url = printed(&lines, "JSON-RPC HTTP:")
            .and_then(|rest| rest.split_whitespace().next().map(str::to_string))
            .expect("ricaas up printed its HTTP endpoint");
        let platform_api = printed(&lines, "platform API:")
            .and_then(|rest| rest.split_whitespace().next().map(str::to_string));
        let dev_key = DevKey::read(&data_dir.join("keys/dev.key")).expect("dev key");
        Node {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            dev_key,
            platform_api,
            printed: lines,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "node exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "node did not stop within 30s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client reading as the developer account (org1's client), with a read token.
    pub fn rpc(&self) -> Rpc {
        Rpc::new(&self.url).reading_as(&self.dev_key)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal JSON-RPC client over raw HTTP, so tests can also send malformed requests.
#[derive(Clone)]
pub struct Rpc {
    agent: ureq::Agent,
    pub url: String,
    /// `Authorization` header value (a read token), if any.
    authorization: Option<String>,
}

impl Rpc {
    pub fn new(url: &str) -> Rpc {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Rpc {
            agent,
            url: url.to_string(),
            authorization: None,
        }
    }

    /// The same client presenting a read token signed by `key` (valid for a day).
    pub fn reading_as(mut self, key: &DevKey) -> Rpc {
        let expires = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 86_400;
        let token = ricaas_crypto::token::read_token(key, "default", CHAIN_ID, expires);
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// The same client presenting a read token of `channel` (chain `chain_id`) signed by `key`.
    pub fn reading_channel_as(mut self, key: &DevKey, channel: &str, chain_id: u64) -> Rpc {
        let expires = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 86_400;
        let token = ricaas_crypto::token::read_token(key, channel, chain_id, expires);
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// The same client sending `value` as its `Authorization` header.
    pub fn with_authorization(mut self, value: &str) -> Rpc {
        self.authorization = Some(value.to_string());
        self
    }

    /// The same client without a read token.
    pub fn anonymous(mut self) -> Rpc {
        self.authorization = None;
        self
    }

    fn post(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        match &self.authorization {
            Some(value) => request.header("Authorization", value),
            None => request,
        }
    }

    /// POSTs a raw body; returns the HTTP status and the body text.
    pub fn post_raw(&self, body: impl Into<String>) -> (u16, String) {
        self.post_to(&self.url, body)
    }

    pub fn post_to(&self, url: &str, body: impl Into<String>) -> (u16, String) {
        let mut response = self
            .post(url)
            .send(body.into())
            .expect("HTTP request completes");
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(200 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        (status, text)
    }

    /// A call that tolerates a dead node: `None` on transport failure or JSON-RPC error.
    pub fn try_call(&self, method: &str, params: Value) -> Option<Value> {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let mut response = self.post(&self.url).send(body).ok()?;
        let value: Value =
            serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()?;
        value.get("result").cloned()
    }

    /// The whole JSON-RPC response object.
    pub fn call_raw(&self, method: &str, params: Value) -> Value {
        let (_, text) = self.post_raw(
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
        );
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method}: response is not JSON ({e}): {text}"))
    }

    pub fn call(&self, method: &str, params: Value) -> Value {
        let response = self.call_raw(method, params);
        if let Some(error) = response.get("error") {
            panic!("{method} failed: {error}");
        }
        response["result"].clone()
    }

    pub fn block_number(&self) -> u64 {
        quantity(&self.call("eth_blockNumber", json!([])))
    }

    pub fn send_raw(&self, raw: &str) -> Value {
        self.call_raw("eth_sendRawTransaction", json!([raw]))
    }

    pub fn receipt(&self, hash: B256) -> Option<Value> {
        let receipt = self.call("eth_getTransactionReceipt", json!([hash]));
        (!receipt.is_null()).then_some(receipt)
    }

    pub fn wait_receipt(&self, hash: B256) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(receipt) = self.receipt(hash) {
                return receipt;
            }
            assert!(
                Instant::now() < deadline,
                "no receipt for {hash} within 30s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn balance(&self, address: Address) -> U256 {
        serde_json::from_value(self.call("eth_getBalance", json!([address, "latest"])))
            .expect("balance")
    }
}

pub fn quantity(value: &Value) -> u64 {
    u64::from_str_radix(
        value
            .as_str()
            .expect("hex quantity")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex")
}

/// A signed legacy EIP-155 value transfer; returns its hash and raw hex.
pub fn transfer(key: &DevKey, nonce: u64, to: Address, value: U256) -> (B256, String) {
    signed(
        key,
        TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: 0,
            gas_limit: 21_000,
            to: TxKind::Call(to),
            value,
            input: Bytes::new(),
        },
    )
}

pub fn signed(key: &DevKey, tx: TxLegacy) -> (B256, String) {
    let envelope = sign_transaction(TypedTransaction::Legacy(tx), key.secret());
    (
        *envelope.tx_hash(),
        format!("0x{}", hex::encode(envelope.encoded_2718())),
    )
}

/// Enrolls `keys` as clients of org1 in the network under `data_dir`: org1's CA (on disk, as
/// `ricaas up` wrote it) certifies each key, and org1's admin sends one `enroll` transaction
/// to the membership contract through `rpc`. Returns once the enrollment is in a block; returns
/// that block's number.
pub fn enroll_clients(rpc: &Rpc, data_dir: &Path, keys: &[DevKey]) -> u64 {
    let org1 = ricaas_crypto::ca::CertificateAuthority::read_dir(&data_dir.join("orgs/org1/ca"))
        .expect("org1 CA");
    let admin = DevKey::read(&data_dir.join("keys/org1-admin.key")).expect("org1 admin key");
    let input = org1
        .enroll_clients_call("test-client", keys, 30)
        .expect("certificates");
    let nonce = quantity(&rpc.call(
        "eth_getTransactionCount",
        json!([admin.address(), "pending"]),
    ));
    let (hash, raw) = signed(
        &admin,
        TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: 0,
            gas_limit: 100_000 + 70_000 * keys.len() as u64,
            to: TxKind::Call(ricaas_primitives::system::MEMBERSHIP_ADDRESS),
            value: U256::ZERO,
            input,
        },
    );
    let response = rpc.send_raw(&raw);
    assert!(
        response.get("result").is_some(),
        "enroll refused: {response}"
    );
    let receipt = rpc.wait_receipt(hash);
    assert_eq!(receipt["status"], "0x1", "enroll reverted: {receipt}");
    quantity(&receipt["blockNumber"])
}
