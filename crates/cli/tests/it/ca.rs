//! `ricaas ca` end to end: an organization's CA enrolls, verifies, renews and revokes
//! identities; another organization's CA does not vouch for them; openssl agrees.

use std::{
    os::unix::fs::PermissionsExt as _,
    path::Path,
    process::{Command, Output},
};

fn ca(dir: &Path, org: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["ca", "--dir"])
        .arg(dir)
        .args(["--org", org])
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("ricaas ca runs")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn failed(output: Output) -> String {
    assert!(
        !output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn enroll_verify_renew_revoke_and_crl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    ok(ca(dir, "Org1", &["init"]));
    ok(ca(dir, "Org2", &["init", "--key-type", "ed25519"]));
    let out = ok(ca(
        dir,
        "Org1",
        &["enroll", "--name", "alice", "--role", "client"],
    ));
    assert!(out.contains("address:     0x"), "{out}");
    let cert = dir.join("Org1/alice/cert.pem");
    let mode = std::fs::metadata(dir.join("Org1/alice/key.pem"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let cert_arg = cert.to_str().expect("utf-8");
    assert!(ok(ca(dir, "Org1", &["verify", "--cert", cert_arg])).contains("role client"));
    // Org2's CA does not vouch for Org1's identities.
    assert!(failed(ca(dir, "Org2", &["verify", "--cert", cert_arg])).contains("not issued by"));
    // Enrolling the same name twice, unknown roles and unsafe names are refused.
    assert!(
        failed(ca(
            dir,
            "Org1",
            &["enroll", "--name", "alice", "--role", "client"]
        ))
        .contains("already enrolled")
    );
    assert!(
        failed(ca(
            dir,
            "Org1",
            &["enroll", "--name", "bob", "--role", "owner"]
        ))
        .contains("unknown role")
    );
    assert!(
        failed(ca(
            dir,
            "Org1",
            &["enroll", "--name", "../x", "--role", "admin"]
        ))
        .contains("invalid identity name")
    );

    let renewed = ok(ca(dir, "Org1", &["renew", "--name", "alice"]));
    assert!(renewed.contains("renewed alice"), "{renewed}");
    ok(ca(dir, "Org1", &["verify", "--cert", cert_arg]));

    ok(ca(dir, "Org1", &["revoke", "--name", "alice"]));
    assert!(failed(ca(dir, "Org1", &["verify", "--cert", cert_arg])).contains("revoked"));
    assert!(failed(ca(dir, "Org1", &["renew", "--name", "alice"])).contains("revoked"));
    let openssl = Command::new("openssl")
        .args(["verify", "-crl_check", "-CAfile"])
        .arg(dir.join("Org1/ca/ca.pem"))
        .arg("-CRLfile")
        .arg(dir.join("Org1/ca/crl.pem"))
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(!openssl.status.success());
    assert!(
        String::from_utf8_lossy(&openssl.stdout).contains("revoked")
            || String::from_utf8_lossy(&openssl.stderr).contains("revoked")
    );
}
