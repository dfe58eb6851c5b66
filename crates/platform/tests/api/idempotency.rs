//! Writes with an `Idempotency-Key`: a retry gets the first answer (even a secret shown once,
//! kept sealed), not a second write; the same key for another request is refused; keys belong
//! to their caller.

use super::{Served, message};
use serde_json::json;

pub fn retries_with_a_key_write_once(served: &Served) {
    let anonymous = served.client();
    let operator = anonymous.login(None, "admin", &served.operator_password);
    let (_, created) = operator.post("/api/v1/tenants", json!({"name": "acme"}));
    let root = anonymous.login(
        Some("acme"),
        "root",
        created["root"]["password"].as_str().expect("password"),
    );
    let mut keyed = root.clone();
    keyed.idempotency_key = Some("order-7f3a".into());

    let body = json!({"name": "teller"}).to_string();
    let (status, headers, first) = keyed.send_full("POST", "/api/v1/accounts", Some(body.clone()));
    assert_eq!(status, 201, "{first}");
    assert!(headers.get("idempotent-replayed").is_none());
    let (status, headers, again) = keyed.send_full("POST", "/api/v1/accounts", Some(body.clone()));
    assert_eq!(status, 201, "the retry gets the first answer: {again}");
    assert_eq!(
        again, first,
        "the same generated password, not a second account"
    );
    assert_eq!(
        headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let (_, accounts) = root.get("/api/v1/accounts?q=teller");
    assert_eq!(accounts["items"].as_array().map(Vec::len), Some(1));

    // The same key for a different request is refused; without the key the write is a new one.
    let (status, refused) = keyed.post("/api/v1/accounts", json!({"name": "other"}));
    assert_eq!(status, 422, "{refused}");
    assert!(message(&refused).contains("different request"), "{refused}");
    let (status, conflict) = root.send("POST", "/api/v1/accounts", Some(body.clone()));
    assert_eq!(status, 409, "{conflict}");

    // A refused answer is remembered too (it is the answer to that request).
    let mut second = root.clone();
    second.idempotency_key = Some("dup-1".into());
    assert_eq!(
        second
            .send("POST", "/api/v1/accounts", Some(body.clone()))
            .0,
        409
    );
    assert_eq!(
        second
            .send("POST", "/api/v1/accounts", Some(body.clone()))
            .0,
        409
    );

    // Malformed keys are refused before anything happens.
    let mut bad = root.clone();
    bad.idempotency_key = Some("has space".into());
    let (status, refused) = bad.post("/api/v1/groups", json!({"name": "never"}));
    assert_eq!(status, 400, "{refused}");
    assert!(message(&refused).contains("Idempotency-Key"), "{refused}");
    let (_, groups) = root.get("/api/v1/groups");
    assert_eq!(groups["items"], json!([]));

    // The kept answer holds the generated password only sealed.
    let password = serde_json::from_str::<serde_json::Value>(&first).expect("json")["password"]
        .as_str()
        .expect("generated")
        .to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = ricaas_platform::Store::open(&served.url)
            .await
            .expect("store");
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT body FROM idempotency_keys WHERE body IS NOT NULL")
                .fetch_all(store.pool())
                .await
                .expect("rows");
        assert!(!rows.is_empty());
        assert!(
            rows.iter()
                .all(|(body,)| !body.contains(&password) && body.starts_with("v1."))
        );
    });

    // The OpenAPI document offers the header on writes.
    let (_, doc) = anonymous.get("/api/v1/openapi.json");
    let parameters = doc["paths"]["/api/v1/accounts"]["post"]["parameters"].to_string();
    assert!(parameters.contains("Idempotency-Key"), "{parameters}");
}
