//! `ricaas platform` as an operator runs it: the first credentials written once to a 0600 file,
//! the API on the printed address, and every write it answered with 2xx still there after
//! `kill -9` in the middle of a burst of writes.

use serde_json::{Value, json};
use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Child, Command},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// The platform process, killed by PID when dropped.
struct PlatformProcess {
    child: Child,
    base: String,
}

impl PlatformProcess {
    fn start(data_dir: &Path) -> PlatformProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ricaas"));
        command
            .args(["platform", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("RICAAS_DATABASE_URL");
        let (child, api) = crate::common::start_until_ready(&mut command, "RiCaaS platform API:");
        let base = api.and_then(|api| api.strip_suffix("/api/v1").map(str::to_owned));
        PlatformProcess {
            child,
            base: base.expect("the platform printed its API address"),
        }
    }

    fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }
}

impl Drop for PlatformProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, url: &str, token: Option<&str>, body: Value) -> Option<(u16, Value)> {
    let request = agent.post(url).header("content-type", "application/json");
    let request = match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    };
    let mut response = request.send(body.to_string()).ok()?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn login(agent: &ureq::Agent, base: &str, password: &str) -> String {
    let (status, body) = post(
        agent,
        &format!("{base}/api/v1/sessions"),
        None,
        json!({"name": "admin", "password": password}),
    )
    .expect("sign-in answered");
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

#[test]
fn first_credentials_are_private_and_answered_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("platform");
    let platform = PlatformProcess::start(&data_dir);
    let credentials_path = data_dir.join("operator-credentials.json");
    let mode = std::fs::metadata(&credentials_path)
        .expect("credentials file")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "credentials readable by others: {mode:o}"
    );
    let credentials: Value =
        serde_json::from_slice(&std::fs::read(&credentials_path).expect("read")).expect("JSON");
    let password = credentials["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let agent = agent();
    let token = login(&agent, &platform.base, &password);

    // A burst of writes from two clients; kill -9 once some have been answered.
    let answered = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let (agent, base, token) = (agent.clone(), platform.base.clone(), token.clone());
            let (answered, stop) = (answered.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("tenant-{writer}-{i}");
                    match post(
                        &agent,
                        &format!("{base}/api/v1/tenants"),
                        Some(&token),
                        json!({"name": name}),
                    ) {
                        Some((201, _)) => answered.lock().expect("lock").push(name),
                        Some((status, body)) => panic!("tenant {name}: {status} {body}"),
                        None => break, // the process is gone
                    }
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while answered.lock().expect("lock").len() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "writes were not answered"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    platform.kill_9();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("writer");
    }
    let answered = answered.lock().expect("lock").clone();

    // Restarted on the same data: the same operator, no second credentials file, and every
    // tenant whose creation was answered 201.
    let platform = PlatformProcess::start(&data_dir);
    let token = login(&agent, &platform.base, &password);
    let mut response = agent
        .get(format!("{}/api/v1/tenants", platform.base))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .expect("list answered");
    assert_eq!(response.status().as_u16(), 200);
    let tenants: Value =
        serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("JSON");
    let stored: std::collections::HashSet<&str> = tenants
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let lost: Vec<&String> = answered
        .iter()
        .filter(|n| !stored.contains(n.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "answered 201 but lost after kill -9: {lost:?}"
    );
    assert!(answered.len() >= 20);

    // No write without its audit entry: every stored tenant has one, answered (201) or written
    // before the kill cut its request short (status 0).
    let mut response = agent
        .get(format!(
            "{}/api/v1/platform/audit?action=tenant:Create&limit=500",
            platform.base
        ))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .expect("audit answered");
    let audit: Value =
        serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("JSON");
    let entries = audit["items"].as_array().expect("entries");
    let recorded = entries
        .iter()
        .filter(|e| e["status"] == 201 || e["status"] == 0)
        .count();
    assert!(
        recorded >= stored.len(),
        "{} tenants stored but only {recorded} creations audited",
        stored.len()
    );
    for name in &answered {
        assert!(
            entries
                .iter()
                .any(|e| e["resource"] == format!("tenant/{name}").as_str() && e["status"] == 201),
            "tenant {name} was answered 201 but its audit entry is not complete"
        );
    }
}

/// A request with a bearer token; returns the status and the body as text.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, String) {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(body.map(|b| b.to_string()).unwrap_or_default())
        .expect("request");
    let mut response = agent.run(request).expect("answered");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// Private key material never leaves the keystore: after importing a key, signing, listing,
/// exporting and provoking errors, neither any response, nor the audit log, nor the platform's
/// debug log, nor the database file holds the key's bytes in any encoding.
#[test]
fn private_keys_appear_in_no_response_log_or_database_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("platform");
    let (stdout_path, stderr_path) = (dir.path().join("stdout.log"), dir.path().join("stderr.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["platform", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env_remove("RICAAS_DATABASE_URL")
        .env("RICAAS_LOG", "debug")
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("ricaas platform starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let base = loop {
        let printed = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        if let Some(line) = printed
            .lines()
            .find_map(|l| l.strip_prefix("RiCaaS platform API:"))
        {
            break line.trim().trim_end_matches("/api/v1").to_owned();
        }
        if std::time::Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            panic!("the platform did not start: {printed}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let credentials: Value = serde_json::from_slice(
        &std::fs::read(data_dir.join("operator-credentials.json")).expect("credentials"),
    )
    .expect("JSON");
    let agent = agent();
    let operator = login(
        &agent,
        &base,
        credentials["password"].as_str().expect("password"),
    );
    let (_, created) = post(
        &agent,
        &format!("{base}/api/v1/tenants"),
        Some(&operator),
        json!({"name": "acme"}),
    )
    .expect("tenant");
    let (_, session) = post(
        &agent,
        &format!("{base}/api/v1/sessions"),
        None,
        json!({"tenant": "acme", "name": "root", "password": created["root"]["password"]}),
    )
    .expect("root signs in");
    let root = session["token"].as_str().expect("token").to_owned();

    let key = ricaas_crypto::ca::IdentityKey::generate(ricaas_crypto::ca::KeyAlgorithm::Secp256k1);
    let pem = key.to_pkcs8_pem().expect("pem");
    let scalar = match &key {
        ricaas_crypto::ca::IdentityKey::Secp256k1(k) => k.to_bytes().to_vec(),
        _ => unreachable!(),
    };
    let mut responses = Vec::new();
    let api = |path: &str| format!("{base}/api/v1{path}");
    for (method, path, body) in [
        (
            "POST",
            "/key-imports",
            Some(json!({"name": "treasury", "private_key_pem": pem})),
        ),
        (
            "POST",
            "/key-imports",
            Some(json!({"name": "treasury", "private_key_pem": pem})),
        ),
        (
            "POST",
            "/key-imports",
            Some(json!({"name": "Bad Name", "private_key_pem": pem})),
        ),
        (
            "POST",
            "/key-imports",
            Some(json!({"name": "broken", "private_key_pem": pem.replace('A', "B")})),
        ),
        (
            "POST",
            "/key-imports",
            Some(json!({"name": "typo", "private_key_pem": pem, "extra": 1})),
        ),
        (
            "POST",
            "/keys",
            Some(json!({"name": "hot", "algorithm": "p256"})),
        ),
        (
            "POST",
            "/keys/treasury/sign",
            Some(json!({"message": "0xdeadbeef"})),
        ),
        (
            "POST",
            "/keys/treasury/sign",
            Some(json!({"message": hex::encode([1u8; 32]), "scheme": "ethereum"})),
        ),
        (
            "POST",
            "/keys/treasury/sign",
            Some(json!({"message": "zz"})),
        ),
        (
            "POST",
            "/keys/hot/sign",
            Some(json!({"message": "00", "scheme": "ethereum"})),
        ),
        ("GET", "/keys", None),
        ("GET", "/keys/treasury", None),
        ("GET", "/keys/treasury/public.pem", None),
        ("GET", "/audit/export", None),
        ("GET", "/audit/export?format=csv", None),
        ("DELETE", "/keys/treasury", None),
        (
            "POST",
            "/keys/treasury/sign",
            Some(json!({"message": "00"})),
        ),
    ] {
        let (status, text) = call(&agent, method, &api(path), &root, body);
        assert!(status < 500, "{method} {path}: {status} {text}");
        responses.push(text);
    }
    assert!(
        responses[0].contains("\"origin\":\"imported\""),
        "{}",
        responses[0]
    );
    assert!(
        responses[6].contains("\"signature\":\"0x"),
        "{}",
        responses[6]
    );
    child.kill().expect("kill");
    child.wait().expect("reaped");

    let mut haystacks: Vec<(String, Vec<u8>)> = responses
        .into_iter()
        .enumerate()
        .map(|(i, r)| (format!("response {i}"), r.into_bytes()))
        .collect();
    for path in [&stdout_path, &stderr_path] {
        haystacks.push((
            path.display().to_string(),
            std::fs::read(path).expect("log"),
        ));
    }
    for entry in std::fs::read_dir(&data_dir).expect("data dir") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("platform.db"))
        {
            haystacks.push((
                path.display().to_string(),
                std::fs::read(&path).expect("db file"),
            ));
        }
    }
    // The scan finds what is there: the public half is in the responses.
    let public_pem = ricaas_crypto::ca::public_key_pem(&key.public_key_info().expect("spki"))
        .expect("public pem");
    let public_line = public_pem.lines().nth(1).expect("PEM body").as_bytes();
    assert!(
        haystacks
            .iter()
            .any(|(_, h)| h.windows(public_line.len()).any(|w| w == public_line)),
        "the positive control was found"
    );
    let debug_log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        debug_log.contains("request"),
        "the debug log was written: {debug_log}"
    );
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("raw scalar", scalar.clone()),
        ("scalar hex", hex::encode(&scalar).into_bytes()),
        ("scalar HEX", hex::encode_upper(&scalar).into_bytes()),
        (
            "PEM body",
            pem.lines()
                .nth(1)
                .expect("PEM body line")
                .as_bytes()
                .to_vec(),
        ),
    ];
    for (name, haystack) in &haystacks {
        for (what, needle) in &needles {
            assert!(
                !haystack
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice()),
                "{what} of the imported key found in {name}"
            );
        }
    }
}
