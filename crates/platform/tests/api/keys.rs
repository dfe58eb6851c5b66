//! The software keystore over HTTP: every algorithm generates, signs verifiably and exports
//! its public half; imports keep what they import; Ethereum signatures recover the key's
//! address; bad requests are refused with what to fix; destroyed keys sign nothing.

use super::{Served, message};
use ricaas_crypto::ca::{IdentityKey, KeyAlgorithm, verify_signature};
use serde_json::{Value, json};

fn tenant_root(served: &Served) -> super::Client {
    let anonymous = served.client();
    let operator = anonymous.login(None, "admin", &served.operator_password);
    let (status, created) = operator.post("/api/v1/tenants", json!({"name": "acme"}));
    assert_eq!(status, 201, "{created}");
    anonymous.login(
        Some("acme"),
        "root",
        created["root"]["password"].as_str().expect("password"),
    )
}

fn spki_of(key: &Value) -> spki::SubjectPublicKeyInfoOwned {
    use der::DecodePem as _;
    spki::SubjectPublicKeyInfoOwned::from_pem(key["public_key_pem"].as_str().expect("pem"))
        .expect("spki pem")
}

fn signature_bytes(signed: &Value) -> Vec<u8> {
    let text = signed["signature"].as_str().expect("signature");
    hex::decode(text.strip_prefix("0x").expect("0x")).expect("hex")
}

pub fn keystore(served: &Served) {
    let root = tenant_root(served);
    let message_hex = hex::encode(b"channel configuration v2");
    for algorithm in ["secp256k1", "p256", "ed25519", "sm2"] {
        let name = format!("k-{algorithm}");
        let (status, key) = root.post(
            "/api/v1/keys",
            json!({"name": name, "algorithm": algorithm}),
        );
        assert_eq!(status, 201, "{key}");
        assert_eq!(key["backend"], "software");
        assert_eq!(
            key["address"].is_string(),
            algorithm == "secp256k1",
            "{key}"
        );
        let (status, signed) = root.post(
            &format!("/api/v1/keys/{name}/sign"),
            json!({"message": format!("0x{message_hex}")}),
        );
        assert_eq!(status, 200, "{signed}");
        verify_signature(
            &spki_of(&key),
            b"channel configuration v2",
            &signature_bytes(&signed),
        )
        .unwrap_or_else(|e| panic!("{algorithm} document signature verifies: {e}"));
        let (status, headers, pem) =
            root.send_full("GET", &format!("/api/v1/keys/{name}/public.pem"), None);
        assert_eq!(status, 200);
        assert!(
            headers
                .get("content-type")
                .is_some_and(|v| v == "application/x-pem-file")
        );
        assert_eq!(pem, key["public_key_pem"].as_str().expect("pem"));
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    }

    // Ethereum signatures recover the key's address.
    let digest = [0x5au8; 32];
    let (status, signed) = root.post(
        "/api/v1/keys/k-secp256k1/sign",
        json!({"message": hex::encode(digest), "scheme": "ethereum"}),
    );
    assert_eq!(status, 200, "{signed}");
    let bytes = signature_bytes(&signed);
    assert_eq!(bytes.len(), 65);
    let signature = alloy_primitives::Signature::from_raw(&bytes).expect("r s v");
    let recovered = ricaas_crypto::recover_signer(&signature, &digest.into()).expect("recovers");
    let (_, key) = root.get("/api/v1/keys/k-secp256k1");
    assert_eq!(
        recovered.to_string(),
        key["address"].as_str().expect("address")
    );

    // An imported key is the key that was imported.
    let imported = IdentityKey::generate(KeyAlgorithm::Secp256k1);
    let pem = imported.to_pkcs8_pem().expect("pem");
    let (status, key) = root.post(
        "/api/v1/key-imports",
        json!({"name": "legacy", "private_key_pem": pem}),
    );
    assert_eq!(status, 201, "{key}");
    assert_eq!(key["origin"], "imported");
    assert_eq!(
        key["address"].as_str(),
        imported
            .ethereum_address()
            .map(|a| a.to_string())
            .as_deref()
    );

    // Bad requests: each refused with what to fix, nothing stored.
    for (path, body, status, expected) in [
        (
            "/api/v1/keys",
            json!({"name": "x1", "algorithm": "rsa"}),
            422,
            "unknown variant",
        ),
        (
            "/api/v1/keys",
            json!({"name": "x1", "algorithm": "sm2", "backend": "pkcs11"}),
            400,
            "without an HSM",
        ),
        (
            "/api/v1/keys",
            json!({"name": "k-p256", "algorithm": "p256"}),
            409,
            "already exists",
        ),
        (
            "/api/v1/key-imports",
            json!({"name": "x2", "private_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}),
            400,
            "PKCS#8",
        ),
        (
            "/api/v1/keys/k-p256/sign",
            json!({"message": "not hex"}),
            400,
            "must be hex",
        ),
        (
            "/api/v1/keys/k-p256/sign",
            json!({"message": "00", "scheme": "ethereum"}),
            400,
            "need a secp256k1 key",
        ),
        (
            "/api/v1/keys/k-secp256k1/sign",
            json!({"message": "00", "scheme": "ethereum"}),
            400,
            "32-byte digest",
        ),
        (
            "/api/v1/keys/k-p256/sign",
            json!({"message": "ab".repeat(20_000)}),
            400,
            "at most 16384",
        ),
        (
            "/api/v1/keys/nope/sign",
            json!({"message": "00"}),
            404,
            "no key \"nope\"",
        ),
    ] {
        let (got, body) = root.post(path, body);
        assert_eq!(got, status, "{path}: {body}");
        assert!(message(&body).contains(expected), "{expected}: {body}");
    }
    let (_, keys) = root.get("/api/v1/keys");
    let names: Vec<&str> = keys["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["k-ed25519", "k-p256", "k-secp256k1", "k-sm2", "legacy"]
    );

    // Destroyed: the public half stays, signing stops.
    let (status, destroyed) = root.delete("/api/v1/keys/legacy");
    assert_eq!(status, 200, "{destroyed}");
    assert!(destroyed["destroyed_at"].is_i64());
    let (status, body) = root.post("/api/v1/keys/legacy/sign", json!({"message": "00"}));
    assert_eq!(status, 409, "{body}");
    assert!(message(&body).contains("destroyed"), "{body}");

    // No response ever carried the imported private key.
    let secret_hex = match &imported {
        IdentityKey::Secp256k1(k) => hex::encode(k.to_bytes()),
        _ => unreachable!(),
    };
    let (_, audit) = root.get("/api/v1/audit/export");
    for text in [keys.to_string(), audit.to_string(), destroyed.to_string()] {
        assert!(!text.contains(&secret_hex));
        assert!(!text.contains(pem.lines().nth(1).expect("pem body")));
    }
}
