//! Sign-in beyond the password: second factors (enrolment, codes usable once, tenants that
//! demand them at sign-in and for sensitive actions), lockout after failures, throttling per
//! address, and refresh tokens that rotate and detect reuse.

use super::{Client, Served, message};
use serde_json::{Value, json};

fn tenant_root(served: &Served, tenant: &str) -> (Client, String) {
    let anonymous = served.client();
    let operator = anonymous.login(None, "admin", &served.operator_password);
    let (status, created) = operator.post("/api/v1/tenants", json!({"name": tenant}));
    assert_eq!(status, 201, "{created}");
    let password = created["root"]["password"]
        .as_str()
        .expect("password")
        .to_owned();
    (anonymous.login(Some(tenant), "root", &password), password)
}

fn sign_in(
    served: &Served,
    tenant: &str,
    name: &str,
    password: &str,
    otp: Option<&str>,
) -> (u16, Value) {
    served.client().post(
        "/api/v1/sessions",
        json!({"tenant": tenant, "name": name, "password": password, "otp": otp}),
    )
}

/// The code `seconds_ahead` from the served clock's now.
fn code(served: &Served, secret: &str, seconds_ahead: u64) -> String {
    ricaas_platform::mfa::code_for(secret, served.clock.now_seconds() + seconds_ahead)
        .expect("base32 seed")
}

fn enrol(client: &Client, served: &Served) -> String {
    let (status, enrolment) = client.post("/api/v1/me/mfa", json!(null));
    assert_eq!(status, 201, "{enrolment}");
    let secret = enrolment["secret"].as_str().expect("secret").to_owned();
    assert!(
        enrolment["otpauth_uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("otpauth://totp/RiCaaS:") && u.contains(&secret)),
        "{enrolment}"
    );
    let (status, body) = client.post("/api/v1/me/mfa/confirm", json!({"code": "000000x"}));
    assert_eq!(status, 400, "{body}");
    let (status, body) = client.post(
        "/api/v1/me/mfa/confirm",
        json!({"code": code(served, &secret, 0)}),
    );
    assert_eq!(status, 204, "{body}");
    secret
}

pub fn second_factor(served: &Served) {
    let (root, root_password) = tenant_root(served, "acme");
    let secret = enrol(&root, served);
    let (_, me) = root.get("/api/v1/me");
    assert_eq!(me["mfa_enabled"], true, "{me}");
    let (status, body) = root.post("/api/v1/me/mfa", json!(null));
    assert_eq!(status, 409, "enrolled already: {body}");

    // Sign-in now needs a code, and each code works once.
    let (status, body) = sign_in(served, "acme", "root", &root_password, None);
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("one-time code"), "{body}");
    let used = code(served, &secret, 0);
    let (status, body) = sign_in(served, "acme", "root", &root_password, Some(&used));
    assert_eq!(status, 401, "the confirming code was used: {body}");
    assert!(message(&body).contains("already used"), "{body}");
    served.clock.advance(30);
    let (status, session) = sign_in(
        served,
        "acme",
        "root",
        &root_password,
        Some(&code(served, &secret, 0)),
    );
    assert_eq!(status, 201, "{session}");
    let root = served
        .client()
        .with_token(session["token"].as_str().expect("token"));

    // The tenant demands a code for sensitive actions.
    let (status, body) = root.put(
        "/api/v1/tenant/settings",
        json!({"mfa_for_login": false, "mfa_for_sensitive": true}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = root.post(
        "/api/v1/accounts",
        json!({"name": "bob", "password": "bob's passphrase!"}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("mfa_required")),
        "{body}"
    );
    assert!(message(&body).contains("X-RiCaaS-OTP"), "{body}");
    let (status, _) = root.get("/api/v1/accounts");
    assert_eq!(status, 200, "reading is not sensitive");
    let next = code(served, &secret, 30);
    let with_code = |method: &str, path: &str, body: Value, otp: &str| {
        let mut client = root.clone();
        client.otp = Some(otp.to_owned());
        client.send(method, path, Some(body.to_string()))
    };
    let (status, body) = with_code(
        "POST",
        "/api/v1/accounts",
        json!({"name": "bob", "password": "bob's passphrase!"}),
        &next,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = with_code("POST", "/api/v1/accounts", json!({"name": "carl"}), &next);
    assert_eq!(status, 403, "replayed code: {body}");
    assert!(message(&body).contains("already used"), "{body}");
    let (_, accounts) = root.get("/api/v1/accounts");
    assert!(!accounts.to_string().contains("carl"), "nothing stored");

    // The tenant demands a second factor at sign-in: bob, without one, may only enrol.
    served.clock.advance(60);
    let (status, body) = with_code(
        "PUT",
        "/api/v1/tenant/settings",
        json!({"mfa_for_login": true, "mfa_for_sensitive": false}),
        &code(served, &secret, 0),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = with_code("PUT", "/api/v1/accounts/bob/policies/none", json!(null), "");
    assert_eq!(
        status, 404,
        "no such policy, and no code needed any more: {body}"
    );
    let (status, body) = root.post("/api/v1/policies", json!({"name": "read", "document": {"statements": [{"effect": "allow", "actions": ["account:List"], "resources": ["*"]}]}}));
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        root.put("/api/v1/accounts/bob/policies/read", json!(null))
            .0,
        204
    );
    let (status, session) = sign_in(served, "acme", "bob", "bob's passphrase!", None);
    assert_eq!(status, 201, "{session}");
    let bob = served
        .client()
        .with_token(session["token"].as_str().expect("token"));
    let (status, body) = bob.get("/api/v1/accounts");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("mfa_required")),
        "{body}"
    );
    assert!(message(&body).contains("enrol"), "{body}");
    assert_eq!(bob.get("/api/v1/me").0, 200, "self-service stays open");
    let bob_secret = enrol(&bob, served);
    served.clock.advance(30);
    let (status, session) = sign_in(
        served,
        "acme",
        "bob",
        "bob's passphrase!",
        Some(&code(served, &bob_secret, 0)),
    );
    assert_eq!(status, 201, "{session}");
    let bob = served
        .client()
        .with_token(session["token"].as_str().expect("token"));
    assert_eq!(bob.get("/api/v1/accounts").0, 200);

    // Root resets bob's lost factor: the password alone signs in again (restricted).
    assert_eq!(
        root.post("/api/v1/accounts/bob/mfa-reset", json!(null)).0,
        204
    );
    let (status, session) = sign_in(served, "acme", "bob", "bob's passphrase!", None);
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["account"]["mfa_enabled"], false);

    // API keys are bounded by their scope, not by codes.
    let (status, created) = root.post("/api/v1/api-keys", json!({"name": "erp", "scope": {"statements": [{"effect": "allow", "actions": ["*"], "resources": ["*"]}]}}));
    assert_eq!(status, 201, "{created}");
    let erp = served
        .client()
        .with_token(created["token"].as_str().expect("token"));
    assert_eq!(erp.get("/api/v1/accounts").0, 200);

    // Turning the factor off needs a current code.
    let (status, body) = root.post("/api/v1/me/mfa/disable", json!({"code": "123456"}));
    assert!(status == 400, "{body}");
    served.clock.advance(30);
    let (status, body) = root.post(
        "/api/v1/me/mfa/disable",
        json!({"code": code(served, &secret, 0)}),
    );
    assert_eq!(status, 204, "{body}");
}

pub fn lockout_and_throttle(served: &Served) {
    let (root, _) = tenant_root(served, "acme");
    assert_eq!(
        root.post(
            "/api/v1/accounts",
            json!({"name": "carol", "password": "carol's passphrase"})
        )
        .0,
        201
    );
    for name in ["carol", "ghost"] {
        let mut last = Value::Null;
        for _ in 0..5 {
            let (status, body) = sign_in(served, "acme", name, "not the password", None);
            assert_eq!(status, 401, "{body}");
            last = body;
        }
        assert!(
            message(&last).contains("locked for 15 more minute"),
            "{name}: {last}"
        );
    }
    // Locked: even the right password is refused, with the same answer as for a name that
    // does not exist.
    let (status, carol) = sign_in(served, "acme", "carol", "carol's passphrase", None);
    let (_, ghost) = sign_in(served, "acme", "ghost", "carol's passphrase", None);
    assert_eq!(status, 401);
    assert_eq!(message(&carol), message(&ghost));
    assert_eq!(
        root.post("/api/v1/accounts/carol/unlock", json!(null)).0,
        204
    );
    let (status, body) = sign_in(served, "acme", "carol", "carol's passphrase", None);
    assert_eq!(status, 201, "{body}");
    let (status, body) = root.post("/api/v1/accounts/ghost/unlock", json!(null));
    assert_eq!(status, 404, "{body}");

    // One address gets a bounded number of attempts per minute.
    let mut throttled = None;
    for _ in 0..(2 * 30 + 1) {
        let (status, headers, text) = served.client().send_full(
            "POST",
            "/api/v1/sessions",
            Some(json!({"name": "admin", "password": "wrong password"}).to_string()),
        );
        if status == 429 {
            throttled = Some((headers, text));
            break;
        }
    }
    let (headers, text) = throttled.expect("throttled within two windows");
    assert!(headers.get("retry-after").is_some());
    assert!(text.contains("too many sign-in attempts"), "{text}");
}

pub fn refresh_rotation(served: &Served) {
    let (_, password) = tenant_root(served, "acme");
    let (status, first) = sign_in(served, "acme", "root", &password, None);
    assert_eq!(status, 201, "{first}");
    let old_token = first["token"].as_str().expect("token");
    let old_refresh = first["refresh_token"].as_str().expect("refresh token");
    assert!(old_refresh.starts_with("rcr_"));
    assert!(first["expires_at"].as_i64() < first["refresh_expires_at"].as_i64());

    let anonymous = served.client();
    let (status, second) = anonymous.post(
        "/api/v1/sessions/refresh",
        json!({"refresh_token": old_refresh}),
    );
    assert_eq!(status, 201, "{second}");
    assert_eq!(
        second["refresh_expires_at"], first["refresh_expires_at"],
        "a sign-in's end does not move"
    );
    let new = anonymous.with_token(second["token"].as_str().expect("token"));
    assert_eq!(new.get("/api/v1/me").0, 200);
    assert_eq!(
        anonymous.with_token(old_token).get("/api/v1/me").0,
        401,
        "replaced"
    );

    // The old refresh token again: stolen, so the whole sign-in ends.
    let (status, body) = anonymous.post(
        "/api/v1/sessions/refresh",
        json!({"refresh_token": old_refresh}),
    );
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("already used"), "{body}");
    assert_eq!(new.get("/api/v1/me").0, 401, "the family ended");
    let (status, _) = anonymous.post(
        "/api/v1/sessions/refresh",
        json!({"refresh_token": second["refresh_token"]}),
    );
    assert_eq!(status, 401);

    // Signing out ends the refresh token too.
    let (_, third) = sign_in(served, "acme", "root", &password, None);
    let client = anonymous.with_token(third["token"].as_str().expect("token"));
    assert_eq!(client.delete("/api/v1/sessions/current").0, 204);
    let (status, _) = anonymous.post(
        "/api/v1/sessions/refresh",
        json!({"refresh_token": third["refresh_token"]}),
    );
    assert_eq!(status, 401);
    // An access token past its 30 minutes says so (the clock is moved in the store).
    let (_, fourth) = sign_in(served, "acme", "root", &password, None);
    let token = fourth["token"].as_str().expect("token").to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = ricaas_platform::Store::open(&served.url).await.expect("store");
        sqlx::query("UPDATE sessions SET expires_at = 1 WHERE family = (SELECT family FROM sessions WHERE revoked_at IS NULL ORDER BY created_at DESC LIMIT 1)")
            .execute(store.pool())
            .await
            .expect("update");
    });
    let (status, body) = anonymous.with_token(&token).get("/api/v1/me");
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("expired"), "{body}");
    for forged in ["rcr_00", "rcs_00", ""] {
        let (status, body) =
            anonymous.post("/api/v1/sessions/refresh", json!({"refresh_token": forged}));
        assert_eq!(status, 401, "{forged}: {body}");
    }
}
