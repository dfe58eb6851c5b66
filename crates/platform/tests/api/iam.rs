//! Permissions end to end: the route table seen through the OpenAPI document, every operation
//! refused without its action and allowed with it, groups and explicit denies, API keys within
//! their scope, tenants that cannot see each other, and the audit log of it all.

use super::{Client, Served, message};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Every operation of the OpenAPI document: (method, path) → (access, action).
fn operations(served: &Served) -> Vec<(String, String, String, Option<String>)> {
    let (status, doc) = served.client().get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            out.push((
                method.to_uppercase(),
                path.clone(),
                operation["x-ricaas-access"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                operation["x-ricaas-action"].as_str().map(str::to_owned),
            ));
        }
    }
    out
}

/// The operator creates `tenant`; returns its root, signed in.
pub(crate) fn tenant_root(served: &Served, tenant: &str) -> Client {
    let anonymous = served.client();
    let operator = anonymous.login(None, "admin", &served.operator_password);
    let (status, created) = operator.post("/api/v1/tenants", json!({"name": tenant}));
    assert_eq!(status, 201, "{created}");
    let password = created["root"]["password"].as_str().expect("password");
    anonymous.login(Some(tenant), "root", password)
}

pub(crate) fn create_account(root: &Client, name: &str, password: &str) {
    let (status, body) = root.post(
        "/api/v1/accounts",
        json!({"name": name, "password": password}),
    );
    assert_eq!(status, 201, "{body}");
}

fn allow(actions: &[&str], resources: &[&str]) -> Value {
    json!({"statements": [{"effect": "allow", "actions": actions, "resources": resources}]})
}

fn grant(root: &Client, account: &str, policy: &str, document: Value) {
    let (status, body) = root.post(
        "/api/v1/policies",
        json!({"name": policy, "document": document}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = root.put(
        &format!("/api/v1/accounts/{account}/policies/{policy}"),
        json!(null),
    );
    assert_eq!(status, 204, "{body}");
}

fn revoke_grant(root: &Client, account: &str, policy: &str) {
    let (status, body) = root.delete(&format!("/api/v1/accounts/{account}/policies/{policy}"));
    assert_eq!(status, 204, "{body}");
    let (status, body) = root.delete(&format!("/api/v1/policies/{policy}"));
    assert_eq!(status, 204, "{body}");
}

/// (a) Every operation names its action (or is one of the few public ones on purpose) and
/// requires credentials; every action it names is one policies can name.
pub fn every_operation_declares_its_action(served: &Served) {
    let (status, catalog) = served.client().get("/api/v1/actions");
    assert_eq!(status, 200);
    let known: BTreeSet<&str> = catalog["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    let (_, doc) = served.client().get("/api/v1/openapi.json");
    let mut public = BTreeSet::new();
    for (method, path, access, action) in operations(served) {
        match access.as_str() {
            "public" => {
                public.insert(format!("{method} {path}"));
            }
            "own" | "tenant" | "platform" => {
                let action = action.unwrap_or_else(|| panic!("{method} {path} has no action"));
                assert!(known.contains(action.as_str()), "{method} {path}: {action}");
                let operation = &doc["paths"][&path][method.to_lowercase()];
                assert_eq!(
                    operation["security"],
                    json!([{"session": []}, {"apikey": []}]),
                    "{method} {path} must require credentials"
                );
            }
            other => panic!("{method} {path} has no declared access ({other:?})"),
        }
    }
    assert_eq!(
        public,
        BTreeSet::from([
            "GET /health".to_owned(),
            "GET /api/v1/actions".to_owned(),
            "POST /api/v1/sessions".to_owned(),
            "POST /api/v1/sessions/refresh".to_owned(),
            "POST /api/v1/signups".to_owned(),
            "POST /api/v1/signups/verify".to_owned(),
        ]),
        "the public operations are exactly these; a new one must be added here deliberately"
    );
}

/// One guarded operation as the permission test drives it.
struct Case {
    method: &'static str,
    template: &'static str,
    path: &'static str,
    body: Option<Value>,
    /// What root sets up before each attempt.
    prepare: fn(&Client),
    ok: u16,
    /// Runs in a tenant of its own (for what a tenant does once, like importing its CA).
    fresh_tenant: bool,
    /// A second action the operation needs, granted with the first.
    also: Option<&'static str>,
}

fn nothing(_: &Client) {}

fn case(method: &'static str, template: &'static str, path: &'static str, ok: u16) -> Case {
    Case {
        method,
        template,
        path,
        body: None,
        prepare: nothing,
        ok,
        fresh_tenant: false,
        also: None,
    }
}

/// A certificate root issues for this case; `{serial}` in a case's path stands for its serial.
fn fixture_serial(root: &Client, index: usize) -> String {
    let (status, issued) = root.post(
        "/api/v1/certificates",
        json!({"common_name": format!("fixture-{index}"), "role": "client", "key": "fixture-key"}),
    );
    assert_eq!(status, 201, "{issued}");
    issued["serial"].as_str().expect("serial").to_owned()
}

/// The tenant-scoped operations, with the fixtures each one needs.
fn tenant_cases() -> Vec<Case> {
    let document = allow(&["group:Get"], &["group/*"]);
    let pem = ricaas_crypto::ca::IdentityKey::generate(ricaas_crypto::ca::KeyAlgorithm::P256)
        .to_pkcs8_pem()
        .expect("pem");
    let external = ricaas_crypto::ca::CertificateAuthority::new_root(
        "external",
        ricaas_crypto::ca::KeyAlgorithm::P256,
        365,
    )
    .expect("external CA");
    let external_ca = (
        ricaas_crypto::ca::certificate_pem(external.certificate()).expect("pem"),
        external.key().to_pkcs8_pem().expect("key pem"),
    );
    vec![
        Case {
            body: Some(json!({"name": "made-by-probe"})),
            ..case("POST", "/api/v1/accounts", "/api/v1/accounts", 201)
        },
        case("GET", "/api/v1/accounts", "/api/v1/accounts", 200),
        case(
            "GET",
            "/api/v1/accounts/{name}",
            "/api/v1/accounts/target",
            200,
        ),
        case(
            "POST",
            "/api/v1/accounts/{name}/disable",
            "/api/v1/accounts/target/disable",
            200,
        ),
        case(
            "POST",
            "/api/v1/accounts/{name}/enable",
            "/api/v1/accounts/target/enable",
            200,
        ),
        case(
            "POST",
            "/api/v1/accounts/{name}/password-reset",
            "/api/v1/accounts/target/password-reset",
            200,
        ),
        case(
            "PUT",
            "/api/v1/accounts/{name}/policies/{policy}",
            "/api/v1/accounts/target/policies/fixture-policy",
            204,
        ),
        Case {
            prepare: |root| {
                root.put(
                    "/api/v1/accounts/target/policies/fixture-policy",
                    json!(null),
                );
            },
            ..case(
                "DELETE",
                "/api/v1/accounts/{name}/policies/{policy}",
                "/api/v1/accounts/target/policies/fixture-policy",
                204,
            )
        },
        Case {
            body: Some(json!({"name": "made-by-probe"})),
            ..case("POST", "/api/v1/groups", "/api/v1/groups", 201)
        },
        case("GET", "/api/v1/groups", "/api/v1/groups", 200),
        case(
            "GET",
            "/api/v1/groups/{name}",
            "/api/v1/groups/fixture-group",
            200,
        ),
        Case {
            prepare: |root| {
                root.post("/api/v1/groups", json!({"name": "doomed"}));
            },
            ..case(
                "DELETE",
                "/api/v1/groups/{name}",
                "/api/v1/groups/doomed",
                204,
            )
        },
        case(
            "PUT",
            "/api/v1/groups/{name}/members/{account}",
            "/api/v1/groups/fixture-group/members/target",
            204,
        ),
        Case {
            prepare: |root| {
                root.put("/api/v1/groups/fixture-group/members/target", json!(null));
            },
            ..case(
                "DELETE",
                "/api/v1/groups/{name}/members/{account}",
                "/api/v1/groups/fixture-group/members/target",
                204,
            )
        },
        case(
            "PUT",
            "/api/v1/groups/{name}/policies/{policy}",
            "/api/v1/groups/fixture-group/policies/fixture-policy",
            204,
        ),
        Case {
            prepare: |root| {
                root.put(
                    "/api/v1/groups/fixture-group/policies/fixture-policy",
                    json!(null),
                );
            },
            ..case(
                "DELETE",
                "/api/v1/groups/{name}/policies/{policy}",
                "/api/v1/groups/fixture-group/policies/fixture-policy",
                204,
            )
        },
        Case {
            body: Some(json!({"name": "made-by-probe", "document": document})),
            ..case("POST", "/api/v1/policies", "/api/v1/policies", 201)
        },
        case("GET", "/api/v1/policies", "/api/v1/policies", 200),
        case(
            "GET",
            "/api/v1/policies/{name}",
            "/api/v1/policies/fixture-policy",
            200,
        ),
        Case {
            body: Some(json!({"document": document})),
            ..case(
                "PUT",
                "/api/v1/policies/{name}",
                "/api/v1/policies/fixture-policy",
                200,
            )
        },
        Case {
            prepare: |root| {
                root.post(
                    "/api/v1/policies",
                    json!({"name": "doomed", "document": allow(&["group:Get"], &["*"])}),
                );
            },
            ..case(
                "DELETE",
                "/api/v1/policies/{name}",
                "/api/v1/policies/doomed",
                204,
            )
        },
        Case {
            body: Some(json!({"name": "made-by-probe", "scope": allow(&["*"], &["*"])})),
            ..case("POST", "/api/v1/api-keys", "/api/v1/api-keys", 201)
        },
        case("GET", "/api/v1/api-keys", "/api/v1/api-keys", 200),
        Case {
            prepare: |root| {
                root.post(
                    "/api/v1/api-keys",
                    json!({"name": "doomed", "scope": allow(&["*"], &["*"])}),
                );
            },
            ..case(
                "DELETE",
                "/api/v1/api-keys/{name}",
                "/api/v1/api-keys/doomed",
                200,
            )
        },
        case(
            "POST",
            "/api/v1/accounts/{name}/mfa-reset",
            "/api/v1/accounts/target/mfa-reset",
            204,
        ),
        case(
            "POST",
            "/api/v1/accounts/{name}/unlock",
            "/api/v1/accounts/target/unlock",
            204,
        ),
        case(
            "GET",
            "/api/v1/tenant/settings",
            "/api/v1/tenant/settings",
            200,
        ),
        case("GET", "/api/v1/tenant/usage", "/api/v1/tenant/usage", 200),
        Case {
            body: Some(json!({"mfa_for_login": false, "mfa_for_sensitive": false})),
            ..case(
                "PUT",
                "/api/v1/tenant/settings",
                "/api/v1/tenant/settings",
                200,
            )
        },
        Case {
            body: Some(json!({"name": "made-by-probe", "algorithm": "secp256k1"})),
            ..case("POST", "/api/v1/keys", "/api/v1/keys", 201)
        },
        Case {
            body: Some(json!({"name": "imported-by-probe", "private_key_pem": pem})),
            ..case("POST", "/api/v1/key-imports", "/api/v1/key-imports", 201)
        },
        case("GET", "/api/v1/keys", "/api/v1/keys", 200),
        case(
            "GET",
            "/api/v1/keys/{name}",
            "/api/v1/keys/fixture-key",
            200,
        ),
        case(
            "GET",
            "/api/v1/keys/{name}/public.pem",
            "/api/v1/keys/fixture-key/public.pem",
            200,
        ),
        Case {
            body: Some(json!({"message": "0x00"})),
            ..case(
                "POST",
                "/api/v1/keys/{name}/sign",
                "/api/v1/keys/fixture-key/sign",
                200,
            )
        },
        Case {
            prepare: |root| {
                root.post(
                    "/api/v1/keys",
                    json!({"name": "doomed", "algorithm": "ed25519"}),
                );
            },
            ..case("DELETE", "/api/v1/keys/{name}", "/api/v1/keys/doomed", 200)
        },
        case("GET", "/api/v1/audit", "/api/v1/audit", 200),
        Case {
            body: Some(json!({"algorithm": "p256"})),
            ..case("POST", "/api/v1/ca", "/api/v1/ca", 201)
        },
        Case {
            body: Some(json!({"certificate_pem": external_ca.0, "private_key_pem": external_ca.1})),
            fresh_tenant: true,
            ..case("POST", "/api/v1/ca/import", "/api/v1/ca/import", 201)
        },
        case("GET", "/api/v1/ca", "/api/v1/ca", 200),
        case("GET", "/api/v1/ca/crl", "/api/v1/ca/crl", 200),
        Case {
            body: Some(
                json!({"common_name": "issued-by-probe", "role": "client", "key": "fixture-key"}),
            ),
            ..case("POST", "/api/v1/certificates", "/api/v1/certificates", 201)
        },
        case(
            "GET",
            "/api/v1/certificates",
            "/api/v1/certificates?expiring_within_days=400",
            200,
        ),
        case(
            "GET",
            "/api/v1/certificates/{serial}",
            "/api/v1/certificates/{serial}",
            200,
        ),
        Case {
            body: Some(json!({"days": 30})),
            ..case(
                "POST",
                "/api/v1/certificates/{serial}/renew",
                "/api/v1/certificates/{serial}/renew",
                201,
            )
        },
        Case {
            body: Some(json!({"reason": "key compromise"})),
            ..case(
                "POST",
                "/api/v1/certificates/{serial}/revoke",
                "/api/v1/certificates/{serial}/revoke",
                200,
            )
        },
        // Authorized, the platform reaches for the channel, which in this test has no node
        // listening (503); the same call against a running channel succeeds in
        // crates/cli/tests/it/up_platform.rs.
        Case {
            body: Some(json!({"channel": "test/unreachable", "admin_key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/certificates/{serial}/enrolments",
                "/api/v1/certificates/{serial}/enrolments",
                503,
            )
        },
        case(
            "GET",
            "/api/v1/certificates/{serial}/enrolments",
            "/api/v1/certificates/{serial}/enrolments",
            200,
        ),
        case("GET", "/api/v1/channels", "/api/v1/channels", 200),
        // The in-process platform has a provisioner but no reconciler: operations stay
        // pending, so node actions are refused until creation finishes (409) and a pending
        // operation cannot be retried (409). crates/cli/tests/it/networks.rs runs the same
        // routes against real node processes.
        Case {
            body: Some(json!({"name": "made-by-probe", "validators": 1})),
            ..case("POST", "/api/v1/networks", "/api/v1/networks", 202)
        },
        case("GET", "/api/v1/networks", "/api/v1/networks", 200),
        case(
            "GET",
            "/api/v1/networks/{name}",
            "/api/v1/networks/fixture-net",
            200,
        ),
        case(
            "POST",
            "/api/v1/networks/{name}/nodes/{node}/stop",
            "/api/v1/networks/fixture-net/nodes/acme-validator0/stop",
            409,
        ),
        case(
            "POST",
            "/api/v1/networks/{name}/nodes/{node}/start",
            "/api/v1/networks/fixture-net/nodes/acme-validator0/start",
            409,
        ),
        case(
            "POST",
            "/api/v1/networks/{name}/nodes/{node}/restart",
            "/api/v1/networks/fixture-net/nodes/acme-validator0/restart",
            409,
        ),
        case(
            "GET",
            "/api/v1/networks/{name}/nodes/{node}/logs",
            "/api/v1/networks/fixture-net/nodes/acme-validator0/logs?lines=10",
            200,
        ),
        // Joining: fixture-net is still being created (invitations wait for it: 409) and its
        // channel is unreachable (409); the ids are of nothing (404). The whole flow against a
        // running network is in crates/cli/tests/it/networks.rs.
        Case {
            body: Some(json!({"tenant": "target-tenant"})),
            ..case(
                "POST",
                "/api/v1/networks/{name}/invitations",
                "/api/v1/networks/fixture-net/invitations",
                409,
            )
        },
        case("GET", "/api/v1/invitations", "/api/v1/invitations", 200),
        case(
            "POST",
            "/api/v1/invitations/{id}/accept",
            "/api/v1/invitations/inv_00000000000000000000000000000000/accept",
            404,
        ),
        case(
            "POST",
            "/api/v1/invitations/{id}/decline",
            "/api/v1/invitations/inv_00000000000000000000000000000000/decline",
            404,
        ),
        Case {
            body: Some(json!({"admin_key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/invitations/{id}/proposals",
                "/api/v1/invitations/inv_00000000000000000000000000000000/proposals",
                404,
            )
        },
        case(
            "GET",
            "/api/v1/networks/{name}/proposals",
            "/api/v1/networks/fixture-net/proposals?admin_key=fixture-admin",
            409,
        ),
        Case {
            body: Some(
                json!({"change": {"kind": "set_policy", "policy": "writers", "text": "ANY Admins"}, "admin_key": "fixture-admin"}),
            ),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/proposals",
                "/api/v1/networks/fixture-net/proposals",
                409,
            )
        },
        Case {
            body: Some(json!({"admin_key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/proposals/{id}/votes",
                "/api/v1/networks/fixture-net/proposals/0/votes",
                409,
            )
        },
        Case {
            body: Some(json!({"admin_key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/validators",
                "/api/v1/networks/fixture-net/validators",
                409,
            )
        },
        Case {
            body: Some(json!({"admin_key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/observers",
                "/api/v1/networks/fixture-net/observers",
                409,
            )
        },
        case(
            "GET",
            "/api/v1/networks/{name}/channels",
            "/api/v1/networks/fixture-net/channels",
            200,
        ),
        Case {
            body: Some(json!({"sources": {"A.sol": "pragma solidity ^0.8.0;\ncontract A {}\n"}})),
            ..case("POST", "/api/v1/compile", "/api/v1/compile", 200)
        },
        case("GET", "/api/v1/compilers", "/api/v1/compilers", 200),
        // Authorized, a report nobody stored is not found.
        case(
            "GET",
            "/api/v1/security-reports/{hash}",
            "/api/v1/security-reports/0x7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e",
            404,
        ),
        Case {
            body: Some(json!({"finding": "x", "reason": "not a weakness in this deployment"})),
            ..case(
                "POST",
                "/api/v1/security-reports/{hash}/resolutions",
                "/api/v1/security-reports/0x7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e/resolutions",
                404,
            )
        },
        case(
            "GET",
            "/api/v1/networks/{name}/security-reports/{hash}",
            "/api/v1/networks/fixture-net/security-reports/0x7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e",
            404,
        ),
        // Authorized, contracts are read from and proposed on a running network (409 here).
        case(
            "GET",
            "/api/v1/networks/{name}/contracts",
            "/api/v1/networks/fixture-net/contracts",
            409,
        ),
        case(
            "GET",
            "/api/v1/networks/{name}/contracts/{contract}",
            "/api/v1/networks/fixture-net/contracts/counter",
            409,
        ),
        Case {
            body: Some(
                json!({"name": "counter", "bytecode": "0x00", "abi": [], "admin_key": "fixture-admin"}),
            ),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/contracts",
                "/api/v1/networks/fixture-net/contracts",
                409,
            )
        },
        Case {
            body: Some(json!({"args": [], "key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/contracts/{contract}/invoke/{method}",
                "/api/v1/networks/fixture-net/contracts/counter/invoke/transfer",
                409,
            )
        },
        Case {
            body: Some(json!({"args": []})),
            ..case(
                "POST",
                "/api/v1/networks/{name}/contracts/{contract}/query/{method}",
                "/api/v1/networks/fixture-net/contracts/counter/query/balanceOf",
                409,
            )
        },
        // Invocations are the platform's records: listed (none yet) and looked up (no such one).
        case(
            "GET",
            "/api/v1/networks/{name}/contracts/{contract}/invocations",
            "/api/v1/networks/fixture-net/contracts/counter/invocations",
            200,
        ),
        case(
            "GET",
            "/api/v1/networks/{name}/contracts/{contract}/invocations/{id}",
            "/api/v1/networks/fixture-net/contracts/counter/invocations/inv_00000000000000000000000000000000",
            404,
        ),
        case(
            "GET",
            "/api/v1/networks/{name}/contracts/{contract}/openapi.json",
            "/api/v1/networks/fixture-net/contracts/counter/openapi.json",
            409,
        ),
        Case {
            body: Some(json!({"action": "freeze", "admin_key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/contracts/{contract}/proposals",
                "/api/v1/networks/fixture-net/contracts/counter/proposals",
                409,
            )
        },
        // Authorized, a channel is refused on a network that does not run (409).
        Case {
            body: Some(json!({"name": "letters", "members": [], "admin_key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/channels",
                "/api/v1/networks/fixture-net/channels",
                409,
            )
        },
        Case {
            body: Some(json!({"admin_key": "fixture-admin"})),
            also: Some("key:Sign"),
            ..case(
                "POST",
                "/api/v1/networks/{name}/channels/{channel}/approvals",
                "/api/v1/networks/fixture-net/channels/letters/approvals",
                404,
            )
        },
        // Authorized, a registration is checked: this certificate is not one (400).
        Case {
            body: Some(
                json!({"name": "external", "role": "observer", "rpc_url": "http://127.0.0.1:9", "certificate_pem": "not a certificate"}),
            ),
            ..case(
                "POST",
                "/api/v1/networks/{name}/nodes",
                "/api/v1/networks/fixture-net/nodes",
                400,
            )
        },
        case(
            "DELETE",
            "/api/v1/networks/{name}/nodes/{node}",
            "/api/v1/networks/fixture-net/nodes/nothing-here",
            404,
        ),
        case("GET", "/api/v1/operations", "/api/v1/operations", 200),
        case(
            "GET",
            "/api/v1/operations/{id}",
            "/api/v1/operations/{operation}",
            200,
        ),
        case(
            "POST",
            "/api/v1/operations/{id}/retry",
            "/api/v1/operations/{operation}/retry",
            409,
        ),
        case(
            "POST",
            "/api/v1/operations/{id}/cancel",
            "/api/v1/operations/{operation}/cancel",
            202,
        ),
        case(
            "GET",
            "/api/v1/audit/export",
            "/api/v1/audit/export?format=csv",
            200,
        ),
    ]
}

/// (b) For every operation: a sub-account without the permission gets 403 naming the missing
/// action; with a policy allowing exactly that action it succeeds.
pub fn every_operation_needs_its_permission(served: &Served) {
    let root = tenant_root(served, "acme");
    let anonymous = served.client();
    create_account(&root, "probe", "probe's first passphrase");
    create_account(&root, "target", "target's passphrase!");
    let (status, _) = root.post("/api/v1/groups", json!({"name": "fixture-group"}));
    assert_eq!(status, 201);
    let (status, _) = root.post(
        "/api/v1/policies",
        json!({"name": "fixture-policy", "document": allow(&["group:List"], &["*"])}),
    );
    assert_eq!(status, 201);
    let (status, _) = root.post(
        "/api/v1/keys",
        json!({"name": "fixture-key", "algorithm": "p256"}),
    );
    assert_eq!(status, 201);
    let (status, _) = root.post(
        "/api/v1/keys",
        json!({"name": "fixture-admin", "algorithm": "secp256k1"}),
    );
    assert_eq!(status, 201);
    let operator = anonymous.login(None, "admin", &served.operator_password);
    let (status, body) = operator.post(
        "/api/v1/channels",
        json!({"network": "test", "name": "unreachable", "rpc_url": "http://127.0.0.1:9/channels/default"}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, created) = root.post(
        "/api/v1/networks",
        json!({"name": "fixture-net", "validators": 1}),
    );
    assert_eq!(status, 202, "{created}");
    let fixture_operation = created["id"].as_str().expect("operation").to_owned();
    let probe_password = "probe's first passphrase".to_owned();
    let probe = anonymous.login(Some("acme"), "probe", &probe_password);

    let operations = operations(served);
    let action_of = |method: &str, template: &str| -> String {
        operations
            .iter()
            .find(|(m, p, _, _)| m == method && p == template)
            .and_then(|(_, _, _, a)| a.clone())
            .unwrap_or_else(|| panic!("{method} {template} is not in the OpenAPI document"))
    };
    let mut covered = BTreeSet::new();

    for (index, case) in tenant_cases().into_iter().enumerate() {
        let action = action_of(case.method, case.template);
        covered.insert(format!("{} {}", case.method, case.template));
        let body = case.body.as_ref().map(Value::to_string);
        let (root, probe) = if case.fresh_tenant {
            let tenant = format!("fresh-{index}");
            let root = tenant_root(served, &tenant);
            create_account(&root, "probe", "probe's first passphrase");
            let probe = anonymous.login(Some(&tenant), "probe", "probe's first passphrase");
            (root, probe)
        } else {
            (root.clone(), probe.clone())
        };
        (case.prepare)(&root);
        let path = if case.path.contains("{serial}") {
            case.path.replace("{serial}", &fixture_serial(&root, index))
        } else {
            case.path.replace("{operation}", &fixture_operation)
        };
        let (status, refused) = probe.send(case.method, &path, body.clone());
        assert_eq!(
            status, 403,
            "{} {} without permission: {refused}",
            case.method, case.path
        );
        assert_eq!(refused["code"], "forbidden", "{refused}");
        assert_eq!(refused["details"]["action"], action.as_str(), "{refused}");
        assert!(message(&refused).contains(&action), "{refused}");
        assert!(message(&refused).contains("no policy"), "{refused}");

        let policy = format!("grant-{index}");
        let mut actions = vec![action.as_str()];
        actions.extend(case.also);
        grant(&root, "probe", &policy, allow(&actions, &["*"]));
        (case.prepare)(&root);
        let (status, done) = probe.send(case.method, &path, body);
        assert_eq!(
            status, case.ok,
            "{} {} with {action}: {done}",
            case.method, case.path
        );
        revoke_grant(&root, "probe", &policy);
    }

    // Self-service: allowed to every account, unless a policy denies it explicitly.
    let mut own = |probe: &Client,
                   method: &str,
                   path: &str,
                   body: Option<Value>,
                   ok: u16|
     -> Value {
        let action = action_of(method, path);
        covered.insert(format!("{method} {path}"));
        let policy = format!("deny-{}", action.replace(':', "-").to_lowercase());
        grant(
            &root,
            "probe",
            &policy,
            json!({"statements": [{"sid": "NoSelfService", "effect": "deny", "actions": [action], "resources": ["*"]}]}),
        );
        let body = body.map(|b| b.to_string());
        let (status, refused) = probe.send(method, path, body.clone());
        assert_eq!(status, 403, "{method} {path} denied: {refused}");
        assert_eq!(refused["details"]["action"], action.as_str(), "{refused}");
        assert!(message(&refused).contains("NoSelfService"), "{refused}");
        revoke_grant(&root, "probe", &policy);
        let (status, done) = probe.send(method, path, body);
        assert_eq!(status, ok, "{method} {path}: {done}");
        done
    };
    own(&probe, "GET", "/api/v1/me", None, 200);
    let enrolment = own(&probe, "POST", "/api/v1/me/mfa", None, 201);
    let secret = enrolment["secret"].as_str().expect("secret").to_owned();
    let code = |served: &Served| {
        ricaas_platform::mfa::code_for(&secret, served.clock.now_seconds()).expect("base32")
    };
    own(
        &probe,
        "POST",
        "/api/v1/me/mfa/confirm",
        Some(json!({"code": code(served)})),
        204,
    );
    served.clock.advance(30);
    own(
        &probe,
        "POST",
        "/api/v1/me/mfa/disable",
        Some(json!({"code": code(served)})),
        204,
    );
    let new_password = format!("{probe_password}+");
    own(
        &probe,
        "POST",
        "/api/v1/me/password",
        Some(json!({"current_password": probe_password, "new_password": new_password})),
        204,
    );
    own(&probe, "DELETE", "/api/v1/sessions/current", None, 204);
    let probe = anonymous.login(Some("acme"), "probe", &new_password);

    // The operator's operations: no policy lifts them for a tenant's account, the operator
    // may; and the operator holds no tenant's resources.
    grant(&root, "probe", "everything", allow(&["*"], &["*"]));
    let operator = anonymous.login(None, "admin", &served.operator_password);
    for (method, template, path, body, ok) in [
        (
            "POST",
            "/api/v1/tenants",
            "/api/v1/tenants",
            Some(json!({"name": "second"})),
            201,
        ),
        ("GET", "/api/v1/tenants", "/api/v1/tenants", None, 200),
        (
            "POST",
            "/api/v1/channels",
            "/api/v1/channels",
            Some(
                json!({"network": "more", "name": "default", "rpc_url": "http://127.0.0.1:9/channels/default"}),
            ),
            201,
        ),
        (
            "GET",
            "/api/v1/tenants/{name}/quotas",
            "/api/v1/tenants/acme/quotas",
            None,
            200,
        ),
        (
            "PUT",
            "/api/v1/tenants/{name}/quotas",
            "/api/v1/tenants/acme/quotas",
            Some(json!({"accounts": 200, "keys": 200, "api_keys": 100})),
            200,
        ),
        (
            "GET",
            "/api/v1/platform/audit",
            "/api/v1/platform/audit?action=tenant:Create",
            None,
            200,
        ),
        (
            "GET",
            "/api/v1/platform/channels",
            "/api/v1/platform/channels",
            None,
            200,
        ),
    ] {
        covered.insert(format!("{method} {template}"));
        let body = body.map(|b| b.to_string());
        for tenant_account in [&probe, &root] {
            let (status, refused) = tenant_account.send(method, path, body.clone());
            assert_eq!(status, 403, "{refused}");
            assert!(
                message(&refused).contains("only the platform operator"),
                "{refused}"
            );
        }
        let (status, done) = operator.send(method, path, body);
        assert_eq!(status, ok, "{done}");
    }
    // The operator's own acts are in the platform's audit log, not in any tenant's.
    let (_, platform_audit) = operator.get("/api/v1/platform/audit?action=tenant:Create");
    let entries = platform_audit["items"].as_array().expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == "operator/admin" && e["resource"] == "tenant/acme"),
        "{platform_audit}"
    );
    let (status, refused) = operator.get("/api/v1/accounts");
    assert_eq!(status, 403, "{refused}");
    assert!(message(&refused).contains("holds no tenant"), "{refused}");

    let guarded: BTreeSet<String> = operations
        .iter()
        .filter(|(_, _, access, _)| access != "public")
        .map(|(m, p, _, _)| format!("{m} {p}"))
        .collect();
    assert_eq!(
        covered, guarded,
        "every guarded operation must have a case in this test"
    );
}

/// Groups carry policies; resource wildcards narrow them; an explicit deny wins; a changed
/// policy applies to the next request; invalid documents are refused with what to fix.
pub fn groups_wildcards_and_denies(served: &Served) {
    let root = tenant_root(served, "acme");
    let anonymous = served.client();
    create_account(&root, "alice", "alice's passphrase!");
    for name in ["team-a", "team-b", "finance"] {
        create_account(&root, name, "some passphrase 123");
    }
    let alice = anonymous.login(Some("acme"), "alice", "alice's passphrase!");
    let (status, _) = root.post(
        "/api/v1/groups",
        json!({"name": "ops", "description": "<b>Operations</b> & co"}),
    );
    assert_eq!(status, 201);
    let (status, _) = root.post(
        "/api/v1/policies",
        json!({"name": "read-teams", "document": allow(&["account:Get"], &["account/team-*"])}),
    );
    assert_eq!(status, 201);
    assert_eq!(
        root.put("/api/v1/groups/ops/policies/read-teams", json!(null))
            .0,
        204
    );
    let (status, _) = alice.get("/api/v1/accounts/team-a");
    assert_eq!(status, 403, "not in the group yet");
    assert_eq!(
        root.put("/api/v1/groups/ops/members/alice", json!(null)).0,
        204
    );
    let (status, body) = alice.get("/api/v1/accounts/team-a");
    assert_eq!(status, 200, "{body}");
    let (status, body) = alice.get("/api/v1/accounts/finance");
    assert_eq!(status, 403, "outside the wildcard: {body}");
    assert_eq!(body["details"]["resource"], "account/finance");

    // An explicit deny attached directly wins over the group's allow.
    grant(
        &root,
        "alice",
        "no-team-b",
        json!({"statements": [{"sid": "KeepOut", "effect": "deny", "actions": ["account:*"], "resources": ["account/team-b"]}]}),
    );
    let (status, body) = alice.get("/api/v1/accounts/team-b");
    assert_eq!(status, 403, "{body}");
    assert!(
        message(&body).contains("denies it explicitly (statement KeepOut)"),
        "{body}"
    );
    assert_eq!(alice.get("/api/v1/accounts/team-a").0, 200);

    // A policy change applies at once.
    let (status, body) = root.put(
        "/api/v1/policies/read-teams",
        json!({"document": allow(&["account:Get"], &["account/finance"])}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(alice.get("/api/v1/accounts/team-a").0, 403);
    assert_eq!(alice.get("/api/v1/accounts/finance").0, 200);

    // The details show membership and attachments.
    let (_, group) = root.get("/api/v1/groups/ops");
    assert_eq!(group["members"], json!(["alice"]));
    assert_eq!(group["policies"], json!(["read-teams"]));
    assert_eq!(
        group["description"], "<b>Operations</b> & co",
        "stored as given"
    );
    let (_, account) = root.get("/api/v1/accounts/alice");
    assert_eq!(
        (account["groups"].clone(), account["policies"].clone()),
        (json!(["ops"]), json!(["no-team-b"]))
    );
    let (status, body) = root.delete("/api/v1/policies/read-teams");
    assert_eq!(status, 409, "attached: {body}");
    assert!(message(&body).contains("detach it first"), "{body}");

    // Removing alice from the group takes its grant away.
    assert_eq!(root.delete("/api/v1/groups/ops/members/alice").0, 204);
    assert_eq!(alice.get("/api/v1/accounts/finance").0, 403);

    // Documents that would silently grant nothing, or the wrong thing, are refused.
    for (document, expected) in [
        (allow(&["account:create"], &["*"]), "matches no action"),
        (
            allow(&["account:Get"], &["users/*"]),
            "must be `*` or start with",
        ),
        (json!({"statements": []}), "1 to 50 statements"),
        (
            json!({"statements": [{"effect": "permit", "actions": ["*"], "resources": ["*"]}]}),
            "unknown variant",
        ),
        (
            json!({"statements": [{"effect": "allow", "actions": ["*"], "resources": ["*"], "condition": {}}]}),
            "unknown field",
        ),
    ] {
        let (status, body) = root.post(
            "/api/v1/policies",
            json!({"name": "bad", "document": document}),
        );
        assert!(status == 400 || status == 422, "{status} {body}");
        assert!(message(&body).contains(expected), "{expected}: {body}");
    }
    let (_, policies) = root.get("/api/v1/policies?q=bad");
    assert_eq!(policies["items"], json!([]), "nothing stored");

    // Root cannot be put in groups, given policies, disabled or reset by anyone.
    for (method, path) in [
        ("PUT", "/api/v1/groups/ops/members/root"),
        ("PUT", "/api/v1/accounts/root/policies/no-team-b"),
        ("POST", "/api/v1/accounts/root/disable"),
        ("POST", "/api/v1/accounts/root/password-reset"),
    ] {
        let (status, body) = root.send(method, path, Some("null".into()));
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert!(message(&body).contains("root account"), "{body}");
    }

    // Disabling ends alice's session at once; enabling lets her sign in again.
    assert_eq!(
        root.post("/api/v1/accounts/alice/disable", json!(null)).0,
        200
    );
    let (status, body) = alice.get("/api/v1/me");
    assert_eq!(status, 401, "{body}");
    let (status, body) = anonymous.post(
        "/api/v1/sessions",
        json!({"tenant": "acme", "name": "alice", "password": "alice's passphrase!"}),
    );
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("disabled"), "{body}");
    assert_eq!(
        root.post("/api/v1/accounts/alice/enable", json!(null)).0,
        200
    );
    let (status, reset) = root.post("/api/v1/accounts/alice/password-reset", json!(null));
    assert_eq!(status, 200, "{reset}");
    let new_password = reset["password"].as_str().expect("a generated password");
    anonymous.login(Some("acme"), "alice", new_password);

    // Lists page and filter.
    let (_, first) = root.get("/api/v1/accounts?limit=2");
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2), "{first}");
    let next = first["next"].as_str().expect("more accounts follow");
    let (_, second) = root.get(&format!("/api/v1/accounts?limit=2&after={next}"));
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|a| a["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(
        names(&second).iter().all(|n| !names(&first).contains(n)),
        "pages do not overlap"
    );
    let (_, teams) = root.get("/api/v1/accounts?q=team");
    assert_eq!(names(&teams), vec!["team-a", "team-b"]);
    let (status, body) = root.get("/api/v1/accounts?limit=0");
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("use 1 to 500"), "{body}");
    let (status, body) = root.get("/api/v1/accounts?colour=red");
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("unknown field"), "{body}");
}

/// API keys act for their account within their scope, never beyond either; they stop at
/// revocation, expiry and when their account is disabled; the secret is shown once.
pub fn api_keys(served: &Served) {
    let root = tenant_root(served, "acme");
    let anonymous = served.client();
    create_account(&root, "clerk", "clerk's passphrase!");
    grant(
        &root,
        "clerk",
        "clerk-reads",
        allow(&["account:List", "apikey:Create"], &["*"]),
    );
    let clerk = anonymous.login(Some("acme"), "clerk", "clerk's passphrase!");

    let (status, created) = root.post(
        "/api/v1/api-keys",
        json!({"name": "erp", "scope": allow(&["account:List", "account:Get"], &["*"]), "expires_in_days": 30}),
    );
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("ak_") && token.contains('.'), "{token}");
    let erp = anonymous.with_token(&token);
    let (status, me) = erp.get("/api/v1/me");
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["api_key"]["name"], "erp");
    assert_eq!(erp.get("/api/v1/accounts").0, 200);
    let (status, body) = erp.get("/api/v1/groups");
    assert_eq!(status, 403, "outside the scope: {body}");
    assert!(message(&body).contains("API key's scope"), "{body}");
    let (status, body) = erp.post(
        "/api/v1/api-keys",
        json!({"name": "child", "scope": allow(&["*"], &["*"])}),
    );
    assert!(status == 403 || status == 400, "{body}");

    // A key never exceeds its account: clerk's all-powerful scope is still clerk.
    let (status, created) = clerk.post(
        "/api/v1/api-keys",
        json!({"name": "clerk-key", "scope": allow(&["*"], &["*"])}),
    );
    assert_eq!(status, 201, "{created}");
    let clerk_key = anonymous.with_token(created["token"].as_str().expect("token"));
    assert_eq!(clerk_key.get("/api/v1/accounts").0, 200);
    let (status, body) = clerk_key.get("/api/v1/groups");
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("no policy"), "{body}");

    // The list shows keys without secrets.
    let (status, listed) = root.get("/api/v1/api-keys");
    assert_eq!(status, 200);
    let secret = token.split_once('.').expect("id.secret").1;
    assert!(!listed.to_string().contains(secret), "{listed}");
    assert_eq!(listed["items"][0]["name"], "clerk-key");
    assert_eq!(listed["items"][1]["account"], "root");

    // Forged and tampered tokens.
    for forged in [
        format!("{}x", token),
        format!(
            "{}.{}",
            token.split_once('.').expect("id").0,
            "0".repeat(64)
        ),
        "ak_zz.zz".to_owned(),
        "ak_".to_owned(),
    ] {
        let (status, body) = anonymous.with_token(&forged).get("/api/v1/me");
        assert_eq!(status, 401, "{forged}: {body}");
    }

    // Disabling the account stops its keys; enabling restores them.
    assert_eq!(
        root.post("/api/v1/accounts/clerk/disable", json!(null)).0,
        200
    );
    let (status, body) = clerk_key.get("/api/v1/accounts");
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("disabled"), "{body}");
    assert_eq!(
        root.post("/api/v1/accounts/clerk/enable", json!(null)).0,
        200
    );
    assert_eq!(clerk_key.get("/api/v1/accounts").0, 200);

    // Revoked: at once.
    let (status, revoked) = root.delete("/api/v1/api-keys/erp");
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_i64());
    let (status, body) = erp.get("/api/v1/accounts");
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("revoked"), "{body}");

    // Expired: the clock is the one thing the API cannot move, so the test moves the key's
    // expiry into the past in the store.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = ricaas_platform::Store::open(&served.url)
            .await
            .expect("store");
        sqlx::query("UPDATE api_keys SET expires_at = 1 WHERE name = 'clerk-key'")
            .execute(store.pool())
            .await
            .expect("update");
    });
    let (status, body) = clerk_key.get("/api/v1/accounts");
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("expired"), "{body}");

    for (body, expected) in [
        (
            json!({"name": "k2", "scope": allow(&["*"], &["*"]), "expires_in_days": 0}),
            "use 1 to 365",
        ),
        (
            json!({"name": "k2", "scope": allow(&["*"], &["*"]), "expires_in_days": 400}),
            "use 1 to 365",
        ),
        (
            json!({"name": "K 2", "scope": allow(&["*"], &["*"])}),
            "lowercase letters",
        ),
        (
            json!({"name": "k2", "scope": allow(&["nope:*"], &["*"])}),
            "matches no action",
        ),
    ] {
        let (status, refused) = root.post("/api/v1/api-keys", body);
        assert_eq!(status, 400, "{refused}");
        assert!(
            message(&refused).contains(expected),
            "{expected}: {refused}"
        );
    }
}

/// (c) Tenant A reaches nothing of tenant B: every operation naming B's resources answers
/// exactly as for a name that exists nowhere, and A's lists and audit log hold nothing of B.
pub fn tenants_cannot_see_each_other(served: &Served) {
    let a = tenant_root(served, "bank-a");
    let b = tenant_root(served, "bank-b");
    create_account(&b, "b-only", "b's sub-account pass");
    assert_eq!(b.post("/api/v1/groups", json!({"name": "b-only"})).0, 201);
    assert_eq!(
        b.post(
            "/api/v1/policies",
            json!({"name": "b-only", "document": allow(&["*"], &["*"])})
        )
        .0,
        201
    );
    assert_eq!(
        b.put("/api/v1/groups/b-only/policies/b-only", json!(null))
            .0,
        204
    );
    assert_eq!(
        b.put("/api/v1/groups/b-only/members/b-only", json!(null)).0,
        204
    );
    assert_eq!(
        b.post(
            "/api/v1/api-keys",
            json!({"name": "b-only", "scope": allow(&["*"], &["*"])})
        )
        .0,
        201
    );
    assert_eq!(
        b.post(
            "/api/v1/keys",
            json!({"name": "b-only", "algorithm": "secp256k1"})
        )
        .0,
        201
    );
    assert_eq!(b.post("/api/v1/ca", json!({})).0, 201);
    let (status, issued) = b.post(
        "/api/v1/certificates",
        json!({"common_name": "b-only", "role": "client", "key": "b-only"}),
    );
    assert_eq!(status, 201, "{issued}");
    let b_serial = issued["serial"].as_str().expect("serial").to_owned();
    let a_none_serial = "7f".repeat(16);
    let (status, created) = b.post(
        "/api/v1/networks",
        json!({"name": "b-only", "validators": 1}),
    );
    assert_eq!(status, 202, "{created}");
    let b_operation = created["id"].as_str().expect("operation").to_owned();
    let none_operation = format!("op_{}", "7e".repeat(16));
    let (status, compiled) = b.post(
        "/api/v1/compile",
        json!({"sources": {"B.sol": "pragma solidity ^0.8.0;\ncontract B {}\n"}}),
    );
    assert_eq!(status, 200, "{compiled}");
    let b_report = compiled["security"]["report_hash"]
        .as_str()
        .expect("report")
        .to_owned();
    let none_report = format!("0x{}", "7e".repeat(32));

    let body_for = |method: &str, template: &str| -> Option<String> {
        match (method, template) {
            ("PUT", "/api/v1/policies/{name}") => {
                Some(json!({"document": allow(&["*"], &["*"])}).to_string())
            }
            ("POST", "/api/v1/keys/{name}/sign") => Some(json!({"message": "0x00"}).to_string()),
            ("POST", "/api/v1/certificates/{serial}/renew")
            | ("POST", "/api/v1/certificates/{serial}/revoke") => Some("{}".into()),
            ("POST", "/api/v1/networks/{name}/channels") => {
                Some(json!({"name": "letters", "members": []}).to_string())
            }
            ("POST", "/api/v1/invitations/{id}/proposals")
            | ("POST", "/api/v1/networks/{name}/validators")
            | ("POST", "/api/v1/networks/{name}/observers")
            | ("POST", "/api/v1/networks/{name}/channels/{channel}/approvals")
            | ("POST", "/api/v1/networks/{name}/proposals/{id}/votes") => Some("{}".into()),
            ("POST", "/api/v1/networks/{name}/nodes") => Some(
                json!({"name": "x", "role": "observer", "rpc_url": "http://127.0.0.1:9", "certificate_pem": "x"})
                    .to_string(),
            ),
            ("POST", "/api/v1/networks/{name}/contracts") => {
                Some(json!({"name": "counter", "bytecode": "0x00", "abi": []}).to_string())
            }
            ("POST", "/api/v1/networks/{name}/contracts/{contract}/invoke/{method}")
            | ("POST", "/api/v1/networks/{name}/contracts/{contract}/query/{method}") => {
                Some(json!({"args": []}).to_string())
            }
            ("POST", "/api/v1/networks/{name}/contracts/{contract}/proposals") => {
                Some(json!({"action": "freeze"}).to_string())
            }
            ("POST", "/api/v1/networks/{name}/proposals") => {
                Some(json!({"change": {"kind": "remove_org", "name": "bank-a"}}).to_string())
            }
            ("POST", "/api/v1/networks/{name}/invitations") => {
                Some(json!({"tenant": "bank-a"}).to_string())
            }
            ("POST", "/api/v1/security-reports/{hash}/resolutions") => Some(
                json!({"finding": "x", "reason": "not a weakness in this deployment"}).to_string(),
            ),
            ("POST", "/api/v1/certificates/{serial}/enrolments") => {
                Some(json!({"channel": "test/unreachable", "admin_key": "b-only"}).to_string())
            }
            _ => Some("null".into()),
        }
    };
    let mut probed = 0;
    for (method, template, access, _) in operations(served) {
        if access != "tenant" || !template.contains('{') {
            continue;
        }
        probed += 1;
        let fill = |name: &str, operation: &str| {
            template
                .replace("{name}", name)
                .replace("{policy}", name)
                .replace("{account}", name)
                .replace("{node}", &format!("{name}-validator0"))
                .replace("{channel}", "letters")
                .replace("{contract}", "counter")
                .replace("{method}", "transfer")
                .replace("{id}", operation)
                .replace(
                    "{hash}",
                    if name == "b-only" {
                        &b_report
                    } else {
                        &none_report
                    },
                )
        };
        let (theirs_status, theirs) = a.send(
            &method,
            &fill("b-only", &b_operation),
            body_for(&method, &template),
        );
        let (none_status, none) = a.send(
            &method,
            &fill("zz-none", &none_operation),
            body_for(&method, &template),
        );
        assert_eq!(theirs_status, 404, "{method} {template}: {theirs}");
        assert_eq!(
            (
                theirs_status,
                message(&theirs)
                    .replace("b-only", "X")
                    .replace(&b_serial, "S")
                    .replace(&b_operation, "O")
                    .replace(&b_report, "H")
            ),
            (
                none_status,
                message(&none)
                    .replace("zz-none", "X")
                    .replace(&a_none_serial, "S")
                    .replace(&none_operation, "O")
                    .replace(&none_report, "H")
            ),
            "{method} {template} must answer for B's resource as for none"
        );
    }
    assert!(probed >= 15, "probed {probed} operations");

    // B's names are free in A (no 409 would hint they exist elsewhere), and A's lists show
    // only A's.
    create_account(&a, "b-only", "a's own sub-account");
    for path in [
        "/api/v1/accounts",
        "/api/v1/groups",
        "/api/v1/policies",
        "/api/v1/api-keys",
    ] {
        let (status, page) = a.get(path);
        assert_eq!(status, 200);
        let text = page.to_string();
        assert!(!text.contains("bank-b"), "{path}: {text}");
        if path != "/api/v1/accounts" {
            assert_eq!(page["items"], json!([]), "{path}: {text}");
        }
    }
    let (_, audit) = a.get("/api/v1/audit?limit=500");
    let entries = audit["items"].as_array().expect("entries");
    assert!(!entries.is_empty());
    for entry in entries {
        assert!(
            entry["actor"]
                .as_str()
                .is_some_and(|actor| actor.starts_with("bank-a/")),
            "{entry}"
        );
    }
    // B's key does not open A.
    let (_, created) = b.post(
        "/api/v1/api-keys",
        json!({"name": "b-two", "scope": allow(&["*"], &["*"])}),
    );
    let b_key = served
        .client()
        .with_token(created["token"].as_str().expect("token"));
    let (status, page) = b_key.get("/api/v1/accounts");
    assert_eq!(status, 200);
    assert!(!page.to_string().contains("bank-a"), "{page}");
}

/// Every write is in the audit log with who, what, where from and the request id; refused
/// sign-ins appear in the tenant's log; queries filter and page; exports are JSON or CSV;
/// no password or token ever appears.
pub fn audit_log(served: &Served) {
    let root = tenant_root(served, "acme");
    let anonymous = served.client();
    let (status, headers, text) = root.send_full(
        "POST",
        "/api/v1/accounts",
        Some(json!({"name": "auditor"}).to_string()),
    );
    assert_eq!(status, 201, "{text}");
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    let created: Value = serde_json::from_str(&text).expect("json");
    let generated = created["password"]
        .as_str()
        .expect("generated password")
        .to_owned();
    let (status, _) = anonymous.post(
        "/api/v1/sessions",
        json!({"tenant": "acme", "name": "root", "password": "a wrong password"}),
    );
    assert_eq!(status, 401);
    let (_, created) = root.post(
        "/api/v1/api-keys",
        json!({"name": "erp", "scope": allow(&["*"], &["*"])}),
    );
    let token = created["token"].as_str().expect("token").to_owned();
    let (status, _) = root.post("/api/v1/groups", json!({"name": "Bad Name"}));
    assert_eq!(status, 400);

    let (status, page) = root.get("/api/v1/audit?limit=500");
    assert_eq!(status, 200, "{page}");
    let entries = page["items"].as_array().expect("entries").clone();
    let find = |action: &str, result: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["result"] == result)
            .unwrap_or_else(|| panic!("no {action} {result} in {entries:?}"))
            .clone()
    };
    let create = find("account:Create", "ok");
    assert_eq!(create["actor"], "acme/root");
    assert_eq!(create["resource"], "account/auditor");
    assert_eq!(create["request_id"], request_id.as_str());
    assert_eq!(create["credential"], "session");
    assert_eq!(create["status"], 201);
    assert!(
        create["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("127.0.0.1:")),
        "{create}"
    );
    let refused = find("session:SignIn", "denied");
    assert_eq!(refused["actor"], "acme/root");
    assert_eq!(refused["status"], 401);
    let failed = find("group:Create", "failed");
    assert_eq!(failed["status"], 400);
    // Every entry was completed with its answer (status 0 would mean "never answered").
    assert!(entries.iter().all(|e| e["status"] != 0), "{entries:?}");
    // Newest first.
    let ids: Vec<&str> = entries.iter().filter_map(|e| e["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);

    // Filters and paging.
    let (_, only) = root.get("/api/v1/audit?action=account:Create");
    assert!(
        only["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|e| e["action"] == "account:Create")
    );
    let (_, first) = root.get("/api/v1/audit?limit=2");
    let next = first["next"].as_str().expect("more entries");
    let (_, second) = root.get(&format!("/api/v1/audit?limit=2&after={next}"));
    assert!(second["items"][0]["id"].as_str() < first["items"][1]["id"].as_str());
    let (status, body) = root.get("/api/v1/audit?result=maybe");
    assert_eq!(status, 400, "{body}");

    // Exports: JSON and CSV with the same entries, neither with secrets.
    let (status, headers, csv) = root.send_full("GET", "/api/v1/audit/export?format=csv", None);
    assert_eq!(status, 200);
    assert!(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv"))
    );
    assert!(
        csv.starts_with("id,at,actor,credential,action,resource"),
        "{csv}"
    );
    assert!(csv.contains("account/auditor"), "{csv}");
    let (status, json_export) = root.get("/api/v1/audit/export");
    assert_eq!(status, 200);
    assert!(
        json_export
            .as_array()
            .is_some_and(|a| a.len() >= entries.len())
    );
    let secret = token.split_once('.').expect("id.secret").1;
    let root_token = root.token.clone().expect("token");
    for text in [csv.as_str(), &json_export.to_string(), &page.to_string()] {
        for forbidden in [
            generated.as_str(),
            secret,
            root_token.as_str(),
            "a wrong password",
        ] {
            assert!(!text.contains(forbidden), "the audit log holds a secret");
        }
    }
    let (status, body) = root.get("/api/v1/audit/export?format=xml");
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("json or csv"), "{body}");
}
