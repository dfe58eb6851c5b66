//! `ricaas up` runs the platform beside the network it creates: the organizations are tenants
//! whose root credentials are written once to a 0600 file, each with its CA and admin key in its
//! keystore; a tenant's account enrols an identity on the channel with a membership transaction
//! its custodial admin key signs — only with `ca:EnrollCertificate` and `key:Sign` — and the
//! chain shows it, then its revocation.

use crate::common::{CHAIN_ID, Node};
use alloy_primitives::{Address, Bytes};
use alloy_sol_types::SolCall as _;
use ricaas_primitives::system::{IMembership, MEMBERSHIP_ADDRESS};
use serde_json::{Value, json};
use std::{os::unix::fs::PermissionsExt, time::Duration};

struct Api {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Api {
    fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        let request = match &self.token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        };
        let mut response = self
            .agent
            .run(
                request
                    .body(body.map(|b| b.to_string()).unwrap_or_default())
                    .expect("request"),
            )
            .expect("answered");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn login(&self, tenant: &str, name: &str, password: &str) -> Api {
        let (status, session) = self.send(
            "POST",
            "/sessions",
            Some(json!({"tenant": tenant, "name": name, "password": password})),
        );
        assert_eq!(status, 201, "{session}");
        Api {
            agent: self.agent.clone(),
            base: self.base.clone(),
            token: session["token"].as_str().map(str::to_owned),
        }
    }
}

fn identity_of(node: &Node, account: Address) -> Option<IMembership::identityOfReturn> {
    let data = Bytes::from(IMembership::identityOfCall { account }.abi_encode());
    let result = node.rpc().try_call(
        "eth_call",
        json!([{"to": MEMBERSHIP_ADDRESS, "data": data}, "latest"]),
    )?;
    let bytes = hex::decode(result.as_str()?.trim_start_matches("0x")).ok()?;
    IMembership::identityOfCall::abi_decode_returns(&bytes).ok()
}

#[test]
fn up_runs_the_platform_and_a_tenant_enrols_an_identity_with_its_custodial_admin_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::up(&dir.path().join("data"));
    let api_url = node
        .platform_api
        .clone()
        .expect("ricaas up printed the platform API");
    assert!(
        node.printed
            .iter()
            .any(|l| l.trim().starts_with("console:")),
        "{:?}",
        node.printed
    );
    let credentials_path = dir.path().join("data/platform/tenant-credentials.json");
    let mode = std::fs::metadata(&credentials_path)
        .expect("credentials")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let roots: Value =
        serde_json::from_slice(&std::fs::read(&credentials_path).expect("read")).expect("JSON");
    let tenants: Vec<&str> = roots
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["tenant"].as_str())
        .collect();
    assert_eq!(tenants, ["org1", "org2", "org3", "org4"]);
    let password = roots[0]["password"].as_str().expect("password");

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let anonymous = Api {
        agent,
        base: api_url,
        token: None,
    };
    let root = anonymous.login("org1", "root", password);
    let (status, ca) = root.send("GET", "/ca", None);
    assert_eq!(
        (status, ca["org"].as_str(), ca["origin"].as_str()),
        (200, Some("org1"), Some("imported")),
        "{ca}"
    );
    let (_, admin) = root.send("GET", "/keys/admin", None);
    assert!(admin["address"].is_string(), "{admin}");
    let (_, channels) = root.send("GET", "/channels", None);
    assert_eq!(channels[0]["channel"], "local/default", "{channels}");

    // The network itself is a resource: its four organizations are members, its node runs
    // outside the platform and its status is read from the node.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let network = loop {
        let (status, network) = root.send("GET", "/networks/local", None);
        assert_eq!(status, 200, "{network}");
        if network["nodes"][0]["ready"] == true && network["nodes"][0]["height"].is_i64() {
            break network;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node status never read: {network:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(network["provisioner"], "external", "{network:#}");
    assert_eq!(network["status"], "running");
    let orgs: Vec<&str> = network["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["org"].as_str())
        .collect();
    assert_eq!(orgs, ["org1", "org2", "org3", "org4"]);
    assert_eq!(network["nodes"][0]["managed"], false);
    assert_eq!(
        network["nodes"][0]["rpc_url"].as_str(),
        node.url.split("/channels/").next(),
        "{network:#}"
    );
    // The platform does not run it, so it does not start or stop it.
    let (status, refused) = root.send("POST", "/networks/local/nodes/validator0/stop", None);
    assert_eq!(status, 409, "{refused}");

    // An identity for a teller: a custodial key and a certificate from org1's CA.
    let (status, key) = root.send(
        "POST",
        "/keys",
        Some(json!({"name": "teller", "algorithm": "secp256k1"})),
    );
    assert_eq!(status, 201, "{key}");
    let teller: Address = key["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("address");
    let (status, certificate) = root.send(
        "POST",
        "/certificates",
        Some(json!({"common_name": "teller", "role": "client", "key": "teller"})),
    );
    assert_eq!(status, 201, "{certificate}");
    let serial = certificate["serial"].as_str().expect("serial").to_owned();
    assert!(identity_of(&node, teller).is_none(), "not enrolled yet");

    // A registrar sub-account needs both permissions: to enrol, and to sign with the admin key.
    let (status, _) = root.send(
        "POST",
        "/accounts",
        Some(json!({"name": "registrar", "password": "registrar passphrase"})),
    );
    assert_eq!(status, 201);
    let registrar = anonymous.login("org1", "registrar", "registrar passphrase");
    let enrol = json!({"channel": "local/default", "admin_key": "admin"});
    let path = format!("/certificates/{serial}/enrolments");
    let (status, refused) = registrar.send("POST", &path, Some(enrol.clone()));
    assert_eq!(
        (status, refused["details"]["action"].as_str()),
        (403, Some("ca:EnrollCertificate")),
        "{refused}"
    );
    let grant = |name: &str, actions: &[&str], resources: &[&str]| {
        let (status, body) = root.send(
            "POST",
            "/policies",
            Some(json!({"name": name, "document": {"statements": [{"effect": "allow", "actions": actions, "resources": resources}]}})),
        );
        assert_eq!(status, 201, "{body}");
        let (status, body) =
            root.send("PUT", &format!("/accounts/registrar/policies/{name}"), None);
        assert_eq!(status, 204, "{body}");
    };
    grant(
        "enrol",
        &["ca:EnrollCertificate", "ca:RevokeCertificate"],
        &["certificate/*"],
    );
    let (status, refused) = registrar.send("POST", &path, Some(enrol.clone()));
    assert_eq!(
        (status, refused["details"]["action"].as_str()),
        (403, Some("key:Sign")),
        "{refused}"
    );
    assert_eq!(refused["details"]["resource"], "key/admin");
    grant("sign-as-admin", &["key:Sign"], &["key/admin"]);
    let (status, enrolment) = registrar.send("POST", &path, Some(enrol));
    assert_eq!(status, 201, "{enrolment}");
    assert!(
        enrolment["enrolled_block"].as_i64() > Some(0),
        "{enrolment}"
    );

    // The chain knows the teller now.
    let identity = identity_of(&node, teller).expect("enrolled on chain");
    assert_eq!(
        (
            identity.org.as_str(),
            identity.role.as_str(),
            identity.revoked
        ),
        ("org1", "client", false)
    );

    // Revoking the certificate revokes the account on chain with the same admin key.
    let (status, revoked) = registrar.send(
        "POST",
        &format!("/certificates/{serial}/revoke"),
        Some(json!({"reason": "left the bank"})),
    );
    assert_eq!(status, 200, "{revoked}");
    let identity = identity_of(&node, teller).expect("still known");
    assert!(identity.revoked, "revoked on chain");
    let (_, enrolments) = root.send("GET", &path, None);
    assert!(enrolments[0]["revoke_tx"].is_string(), "{enrolments}");

    // The audit log names who did it, through which account.
    let (_, audit) = root.send("GET", "/audit?action=ca:EnrollCertificate&result=ok", None);
    assert_eq!(audit["items"][0]["actor"], "org1/registrar", "{audit}");
    let _ = CHAIN_ID;
}
