//! The tenant's CA over HTTP: created or imported, issuing for every key type (keystore keys
//! and public keys held elsewhere), renewing, revoking into a CRL that `openssl` verifies, and
//! an inventory filtered by expiry.

use super::{Client, Served, message};
use serde_json::{Value, json};
use std::process::Command;

fn tenant_root(served: &Served, name: &str) -> Client {
    let anonymous = served.client();
    let operator = anonymous.login(None, "admin", &served.operator_password);
    let (status, created) = operator.post("/api/v1/tenants", json!({"name": name}));
    assert_eq!(status, 201, "{created}");
    anonymous.login(
        Some(name),
        "root",
        created["root"]["password"].as_str().expect("password"),
    )
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

pub fn certificate_authority(served: &Served) {
    let root = tenant_root(served, "acme");
    let (status, body) = root.post(
        "/api/v1/certificates",
        json!({"common_name": "early", "role": "client", "public_key_pem": "x"}),
    );
    assert_eq!(status, 404, "{body}");
    assert!(message(&body).contains("certificate authority"), "{body}");

    let (status, ca) = root.post("/api/v1/ca", json!({"algorithm": "p256"}));
    assert_eq!(status, 201, "{ca}");
    assert_eq!(
        (ca["org"].as_str(), ca["key"].as_str()),
        (Some("acme"), Some("ca"))
    );
    assert!(ca["days_left"].as_i64() >= Some(3649), "{ca}");
    let (status, again) = root.post("/api/v1/ca", json!({}));
    assert_eq!(status, 409, "{again}");

    // Every key type, from the keystore; and a public key held elsewhere.
    let mut issued = Vec::new();
    for (algorithm, role) in [
        ("secp256k1", "admin"),
        ("p256", "client"),
        ("ed25519", "node"),
        ("sm2", "client"),
    ] {
        let key = format!("id-{algorithm}");
        assert_eq!(
            root.post("/api/v1/keys", json!({"name": key, "algorithm": algorithm}))
                .0,
            201
        );
        let (status, certificate) = root.post(
            "/api/v1/certificates",
            json!({"common_name": key, "role": role, "key": key, "days": 200}),
        );
        assert_eq!(status, 201, "{certificate}");
        assert_eq!(certificate["status"], "valid");
        assert_eq!(certificate["role"], role);
        issued.push(certificate);
    }
    let (_, admin_key) = root.get("/api/v1/keys/id-secp256k1");
    assert_eq!(
        issued[0]["address"], admin_key["address"],
        "the chain names the admin by this address"
    );
    let outside = ricaas_crypto::ca::IdentityKey::generate(ricaas_crypto::ca::KeyAlgorithm::P256);
    let outside_pem =
        ricaas_crypto::ca::public_key_pem(&outside.public_key_info().expect("spki")).expect("pem");
    let (status, short) = root.post(
        "/api/v1/certificates",
        json!({"common_name": "partner-gw", "role": "client", "public_key_pem": outside_pem, "days": 10}),
    );
    assert_eq!(status, 201, "{short}");
    assert!(
        matches!(short["days_left"].as_i64(), Some(9..=10)),
        "{short}"
    );
    assert_eq!(short["key"], Value::Null);

    // openssl agrees: the ECDSA certificates chain to the CA.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ca.pem"),
        ca["certificate_pem"].as_str().expect("pem"),
    )
    .expect("write");
    for (i, certificate) in issued.iter().take(2).enumerate() {
        let file = format!("leaf{i}.pem");
        std::fs::write(
            dir.path().join(&file),
            certificate["certificate_pem"].as_str().expect("pem"),
        )
        .expect("write");
        let (ok, out) = openssl(dir.path(), &["verify", "-CAfile", "ca.pem", &file]);
        assert!(ok, "openssl verify {file}: {out}");
    }

    // Renew: a new serial for the same identity.
    let serial = issued[1]["serial"].as_str().expect("serial");
    let (status, renewed) = root.post(
        &format!("/api/v1/certificates/{serial}/renew"),
        json!({"days": 400}),
    );
    assert_eq!(status, 201, "{renewed}");
    assert_ne!(renewed["serial"], issued[1]["serial"]);
    assert_eq!(renewed["renewed_from"], serial);
    assert_eq!(renewed["common_name"], "id-p256");
    assert_eq!(renewed["key"], "id-p256");

    // Revoke: in the CRL, which openssl verifies against the CA.
    let (status, revoked) = root.post(
        &format!("/api/v1/certificates/{serial}/revoke"),
        json!({"reason": "superseded"}),
    );
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    let (status, _, crl) = root.send_full("GET", "/api/v1/ca/crl", None);
    assert_eq!(status, 200);
    std::fs::write(dir.path().join("crl.pem"), &crl).expect("write");
    let (ok, out) = openssl(
        dir.path(),
        &[
            "crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout", "-text",
        ],
    );
    assert!(ok, "openssl crl: {out}");
    assert!(
        out.contains("verify OK") || out.contains("verify ok"),
        "{out}"
    );
    assert!(
        out.to_lowercase()
            .replace(':', "")
            .contains(&serial.to_lowercase()),
        "serial {serial} in {out}"
    );
    std::fs::write(
        dir.path().join("revoked.pem"),
        issued[1]["certificate_pem"].as_str().expect("pem"),
    )
    .expect("write");
    let (ok, out) = openssl(
        dir.path(),
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "ca.pem",
            "-CRLfile",
            "crl.pem",
            "revoked.pem",
        ],
    );
    assert!(
        !ok && out.contains("revoked"),
        "openssl sees the revocation: {out}"
    );

    // The inventory: soonest expiry first, filtered.
    let (_, all) = root.get("/api/v1/certificates");
    let items = all["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        7,
        "the CA, 4 identities, the partner and the renewal: {all}"
    );
    assert_eq!(items[0]["common_name"], "partner-gw");
    let (_, expiring) = root.get("/api/v1/certificates?expiring_within_days=30");
    let names: Vec<&str> = expiring["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["common_name"].as_str())
        .collect();
    assert_eq!(names, ["partner-gw"]);
    let (_, revoked_only) = root.get("/api/v1/certificates?status=revoked");
    assert_eq!(revoked_only["items"].as_array().map(Vec::len), Some(1));
    let (_, page) = root.get("/api/v1/certificates?limit=3");
    let next = page["next"].as_str().expect("more pages");
    let (_, rest) = root.get(&format!("/api/v1/certificates?limit=10&after={next}"));
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(4));

    for (body, expected) in [
        (
            json!({"common_name": "x", "role": "superuser", "key": "id-p256"}),
            "expected admin, client or node",
        ),
        (
            json!({"common_name": "x y", "role": "client", "key": "id-p256"}),
            "invalid name",
        ),
        (
            json!({"common_name": "x", "role": "client"}),
            "exactly one of",
        ),
        (
            json!({"common_name": "x", "role": "client", "key": "id-p256", "public_key_pem": outside_pem}),
            "exactly one of",
        ),
        (
            json!({"common_name": "x", "role": "client", "key": "id-p256", "days": 0}),
            "use 1 to 3650",
        ),
        (
            json!({"common_name": "x", "role": "client", "public_key_pem": "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----"}),
            "not a PEM public key",
        ),
        (
            json!({"common_name": "x", "role": "client", "key": "missing"}),
            "no key",
        ),
    ] {
        let (status, body) = root.post("/api/v1/certificates", body);
        assert!(status == 400 || status == 404, "{status} {body}");
        assert!(message(&body).contains(expected), "{expected}: {body}");
    }
    let (status, body) = root.get("/api/v1/certificates?role=superuser");
    assert_eq!(status, 400, "{body}");
    let ca_serial = ca["serial"].as_str().expect("serial");
    let (status, body) = root.post(
        &format!("/api/v1/certificates/{ca_serial}/revoke"),
        json!({}),
    );
    assert_eq!(status, 400, "{body}");

    // An external authority's CA, imported; a mismatched pair refused.
    let other = tenant_root(served, "beta");
    let external = ricaas_crypto::ca::CertificateAuthority::new_root(
        "beta",
        ricaas_crypto::ca::KeyAlgorithm::Secp256k1,
        365,
    )
    .expect("CA");
    let cert_pem = ricaas_crypto::ca::certificate_pem(external.certificate()).expect("pem");
    let (status, body) = other.post(
        "/api/v1/ca/import",
        json!({"certificate_pem": cert_pem, "private_key_pem": outside.to_pkcs8_pem().expect("pem")}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("does not belong"), "{body}");
    let (status, imported) = other.post(
        "/api/v1/ca/import",
        json!({"certificate_pem": cert_pem, "private_key_pem": external.key().to_pkcs8_pem().expect("pem")}),
    );
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["origin"], "imported");
    assert_eq!(
        other
            .post("/api/v1/keys", json!({"name": "gw", "algorithm": "p256"}))
            .0,
        201
    );
    let (status, leaf) = other.post(
        "/api/v1/certificates",
        json!({"common_name": "gw", "role": "node", "key": "gw"}),
    );
    assert_eq!(status, 201, "{leaf}");
    let leaf_cert =
        ricaas_crypto::ca::certificate_from_pem(leaf["certificate_pem"].as_str().expect("pem"))
            .expect("pem");
    ricaas_crypto::ca::verify_issuer(external.certificate(), &leaf_cert)
        .expect("issued by the imported CA");
}
