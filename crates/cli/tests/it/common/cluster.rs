//! A multi-validator network of real `ricaas node` processes, created by
//! `ricaas up --nodes N --create-only`. Each process is killed by PID when its handle drops.

use super::Rpc;
use ricaas_crypto::DevKey;
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Validator {
    child: Child,
    pub url: String,
}

impl Validator {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Cluster {
    pub dir: PathBuf,
    pub nodes: Vec<Option<Validator>>,
    pub dev_key: DevKey,
    /// First of the 8 p2p ports reserved for this cluster (validator i listens on base + i).
    pub p2p_base: u16,
    /// Dropped last: the next cluster starts once this one's processes are gone.
    _slot: Slot,
}

/// Clusters of a test process running at once: one per two cores (at least one), or
/// `$RICAAS_TEST_CLUSTERS`. Four debug-build validators already keep two cores busy under load;
/// more clusters at once only starve them all and turn timeouts into failures.
fn cluster_slots() -> usize {
    std::env::var("RICAAS_TEST_CLUSTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2))
        .max(1)
}

static RUNNING: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// A cluster's place among those allowed to run at once; waits for one when all are taken.
struct Slot;

impl Slot {
    fn take() -> Slot {
        let (count, freed) = &RUNNING;
        let mut running = count.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= cluster_slots() {
            running = freed.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (count, freed) = &RUNNING;
        *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        freed.notify_one();
    }
}

/// Ports for a new cluster: 8 p2p ports, and 8 JSON-RPC ports 6,000 above them, below the
/// kernel's ephemeral range (32768+), by process id and a per-process counter. Picking free
/// ports when a network is created and binding them when its nodes start would race with
/// another test creating its network meanwhile (a node whose p2p port was taken dies).
fn reserve_ports() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let cluster = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 8;
    let slot = (std::process::id() % 90) as u16;
    20_000 + slot * 64 + cluster * 8
}

impl Cluster {
    /// Creates `count` validators with free ports and starts them all.
    pub fn start(dir: &Path, count: usize) -> Cluster {
        let mut cluster = Cluster::create(dir, count);
        for index in 0..count {
            cluster.launch(index);
        }
        cluster
    }

    /// Creates the files of `count` validators without starting any.
    pub fn create(dir: &Path, count: usize) -> Cluster {
        Cluster::create_with(dir, count, &[])
    }

    /// Creates the files of `count` validators with more `ricaas up` options.
    pub fn create_with(dir: &Path, count: usize, options: &[&str]) -> Cluster {
        assert!(count < 8, "a cluster has 8 ports");
        let slot = Slot::take();
        let p2p_base = reserve_ports();
        let status = Command::new(env!("CARGO_BIN_EXE_ricaas"))
            .args(["up", "--create-only"])
            .args(["--rpc-port", &(p2p_base + 6_000).to_string()])
            .args(["--p2p-port", &p2p_base.to_string()])
            .args(["--nodes", &count.to_string()])
            .args(options)
            .arg("--data-dir")
            .arg(dir)
            .stdout(Stdio::null())
            .status()
            .expect("ricaas up --create-only runs");
        assert!(status.success(), "creating the network failed");
        let dev_key = DevKey::read(&dir.join("keys/dev.key")).expect("dev key");
        Cluster {
            dir: dir.to_path_buf(),
            nodes: (0..count).map(|_| None).collect(),
            dev_key,
            p2p_base,
            _slot: slot,
        }
    }

    /// Adds a node (not started) with configuration `config`; returns its index.
    pub fn add_node(&mut self, config: &str) -> usize {
        let index = self.nodes.len();
        let path = self.config(index);
        std::fs::create_dir_all(path.parent().expect("node directory")).expect("node directory");
        std::fs::write(&path, config).expect("config written");
        self.nodes.push(None);
        index
    }

    /// The Ed25519 public key (hex) of validator `index`, as its configuration lists it.
    pub fn public_key(&self, index: usize) -> String {
        let text = std::fs::read_to_string(self.config(0)).expect("config");
        text.lines()
            .filter_map(|l| l.strip_prefix("public_key = \""))
            .nth(index)
            .and_then(|rest| rest.strip_suffix('"'))
            .expect("a listed validator key")
            .to_string()
    }

    /// The p2p address validator `index` listens on.
    pub fn p2p_addr(&self, index: usize) -> std::net::SocketAddr {
        let text = std::fs::read_to_string(self.config(index)).expect("config");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("p2p_listen = "))
            .expect("p2p_listen in config");
        line.trim_matches('"').parse().expect("socket address")
    }

    /// In validator `index`'s config, reach `from` at `to` instead.
    pub fn redirect(&self, index: usize, from: std::net::SocketAddr, to: std::net::SocketAddr) {
        let path = self.config(index);
        let text = std::fs::read_to_string(&path).expect("config");
        let rewritten = text.replace(
            &format!("address = \"{from}\""),
            &format!("address = \"{to}\""),
        );
        assert_ne!(
            rewritten, text,
            "{from} is not a peer address of validator {index}"
        );
        std::fs::write(&path, rewritten).expect("config written");
    }

    pub fn config(&self, index: usize) -> PathBuf {
        self.dir
            .join("nodes")
            .join(index.to_string())
            .join("ricaas.toml")
    }

    pub fn data(&self, index: usize) -> PathBuf {
        self.dir.join("nodes").join(index.to_string()).join("data")
    }

    /// Starts validator `index` and waits until it serves JSON-RPC.
    pub fn launch(&mut self, index: usize) {
        assert!(self.nodes[index].is_none(), "validator {index} is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(index))
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ricaas"))
            .arg("node")
            .arg("--config")
            .arg(self.config(index))
            .env("RICAAS_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("ricaas node starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.expect("stdout readable");
            if let Some(rest) = line.trim().strip_prefix("JSON-RPC HTTP:") {
                url = rest.split_whitespace().next().map(str::to_string);
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let url = url.unwrap_or_else(|| {
            panic!(
                "validator {index} exited before serving JSON-RPC:\n{}",
                self.log(index)
            )
        });
        self.nodes[index] = Some(Validator { child, url });
    }

    pub fn log(&self, index: usize) -> String {
        std::fs::read_to_string(self.log_path(index)).unwrap_or_default()
    }

    /// Validator `index`'s log: in its node directory, or under `$RICAAS_TEST_LOGS` (kept after
    /// the test, named by the cluster's first port) when that is set.
    pub fn log_path(&self, index: usize) -> PathBuf {
        match std::env::var_os("RICAAS_TEST_LOGS") {
            Some(dir) => PathBuf::from(dir).join(format!("{}-{index}.log", self.p2p_base)),
            None => self.config(index).with_file_name("node.log"),
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill_9(&mut self, index: usize) {
        let mut node = self.nodes[index].take().expect("validator is running");
        node.child.kill().expect("kill -9");
        node.child.wait().expect("reaped");
    }

    pub fn rpc(&self, index: usize) -> Rpc {
        Rpc::new(
            &self.nodes[index]
                .as_ref()
                .expect("validator is running")
                .url,
        )
        .reading_as(&self.dev_key)
    }

    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].is_some())
            .collect()
    }

    /// Committed height of a running validator (`None` if it does not answer).
    pub fn height(&self, index: usize) -> Option<u64> {
        self.rpc(index)
            .try_call("eth_blockNumber", json!([]))
            .map(|v| super::quantity(&v))
    }

    /// Waits until every running validator has committed `height`. Fails only once the
    /// validators have made no progress at all for `stall` (a slow machine gets as long as it
    /// keeps moving), or after ten stalls' time in all; the failure shows every node's
    /// height, consensus view, timeouts and last log lines.
    pub fn wait_all_reach(&self, height: u64, stall: Duration) {
        let started = Instant::now();
        let mut last_progress = Instant::now();
        let mut best: Vec<Option<u64>> = Vec::new();
        loop {
            let heights: Vec<_> = self.running().iter().map(|i| self.height(*i)).collect();
            if heights.iter().all(|h| h.is_some_and(|h| h >= height)) {
                return;
            }
            if heights.len() != best.len() || heights.iter().zip(&best).any(|(h, b)| h > b) {
                best = heights.clone();
                last_progress = Instant::now();
            }
            if last_progress.elapsed() >= stall || started.elapsed() >= stall * 10 {
                panic!(
                    "validators did not all reach height {height}: no progress for {:?} \
                     ({:?} in all); heights {heights:?}\n{}",
                    last_progress.elapsed(),
                    started.elapsed(),
                    self.status()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Each running node's height, consensus view, view timeouts and nullified views (from its
    /// metrics), and the last lines of its log: what a failed wait shows.
    pub fn status(&self) -> String {
        self.running()
            .iter()
            .map(|&index| {
                let metrics = self.metrics(index).unwrap_or_default();
                let log = self.log(index);
                let tail: Vec<&str> = log.lines().rev().take(12).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!(
                    "--- node {index}: height {:?}, view {}, timeouts {}, nullifications {}; log tail:\n{}\n",
                    self.height(index),
                    metric(&metrics, "simplex_voter_state_current_view", u64::max),
                    metric(&metrics, "simplex_voter_state_timeouts_total", |a, b| a + b),
                    metric(&metrics, "simplex_voter_state_nullifications_total", |a, b| a + b),
                    tail.join("\n")
                )
            })
            .collect()
    }

    /// The sum of node `index`'s samples of the metric whose name ends with `suffix` (any
    /// labels; 0 when it does not answer).
    pub fn metric_sum(&self, index: usize, suffix: &str) -> u64 {
        metric(&self.metrics(index).unwrap_or_default(), suffix, |a, b| {
            a + b
        })
    }

    /// Validator `index`'s metrics in the Prometheus text format (`None` if it does not answer).
    pub fn metrics(&self, index: usize) -> Option<String> {
        let url = self.nodes[index].as_ref()?.url.clone();
        let base = url.split("/channels/").next()?;
        ureq::get(&format!("{base}/metrics"))
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()
    }

    /// The header fields that must agree across validators, at `height`.
    pub fn block(&self, index: usize, height: u64) -> Value {
        let block = self.rpc(index).call(
            "eth_getBlockByNumber",
            json!([format!("0x{height:x}"), false]),
        );
        assert!(!block.is_null(), "validator {index} has no block {height}");
        json!({
            "hash": block["hash"],
            "stateRoot": block["stateRoot"],
            "receiptsRoot": block["receiptsRoot"],
            "transactionsRoot": block["transactionsRoot"],
        })
    }

    /// Safety: every running validator holds identical blocks (hash, state, receipts and
    /// transactions roots) at every height up to `height`.
    pub fn assert_identical_up_to(&self, height: u64) {
        let running = self.running();
        for h in 0..=height {
            let reference = self.block(running[0], h);
            for index in &running[1..] {
                assert_eq!(
                    self.block(*index, h),
                    reference,
                    "validators {} and {index} disagree at height {h}",
                    running[0]
                );
            }
        }
    }

    /// Lowest committed height among running validators.
    pub fn min_height(&self) -> u64 {
        self.running()
            .iter()
            .map(|i| self.height(*i).unwrap_or(0))
            .min()
            .unwrap_or(0)
    }
}

/// Folds the values of every sample of the metric whose name ends with `suffix` (any labels).
fn metric(text: &str, suffix: &str, fold: fn(u64, u64) -> u64) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            let name = name.split('{').next()?;
            if !name.ends_with(suffix) {
                return None;
            }
            value.parse::<f64>().ok().map(|v| v as u64)
        })
        .reduce(fold)
        .unwrap_or(0)
}
