//! The keystore's PKCS#11 backend against SoftHSM2 (Debian's `softhsm2`): keys generated in
//! the token stay there (sensitive, never extractable), sign verifiably for every algorithm the
//! token supports, survive a restart of the platform, and are destroyed in the token.
//! Its own test binary: SoftHSM2 reads its configuration from the process environment, which
//! this test sets before anything else runs.

use ricaas_crypto::ca::verify_signature;
use ricaas_platform::{
    MasterKey, Platform, Store,
    keystore::{Algorithm, Backend, Scheme, hsm::Hsm},
};
use std::{path::PathBuf, process::Command};

fn module() -> PathBuf {
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("SoftHSM2 is not installed: apt-get install softhsm2")
}

fn random_hex() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[test]
fn keys_live_and_sign_inside_the_hsm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).expect("token dir");
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("conf");
    // SAFETY: the only test of this binary sets the variable before any other thread of it
    // exists or reads the environment.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let (so_pin, pin) = (random_hex(), random_hex());
    let init = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "ricaas-test",
            "--so-pin",
            &so_pin,
            "--pin",
            &pin,
        ])
        .output()
        .expect("softhsm2-util runs (apt-get install softhsm2)");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    let url = Store::sqlite_url(&dir.path().join("platform.db"));
    let master = MasterKey::generate();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let wrong = Hsm::open(&module(), "ricaas-test", "0000");
        assert!(wrong.is_err(), "a wrong PIN is refused");
        let hsm = Hsm::open(&module(), "ricaas-test", &pin).expect("token opens");
        let platform = Platform::new(Store::open(&url).await.expect("store"), master.clone()).with_hsm(hsm);
        let operator = platform.create_operator("admin").await.expect("operator");
        let session = platform.login(None, "admin", &operator.password, None).await.expect("login");
        let (tenant, _) = platform.create_tenant(&session.account, "acme").await.expect("tenant");

        let mut ids = Vec::new();
        for algorithm in [Algorithm::Secp256k1, Algorithm::P256, Algorithm::Ed25519] {
            let name = format!("hsm-{}", serde_json::to_value(algorithm).expect("name").as_str().expect("str"));
            let key = platform.create_key(&tenant.id, &name, algorithm, Backend::Pkcs11).await.expect("generated in the HSM");
            assert_eq!(key.backend, Backend::Pkcs11);
            assert!(platform.hsm_key_protected(&tenant.id, &name).await.expect("reads flags"), "{name} is sensitive and never extractable");
            let signature = platform.sign(&tenant.id, &name, b"genesis", Scheme::Document).await.expect("signs");
            let spki = {
                use der::DecodePem as _;
                spki::SubjectPublicKeyInfoOwned::from_pem(&key.public_key_pem).expect("pem")
            };
            let bytes = hex::decode(&signature.signature[2..]).expect("hex");
            verify_signature(&spki, b"genesis", &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            ids.push(name);
        }
        let digest = [9u8; 32];
        let signed = platform.sign(&tenant.id, "hsm-secp256k1", &digest, Scheme::Ethereum).await.expect("signs a digest");
        let signature = alloy_primitives::Signature::from_raw(&hex::decode(&signed.signature[2..]).expect("hex")).expect("rsv");
        let address = ricaas_crypto::recover_signer(&signature, &digest.into()).expect("recovers");
        let key = platform.key(&tenant.id, "hsm-secp256k1").await.expect("key");
        assert_eq!(Some(address.to_string()), key.address);

        let refused = platform.create_key(&tenant.id, "hsm-sm2", Algorithm::Sm2, Backend::Pkcs11).await.expect_err("SM2 is not in SoftHSM2");
        assert!(refused.to_string().contains("cannot be kept in the HSM"), "{refused}");
        // Nothing of an HSM key's private half is in the database.
        let (sealed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM keys WHERE backend = 'pkcs11' AND (sealed_key IS NOT NULL OR wrapped_key IS NOT NULL)")
            .fetch_one(platform.store().pool())
            .await
            .expect("count");
        assert_eq!(sealed, 0);
        drop(platform);

        // A restarted platform finds its keys in the token.
        let hsm = Hsm::open(&module(), "ricaas-test", &pin).expect("token opens again");
        let platform = Platform::new(Store::open(&url).await.expect("store"), master).with_hsm(hsm);
        platform.sign(&tenant.id, "hsm-p256", b"after restart", Scheme::Document).await.expect("still signs");
        platform.destroy_key(&tenant.id, "hsm-p256").await.expect("destroyed");
        let gone = platform.sign(&tenant.id, "hsm-p256", b"x", Scheme::Document).await.expect_err("destroyed");
        assert!(gone.to_string().contains("destroyed"), "{gone}");
        assert!(platform.hsm_key_protected(&tenant.id, "hsm-p256").await.is_err(), "gone from the token");
    });
}
