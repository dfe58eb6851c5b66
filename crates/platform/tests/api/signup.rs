//! A new tenant signs up by e-mail: the link arrives at a local SMTP sink, works once and for a
//! day, and creates the tenant with the password chosen at sign-up; the operator's quotas then
//! bound what the tenant creates.

use super::{Served, message};
use serde_json::json;

fn link_token(mail: &str) -> String {
    let start = mail.find("#/verify/").expect("a verification link") + "#/verify/".len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

pub fn sign_up_by_email_and_quotas(served: &Served) {
    let anonymous = served.client();
    let (status, body) = anonymous.post(
        "/api/v1/signups",
        json!({"email": "ops@bank-c.example", "tenant": "bank-c", "password": "bank-c's first passphrase"}),
    );
    assert_eq!(status, 202, "{body}");
    assert!(message(&body).contains("ops@bank-c.example"), "{body}");
    let mail = served.mail.message(1);
    assert!(mail.contains("To: ops@bank-c.example"), "{mail}");
    assert!(
        mail.contains("Subject: Confirm your RiCaaS tenant bank-c"),
        "{mail}"
    );
    assert!(
        mail.contains("http://console.ricaas.test/#/verify/rsv_"),
        "{mail}"
    );
    assert!(
        !mail.contains("first passphrase"),
        "the password is never mailed"
    );
    let token = link_token(&mail);

    // Nothing exists before the link is followed.
    let (status, _) = anonymous.post(
        "/api/v1/sessions",
        json!({"tenant": "bank-c", "name": "root", "password": "bank-c's first passphrase"}),
    );
    assert_eq!(status, 401);
    let (status, verified) = anonymous.post("/api/v1/signups/verify", json!({"token": token}));
    assert_eq!(status, 201, "{verified}");
    assert_eq!(verified["tenant"]["name"], "bank-c");
    let root = anonymous.login(Some("bank-c"), "root", "bank-c's first passphrase");
    let (status, again) = anonymous.post("/api/v1/signups/verify", json!({"token": token}));
    assert_eq!(status, 409, "a link works once: {again}");
    for (body, status, expected) in [
        (json!({"token": "rsv_00"}), 400, "not valid"),
        (json!({"token": "nonsense"}), 400, "not valid"),
    ] {
        let (got, refused) = anonymous.post("/api/v1/signups/verify", body);
        assert_eq!(got, status, "{refused}");
        assert!(message(&refused).contains(expected), "{refused}");
    }

    // Refused up front, and no mail sent.
    let sent = served.mail.count();
    for (body, status, expected) in [
        (
            json!({"email": "x@y.example", "tenant": "bank-c", "password": "long enough password"}),
            409,
            "already exists",
        ),
        (
            json!({"email": "not an address", "tenant": "bank-d", "password": "long enough password"}),
            400,
            "not an e-mail address",
        ),
        (
            json!({"email": "x@y.example", "tenant": "Bank D", "password": "long enough password"}),
            400,
            "lowercase letters",
        ),
        (
            json!({"email": "x@y.example", "tenant": "bank-d", "password": "short"}),
            400,
            "at least 12",
        ),
    ] {
        let (got, refused) = anonymous.post("/api/v1/signups", body);
        assert_eq!(got, status, "{refused}");
        assert!(
            message(&refused).contains(expected),
            "{expected}: {refused}"
        );
    }
    assert_eq!(served.mail.count(), sent);

    // A link older than a day no longer works.
    let (status, _) = anonymous.post(
        "/api/v1/signups",
        json!({"email": "late@bank-e.example", "tenant": "bank-e", "password": "bank-e passphrase!"}),
    );
    assert_eq!(status, 202);
    let late = link_token(&served.mail.message(sent + 1));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = ricaas_platform::Store::open(&served.url)
            .await
            .expect("store");
        sqlx::query("UPDATE signups SET expires_at = 1 WHERE tenant_name = 'bank-e'")
            .execute(store.pool())
            .await
            .expect("update");
    });
    let (status, expired) = anonymous.post("/api/v1/signups/verify", json!({"token": late}));
    assert_eq!(status, 400, "{expired}");
    assert!(message(&expired).contains("expired"), "{expired}");

    // Quotas: the operator sets them, the tenant sees them, creation stops at them.
    let operator = anonymous.login(None, "admin", &served.operator_password);
    let (status, usage) = operator.put(
        "/api/v1/tenants/bank-c/quotas",
        json!({"accounts": 1, "keys": 1, "api_keys": 1}),
    );
    assert_eq!(status, 200, "{usage}");
    assert_eq!(
        root.post("/api/v1/accounts", json!({"name": "first"})).0,
        201
    );
    let (status, refused) = root.post("/api/v1/accounts", json!({"name": "second"}));
    assert_eq!(status, 409, "{refused}");
    assert!(
        message(&refused).contains("quota reached: this tenant has 1 of 1 sub-accounts"),
        "{refused}"
    );
    assert_eq!(
        root.post("/api/v1/keys", json!({"name": "k1", "algorithm": "p256"}))
            .0,
        201
    );
    let (status, refused) = root.post("/api/v1/keys", json!({"name": "k2", "algorithm": "p256"}));
    assert_eq!(status, 409, "{refused}");
    let scope = json!({"statements": [{"effect": "allow", "actions": ["*"], "resources": ["*"]}]});
    assert_eq!(
        root.post("/api/v1/api-keys", json!({"name": "a1", "scope": scope}))
            .0,
        201
    );
    let (status, _) = root.post("/api/v1/api-keys", json!({"name": "a2", "scope": scope}));
    assert_eq!(status, 409);
    let (status, usage) = root.get("/api/v1/tenant/usage");
    assert_eq!(status, 200);
    assert_eq!(
        usage["used"],
        json!({"accounts": 1, "keys": 1, "api_keys": 1})
    );
    assert_eq!(
        usage["limits"],
        json!({"accounts": 1, "keys": 1, "api_keys": 1})
    );
    let (status, _) = root.get("/api/v1/tenants/bank-c/quotas");
    assert_eq!(
        status, 403,
        "only the operator reads another tenant's quotas"
    );
    let (status, refused) = operator.put(
        "/api/v1/tenants/bank-c/quotas",
        json!({"accounts": -1, "keys": 1, "api_keys": 1}),
    );
    assert_eq!(status, 400, "{refused}");
    let (status, _) = operator.get("/api/v1/tenants/nope/quotas");
    assert_eq!(status, 404);
}
