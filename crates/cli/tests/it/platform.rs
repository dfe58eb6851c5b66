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
}
