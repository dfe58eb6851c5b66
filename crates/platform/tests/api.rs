//! The platform's REST API over real HTTP, against a real store: SQLite in a temporary
//! directory, and PostgreSQL when `RICAAS_TEST_POSTGRES_URL` names a server (CI starts one).

use ricaas_platform::{Platform, Store};
use serde_json::{Value, json};
use std::time::Duration;

/// A platform served on a free loopback port from its own runtime thread, stopped on drop.
struct Served {
    base: String,
    /// The clock one-time codes are checked against: tests step it instead of waiting.
    clock: ricaas_platform::mfa::Clock,
    /// The store's URL, for tests that must change what no API can (the clock's effects).
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    operator_password: String,
    /// Where the platform's mail goes: a local SMTP sink.
    mail: SmtpSink,
    _dir: Option<tempfile::TempDir>,
}

/// A local SMTP server that accepts every message and keeps it, for tests to read.
struct SmtpSink {
    address: std::net::SocketAddr,
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind SMTP sink");
        let address = listener.local_addr().expect("address");
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = messages.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().expect("clone");
                    let mut reader = BufReader::new(stream);
                    let _ = writer.write_all(b"220 sink ESMTP\r\n");
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        let command = line.trim_end().to_ascii_uppercase();
                        let reply: &[u8] = if command.starts_with("EHLO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if command.starts_with("DATA") {
                            let _ = writer.write_all(b"354 go ahead\r\n");
                            let mut message = String::new();
                            let mut data = String::new();
                            while reader.read_line(&mut data).unwrap_or(0) > 0 {
                                if data == ".\r\n" {
                                    break;
                                }
                                message.push_str(&data);
                                data.clear();
                            }
                            kept.lock().expect("lock").push(message);
                            b"250 kept\r\n"
                        } else if command.starts_with("QUIT") {
                            let _ = writer.write_all(b"221 bye\r\n");
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        let _ = writer.write_all(reply);
                        line.clear();
                    }
                });
            }
        });
        SmtpSink { address, messages }
    }

    /// Waits (up to 10 s) for the `n`th message (from 1).
    fn message(&self, n: usize) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(m) = self.messages.lock().expect("lock").get(n - 1) {
                return m.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no message {n} arrived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn count(&self) -> usize {
        self.messages.lock().expect("lock").len()
    }
}

impl Served {
    fn start(url: &str, dir: Option<tempfile::TempDir>) -> Served {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let clock = ricaas_platform::mfa::Clock::default();
        let mail = SmtpSink::start();
        let (platform, listener, operator) = runtime.block_on(async {
            let store = Store::open(url).await.expect("store opens");
            let mailer = ricaas_platform::signup::Mailer::new(
                &format!("smtp://{}", mail.address),
                "RiCaaS <noreply@ricaas.test>",
                "http://console.ricaas.test",
            )
            .expect("mailer");
            // Networks can be created (their operations wait: no reconciler runs here, and the
            // binary does not exist); real nodes are run in crates/cli/tests/it/networks.rs.
            let provisioner = ricaas_platform::networks::local::LocalProvisioner::new(
                std::path::PathBuf::from("/nonexistent/ricaas"),
                std::env::temp_dir().join(format!("ricaas-test-nodes-{}", std::process::id())),
                store.clone(),
            );
            let platform = Platform::new(store, ricaas_platform::MasterKey::generate())
                .with_clock(clock.clone())
                .with_mailer(mailer)
                .with_provisioner(provisioner)
                .with_compiler(ricaas_solc::Compiler::new(
                    ricaas_solc::CompilerConfig::new(ricaas_solc::default_cache_dir()),
                ));
            let operator = platform.create_operator("admin").await.expect("operator");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            (platform, listener, operator)
        });
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime
                .block_on(ricaas_platform::serve(platform, listener, async {
                    let _ = stopped.await;
                }))
                .expect("serves");
        });
        Served {
            base,
            clock,
            url: url.to_owned(),
            stop: Some(stop),
            thread: Some(thread),
            operator_password: operator.password,
            mail,
            _dir: dir,
        }
    }

    fn sqlite() -> Served {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = Store::sqlite_url(&dir.path().join("platform.db"));
        Served::start(&url, Some(dir))
    }

    /// Each PostgreSQL test gets its own database, so tests run in parallel.
    fn postgres() -> Option<Served> {
        let Ok(admin_url) = std::env::var("RICAAS_TEST_POSTGRES_URL") else {
            // The test command starts a server; only a developer's partial run may skip.
            assert!(
                std::env::var_os("RICAAS_REQUIRE_POSTGRES").is_none(),
                "RICAAS_REQUIRE_POSTGRES is set but RICAAS_TEST_POSTGRES_URL is not"
            );
            eprintln!("RICAAS_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped");
            return None;
        };
        let name = format!("ricaas_test_{}", &ricaas_secret()[..16]);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&admin_url)
                .await
                .expect("postgres");
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
        });
        let (prefix, _) = admin_url.rsplit_once('/').expect("URL has a database");
        Some(Served::start(&format!("{prefix}/{name}"), None))
    }

    fn client(&self) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into(),
            base: self.base.clone(),
            token: None,
            otp: None,
            idempotency_key: None,
        }
    }
}

fn ricaas_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Clone)]
struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    /// Sent as `X-RiCaaS-OTP` when set.
    otp: Option<String>,
    /// Sent as `Idempotency-Key` when set.
    idempotency_key: Option<String>,
}

impl Client {
    fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<String>) -> (u16, Value) {
        let (status, _, text) = self.send_full(method, path, body);
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Status, headers and body text.
    fn send_full(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> (u16, ureq::http::HeaderMap, String) {
        let url = format!("{}{path}", self.base);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", "application/json");
        let request = match &self.token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        };
        let request = match &self.otp {
            Some(otp) => request.header("x-ricaas-otp", otp),
            None => request,
        };
        let request = match &self.idempotency_key {
            Some(key) => request.header("idempotency-key", key),
            None => request,
        };
        let mut response = self
            .agent
            .run(request.body(body.unwrap_or_default()).expect("request"))
            .expect("HTTP request completes");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, headers, text)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None)
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(body.to_string()))
    }

    fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("PUT", path, Some(body.to_string()))
    }

    fn delete(&self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, None)
    }

    fn login(&self, tenant: Option<&str>, name: &str, password: &str) -> Client {
        let (status, body) = self.post(
            "/api/v1/sessions",
            json!({"tenant": tenant, "name": name, "password": password}),
        );
        assert_eq!(status, 201, "sign-in as {name}: {body}");
        let token = body["token"].as_str().expect("token");
        assert!(token.starts_with("rcs_"), "{token}");
        self.with_token(token)
    }
}

/// Writes one HTTP/1.1 request on an open connection and reads its answer (status and JSON
/// body, by `Content-Length`), leaving the connection open.
fn exchange(connection: &mut std::net::TcpStream, request: &str) -> (u16, Value) {
    use std::io::{BufRead as _, Read as _, Write as _};
    connection
        .write_all(request.as_bytes())
        .expect("the whole request is written");
    let mut reader = std::io::BufReader::new(connection);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP status line, got {line:?}"));
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header line");
        if line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("Content-Length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

#[path = "api/certificates.rs"]
mod certificates;
#[path = "api/compile.rs"]
mod compile;
#[path = "api/iam.rs"]
mod iam;
#[path = "api/idempotency.rs"]
mod idempotency;
#[path = "api/keys.rs"]
mod keys;
#[path = "api/sessions.rs"]
mod sessions;
#[path = "api/signup.rs"]
mod signup;

/// Sign in as the operator, create a tenant, sign in as its root, read and sign out.
fn accounts_and_sessions(served: &Served) {
    let anonymous = served.client();
    let (status, health) = anonymous.get("/health");
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("ok")),
        "{health}"
    );
    assert!(health["schema_version"].as_i64() >= Some(1));

    let operator = anonymous.login(None, "admin", &served.operator_password);
    let (status, me) = operator.get("/api/v1/me");
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["kind"], "operator");
    assert_eq!(me["tenant_id"], Value::Null);

    let (status, created) = operator.post("/api/v1/tenants", json!({"name": "bank-a"}));
    assert_eq!(status, 201, "{created}");
    assert!(
        created["tenant"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("tnt_"))
    );
    let root_password = created["root"]["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let (status, again) = operator.post("/api/v1/tenants", json!({"name": "bank-a"}));
    assert_eq!(status, 409, "{again}");
    assert!(message(&again).contains("already exists"), "{again}");

    let root = anonymous.login(Some("bank-a"), "root", &root_password);
    let (status, me) = root.get("/api/v1/me");
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["kind"].as_str(), me["tenant_name"].as_str()),
        (Some("root"), Some("bank-a"))
    );
    // A tenant root is not the operator.
    let (status, refused) = root.post("/api/v1/tenants", json!({"name": "bank-b"}));
    assert_eq!(status, 403, "{refused}");
    assert!(
        message(&refused).contains("only the platform operator"),
        "{refused}"
    );
    let (status, _) = root.get("/api/v1/tenants");
    assert_eq!(status, 403);
    let (status, tenants) = operator.get("/api/v1/tenants");
    assert_eq!(status, 200);
    assert_eq!(tenants.as_array().map(Vec::len), Some(1), "{tenants}");

    // Password change: the old one stops working, the new one works.
    let (status, short) = root.post(
        "/api/v1/me/password",
        json!({"current_password": root_password, "new_password": "short"}),
    );
    assert_eq!(status, 400, "{short}");
    assert!(message(&short).contains("at least 12"), "{short}");
    let (status, _) = root.post(
        "/api/v1/me/password",
        json!({"current_password": root_password, "new_password": "a much longer passphrase"}),
    );
    assert_eq!(status, 204);
    let (status, _) = anonymous.post(
        "/api/v1/sessions",
        json!({"tenant": "bank-a", "name": "root", "password": root_password}),
    );
    assert_eq!(status, 401);
    let root = anonymous.login(Some("bank-a"), "root", "a much longer passphrase");

    // Signing out ends the session, and says so.
    let (status, _) = root.send("DELETE", "/api/v1/sessions/current", None);
    assert_eq!(status, 204);
    let (status, ended) = root.get("/api/v1/me");
    assert_eq!(status, 401);
    assert!(message(&ended).contains("signing out"), "{ended}");
}

/// Wrong passwords, unknown accounts, forged tokens and malformed bodies: each refused with a
/// reason, nothing stored, and the service keeps answering.
fn bad_input(served: &Served) {
    let anonymous = served.client();
    for (tenant, name, password) in [
        (None, "admin", "wrong password!"),
        (None, "nobody", "wrong password!"),
        (Some("no-such-tenant"), "root", "wrong password!"),
    ] {
        let (status, body) = anonymous.post(
            "/api/v1/sessions",
            json!({"tenant": tenant, "name": name, "password": password}),
        );
        assert_eq!(status, 401, "{body}");
        // The same answer whichever part was wrong.
        assert_eq!(message(&body), "wrong tenant, account name or password");
    }
    let (status, body) = anonymous.get("/api/v1/me");
    assert_eq!(status, 401);
    assert!(message(&body).contains("Authorization: Bearer"), "{body}");
    for forged in ["rcs_00", "not-a-token", "rcs_' OR 1=1 --"] {
        let (status, body) = anonymous.with_token(forged).get("/api/v1/me");
        assert_eq!(status, 401, "{forged}: {body}");
        assert!(message(&body).contains("sign in again"), "{body}");
    }
    let (status, body) = anonymous.send("POST", "/api/v1/sessions", Some("{not json".into()));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_request");
    let (status, body) = anonymous.post(
        "/api/v1/sessions",
        json!({"name": "admin", "password": "x", "role": "operator"}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("unknown field `role`"), "{body}");
    let (status, body) = anonymous.post("/api/v1/sessions", json!({"name": 7, "password": "x"}));
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("invalid type"), "{body}");
    let huge = json!({"name": "admin", "password": "x".repeat(100_000)});
    let (status, body) = anonymous.post("/api/v1/sessions", huge);
    assert_eq!(status, 413, "{body}");
    assert!(message(&body).contains("larger than"), "{body}");
    // A refused body is read to its end before the answer: the client reads the 413 whole and
    // the connection stays open for its next request (a server that answers mid-body and
    // closes makes clients report a reset connection instead).
    let address = served.base.trim_start_matches("http://").to_owned();
    let mut connection = std::net::TcpStream::connect(&address).expect("connect");
    connection
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let oversized = "x".repeat(1024 * 1024);
    let (status, body) = exchange(
        &mut connection,
        &format!(
            "POST /api/v1/sessions HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{oversized}",
            oversized.len()
        ),
    );
    assert_eq!(status, 413, "{body}");
    assert!(message(&body).contains("larger than"), "{body}");
    let (status, body) = exchange(
        &mut connection,
        &format!("GET /api/v1/me HTTP/1.1\r\nHost: {address}\r\n\r\n"),
    );
    assert_eq!(
        status, 401,
        "the same connection answers the next request: {body}"
    );

    let operator = anonymous.login(None, "admin", &served.operator_password);
    for name in [
        "Bank",
        "a",
        "<script>",
        "x'; DROP TABLE tenants; --",
        "-lead",
    ] {
        let (status, body) = operator.post("/api/v1/tenants", json!({"name": name}));
        assert_eq!(status, 400, "{name}: {body}");
        assert!(message(&body).contains("lowercase letters"), "{body}");
    }
    let (status, tenants) = operator.get("/api/v1/tenants");
    assert_eq!((status, tenants), (200, json!([])), "nothing was stored");
    let (status, body) = operator.get("/api/v1/no-such-thing");
    assert_eq!(status, 404);
    assert!(message(&body).contains("openapi.json"), "{body}");
}

/// The OpenAPI document is served and names every route with its security requirement.
fn openapi_document(served: &Served) {
    let (status, doc) = served.client().get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/sessions",
        "/api/v1/me",
        "/api/v1/tenants",
        "/health",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert_eq!(
        doc["paths"]["/api/v1/me"]["get"]["security"],
        json!([{"session": []}, {"apikey": []}])
    );
    assert!(doc["components"]["securitySchemes"]["session"].is_object());
}

#[test]
fn sqlite_accounts_and_sessions() {
    accounts_and_sessions(&Served::sqlite());
}

#[test]
fn sqlite_bad_input_is_refused_with_a_reason() {
    bad_input(&Served::sqlite());
}

#[test]
fn sqlite_openapi_document() {
    openapi_document(&Served::sqlite());
}

#[test]
fn postgres_accounts_and_sessions() {
    let Some(served) = Served::postgres() else {
        return;
    };
    accounts_and_sessions(&served);
}

#[test]
fn postgres_bad_input_is_refused_with_a_reason() {
    let Some(served) = Served::postgres() else {
        return;
    };
    bad_input(&served);
}

/// The store survives a restart: what was written is there when it opens again, and the
/// migrations are not applied twice.
#[test]
fn sqlite_store_reopens_with_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = Store::sqlite_url(&dir.path().join("platform.db"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let key = ricaas_platform::MasterKey::generate();
        let platform = Platform::new(Store::open(&url).await.expect("opens"), key.clone());
        let operator = platform.create_operator("admin").await.expect("operator");
        drop(platform);
        let reopened = Platform::new(Store::open(&url).await.expect("reopens"), key);
        assert!(reopened.has_operator().await.expect("reads"));
        assert_eq!(
            reopened.store().schema_version().await.expect("version"),
            ricaas_platform::store::known_version()
        );
        reopened
            .login(None, "admin", &operator.password, None)
            .await
            .expect("the operator still signs in");
    });
}

/// One test per backend for each suite of `iam`.
macro_rules! on_both_stores {
    ($($module:ident :: $suite:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $suite() {
                super::$module::$suite(&super::Served::sqlite());
            })*
        }
        mod postgres {
            $(#[test]
            fn $suite() {
                if let Some(served) = super::Served::postgres() {
                    super::$module::$suite(&served);
                }
            })*
        }
    };
}

on_both_stores!(
    iam::every_operation_declares_its_action,
    iam::every_operation_needs_its_permission,
    iam::groups_wildcards_and_denies,
    iam::api_keys,
    iam::tenants_cannot_see_each_other,
    iam::audit_log,
    keys::keystore,
    certificates::certificate_authority,
    sessions::second_factor,
    sessions::lockout_and_throttle,
    sessions::refresh_rotation,
    signup::sign_up_by_email_and_quotas,
    idempotency::retries_with_a_key_write_once,
    compile::compiles_solidity_over_http,
);
