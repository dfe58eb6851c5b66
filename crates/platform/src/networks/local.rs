//! The `local` provisioner: each node is a `ricaas node --config <dir>/ricaas.toml` child
//! process of the platform, supervised — a node that exits on its own is restarted with
//! exponential backoff, and its restarts and last exit are recorded on its row. Its output goes
//! to `<dir>/node.log`; its pid to `<dir>/node.pid`, so a platform restarted after a crash
//! adopts a node still running instead of starting a second one.

use crate::{ids::NodeId, store::Store, store::now_ms};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::watch;

/// Name of the log file in a node's directory.
pub const LOG_FILE: &str = "node.log";
/// Name of the pid file in a node's directory.
pub const PID_FILE: &str = "node.pid";

/// First wait before restarting a node that exited; doubled for each quick failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A node that ran this long before exiting is restarted after [`FIRST_BACKOFF`] again.
const STABLE_RUN: Duration = Duration::from_secs(60);
/// How long a node has to stop after SIGTERM before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One node as the provisioner runs it.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    pub node: NodeId,
    /// The node's directory: configuration, key, data, log.
    pub dir: PathBuf,
}

impl LaunchSpec {
    fn config(&self) -> PathBuf {
        self.dir.join(super::genesis::CONFIG_FILE)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("node {node}: {message}")]
    Node { node: String, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Desired {
    Running,
    Stopped,
}

struct Supervised {
    desired: watch::Sender<(Desired, u64)>,
    /// Tells when the process it watches has stopped (after a stop request).
    stopped: watch::Receiver<bool>,
}

/// Runs nodes as supervised child processes of this platform.
pub struct LocalProvisioner {
    binary: PathBuf,
    root: PathBuf,
    store: Store,
    supervised: parking_lot::Mutex<HashMap<NodeId, Supervised>>,
}

impl LocalProvisioner {
    /// Nodes run `binary` (the `ricaas` executable) and live under `root`.
    pub fn new(binary: PathBuf, root: PathBuf, store: Store) -> Self {
        Self {
            binary,
            root,
            store,
            supervised: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// Where the nodes of network `network` live.
    pub fn network_dir(&self, network: &str) -> PathBuf {
        self.root.join(network)
    }

    /// Starts supervising `launch` if it is not supervised yet, or asks a stopped one to run.
    pub async fn ensure_running(
        self: &Arc<Self>,
        launch: LaunchSpec,
    ) -> Result<(), ProvisionError> {
        let mut supervised = self.supervised.lock();
        if let Some(existing) = supervised.get(&launch.node) {
            existing
                .desired
                .send_modify(|(desired, _)| *desired = Desired::Running);
            return Ok(());
        }
        if !launch.config().is_file() {
            return Err(ProvisionError::Node {
                node: launch.node.to_string(),
                message: format!("no configuration at {}", launch.config().display()),
            });
        }
        let (desired, desired_rx) = watch::channel((Desired::Running, 0));
        let (stopped_tx, stopped) = watch::channel(false);
        supervised.insert(launch.node.clone(), Supervised { desired, stopped });
        let provisioner = self.clone();
        tokio::spawn(async move { provisioner.supervise(launch, desired_rx, stopped_tx).await });
        Ok(())
    }

    /// Stops node `node` (SIGTERM, then SIGKILL after a grace period) and keeps it stopped.
    pub async fn stop(&self, node: &NodeId) -> Result<(), ProvisionError> {
        let stopped = {
            let supervised = self.supervised.lock();
            let Some(existing) = supervised.get(node) else {
                return Ok(());
            };
            existing
                .desired
                .send_modify(|(desired, _)| *desired = Desired::Stopped);
            existing.stopped.clone()
        };
        wait_until_stopped(stopped).await;
        Ok(())
    }

    /// Restarts `launch` (starting it if it was stopped).
    pub async fn restart(self: &Arc<Self>, launch: LaunchSpec) -> Result<(), ProvisionError> {
        let restarted = {
            let supervised = self.supervised.lock();
            supervised.get(&launch.node).map(|existing| {
                existing.desired.send_modify(|(desired, generation)| {
                    *desired = Desired::Running;
                    *generation += 1;
                })
            })
        };
        match restarted {
            Some(()) => Ok(()),
            None => self.ensure_running(launch).await,
        }
    }

    /// Stops every node this provisioner runs (the platform is shutting down).
    pub async fn stop_all(&self) {
        let nodes: Vec<NodeId> = self.supervised.lock().keys().cloned().collect();
        for node in nodes {
            let _ = self.stop(&node).await;
        }
    }

    /// The last `lines` lines of `launch`'s log.
    pub fn logs(&self, launch: &LaunchSpec, lines: usize) -> Result<Vec<String>, ProvisionError> {
        tail(&launch.dir.join(LOG_FILE), lines).map_err(|e| ProvisionError::Node {
            node: launch.node.to_string(),
            message: format!("reading its log: {e}"),
        })
    }

    /// Keeps `launch` at its desired state until the provisioner goes away.
    async fn supervise(
        self: Arc<Self>,
        launch: LaunchSpec,
        mut desired: watch::Receiver<(Desired, u64)>,
        stopped: watch::Sender<bool>,
    ) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let (want, generation) = *desired.borrow_and_update();
            if want == Desired::Stopped {
                stopped.send_replace(true);
                if desired.changed().await.is_err() {
                    return;
                }
                continue;
            }
            stopped.send_replace(false);
            let mut process = match Process::adopt_or_spawn(&self.binary, &launch) {
                Ok(process) => process,
                Err(e) => {
                    tracing::error!(node = %launch.node, error = %e, "starting a node failed");
                    self.record_exit(&launch.node, &format!("could not start: {e}"))
                        .await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            let started = Instant::now();
            tokio::select! {
                exit = process.wait() => {
                    tracing::warn!(node = %launch.node, %exit, "node exited; restarting it");
                    self.record_exit(&launch.node, &exit).await;
                    if started.elapsed() >= STABLE_RUN {
                        backoff = FIRST_BACKOFF;
                    }
                    // Sleep, unless asked to stop or restart meanwhile.
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        changed = desired.changed() => if changed.is_err() { return },
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                changed = wait_for_change(&mut desired, generation) => {
                    process.terminate().await;
                    if !changed {
                        return;
                    }
                }
            }
        }
    }

    async fn record_exit(&self, node: &NodeId, exit: &str) {
        let result = sqlx::query(
            "UPDATE nodes SET restarts = restarts + 1, last_exit = $1, last_exit_at = $2 WHERE id = $3",
        )
        .bind(exit)
        .bind(now_ms())
        .bind(node.as_str())
        .execute(self.store.pool())
        .await;
        if let Err(e) = result {
            tracing::error!(%node, error = %e, "recording a node's exit failed");
        }
    }
}

/// Resolves with `true` once the desired state asks the process to stop or restart, `false`
/// if the provisioner went away.
async fn wait_for_change(desired: &mut watch::Receiver<(Desired, u64)>, generation: u64) -> bool {
    loop {
        if desired.changed().await.is_err() {
            return false;
        }
        let (want, now) = *desired.borrow_and_update();
        if want == Desired::Stopped || now != generation {
            return true;
        }
    }
}

async fn wait_until_stopped(mut stopped: watch::Receiver<bool>) {
    let _ = tokio::time::timeout(STOP_GRACE * 2, stopped.wait_for(|s| *s)).await;
}

/// A node process: our child, or one a previous run of the platform started and left running.
enum Process {
    Child(tokio::process::Child),
    Adopted(i32),
}

impl Process {
    fn adopt_or_spawn(binary: &Path, launch: &LaunchSpec) -> std::io::Result<Self> {
        let pid_file = launch.dir.join(PID_FILE);
        let recorded = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
            .filter(|pid| runs_config(*pid, &launch.config()));
        // The pid file is written just after the spawn: a platform killed in between leaves a
        // node no file names, found by its command line.
        if let Some(pid) = recorded.or_else(|| find_running(&launch.config())) {
            tracing::info!(node = %launch.node, pid, "adopting a node left running by an earlier platform run");
            return Ok(Process::Adopted(pid));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(launch.dir.join(LOG_FILE))?;
        let child = tokio::process::Command::new(binary)
            .arg("node")
            .arg("--config")
            .arg(launch.config())
            .current_dir(&launch.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(false)
            .spawn()?;
        if let Some(pid) = child.id() {
            std::fs::write(&pid_file, pid.to_string())?;
        }
        Ok(Process::Child(child))
    }

    /// Resolves when the process exits, with how it exited.
    async fn wait(&mut self) -> String {
        match self {
            Process::Child(child) => match child.wait().await {
                Ok(status) => describe(status),
                Err(e) => format!("could not be watched: {e}"),
            },
            Process::Adopted(pid) => {
                while process_exists(*pid) {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                "exited while the platform was not watching it (exit status unknown)".into()
            }
        }
    }

    /// SIGTERM, then SIGKILL if it is still running after the grace period.
    async fn terminate(&mut self) {
        let pid = match self {
            Process::Child(child) => child.id().map(|p| p as i32),
            Process::Adopted(pid) => Some(*pid),
        };
        let Some(pid) = pid else { return };
        signal(pid, rustix::process::Signal::TERM);
        let exited = tokio::time::timeout(STOP_GRACE, self.wait()).await.is_ok();
        if !exited {
            signal(pid, rustix::process::Signal::KILL);
            let _ = self.wait().await;
        }
    }
}

fn signal(pid: i32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

fn process_exists(pid: i32) -> bool {
    // A zombie (exited, not yet reaped by its parent) has no command line left.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| !cmdline.is_empty())
}

/// Whether process `pid` is a `ricaas node` running `config` (a pid file can outlive its
/// process, and pids are reused).
fn runs_config(pid: i32, config: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let config = config.as_os_str().as_encoded_bytes();
    args.contains(&b"node".as_slice()) && args.contains(&config)
}

/// `count` distinct free TCP ports on 127.0.0.1 (every listener is held until all are picked,
/// so the OS hands out distinct ones).
pub(crate) fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
        .collect::<Result<Vec<_>, _>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// A running process whose command line runs `config`, if there is one.
fn find_running(config: &Path) -> Option<i32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| runs_config(*pid, config))
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "exited".into(),
    }
}

/// The last `lines` lines of `path` (reading at most its last 1 MiB).
fn tail(path: &Path, lines: usize) -> std::io::Result<Vec<String>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let length = file.metadata()?.len();
    let start = length.saturating_sub(1 << 20);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    let skip_partial = usize::from(start > 0);
    Ok(all
        .iter()
        .skip(skip_partial.max(all.len().saturating_sub(lines)))
        .map(|line| line.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_of_a_log_is_its_last_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, "one\ntwo\nthree\n").expect("write");
        assert_eq!(tail(&path, 2).expect("tail"), vec!["two", "three"]);
        assert_eq!(tail(&path, 10).expect("tail"), vec!["one", "two", "three"]);
        assert!(
            tail(&dir.path().join("missing"), 5)
                .expect("tail")
                .is_empty()
        );
    }

    #[test]
    fn a_pid_is_adopted_only_if_it_runs_that_configuration() {
        let me = std::process::id() as i32;
        assert!(!runs_config(me, Path::new("/nowhere/ricaas.toml")));
        assert!(!runs_config(i32::MAX, Path::new("/nowhere/ricaas.toml")));
        assert_eq!(find_running(Path::new("/nowhere/ricaas.toml")), None);
        assert!(process_exists(me));
    }

    #[test]
    fn exits_are_described_by_code_or_signal() {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(
            describe(std::process::ExitStatus::from_raw(9)),
            "killed by signal 9"
        );
        assert_eq!(
            describe(std::process::ExitStatus::from_raw(1 << 8)),
            "exit code 1"
        );
    }
}
