//! Networks as a service, end to end: a tenant creates a BFT network through the platform's
//! API; the platform's reconciler issues the identities, writes the genesis and runs the
//! validators as supervised `ricaas node` processes; the status shows each node as read from
//! the node itself; a node killed with `kill -9` is restarted and the status says so; nodes are
//! stopped and started from the API; another tenant sees nothing of it; and a platform killed
//! with `kill -9` in the middle of creating a network finishes it after a restart without
//! starting any node twice. Every process is stopped by PID when the test ends.

use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// `ricaas platform`, stopped by closing its stdin (it stops its nodes) or killed with `kill -9`.
struct Platform {
    child: Option<Child>,
    base: String,
    data_dir: PathBuf,
}

impl Platform {
    fn start(data_dir: &Path) -> Platform {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ricaas"));
        command
            .args([
                "platform",
                "--listen",
                "127.0.0.1:0",
                "--exit-with-stdin",
                "--data-dir",
            ])
            .arg(data_dir)
            .env_remove("RICAAS_DATABASE_URL")
            // The machine's solcjs releases, installed once for every test that compiles.
            .env("RICAAS_COMPILER_CACHE", ricaas_solc::default_cache_dir())
            .stdin(Stdio::piped());
        let (child, api) = crate::common::start_until_ready(&mut command, "RiCaaS platform API:");
        let base = api
            .and_then(|api| api.strip_suffix("/api/v1").map(str::to_owned))
            .expect("the platform printed its API address");
        Platform {
            child: Some(child),
            base,
            data_dir: data_dir.to_path_buf(),
        }
    }

    fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("reaped");
        }
    }

    fn operator_password(&self) -> String {
        let credentials: Value = serde_json::from_slice(
            &std::fs::read(self.data_dir.join("operator-credentials.json")).expect("credentials"),
        )
        .expect("JSON");
        credentials["password"]
            .as_str()
            .expect("password")
            .to_owned()
    }
}

impl Platform {
    /// Closes its stdin, which stops the platform and the nodes it runs; kills it if it has not
    /// stopped within 30 s.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop();
        // Whatever node is still running (a platform killed with -9 leaves them), by PID.
        for pid in node_pids(&self.data_dir) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// PIDs of the `ricaas node` processes running a configuration under `data_dir`.
fn node_pids(data_dir: &Path) -> Vec<u32> {
    let root = data_dir.join("networks");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (text.contains(" node --config ") && text.contains(root.to_str()?)).then_some(pid)
        })
        .collect()
}

/// How many processes run the configuration at `config`.
fn processes_running(config: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| {
            std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| {
                cmdline
                    .split(|b| *b == 0)
                    .any(|arg| arg == config.as_bytes())
            })
        })
        .count()
}

#[derive(Clone)]
struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(base: &str) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into(),
            base: base.to_owned(),
            token: None,
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/api/v1{path}", self.base);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut response = match (method, body) {
            ("GET", _) => {
                let request = self.agent.get(&url);
                match &auth {
                    Some(a) => request.header("authorization", a).call(),
                    None => request.call(),
                }
            }
            ("DELETE", _) => {
                let request = self.agent.delete(&url);
                match &auth {
                    Some(a) => request.header("authorization", a).call(),
                    None => request.call(),
                }
            }
            (_, body) => {
                let request = self
                    .agent
                    .post(&url)
                    .header("content-type", "application/json");
                let request = match &auth {
                    Some(a) => request.header("authorization", a),
                    None => request,
                };
                request.send(body.unwrap_or(json!({})).to_string())
            }
        }
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None)
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(body))
    }

    fn signed_in(&self, tenant: Option<&str>, name: &str, password: &str) -> Client {
        let mut body = json!({"name": name, "password": password});
        if let Some(tenant) = tenant {
            body["tenant"] = json!(tenant);
        }
        let (status, session) = self.post("/sessions", body);
        assert_eq!(status, 201, "{session}");
        Client {
            token: Some(session["token"].as_str().expect("token").to_owned()),
            ..self.clone()
        }
    }
}

/// A tenant's root, signed in.
fn tenant(platform: &Platform, name: &str) -> Client {
    let anonymous = Client::new(&platform.base);
    let operator = anonymous.signed_in(None, "admin", &platform.operator_password());
    let (status, created) = operator.post("/tenants", json!({"name": name}));
    assert_eq!(status, 201, "{created}");
    anonymous.signed_in(
        Some(name),
        "root",
        created["root"]["password"].as_str().expect("password"),
    )
}

/// Polls `check` on the network until it holds, failing with the last view after `within`.
fn wait_network(
    client: &Client,
    name: &str,
    within: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, network) = client.get(&format!("/networks/{name}"));
        assert_eq!(status, 200, "{network}");
        if check(&network) {
            return network;
        }
        assert!(
            Instant::now() < deadline,
            "network {name} did not reach the expected state within {within:?}: {network:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls the operation until it ends; returns it and every step it was seen at.
fn wait_operation(client: &Client, id: &str, within: Duration) -> (Value, Vec<i64>) {
    let deadline = Instant::now() + within;
    let mut steps = Vec::new();
    loop {
        let (status, operation) = client.get(&format!("/operations/{id}"));
        assert_eq!(status, 200, "{operation}");
        let step = operation["step"].as_i64().expect("step");
        if steps.last() != Some(&step) {
            steps.push(step);
        }
        if matches!(
            operation["status"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            return (operation, steps);
        }
        assert!(
            Instant::now() < deadline,
            "operation {id} still running: {operation:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn all_ready_and_growing(network: &Value, above: i64) -> bool {
    network["nodes"].as_array().is_some_and(|nodes| {
        nodes
            .iter()
            .all(|n| n["ready"] == json!(true) && n["height"].as_i64().is_some_and(|h| h > above))
    })
}

const CREATED_WITHIN: Duration = Duration::from_secs(240);

#[test]
fn a_tenant_creates_a_network_whose_nodes_the_platform_runs_restarts_and_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = Platform::start(&dir.path().join("platform"));
    let acme = tenant(&platform, "acme");
    let other = tenant(&platform, "other");

    // Refused up front, with what to fix.
    let (status, refused) = acme.post("/networks", json!({"name": "ledger", "validators": 40}));
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("validators must be 1 to 16"),
        "{refused}"
    );
    let (status, refused) = acme.post(
        "/networks",
        json!({"name": "ledger", "channel": {"admins": "ALL Bogus"}}),
    );
    assert_eq!(status, 400, "{refused}");

    let (status, operation) = acme.post(
        "/networks",
        json!({"name": "ledger", "validators": 4, "epoch_length": 50, "block_interval_ms": 200}),
    );
    assert_eq!(status, 202, "{operation}");
    assert_eq!(operation["steps"], 4);
    let id = operation["id"].as_str().expect("id").to_owned();
    let (done, steps) = wait_operation(&acme, &id, CREATED_WITHIN);
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["step"], 4);
    assert!(
        steps.len() >= 2,
        "progress was reported step by step: {steps:?}"
    );

    // Four validators of acme, each ready and following the chain (read from the node).
    let network = wait_network(&acme, "ledger", Duration::from_secs(60), |n| {
        n["status"] == "running"
            && all_ready_and_growing(n, 1)
            && n["nodes"]
                .as_array()
                .is_some_and(|nodes| nodes.iter().all(|node| node["peers"] == 3))
    });
    assert_eq!(network["members"][0]["org"], "acme");
    let nodes = network["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 4);
    for node in nodes {
        assert_eq!(node["role"], "validator");
        assert_eq!(node["managed"], true);
        assert_eq!(node["restarts"], 0);
    }
    // The channel is registered for the tenant's identities, and its certificates are in the
    // inventory: an admin and one per node.
    let (_, certificates) = acme.get("/certificates?role=node");
    assert_eq!(certificates["items"].as_array().map(Vec::len), Some(4));

    // kill -9 of a node: the platform restarts it and says so.
    let node_dir = platform
        .data_dir
        .join("networks")
        .join(network["id"].as_str().expect("id"))
        .join("acme-validator1");
    let pid: u32 = std::fs::read_to_string(node_dir.join("node.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill")
            .success()
    );
    // A new process (a new pid), then the status: one restart, how it exited, ready again.
    let read_pid = || -> Option<u32> {
        std::fs::read_to_string(node_dir.join("node.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while read_pid() == Some(pid) {
        assert!(Instant::now() < deadline, "node was not restarted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let respawned_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let network = wait_network(&acme, "ledger", Duration::from_secs(90), |n| {
        let node = &n["nodes"][1];
        node["restarts"] == 1
            && node["ready"] == true
            && node["observed_at"]
                .as_i64()
                .is_some_and(|t| t > respawned_ms)
    });
    assert_eq!(
        network["nodes"][1]["last_exit"], "killed by signal 9",
        "{network:#}"
    );
    let config = node_dir.join("ricaas.toml");
    assert_eq!(processes_running(config.to_str().expect("utf-8")), 1);

    // Stop and start from the API; the log is readable.
    let (status, stopped) = acme.post("/networks/ledger/nodes/acme-validator2/stop", json!({}));
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["desired"], "stopped");
    let config2 = platform
        .data_dir
        .join("networks")
        .join(network["id"].as_str().expect("id"))
        .join("acme-validator2/ricaas.toml");
    assert_eq!(processes_running(config2.to_str().expect("utf-8")), 0);
    wait_network(&acme, "ledger", Duration::from_secs(30), |n| {
        n["nodes"][2]["ready"] == false
    });
    let (status, started) = acme.post("/networks/ledger/nodes/acme-validator2/start", json!({}));
    assert_eq!(status, 200, "{started}");
    let height = network["nodes"][0]["height"].as_i64().unwrap_or(0);
    wait_network(&acme, "ledger", Duration::from_secs(90), |n| {
        all_ready_and_growing(n, height)
    });
    let (status, log) = acme.get("/networks/ledger/nodes/acme-validator0/logs?lines=20");
    assert_eq!(status, 200, "{log}");
    let lines = log["lines"].as_array().expect("lines");
    assert!(!lines.is_empty() && lines.len() <= 20, "{log}");

    // A node acme runs itself, registered by address and certificate: watched, never driven.
    let key = ricaas_crypto::ca::IdentityKey::generate(ricaas_crypto::ca::KeyAlgorithm::Ed25519);
    let spki =
        ricaas_crypto::ca::public_key_pem(&key.public_key_info().expect("spki")).expect("pem");
    let (status, issued) = acme.post(
        "/certificates",
        json!({"common_name": "own-node", "role": "node", "public_key_pem": spki}),
    );
    assert_eq!(status, 201, "{issued}");
    let elsewhere = ricaas_crypto::ca::CertificateAuthority::new_root(
        "acme",
        ricaas_crypto::ca::KeyAlgorithm::P256,
        30,
    )
    .expect("CA");
    let foreign = elsewhere
        .issue(
            "own-node",
            ricaas_crypto::ca::Role::Node,
            key.public_key_info().expect("spki"),
            30,
        )
        .expect("certificate");
    let own_url = network["nodes"][0]["rpc_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let registration = |certificate: &str| json!({"name": "own-node", "role": "observer", "rpc_url": own_url, "certificate_pem": certificate});
    let (status, refused) = acme.post(
        "/networks/ledger/nodes",
        registration(&ricaas_crypto::ca::certificate_pem(&foreign).expect("pem")),
    );
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not a valid identity of your organization"),
        "{refused}"
    );
    let (status, registered) = acme.post(
        "/networks/ledger/nodes",
        registration(issued["certificate_pem"].as_str().expect("pem")),
    );
    assert_eq!(status, 201, "{registered}");
    assert_eq!(registered["managed"], false);
    wait_network(&acme, "ledger", Duration::from_secs(30), |n| {
        n["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|node| node["name"] == "own-node"))
            .is_some_and(|node| node["ready"] == true && node["height"].is_i64())
    });
    let (status, _) = acme.post("/networks/ledger/nodes/own-node/stop", json!({}));
    assert_eq!(
        status, 409,
        "the platform does not drive a node it does not run"
    );
    let (status, _) = acme.send("DELETE", "/networks/ledger/nodes/own-node", None);
    assert_eq!(status, 204);
    // Removing a validator the platform runs is a governance proposal (acme, the only member,
    // approves it by proposing); the node keeps voting until the next epoch runs without it,
    // then the platform stops and deletes it and the three others go on.
    let (status, proposed) = acme.send("DELETE", "/networks/ledger/nodes/acme-validator0", None);
    assert_eq!(status, 202, "{proposed}");
    assert_eq!(proposed["kind"], "remove_validator", "{proposed}");
    assert_eq!(proposed["waiting_for"], json!([]), "{proposed}");
    let network = wait_network(&acme, "ledger", Duration::from_secs(120), |n| {
        n["nodes"].as_array().is_some_and(|nodes| {
            nodes.len() == 3 && nodes.iter().all(|node| node["name"] != "acme-validator0")
        })
    });
    let left_at = network["nodes"][0]["height"].as_i64().unwrap_or_default();
    wait_network(&acme, "ledger", Duration::from_secs(60), |n| {
        all_ready_and_growing(n, left_at + 3)
    });

    // Another tenant: the network does not exist for it, nor its nodes or operation.
    let (status, refused) = other.get("/networks/ledger");
    assert_eq!(status, 404, "{refused}");
    let (status, _) = other.post("/networks/ledger/nodes/acme-validator0/stop", json!({}));
    assert_eq!(status, 404);
    let (status, _) = other.get(&format!("/operations/{id}"));
    assert_eq!(status, 404);
    let (_, listed) = other.get("/networks");
    assert_eq!(listed, json!([]));
    // Names are unique on the platform.
    let (status, refused) = other.post("/networks", json!({"name": "ledger", "validators": 1}));
    assert_eq!(status, 409, "{refused}");
}

#[test]
fn a_platform_killed_while_creating_a_network_finishes_it_after_a_restart_without_duplicate_nodes()
{
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("platform");
    let mut platform = Platform::start(&data_dir);
    let acme = tenant(&platform, "acme");
    let (status, operation) = acme.post("/networks", json!({"name": "resumed", "validators": 4}));
    assert_eq!(status, 202, "{operation}");
    let id = operation["id"].as_str().expect("id").to_owned();
    // Kill the platform once the nodes are being started.
    let deadline = Instant::now() + CREATED_WITHIN;
    loop {
        let (_, operation) = acme.get(&format!("/operations/{id}"));
        if operation["step"].as_i64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never reached the start step: {operation:#}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    platform.kill_9();
    let restarted = Platform::start(&data_dir);
    let acme = Client {
        base: restarted.base.clone(),
        ..acme
    };
    let (done, _) = wait_operation(&acme, &id, CREATED_WITHIN);
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert!(done["attempts"].as_i64().unwrap_or(0) >= 2, "{done:#}");
    let network = wait_network(&acme, "resumed", Duration::from_secs(90), |n| {
        all_ready_and_growing(n, 1)
    });
    let root = data_dir
        .join("networks")
        .join(network["id"].as_str().expect("id"));
    for node in network["nodes"].as_array().expect("nodes") {
        let config = root
            .join(node["name"].as_str().expect("name"))
            .join("ricaas.toml");
        assert_eq!(
            processes_running(config.to_str().expect("utf-8")),
            1,
            "{}",
            config.display()
        );
    }
    let mut restarted = restarted;
    restarted.stop();
    // Stopping the platform stops its nodes.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !node_pids(&data_dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "nodes still running after the platform stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls the tenant's invitations until the one with `id` has `status`.
fn wait_invitation(client: &Client, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (code, invitations) = client.get("/invitations");
        assert_eq!(code, 200, "{invitations}");
        let found = invitations
            .as_array()
            .and_then(|all| all.iter().find(|i| i["id"] == id).cloned())
            .unwrap_or(Value::Null);
        if found["status"] == status {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "invitation {id} never became {status}: {found:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn organizations_join_a_network_by_invitation_acceptance_proposal_and_votes_each_from_its_own_account()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = Platform::start(&dir.path().join("platform"));
    let acme = tenant(&platform, "acme");
    let globex = tenant(&platform, "globex");
    let initech = tenant(&platform, "initech");
    let (status, operation) = acme.post(
        "/networks",
        json!({"name": "consortium", "validators": 1, "block_interval_ms": 200, "epoch_length": 10}),
    );
    assert_eq!(status, 202, "{operation}");
    let (done, _) = wait_operation(&acme, operation["id"].as_str().expect("id"), CREATED_WITHIN);
    assert_eq!(done["status"], "succeeded", "{done:#}");

    // acme invites globex; globex sees it in its inbox and accepts from its own account.
    let (status, refused) = acme.post(
        "/networks/consortium/invitations",
        json!({"tenant": "nobody-here"}),
    );
    assert_eq!(status, 400, "{refused}");
    let (status, invitation) = acme.post(
        "/networks/consortium/invitations",
        json!({"tenant": "globex", "message": "Join our trade-finance ledger"}),
    );
    assert_eq!(status, 201, "{invitation}");
    let first = invitation["id"].as_str().expect("id").to_owned();
    let (status, again) = acme.post(
        "/networks/consortium/invitations",
        json!({"tenant": "globex"}),
    );
    assert_eq!(status, 409, "{again}");
    let (_, inbox) = globex.get("/invitations");
    assert_eq!(inbox[0]["direction"], "received", "{inbox}");
    assert_eq!(inbox[0]["status"], "pending");
    assert_eq!(inbox[0]["message"], "Join our trade-finance ledger");
    // Nobody else answers for globex, and the inviter cannot either.
    let (status, _) = initech.post(&format!("/invitations/{first}/accept"), json!({}));
    assert_eq!(status, 404);
    let (status, _) = acme.post(&format!("/invitations/{first}/accept"), json!({}));
    assert_eq!(status, 409);
    let (status, accepted) = globex.post(&format!("/invitations/{first}/accept"), json!({}));
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["org"], "globex");
    // It cannot propose itself: a member does, signed by its own admin key (its vote).
    let (status, refused) = globex.post(&format!("/invitations/{first}/proposals"), json!({}));
    assert_eq!(status, 409, "{refused}");
    let (status, proposed) = acme.post(&format!("/invitations/{first}/proposals"), json!({}));
    assert_eq!(status, 201, "{proposed}");
    assert!(proposed["proposal_id"].is_i64(), "{proposed}");
    // acme alone is a majority of one: the change applies, globex is a member.
    wait_invitation(&acme, &first, "joined");
    let network = wait_network(&globex, "consortium", Duration::from_secs(30), |n| {
        n["members"].as_array().is_some_and(|m| m.len() == 2)
    });
    assert_eq!(network["members"][1]["org"], "globex", "{network:#}");

    let votes_sent = |url: &str| -> f64 {
        let Ok(mut response) = ureq::get(&format!("{url}/metrics")).call() else {
            return 0.0;
        };
        let text = response.body_mut().read_to_string().unwrap_or_default();
        text.lines()
            .filter(|l| {
                l.contains("voter_outbound_messages_total") && l.contains("message=\"Finalize\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    // globex adds a validator of its own: the platform runs it (it follows the chain at once),
    // globex's proposal waits for acme's vote, and from the next epoch the node votes.
    let (status, added) = globex.post("/networks/consortium/validators", json!({}));
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["node"]["org"], "globex");
    assert_eq!(added["proposal"]["kind"], "add_validator");
    assert_eq!(
        added["proposal"]["waiting_for"],
        json!(["acme"]),
        "{added:#}"
    );
    let node_url = added["node"]["rpc_url"]
        .as_str()
        .expect("rpc url")
        .to_owned();
    let id = added["proposal"]["id"].as_u64().expect("id");
    // Not a validator before the vote: it cannot sign a vote.
    assert_eq!(votes_sent(&node_url), 0.0);
    let (status, voted) = acme.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({}),
    );
    assert_eq!(status, 201, "{voted}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while votes_sent(&node_url) == 0.0 {
        assert!(Instant::now() < deadline, "globex's validator never voted");
        std::thread::sleep(Duration::from_millis(250));
    }
    let network = wait_network(&acme, "consortium", Duration::from_secs(60), |n| {
        n["nodes"].as_array().is_some_and(|nodes| {
            nodes.len() == 2
                && nodes.iter().all(|node| {
                    node["ready"] == true && node["lag"].as_i64().is_some_and(|l| l <= 2)
                })
        })
    });
    assert_eq!(network["nodes"][1]["org"], "globex", "{network:#}");

    // globex adds an observer: listed on chain by its own admin key (no vote), it catches up
    // and follows; acme cannot remove it; globex removes it (unlisted, stopped, deleted).
    let (status, refused) = globex.post(
        "/networks/consortium/observers",
        json!({"admin_key": "no-such-key"}),
    );
    assert_eq!(status, 404, "{refused}");
    let (status, observer) = globex.post("/networks/consortium/observers", json!({}));
    assert_eq!(status, 201, "{observer}");
    assert_eq!(observer["role"], "observer");
    assert_eq!(observer["name"], "globex-observer0");
    let network = wait_network(&globex, "consortium", Duration::from_secs(120), |n| {
        n["nodes"].as_array().is_some_and(|nodes| {
            nodes.iter().any(|node| {
                node["role"] == "observer"
                    && node["ready"] == true
                    && node["height"].as_i64().is_some_and(|h| h > 10)
                    && node["lag"].as_i64().is_some_and(|l| l <= 2)
            })
        })
    });
    assert_eq!(
        network["nodes"].as_array().map(Vec::len),
        Some(3),
        "{network:#}"
    );
    let observer_url = observer["rpc_url"].as_str().expect("rpc url").to_owned();
    assert_eq!(votes_sent(&observer_url), 0.0, "an observer never votes");
    let (status, refused) = acme.send(
        "DELETE",
        "/networks/consortium/nodes/globex-observer0",
        None,
    );
    assert_eq!(status, 409, "{refused}");
    let (status, removed) = globex.send(
        "DELETE",
        "/networks/consortium/nodes/globex-observer0",
        None,
    );
    assert_eq!(status, 204, "{removed}");
    let (_, network) = globex.get("/networks/consortium");
    assert!(
        network["nodes"]
            .as_array()
            .is_some_and(|nodes| nodes.iter().all(|n| n["role"] != "observer")),
        "{network:#}"
    );
    assert!(
        ureq::get(&format!("{observer_url}/health")).call().is_err(),
        "the removed observer still answers"
    );

    // A channel proposed by acme, approved by globex from its own account: then both
    // organizations' validators join it and it makes blocks (two validators: both must run it).
    let (status, refused) = acme.post(
        "/networks/consortium/channels",
        json!({"name": "letters", "members": ["acme", "umbrella"]}),
    );
    assert_eq!(status, 400, "{refused}");
    let (status, proposed) = acme.post(
        "/networks/consortium/channels",
        json!({"name": "letters", "members": ["globex"], "writers": "ANY Admins"}),
    );
    assert_eq!(status, 201, "{proposed}");
    assert_eq!(proposed["status"], "approving", "{proposed:#}");
    assert_eq!(proposed["approvals"], json!(["acme"]));
    assert_eq!(proposed["waiting_for"], json!(["globex"]));
    assert_eq!(
        proposed["validators"],
        json!(["acme-validator0", "globex-validator0"])
    );
    let (status, twice) = acme.post("/networks/consortium/channels/letters/approvals", json!({}));
    assert_eq!(status, 409, "{twice}");
    let (status, outsider) =
        initech.post("/networks/consortium/channels/letters/approvals", json!({}));
    assert_eq!(status, 404, "{outsider}");
    let (status, approved) =
        globex.post("/networks/consortium/channels/letters/approvals", json!({}));
    assert_eq!(status, 201, "{approved}");
    assert_eq!(approved["approvals"], json!(["acme", "globex"]));
    assert_eq!(approved["status"], "running", "{approved:#}");
    assert_eq!(
        approved["joined"],
        json!(["acme-validator0", "globex-validator0"])
    );
    let channel_height = |url: &str| -> i64 {
        ureq::get(&format!("{url}/ready"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|ready| {
                ready["channels"]
                    .as_array()?
                    .iter()
                    .find(|c| c["name"] == "letters")?["height"]
                    .as_i64()
            })
            .unwrap_or(-1)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while channel_height(&node_url) < 3 {
        assert!(Instant::now() < deadline, "channel letters makes no blocks");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, channels) = globex.get("/networks/consortium/channels");
    assert_eq!(status, 200, "{channels}");
    let names: Vec<&str> = channels
        .as_array()
        .expect("channels")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["default", "letters"]);
    assert_eq!(channels[1]["policies"]["writers"], "ANY Admins");
    assert_eq!(channels[0]["members"], json!(["acme", "globex"]));
    assert_eq!(
        channels[0]["validators"],
        json!(["acme-validator0", "globex-validator0"])
    );

    // A policy change of the new channel is a proposal on that channel, voted the same way;
    // the first channel's policies do not move.
    let (status, change) = acme.post(
        "/networks/consortium/proposals",
        json!({"channel": "letters", "change": {"kind": "set_policy", "policy": "writers", "text": "ANY Members"}}),
    );
    assert_eq!(status, 201, "{change}");
    assert_eq!(change["waiting_for"], json!(["globex"]), "{change:#}");
    let id = change["id"].as_u64().expect("id");
    let (status, listed) = globex.get("/networks/consortium/proposals?channel=letters");
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed[0]["id"], id, "{listed:#}");
    assert_eq!(listed[0]["kind"], "set_policy");
    let (status, voted) = globex.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({"channel": "letters"}),
    );
    assert_eq!(status, 201, "{voted}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, channels) = acme.get("/networks/consortium/channels");
        if channels[1]["policies"]["writers"] == "ANY Members" {
            assert_eq!(channels[0]["policies"]["writers"], "ANY Members");
            assert_eq!(channels[0]["policies"]["contract_deployers"], "ANY Members");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the policy change of letters never applied: {channels:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let (status, unknown) = acme.get("/networks/consortium/proposals?channel=nowhere");
    assert_eq!(status, 404, "{unknown}");

    // Now a majority of two is both: initech's join needs globex's vote as well.
    let (_, invitation) = acme.post(
        "/networks/consortium/invitations",
        json!({"tenant": "initech"}),
    );
    let second = invitation["id"].as_str().expect("id").to_owned();
    let (status, _) = initech.post(&format!("/invitations/{second}/accept"), json!({}));
    assert_eq!(status, 200);
    let (status, proposed) = acme.post(&format!("/invitations/{second}/proposals"), json!({}));
    assert_eq!(status, 201, "{proposed}");
    let id = proposed["proposal_id"].as_i64().expect("proposal id");
    let (status, proposals) = globex.get("/networks/consortium/proposals");
    assert_eq!(status, 200, "{proposals}");
    let pending = proposals
        .as_array()
        .and_then(|all| all.iter().find(|p| p["id"] == id).cloned())
        .expect("the proposal is listed");
    assert_eq!(pending["kind"], "add_org");
    assert_eq!(pending["status"], "voting", "{pending:#}");
    assert_eq!(pending["approvals"], json!(["acme"]));
    assert_eq!(pending["waiting_for"], json!(["globex"]));
    assert!(pending["expires_at"].is_u64(), "{pending:#}");
    // A tenant outside the network cannot vote in it; a member cannot vote twice.
    let (status, _) = initech.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({}),
    );
    assert_eq!(status, 404);
    let (status, twice) = acme.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({}),
    );
    assert_eq!(status, 409, "{twice}");
    assert!(
        twice["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already voted"),
        "{twice}"
    );
    let (status, voted) = globex.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({}),
    );
    assert_eq!(status, 201, "{voted}");
    assert_eq!(voted["approvals"], json!(["acme", "globex"]), "{voted:#}");
    wait_invitation(&initech, &second, "joined");
    let network = wait_network(&initech, "consortium", Duration::from_secs(30), |n| {
        n["members"].as_array().is_some_and(|m| m.len() == 3)
    });
    let orgs: Vec<&str> = network["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["org"].as_str())
        .collect();
    assert_eq!(orgs, ["acme", "globex", "initech"]);

    // Removing an organization works the same way: proposed by one member, voted by another
    // (a majority of three is two); once it applies, initech is no longer a member.
    let (status, refused) = acme.post(
        "/networks/consortium/proposals",
        json!({"change": {"kind": "remove_org", "name": "umbrella"}}),
    );
    assert_eq!(status, 400, "{refused}");
    let (status, removal) = acme.post(
        "/networks/consortium/proposals",
        json!({"change": {"kind": "remove_org", "name": "initech"}}),
    );
    assert_eq!(status, 201, "{removal}");
    assert_eq!(
        removal["waiting_for"],
        json!(["globex", "initech"]),
        "{removal:#}"
    );
    let id = removal["id"].as_u64().expect("id");
    let (status, voted) = globex.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({}),
    );
    assert_eq!(status, 201, "{voted}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while initech.get("/networks/consortium").0 != 404 {
        assert!(Instant::now() < deadline, "initech is still a member");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A policy change, voted the same way, shows in the network's settings once it applies.
    let (status, change) = acme.post(
        "/networks/consortium/proposals",
        json!({"change": {"kind": "set_policy", "policy": "contract_deployers", "text": "ANY Admins"}}),
    );
    assert_eq!(status, 201, "{change}");
    let id = change["id"].as_u64().expect("id");
    let (status, _) = globex.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({}),
    );
    assert_eq!(status, 201);
    wait_network(&acme, "consortium", Duration::from_secs(60), |n| {
        n["spec"]["channel"]["contract_deployers"] == "ANY Admins"
    });

    // globex takes its validator out. It also validates letters, so removing it from the
    // network first would cost letters a voter without a vote: refused, saying where to start.
    let (status, refused) = globex.send(
        "DELETE",
        "/networks/consortium/nodes/globex-validator0",
        None,
    );
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("also validates channel letters"),
        "{refused}"
    );
    let (status, refused) = acme.post(
        "/networks/consortium/proposals",
        json!({"change": {"kind": "remove_validator", "node": "globex-observer9"}}),
    );
    assert_eq!(status, 404, "{refused}");
    let (status, leave) = globex.post(
        "/networks/consortium/proposals",
        json!({"channel": "letters", "change": {"kind": "remove_validator", "node": "globex-validator0"}}),
    );
    assert_eq!(status, 201, "{leave}");
    let id = leave["id"].as_u64().expect("id");
    let (status, _) = acme.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({"channel": "letters"}),
    );
    assert_eq!(status, 201);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, channels) = acme.get("/networks/consortium/channels");
        if channels[1]["validators"] == json!(["acme-validator0"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "globex-validator0 never left letters: {channels:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Now from the network: a proposal signed by globex (its vote), voted by acme; the node
    // keeps voting until the next epoch runs without it, then the platform stops and deletes
    // it, and the chain goes on with acme's validator.
    let (status, proposed) = globex.send(
        "DELETE",
        "/networks/consortium/nodes/globex-validator0",
        None,
    );
    assert_eq!(status, 202, "{proposed}");
    assert_eq!(proposed["kind"], "remove_validator");
    assert_eq!(proposed["change"]["node"], "globex-validator0");
    assert_eq!(proposed["waiting_for"], json!(["acme"]), "{proposed:#}");
    let (status, again) = globex.send(
        "DELETE",
        "/networks/consortium/nodes/globex-validator0",
        None,
    );
    assert_eq!(status, 409, "{again}");
    let id = proposed["id"].as_u64().expect("id");
    let (status, _) = acme.post(
        &format!("/networks/consortium/proposals/{id}/votes"),
        json!({}),
    );
    assert_eq!(status, 201);
    let network = wait_network(&acme, "consortium", Duration::from_secs(90), |n| {
        n["nodes"]
            .as_array()
            .is_some_and(|nodes| nodes.len() == 1 && nodes[0]["name"] == "acme-validator0")
    });
    let left_at = network["nodes"][0]["height"].as_i64().expect("height");
    assert!(
        ureq::get(&format!("{node_url}/health")).call().is_err(),
        "the removed validator still answers"
    );
    wait_network(&acme, "consortium", Duration::from_secs(30), |n| {
        n["nodes"][0]["height"]
            .as_i64()
            .is_some_and(|h| h > left_at + 5)
    });
    let (_, channels) = acme.get("/networks/consortium/channels");
    assert_eq!(
        channels[0]["validators"],
        json!(["acme-validator0"]),
        "{channels:#}"
    );
}

/// Creation code of a counter: each call adds one to slot 0 and returns it.
const COUNTER: &str = "0x6012600c60003960126000f3600054600101806000556000526020 6000f3";

#[test]
fn a_contract_is_deployed_once_every_member_approves_and_frozen_by_vote_each_from_its_own_account()
{
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = Platform::start(&dir.path().join("platform"));
    let acme = tenant(&platform, "acme");
    let globex = tenant(&platform, "globex");
    let initech = tenant(&platform, "initech");
    let (status, operation) = acme.post(
        "/networks",
        json!({"name": "ledger", "validators": 1, "block_interval_ms": 200, "epoch_length": 10}),
    );
    assert_eq!(status, 202, "{operation}");
    let (done, _) = wait_operation(&acme, operation["id"].as_str().expect("id"), CREATED_WITHIN);
    assert_eq!(done["status"], "succeeded", "{done:#}");
    let (_, invitation) = acme.post("/networks/ledger/invitations", json!({"tenant": "globex"}));
    let id = invitation["id"].as_str().expect("id").to_owned();
    assert_eq!(
        globex
            .post(&format!("/invitations/{id}/accept"), json!({}))
            .0,
        200
    );
    assert_eq!(
        acme.post(&format!("/invitations/{id}/proposals"), json!({}))
            .0,
        201
    );
    wait_invitation(&acme, &id, "joined");

    let counter = COUNTER.replace(' ', "");
    let abi = json!([{"type": "fallback", "stateMutability": "nonpayable"}]);
    // Bad input is refused with what to fix; an outsider sees no network.
    for (body, expected) in [
        (
            json!({"name": "counter", "bytecode": "0xzz", "abi": abi}),
            "bytecode must be",
        ),
        (
            json!({"name": "counter", "bytecode": counter, "abi": {"not": "a list"}}),
            "abi must be a JSON array",
        ),
        (
            json!({"name": "no spaces", "bytecode": counter, "abi": abi}),
            "must be 1 to 64 letters",
        ),
    ] {
        let (status, refused) = acme.post("/networks/ledger/contracts", body);
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{refused}"
        );
    }
    let (status, _) = initech.post(
        "/networks/ledger/contracts",
        json!({"name": "counter", "bytecode": counter, "abi": abi}),
    );
    assert_eq!(status, 404);

    // acme proposes (its vote); MAJORITY of two needs globex too.
    let (status, proposed) = acme.post(
        "/networks/ledger/contracts",
        json!({"name": "counter", "bytecode": counter, "abi": abi, "compiler": "hand-written"}),
    );
    assert_eq!(status, 201, "{proposed}");
    assert_eq!(proposed["kind"], "contract_deploy");
    assert_eq!(proposed["waiting_for"], json!(["globex"]), "{proposed:#}");
    let (status, again) = acme.post(
        "/networks/ledger/contracts",
        json!({"name": "counter", "bytecode": counter, "abi": abi}),
    );
    assert_eq!(status, 409, "{again}");
    let (status, listed) = globex.get("/networks/ledger/contracts");
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed[0]["name"], "counter");
    assert_eq!(listed[0]["state"], "proposed", "{listed:#}");
    let vote = proposed["id"].as_u64().expect("id");
    let (status, voted) = globex.post(
        &format!("/networks/ledger/proposals/{vote}/votes"),
        json!({}),
    );
    assert_eq!(status, 201, "{voted}");

    // The platform creates it with acme's key; the registry holds it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let address = loop {
        let (_, listed) = acme.get("/networks/ledger/contracts");
        if listed[0]["state"] == "normal" {
            break listed[0]["address"].as_str().expect("address").to_owned();
        }
        assert!(Instant::now() < deadline, "never deployed: {listed:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let (status, record) = globex.get("/networks/ledger/contracts/counter");
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["address"], address.as_str());
    assert_eq!(record["versions"][0]["abi"], abi);
    assert_eq!(record["versions"][0]["compiler"], "hand-written");
    let (status, _) = globex.get("/networks/ledger/contracts/nothing");
    assert_eq!(status, 404);

    // globex proposes a freeze, acme approves it: the registry says since which height.
    let (status, refused) = globex.post(
        "/networks/ledger/contracts/counter/proposals",
        json!({"action": "unfreeze"}),
    );
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is not frozen"),
        "{refused}"
    );
    let (status, freeze) = globex.post(
        "/networks/ledger/contracts/counter/proposals",
        json!({"action": "freeze"}),
    );
    assert_eq!(status, 201, "{freeze}");
    assert_eq!(freeze["kind"], "contract_freeze");
    assert_eq!(freeze["waiting_for"], json!(["acme"]));
    let id = freeze["id"].as_u64().expect("id");
    assert_eq!(
        acme.post(&format!("/networks/ledger/proposals/{id}/votes"), json!({}))
            .0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, listed) = acme.get("/networks/ledger/contracts");
        if listed[0]["state"] == "frozen" {
            assert!(listed[0]["since"].is_u64(), "{listed:#}");
            break;
        }
        assert!(Instant::now() < deadline, "never frozen: {listed:#}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Unfrozen, then upgraded to code that adds ten: same address, a second version.
    let (_, unfreeze) = acme.post(
        "/networks/ledger/contracts/counter/proposals",
        json!({"action": "unfreeze"}),
    );
    let id = unfreeze["id"].as_u64().expect("id");
    assert_eq!(
        globex
            .post(&format!("/networks/ledger/proposals/{id}/votes"), json!({}))
            .0,
        201
    );
    let (status, refused) = acme.post(
        "/networks/ledger/contracts/counter/proposals",
        json!({"action": "upgrade", "bytecode": "0x", "abi": abi}),
    );
    assert_eq!(status, 400, "{refused}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let upgrade = loop {
        let (status, upgrade) = acme.post(
            "/networks/ledger/contracts/counter/proposals",
            json!({"action": "upgrade", "bytecode": "0x600054600a01806000556000526020 6000f3".replace(' ', ""), "abi": abi, "compiler": "hand-written v2"}),
        );
        // Refused while the unfreeze has not applied yet ("unfreeze it first").
        if status == 201 {
            break upgrade;
        }
        assert!(Instant::now() < deadline, "never upgradable: {upgrade}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(upgrade["kind"], "contract_upgrade");
    let id = upgrade["id"].as_u64().expect("id");
    assert_eq!(
        globex
            .post(&format!("/networks/ledger/proposals/{id}/votes"), json!({}))
            .0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, record) = globex.get("/networks/ledger/contracts/counter");
        if record["versions"].as_array().map(Vec::len) == Some(2) {
            assert_eq!(record["address"], address.as_str());
            assert_eq!(record["versions"][1]["compiler"], "hand-written v2");
            assert_eq!(record["state"], "normal");
            break;
        }
        assert!(Instant::now() < deadline, "never upgraded: {record:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A contract is registered once: its address under another name is refused by the chain.
    let (status, refused) = globex.post(
        "/networks/ledger/contracts/other-name/proposals",
        json!({"action": "register", "address": address, "abi": abi}),
    );
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already registered as contract counter"),
        "{refused}"
    );
    let (status, refused) = globex.post(
        "/networks/ledger/contracts/other-name/proposals",
        json!({"action": "register", "address": "nowhere", "abi": abi}),
    );
    assert_eq!(status, 400, "{refused}");

    // The gateway: an ERC-20 (compiled with solc from tests/e2e/contracts/Token.sol), deployed
    // the same way, then called through REST endpoints generated from its ABI.
    let token: Value =
        serde_json::from_str(include_str!("fixtures/token.json")).expect("token fixture");
    let arguments = alloy_sol_types::SolValue::abi_encode_params(&(
        "Ledger Token".to_string(),
        "LT".to_string(),
        alloy_primitives::U256::from(1_000_000u64),
    ));
    let bytecode = format!(
        "{}{}",
        token["bytecode"].as_str().expect("bytecode"),
        hex::encode(arguments)
    );
    let (status, proposed) = acme.post(
        "/networks/ledger/contracts",
        json!({"name": "token", "bytecode": bytecode, "abi": token["abi"], "compiler": token["compiler"]}),
    );
    assert_eq!(status, 201, "{proposed}");
    let id = proposed["id"].as_u64().expect("id");
    assert_eq!(
        globex
            .post(&format!("/networks/ledger/proposals/{id}/votes"), json!({}))
            .0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while globex
        .post(
            "/networks/ledger/contracts/token/query/totalSupply",
            json!({}),
        )
        .0
        != 200
    {
        assert!(Instant::now() < deadline, "the token was never created");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, supply) = globex.post(
        "/networks/ledger/contracts/token/query/totalSupply",
        json!({}),
    );
    assert_eq!(supply, json!(["1000000"]));
    let (_, name) = acme.post(
        "/networks/ledger/contracts/token/query/name",
        json!({"args": []}),
    );
    assert_eq!(name, json!(["Ledger Token"]));
    // acme's admin key created it and holds the supply; it sends 250 to a new address.
    let to = "0x00000000000000000000000000000000000000aa";
    let (status, sent) = acme.post(
        "/networks/ledger/contracts/token/invoke/transfer?confirm=true",
        json!({"args": {"to": to, "value": "250"}}),
    );
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["status"], "succeeded", "{sent:#}");
    assert_eq!(sent["events"][0]["event"], "Transfer", "{sent:#}");
    assert_eq!(sent["events"][0]["args"]["value"], "250");
    assert_eq!(
        sent["events"][0]["args"]["to"]
            .as_str()
            .map(str::to_lowercase),
        Some(to.to_string())
    );
    let (_, balance) = globex.post(
        "/networks/ledger/contracts/token/query/balanceOf",
        json!({"args": [to]}),
    );
    assert_eq!(balance, json!(["250"]));
    // Without ?confirm it answers at once with the transaction hash.
    let (status, submitted) = acme.post(
        "/networks/ledger/contracts/token/invoke/transfer",
        json!({"args": [to, 1]}),
    );
    assert_eq!(status, 202, "{submitted}");
    assert_eq!(submitted["status"], "submitted");
    // Concurrent invocations signed by one key take consecutive nonces: every one is admitted
    // (none refused as a reused nonce) and every one is committed.
    let concurrent: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..12)
            .map(|_| {
                scope.spawn(|| {
                    acme.post(
                        "/networks/ledger/contracts/token/invoke/transfer",
                        json!({"args": [to, 1]}),
                    )
                })
            })
            .collect();
        calls
            .into_iter()
            .map(|c| c.join().expect("thread"))
            .collect()
    });
    for (status, body) in &concurrent {
        assert_eq!(*status, 202, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, balance) = globex.post(
            "/networks/ledger/contracts/token/query/balanceOf",
            json!({"args": [to]}),
        );
        if balance == json!(["263"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "balance {balance}: not all 13 transfers of 1 committed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Each answer is a stored invocation: read back with its outcome, listed newest first in
    // pages, and not visible to another organization.
    let id = submitted["id"].as_str().expect("invocation id");
    assert!(id.starts_with("inv_"), "{submitted}");
    let (status, settled) = acme.get(&format!(
        "/networks/ledger/contracts/token/invocations/{id}"
    ));
    assert_eq!(status, 200, "{settled}");
    assert_eq!(settled["status"], "succeeded", "{settled:#}");
    assert_eq!(settled["method"], "transfer");
    assert_eq!(settled["events"][0]["event"], "Transfer", "{settled:#}");
    assert!(settled["block_number"].as_u64().is_some());
    let (status, page) = acme.get("/networks/ledger/contracts/token/invocations?limit=5");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(5));
    let next = page["next"].as_str().expect("a next page");
    let (_, rest) = acme.get(&format!(
        "/networks/ledger/contracts/token/invocations?limit=100&after={next}"
    ));
    // 1 confirmed + 1 submitted + 12 concurrent = 14, none shown twice.
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(9), "{rest}");
    assert!(rest["next"].is_null());
    let (status, _) = globex.get(&format!(
        "/networks/ledger/contracts/token/invocations/{id}"
    ));
    assert_eq!(status, 404);
    // globex holds no tokens: its transfer reverts, and the reason comes back.
    let (status, reverted) = globex.post(
        "/networks/ledger/contracts/token/invoke/transfer?confirm=true",
        json!({"args": [to, 5]}),
    );
    assert_eq!(status, 200, "{reverted}");
    assert_eq!(reverted["status"], "reverted", "{reverted:#}");
    assert!(
        reverted["revert_reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{reverted:#}"
    );
    // Arguments that do not fit the ABI are refused before anything is signed.
    for (args, expected) in [
        (
            json!([to]),
            "takes 2 arguments (address to, uint256 value), not 1",
        ),
        (json!([to, "-5"]), "argument 2 (value), a uint256"),
        (json!(["not-an-address", 1]), "argument 1 (to), a address"),
        (json!({"to": to, "amount": 1}), "no parameter \"amount\""),
    ] {
        let (status, refused) = acme.post(
            "/networks/ledger/contracts/token/invoke/transfer",
            json!({"args": args}),
        );
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{expected}: {refused}"
        );
    }
    let (status, _) = acme.post("/networks/ledger/contracts/token/invoke/mint", json!({}));
    assert_eq!(status, 404);
    // Another tenant's key is not the caller's; an outsider sees no network.
    let (status, _) = globex.post(
        "/networks/ledger/contracts/token/invoke/transfer",
        json!({"args": [to, 1], "key": "no-such-key"}),
    );
    assert_eq!(status, 404);
    let (status, _) = initech.post(
        "/networks/ledger/contracts/token/query/totalSupply",
        json!({}),
    );
    assert_eq!(status, 404);
    // Its own OpenAPI document: a path per function.
    let (status, document) = globex.get("/networks/ledger/contracts/token/openapi.json");
    assert_eq!(status, 200, "{document}");
    assert!(document["paths"]["/api/v1/networks/ledger/contracts/token/invoke/transfer(address,uint256)"]["post"].is_object(), "{document:#}");
    assert!(document["paths"]["/api/v1/networks/ledger/contracts/token/query/balanceOf(address)"]["post"].is_object());
    // A frozen contract's calls are refused saying so.
    let (status, freeze) = globex.post(
        "/networks/ledger/contracts/token/proposals",
        json!({"action": "freeze"}),
    );
    assert_eq!(status, 201, "{freeze}");
    let id = freeze["id"].as_u64().expect("id");
    assert_eq!(
        acme.post(&format!("/networks/ledger/proposals/{id}/votes"), json!({}))
            .0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, refused) = acme.post(
            "/networks/ledger/contracts/token/invoke/transfer?confirm=true",
            json!({"args": [to, 1]}),
        );
        if refused["status"] == "reverted" {
            assert_eq!(status, 200);
            assert!(
                refused["revert_reason"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("is frozen since height"),
                "{refused:#}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never refused: {refused:#}");
        std::thread::sleep(Duration::from_millis(200));
    }

    security_gate_refuses_unreviewed_versions(&acme, &globex, &initech);
}

const BANK: &str = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\ncontract Bank {\n    mapping(address => uint256) balances;\n    function deposit() external payable { balances[msg.sender] += msg.value; }\n    function withdraw() external {\n        (bool ok, ) = msg.sender.call{value: balances[msg.sender]}(\"\");\n        require(ok);\n        balances[msg.sender] = 0;\n    }\n}\n";

/// The members vote `deploy_security_gate` 1 on `ledger`: a deployment without a report, with
/// code the report did not build, or with an unresolved high finding is refused saying why; once
/// the finding is resolved with a reason the deployment is proposed with its report hash, which
/// the other member reads (reason included) before voting, and the registry records it.
fn security_gate_refuses_unreviewed_versions(acme: &Client, globex: &Client, initech: &Client) {
    let (status, proposed) = acme.post(
        "/networks/ledger/proposals",
        json!({"change": {"kind": "set_parameter", "name": "deploy_security_gate", "value": 1}}),
    );
    assert_eq!(status, 201, "{proposed}");
    let id = proposed["id"].as_u64().expect("id");
    assert_eq!(
        globex
            .post(&format!("/networks/ledger/proposals/{id}/votes"), json!({}))
            .0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, proposals) = acme.get("/networks/ledger/proposals");
        let gate = proposals
            .as_array()
            .and_then(|all| all.iter().find(|p| p["id"] == id))
            .cloned()
            .unwrap_or_default();
        if gate["status"] == "applied" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gate never applied: {gate:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let (status, compiled) = acme.post("/compile", json!({"sources": {"Bank.sol": BANK}}));
    assert_eq!(status, 200, "{compiled}");
    let bank = &compiled["contracts"][0];
    let hash = compiled["security"]["report_hash"]
        .as_str()
        .expect("report hash")
        .to_owned();
    let deployment = |report: Option<&str>, bytecode: &str| {
        let mut body = json!({"name": "bank", "bytecode": bytecode, "abi": bank["abi"],
            "compiler": compiled["compiler"], "source_hash": compiled["source_hash"]});
        if let Some(report) = report {
            body["report_hash"] = json!(report);
        }
        body
    };
    let bytecode = bank["bytecode"].as_str().expect("bytecode");
    let counter = COUNTER.replace(' ', "");
    for (body, expected, says) in [
        (
            deployment(None, bytecode),
            400,
            "sets deploy_security_gate 1",
        ),
        (
            deployment(Some(&hash), &counter),
            400,
            "is not one of the contracts of report",
        ),
        (
            deployment(Some(&hash), bytecode),
            409,
            "reentrancy-eth (high) at Bank.sol:7",
        ),
    ] {
        let (status, refused) = acme.post("/networks/ledger/contracts", body);
        assert_eq!(status, expected, "{refused}");
        let message = refused["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{refused}");
    }
    // A report that did not read everything cannot clear the gate, though nothing it read is
    // high: a function nested deeper than the checker reads.
    let mut deep = "x += 1;".to_owned();
    for level in 0..400 {
        deep = format!("if (x > {level}) {{ {deep} }}");
    }
    let deep = format!(
        "pragma solidity 0.4.26;\ncontract Deep {{\n    uint x;\n    function f() public {{ {deep} }}\n}}\n"
    );
    let (status, compiled_deep) = acme.post("/compile", json!({"sources": {"Deep.sol": deep}}));
    assert_eq!(status, 200, "{compiled_deep}");
    let deep_hash = compiled_deep["security"]["report_hash"]
        .as_str()
        .expect("report hash");
    let body = json!({"name": "deep", "bytecode": compiled_deep["contracts"][0]["bytecode"],
        "abi": compiled_deep["contracts"][0]["abi"], "compiler": compiled_deep["compiler"],
        "source_hash": compiled_deep["source_hash"], "report_hash": deep_hash});
    let (status, refused) = acme.post("/networks/ledger/contracts", body);
    assert_eq!(status, 409, "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("security analysis is incomplete")
            && message.contains("Deep.sol: nested deeper than the checker reads"),
        "{refused}"
    );

    let (_, report) = acme.get(&format!("/security-reports/{hash}"));
    let finding = report["findings"][0]["id"].as_str().expect("finding");
    let reason = "accepted: deposits are capped at 1 ether and withdrawals are monitored";
    let (status, resolved) = acme.post(
        &format!("/security-reports/{hash}/resolutions"),
        json!({"finding": finding, "reason": reason}),
    );
    assert_eq!(status, 201, "{resolved}");
    let (status, proposed) = acme.post(
        "/networks/ledger/contracts",
        deployment(Some(&hash), bytecode),
    );
    assert_eq!(status, 201, "{proposed}");
    assert_eq!(
        proposed["change"]["report_hash"],
        hash.as_str(),
        "{proposed:#}"
    );

    // globex reads what acme's report says, and why its finding was accepted, before voting.
    let (status, read) = globex.get(&format!("/networks/ledger/security-reports/{hash}"));
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["tenant"], "acme");
    assert_eq!(read["findings"][0]["resolution"]["reason"], reason);
    let (status, _) = initech.get(&format!("/networks/ledger/security-reports/{hash}"));
    assert_eq!(status, 404, "an outsider reads nothing");
    let (status, _) = globex.get(&format!("/security-reports/{hash}"));
    assert_eq!(status, 404, "not globex's own report");
    let id = proposed["id"].as_u64().expect("id");
    assert_eq!(
        globex
            .post(&format!("/networks/ledger/proposals/{id}/votes"), json!({}))
            .0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let record = loop {
        let (_, record) = globex.get("/networks/ledger/contracts/bank");
        if record["state"] == "normal" {
            break record;
        }
        assert!(Instant::now() < deadline, "never deployed: {record:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let version = &record["versions"][0];
    assert_eq!(version["report_hash"], hash.as_str(), "{record:#}");
    assert_eq!(version["security"]["findings"], 1, "{record:#}");
    assert_eq!(version["security"]["unresolved"]["high"], 0, "{record:#}");
}

#[test]
fn creating_a_network_is_cancelled_between_steps_stopping_what_it_started_and_a_retry_finishes_it()
{
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = Platform::start(&dir.path().join("platform"));
    let acme = tenant(&platform, "acme");
    let (status, operation) = acme.post("/networks", json!({"name": "retried", "validators": 4}));
    assert_eq!(status, 202, "{operation}");
    let id = operation["id"].as_str().expect("id").to_owned();
    let (status, cancelling) = acme.post(&format!("/operations/{id}/cancel"), json!({}));
    assert_eq!(status, 202, "{cancelling}");
    assert_eq!(cancelling["cancel_requested"], true);
    let (cancelled, _) = wait_operation(&acme, &id, CREATED_WITHIN);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    let (_, network) = acme.get("/networks/retried");
    assert_eq!(network["status"], "cancelled", "{network:#}");
    // Whatever it had started is stopped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !node_pids(&platform.data_dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "nodes still run after the cancel"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, refused) = acme.post(&format!("/operations/{id}/cancel"), json!({}));
    assert_eq!(status, 409, "{refused}");

    let (status, retried) = acme.post(&format!("/operations/{id}/retry"), json!({}));
    assert_eq!(status, 202, "{retried}");
    let (done, _) = wait_operation(&acme, &id, CREATED_WITHIN);
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert!(done["attempts"].as_i64().unwrap_or(0) >= 2, "{done:#}");
    wait_network(&acme, "retried", Duration::from_secs(90), |n| {
        n["status"] == "running" && all_ready_and_growing(n, 1)
    });
    assert_eq!(node_pids(&platform.data_dir).len(), 4);
    let (status, refused) = acme.post(&format!("/operations/{id}/retry"), json!({}));
    assert_eq!(status, 409, "{refused}");
}

/// A network with `kubernetes` set is provisioned onto a cluster: its identities, genesis and
/// configurations are made as for a local one, then its objects are applied. With no cluster
/// reachable (as on these CI machines) the operation fails at that step saying so, and none of
/// its nodes runs as a local process.
#[test]
fn a_kubernetes_network_without_a_reachable_cluster_fails_at_applying_and_runs_nothing_locally() {
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = Platform::start(&dir.path().join("platform"));
    let acme = tenant(&platform, "acme");
    let (status, refused) = acme.post(
        "/networks",
        json!({"name": "onk8s", "kubernetes": {"namespace": "Bad NS", "image": "registry.example/ricaas:1"}}),
    );
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("kubernetes.namespace"),
        "{refused}"
    );
    let (status, refused) = acme.post(
        "/networks",
        json!({"name": "onk8s", "consensus": "solo", "validators": 1,
               "kubernetes": {"namespace": "ledger", "image": "registry.example/ricaas:1"}}),
    );
    assert_eq!(status, 400, "{refused}");
    let (status, operation) = acme.post(
        "/networks",
        json!({"name": "onk8s", "validators": 4,
               "kubernetes": {"namespace": "ledger", "image": "registry.example/ricaas:1", "storage": "50Gi"}}),
    );
    assert_eq!(status, 202, "{operation}");
    let (done, _) = wait_operation(&acme, operation["id"].as_str().expect("id"), CREATED_WITHIN);
    assert_eq!(done["status"], "failed", "{done:#}");
    assert!(
        done["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no Kubernetes cluster is reachable"),
        "{done:#}"
    );
    let (status, network) = acme.get("/networks/onk8s");
    assert_eq!(status, 200, "{network}");
    assert_eq!(network["provisioner"], "kubernetes");
    assert_eq!(network["spec"]["kubernetes"]["namespace"], "ledger");
    assert_eq!(network["nodes"].as_array().map(Vec::len), Some(4));
    assert!(node_pids(&platform.data_dir).is_empty());
}
