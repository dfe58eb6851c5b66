//! The reconciler: the platform's background worker. It claims open operations with a lease (a
//! replica that dies mid-operation leaves it to another once the lease runs out), carries each
//! out step by step — every step safe to repeat, so a crash between steps resumes where it
//! left off without duplicating nodes — keeps the nodes of running networks supervised, and
//! reads every node's `/ready` and `/metrics` for its status.

use super::{
    CREATE_STEPS, NetworkSpec,
    genesis::{self, GenesisOrg, GenesisValidator},
    local::LaunchSpec,
};
use crate::{
    accounts::{AccountsError, Platform},
    certificates::Subject,
    ids::{NetworkId, NodeId, OperationId, TenantId},
    keystore::{Algorithm, Backend},
    store::now_ms,
};
use std::{sync::Arc, time::Duration};

/// How long a claimed operation stays ours without renewal.
const LEASE: Duration = Duration::from_secs(15);
/// How often node status is read.
const OBSERVE_EVERY: Duration = Duration::from_secs(2);
/// How long a node may take to answer `/ready` after it was started.
const READY_WITHIN: Duration = Duration::from_secs(120);
/// Keystore name of the admin key a network's genesis enrolls.
pub(crate) const ADMIN_KEY: &str = crate::bootstrap::ADMIN_KEY;
/// Validity of the certificates the platform issues for a network, in days.
const IDENTITY_DAYS: u32 = 365;

/// Why a step stopped.
enum StepError {
    Cancelled,
    Failed(String),
}

impl From<AccountsError> for StepError {
    fn from(e: AccountsError) -> Self {
        StepError::Failed(e.to_string())
    }
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        StepError::Failed(format!("store: {e}"))
    }
}

/// A claimed operation.
struct Claimed {
    id: OperationId,
    tenant: TenantId,
    network: NetworkId,
    step: i64,
}

/// Runs the reconciler until the process ends.
pub async fn run(platform: Platform, wake: Arc<tokio::sync::Notify>) {
    let owner = format!("reconciler-{}", crate::ids::secret(""));
    if let Err(e) = platform.resume_supervision().await {
        tracing::error!(error = %e, "resuming the supervision of nodes failed");
    }
    // Reading status runs on its own: a node that does not answer must not hold up work.
    let observer = platform.clone();
    let observing = AbortOnDrop(tokio::spawn(async move {
        let mut observe = tokio::time::interval(OBSERVE_EVERY);
        loop {
            observe.tick().await;
            if let Err(e) = observer.observe_nodes().await {
                tracing::warn!(error = %e, "reading node status failed");
            }
            if let Err(e) = observer.sync_channels().await {
                tracing::warn!(error = %e, "following channels being created");
            }
            if let Err(e) = observer.sync_invitations().await {
                tracing::warn!(error = %e, "following join proposals failed");
            }
            if let Err(e) = observer.sync_deployments().await {
                tracing::warn!(error = %e, "following contract deployments failed");
            }
            if let Err(e) = observer.retire_departed_validators().await {
                tracing::warn!(error = %e, "retiring validators voted out failed");
            }
        }
    }));
    // Also look for work periodically: an operation whose claimant died becomes claimable when
    // its lease runs out, with nobody to wake us.
    let mut look = tokio::time::interval(LEASE / 3);
    loop {
        match platform.claim_operation(&owner).await {
            Ok(Some(claimed)) => {
                platform.carry_out(&owner, claimed).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "claiming an operation failed"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = look.tick() => {}
        }
        if observing.0.is_finished() {
            tracing::error!("the node status reader stopped");
        }
    }
}

/// A task that ends with its handle (when the reconciler stops, so does its status reader).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Platform {
    /// Claims the oldest pending operation, or a running one whose lease ran out.
    async fn claim_operation(&self, owner: &str) -> Result<Option<Claimed>, AccountsError> {
        let now = now_ms();
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM operations WHERE status = 'pending' OR (status = 'running' AND lease_until < $1) \
             ORDER BY created_at LIMIT 5",
        )
        .bind(now)
        .fetch_all(self.store().pool())
        .await?;
        for id in candidates {
            let claimed = sqlx::query(
                "UPDATE operations SET status = 'running', lease_owner = $1, lease_until = $2, \
                 attempts = attempts + 1, updated_at = $3 \
                 WHERE id = $4 AND (status = 'pending' OR (status = 'running' AND lease_until < $3))",
            )
            .bind(owner)
            .bind(now + LEASE.as_millis() as i64)
            .bind(now)
            .bind(&id)
            .execute(self.store().pool())
            .await?
            .rows_affected();
            if claimed == 1 {
                let (tenant, network, step): (String, String, i64) =
                    sqlx::query_as("SELECT tenant_id, target, step FROM operations WHERE id = $1")
                        .bind(&id)
                        .fetch_one(self.store().pool())
                        .await?;
                return Ok(Some(Claimed {
                    id: OperationId::from_stored(id),
                    tenant: TenantId::from_stored(tenant),
                    network: NetworkId::from_stored(network),
                    step,
                }));
            }
        }
        Ok(None)
    }

    /// Renews the lease and reports progress; tells whether cancellation was asked for.
    async fn progress(
        &self,
        owner: &str,
        operation: &OperationId,
        step: i64,
        message: &str,
    ) -> Result<(), StepError> {
        let now = now_ms();
        sqlx::query(
            "UPDATE operations SET step = $1, message = $2, lease_until = $3, updated_at = $4 \
             WHERE id = $5 AND lease_owner = $6",
        )
        .bind(step)
        .bind(message)
        .bind(now + LEASE.as_millis() as i64)
        .bind(now)
        .bind(operation.as_str())
        .bind(owner)
        .execute(self.store().pool())
        .await?;
        sqlx::query("UPDATE networks SET status_message = $1, updated_at = $2 WHERE id = (SELECT target FROM operations WHERE id = $3)")
            .bind(message)
            .bind(now)
            .bind(operation.as_str())
            .execute(self.store().pool())
            .await?;
        let (cancel, lease_owner): (i64, Option<String>) =
            sqlx::query_as("SELECT cancel_requested, lease_owner FROM operations WHERE id = $1")
                .bind(operation.as_str())
                .fetch_one(self.store().pool())
                .await?;
        if lease_owner.as_deref() != Some(owner) {
            return Err(StepError::Failed(
                "another platform replica took the operation over".into(),
            ));
        }
        if cancel != 0 {
            return Err(StepError::Cancelled);
        }
        Ok(())
    }

    /// Runs the remaining steps of `claimed` and records how it ended.
    async fn carry_out(&self, owner: &str, claimed: Claimed) {
        let result = self.create_steps(owner, &claimed).await;
        let (status, network_status, error, message) = match &result {
            Ok(()) => ("succeeded", "running", None, "created".to_string()),
            Err(StepError::Cancelled) => {
                self.stop_network_nodes(&claimed.network).await;
                ("cancelled", "cancelled", None, "cancelled".to_string())
            }
            Err(StepError::Failed(reason)) => {
                tracing::warn!(operation = %claimed.id, %reason, "operation failed");
                self.stop_network_nodes(&claimed.network).await;
                (
                    "failed",
                    "failed",
                    Some(reason.clone()),
                    format!("failed: {reason}"),
                )
            }
        };
        let now = now_ms();
        let recorded = async {
            sqlx::query(
                "UPDATE operations SET status = $1, error = $2, message = $3, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $4 WHERE id = $5 AND lease_owner = $6",
            )
            .bind(status)
            .bind(&error)
            .bind(&message)
            .bind(now)
            .bind(claimed.id.as_str())
            .bind(owner)
            .execute(self.store().pool())
            .await?;
            sqlx::query(
                "UPDATE networks SET status = $1, status_message = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(network_status)
            .bind(&message)
            .bind(now)
            .bind(claimed.network.as_str())
            .execute(self.store().pool())
            .await
        };
        if let Err(e) = recorded.await {
            tracing::error!(operation = %claimed.id, error = %e, "recording an operation's end failed");
        }
    }

    async fn create_steps(&self, owner: &str, claimed: &Claimed) -> Result<(), StepError> {
        let spec = self.spec_of(&claimed.network).await?;
        let total = CREATE_STEPS.len() as i64;
        for step in claimed.step..total {
            let index = step as usize;
            self.progress(owner, &claimed.id, step, CREATE_STEPS[index])
                .await?;
            match index {
                0 => self.issue_identities(claimed).await?,
                1 => self.write_genesis(claimed, &spec).await?,
                2 => self.start_nodes(owner, claimed).await?,
                _ => self.register_network_channel(claimed, &spec).await?,
            }
        }
        self.progress(owner, &claimed.id, total, "created").await
    }

    async fn spec_of(&self, network: &NetworkId) -> Result<NetworkSpec, StepError> {
        let spec: String = sqlx::query_scalar("SELECT spec FROM networks WHERE id = $1")
            .bind(network.as_str())
            .fetch_one(self.store().pool())
            .await?;
        serde_json::from_str(&spec).map_err(|e| StepError::Failed(format!("stored spec: {e}")))
    }

    fn node_dir(&self, network: &NetworkId, node: &str) -> Result<std::path::PathBuf, StepError> {
        let provisioner = self
            .provisioner()
            .ok_or_else(|| StepError::Failed("this platform runs no nodes".into()))?;
        Ok(provisioner.network_dir(network.as_str()).join(node))
    }

    /// The managed nodes of `network` run by `tenant`: id, name, public key.
    async fn managed_nodes(
        &self,
        network: &NetworkId,
    ) -> Result<Vec<(String, String, Option<String>)>, StepError> {
        Ok(sqlx::query_as(
            "SELECT id, name, public_key FROM nodes WHERE network_id = $1 AND managed = 1 \
             ORDER BY created_at, name",
        )
        .bind(network.as_str())
        .fetch_all(self.store().pool())
        .await?)
    }

    /// Step 1: the organization's CA (created if it has none), its admin key and certificate,
    /// and a key and certificate per node (kept in the node's directory).
    async fn issue_identities(&self, claimed: &Claimed) -> Result<(), StepError> {
        let tenant = &claimed.tenant;
        let org: String = sqlx::query_scalar(
            "SELECT org FROM network_members WHERE network_id = $1 AND tenant_id = $2",
        )
        .bind(claimed.network.as_str())
        .bind(tenant.as_str())
        .fetch_one(self.store().pool())
        .await?;
        self.ensure_org_identity(tenant, &org).await?;
        for (id, name, public_key) in self.managed_nodes(&claimed.network).await? {
            if public_key.is_some() {
                continue;
            }
            let dir = self.node_dir(&claimed.network, &name)?;
            self.issue_node_identity(tenant, &NodeId::from_stored(id), &name, &dir)
                .await?;
        }
        Ok(())
    }

    /// A node's Ed25519 key (kept in its directory, mode 0600; reused if already there) and a
    /// node certificate from `tenant`'s CA, recorded on the node's row. Returns the certificate
    /// (PEM) and the public key (hex).
    pub(crate) async fn issue_node_identity(
        &self,
        tenant: &TenantId,
        node: &NodeId,
        name: &str,
        dir: &std::path::Path,
    ) -> Result<(String, String), AccountsError> {
        let failed = |message: String| AccountsError::Unavailable(message);
        std::fs::create_dir_all(dir)
            .map_err(|e| failed(format!("creating {}: {e}", dir.display())))?;
        let key_path = dir.join(genesis::KEY_FILE);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(pem) => ricaas_crypto::ca::IdentityKey::from_pkcs8_pem(&pem)
                .map_err(|e| AccountsError::Corrupt(format!("{}: {e}", key_path.display())))?,
            Err(_) => {
                let key = ricaas_crypto::ca::IdentityKey::generate(
                    ricaas_crypto::ca::KeyAlgorithm::Ed25519,
                );
                let pem = key
                    .to_pkcs8_pem()
                    .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
                write_private(&key_path, &pem).map_err(|e| match e {
                    StepError::Failed(message) => failed(message),
                    StepError::Cancelled => failed("cancelled".into()),
                })?;
                key
            }
        };
        let spki = key
            .public_key_info()
            .and_then(|spki| ricaas_crypto::ca::public_key_pem(&spki))
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
        let issued = self
            .issue_certificate(
                tenant,
                name,
                "node",
                &Subject::PublicKey(spki),
                Some(IDENTITY_DAYS),
            )
            .await?;
        let certificate = ricaas_crypto::ca::certificate_from_pem(&issued.certificate_pem)
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
        let public = ricaas_crypto::ca::ed25519_key_of(&certificate)
            .map(hex::encode)
            .ok_or_else(|| {
                AccountsError::Corrupt("node certificate without an Ed25519 key".into())
            })?;
        std::fs::write(dir.join(genesis::CERTIFICATE_FILE), &issued.certificate_pem)
            .map_err(|e| failed(format!("writing the node certificate: {e}")))?;
        sqlx::query("UPDATE nodes SET public_key = $1, certificate_serial = $2 WHERE id = $3")
            .bind(&public)
            .bind(&issued.serial)
            .bind(node.as_str())
            .execute(self.store().pool())
            .await?;
        Ok((issued.certificate_pem, public))
    }

    /// What an organization needs to be a network's member, made if missing (only ever on a
    /// request of that organization): its CA (org `org`), its custodial admin key and an admin
    /// certificate for it. Returns the CA and admin certificates (PEM).
    pub(crate) async fn ensure_org_identity(
        &self,
        tenant: &TenantId,
        org: &str,
    ) -> Result<(String, String), AccountsError> {
        let ca = match self.ca_info(tenant).await {
            Ok(ca) => ca,
            Err(AccountsError::Missing(_)) => {
                self.create_ca(tenant, org, "ca", Algorithm::P256, None)
                    .await?
            }
            Err(e) => return Err(e),
        };
        match self.key(tenant, ADMIN_KEY).await {
            Ok(_) => {}
            Err(AccountsError::NotFound { .. }) => {
                self.create_key(tenant, ADMIN_KEY, Algorithm::Secp256k1, Backend::Software)
                    .await?;
            }
            Err(e) => return Err(e),
        }
        let admin = match self.admin_certificate(tenant).await? {
            Some(admin) => admin,
            None => {
                self.issue_certificate(
                    tenant,
                    ADMIN_KEY,
                    "admin",
                    &Subject::Key(ADMIN_KEY.into()),
                    Some(IDENTITY_DAYS),
                )
                .await?
                .certificate_pem
            }
        };
        Ok((ca.certificate_pem, admin))
    }

    /// The newest valid admin certificate of `tenant` for its admin key.
    pub(crate) async fn admin_certificate(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<String>, AccountsError> {
        self.admin_certificate_of_key(tenant, ADMIN_KEY).await
    }

    /// The newest valid admin certificate (PEM) the tenant's CA issued for key `key`.
    pub(crate) async fn admin_certificate_of_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<String>, AccountsError> {
        Ok(sqlx::query_scalar(
            "SELECT certificate FROM certificates WHERE tenant_id = $1 AND key_name = $2 \
             AND role = 'admin' AND revoked_at IS NULL AND not_after > $3 ORDER BY not_after DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(key)
        .bind(now_ms())
        .fetch_optional(self.store().pool())
        .await?)
    }

    /// Step 2: the genesis (made once: ports, certificates and timestamp are kept, so a retry
    /// writes the same files) and each node's configuration.
    async fn write_genesis(&self, claimed: &Claimed, spec: &NetworkSpec) -> Result<(), StepError> {
        let org: String = sqlx::query_scalar(
            "SELECT org FROM network_members WHERE network_id = $1 AND tenant_id = $2",
        )
        .bind(claimed.network.as_str())
        .bind(claimed.tenant.as_str())
        .fetch_one(self.store().pool())
        .await?;
        let nodes = self.managed_nodes(&claimed.network).await?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT genesis FROM networks WHERE id = $1")
                .bind(claimed.network.as_str())
                .fetch_one(self.store().pool())
                .await?;
        let mut validators = Vec::with_capacity(nodes.len());
        for (_, name, public_key) in &nodes {
            let dir = self.node_dir(&claimed.network, name)?;
            let certificate_pem = std::fs::read_to_string(dir.join(genesis::CERTIFICATE_FILE))
                .map_err(|e| StepError::Failed(format!("node {name} certificate: {e}")))?;
            validators.push(GenesisValidator {
                certificate_pem,
                public_key: public_key
                    .clone()
                    .ok_or_else(|| StepError::Failed(format!("node {name} has no key yet")))?,
                rpc_port: 0,
                p2p_port: 0,
            });
        }
        let channel = match stored {
            Some(stored) => {
                let ports: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT name, rpc_url, p2p_address FROM nodes WHERE network_id = $1 AND managed = 1 \
                     ORDER BY created_at, name",
                )
                .bind(claimed.network.as_str())
                .fetch_all(self.store().pool())
                .await?;
                for (validator, (name, rpc, p2p)) in validators.iter_mut().zip(ports) {
                    let port = |url: Option<String>| {
                        url.and_then(|u| {
                            u.rsplit(':')
                                .next()
                                .and_then(|p| p.trim_end_matches('/').parse().ok())
                        })
                    };
                    validator.rpc_port = port(rpc)
                        .ok_or_else(|| StepError::Failed(format!("node {name} has no RPC port")))?;
                    validator.p2p_port = port(p2p)
                        .ok_or_else(|| StepError::Failed(format!("node {name} has no p2p port")))?;
                }
                serde_json::from_str(&stored)
                    .map_err(|e| StepError::Failed(format!("stored genesis: {e}")))?
            }
            None => {
                let ports = free_ports(validators.len() * 2)?;
                for (index, validator) in validators.iter_mut().enumerate() {
                    validator.rpc_port = ports[2 * index];
                    validator.p2p_port = ports[2 * index + 1];
                }
                let ca = self.ca_info(&claimed.tenant).await?;
                let admin = self
                    .admin_certificate(&claimed.tenant)
                    .await?
                    .ok_or_else(|| {
                        StepError::Failed("the organization has no admin certificate".into())
                    })?;
                let channel = genesis::channel_config(
                    spec,
                    &GenesisOrg {
                        name: org.clone(),
                        ca_certificate_pem: ca.certificate_pem,
                        admin_certificate_pem: admin,
                    },
                    &validators,
                    now_ms().max(0) as u64,
                )
                .map_err(StepError::Failed)?;
                let json = serde_json::to_string(&channel)
                    .map_err(|e| StepError::Failed(format!("genesis: {e}")))?;
                let mut tx = self.store().pool().begin().await?;
                for ((id, _, _), validator) in nodes.iter().zip(&validators) {
                    sqlx::query("UPDATE nodes SET rpc_url = $1, p2p_address = $2 WHERE id = $3")
                        .bind(format!("http://127.0.0.1:{}", validator.rpc_port))
                        .bind(format!("127.0.0.1:{}", validator.p2p_port))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("UPDATE networks SET genesis = $1 WHERE id = $2 AND genesis IS NULL")
                    .bind(&json)
                    .bind(claimed.network.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                channel
            }
        };
        for (index, (_, name, _)) in nodes.iter().enumerate() {
            let text = genesis::node_config(spec, &channel, &org, &validators, index)
                .map_err(StepError::Failed)?;
            let path = self
                .node_dir(&claimed.network, name)?
                .join(genesis::CONFIG_FILE);
            std::fs::write(&path, text)
                .map_err(|e| StepError::Failed(format!("writing {}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// What the provisioner needs to run node `node` of `network`.
    pub(crate) async fn launch_of(
        &self,
        network: &NetworkId,
        node: &NodeId,
    ) -> Result<LaunchSpec, AccountsError> {
        let name: String = sqlx::query_scalar("SELECT name FROM nodes WHERE id = $1")
            .bind(node.as_str())
            .fetch_one(self.store().pool())
            .await?;
        let provisioner = self.provisioner().ok_or_else(|| {
            AccountsError::Unavailable("this platform runs no nodes (no provisioner)".into())
        })?;
        Ok(LaunchSpec {
            node: node.clone(),
            dir: provisioner.network_dir(network.as_str()).join(name),
        })
    }

    /// Step 3: every node runs, and answers `/ready`.
    async fn start_nodes(&self, owner: &str, claimed: &Claimed) -> Result<(), StepError> {
        let provisioner = self
            .provisioner()
            .ok_or_else(|| StepError::Failed("this platform runs no nodes".into()))?
            .clone();
        let network = self.network_by_id(&claimed.network).await?;
        if let Some(target) = &network.spec.kubernetes {
            self.apply_to_cluster(&network, target).await?;
        }
        let nodes: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, name, rpc_url FROM nodes WHERE network_id = $1 AND managed = 1 AND desired = 'running' \
             ORDER BY created_at, name",
        )
        .bind(claimed.network.as_str())
        .fetch_all(self.store().pool())
        .await?;
        if network.spec.kubernetes.is_none() {
            for (id, _, _) in &nodes {
                let launch = self
                    .launch_of(&claimed.network, &NodeId::from_stored(id.clone()))
                    .await?;
                provisioner
                    .ensure_running(launch)
                    .await
                    .map_err(|e| StepError::Failed(e.to_string()))?;
            }
        }
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        loop {
            let mut ready = 0;
            let mut waiting = Vec::new();
            for (_, name, rpc_url) in &nodes {
                match rpc_url {
                    Some(url) if probe(url, "/ready").await.is_ok() => ready += 1,
                    _ => waiting.push(name.clone()),
                }
            }
            let message = format!(
                "{}: {ready} of {} nodes ready",
                CREATE_STEPS[2],
                nodes.len()
            );
            self.progress(owner, &claimed.id, 2, &message).await?;
            if waiting.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StepError::Failed(format!(
                    "nodes {} did not become ready within {} s; see their logs",
                    waiting.join(", "),
                    READY_WITHIN.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The Kubernetes objects of every node of `network` (from the files the earlier steps
    /// wrote), applied to the cluster; each node's addresses become its Services'.
    async fn apply_to_cluster(
        &self,
        network: &super::Network,
        target: &super::KubernetesTarget,
    ) -> Result<(), StepError> {
        use super::kubernetes::{self, KubeNode, KubeSettings};
        let settings = KubeSettings::for_target(&network.name, target);
        let mut nodes = Vec::new();
        for (id, name, _) in self.managed_nodes(&network.id).await? {
            let dir = self.node_dir(&network.id, &name)?;
            let config = ricaas_node::NodeConfig::load(&dir.join(super::genesis::CONFIG_FILE))
                .map_err(|e| StepError::Failed(format!("node {name}'s configuration: {e}")))?;
            let key_pem = std::fs::read_to_string(dir.join(super::genesis::KEY_FILE))
                .map_err(|e| StepError::Failed(format!("node {name}'s key: {e}")))?;
            let org: String = sqlx::query_scalar(
                "SELECT m.org FROM nodes d JOIN network_members m \
                 ON m.network_id = d.network_id AND m.tenant_id = d.tenant_id WHERE d.id = $1",
            )
            .bind(&id)
            .fetch_one(self.store().pool())
            .await?;
            nodes.push(KubeNode {
                name,
                org,
                role: "validator".into(),
                config,
                key_pem,
            });
        }
        let objects = kubernetes::render_network(&settings, &nodes)
            .map_err(|e| StepError::Failed(e.to_string()))?;
        kubernetes::apply(&target.namespace, &objects)
            .await
            .map_err(|e| match e {
                // The detail names the platform's own files: the operator's log, not the tenant.
                kubernetes::KubeError::NoCluster(detail) => {
                    tracing::warn!(%detail, network = %network.name, "no Kubernetes cluster is reachable");
                    StepError::Failed(
                        "no Kubernetes cluster is reachable from this platform: its operator configures one (KUBECONFIG, or the platform running in a pod); retry once that is done"
                            .into(),
                    )
                }
                other => StepError::Failed(other.to_string()),
            })?;
        for node in &nodes {
            sqlx::query(
                "UPDATE nodes SET rpc_url = $1, p2p_address = $2 WHERE network_id = $3 AND name = $4",
            )
            .bind(settings.rpc_url(&node.name))
            .bind(settings.p2p_host(&node.name))
            .bind(network.id.as_str())
            .bind(&node.name)
            .execute(self.store().pool())
            .await?;
        }
        Ok(())
    }

    /// Step 4: the platform may reach the channel (enrolment, later contracts) through the
    /// first node.
    async fn register_network_channel(
        &self,
        claimed: &Claimed,
        spec: &NetworkSpec,
    ) -> Result<(), StepError> {
        let name: String = sqlx::query_scalar("SELECT name FROM networks WHERE id = $1")
            .bind(claimed.network.as_str())
            .fetch_one(self.store().pool())
            .await?;
        let path = format!("{name}/{}", spec.channel.name);
        if self.channel(&path).await.is_ok() {
            return Ok(());
        }
        let rpc_url: Option<String> = sqlx::query_scalar(
            "SELECT rpc_url FROM nodes WHERE network_id = $1 AND rpc_url IS NOT NULL ORDER BY created_at, name LIMIT 1",
        )
        .bind(claimed.network.as_str())
        .fetch_optional(self.store().pool())
        .await?
        .flatten();
        let rpc_url =
            rpc_url.ok_or_else(|| StepError::Failed("the network has no node address".into()))?;
        self.register_channel(
            &name,
            &spec.channel.name,
            &format!("{rpc_url}/channels/{}", spec.channel.name),
        )
        .await?;
        Ok(())
    }

    async fn stop_network_nodes(&self, network: &NetworkId) {
        let Some(provisioner) = self.provisioner().cloned() else {
            return;
        };
        let Ok(nodes) = self.managed_nodes(network).await else {
            return;
        };
        for (id, _, _) in nodes {
            let _ = provisioner.stop(&NodeId::from_stored(id)).await;
        }
    }

    /// After a (re)start of the platform: supervise again every node of running networks that
    /// should run (a node left running by the previous run is adopted, not duplicated).
    async fn resume_supervision(&self) -> Result<(), AccountsError> {
        let Some(provisioner) = self.provisioner().cloned() else {
            return Ok(());
        };
        let nodes: Vec<(String, String)> = sqlx::query_as(
            "SELECT d.network_id, d.id FROM nodes d JOIN networks n ON n.id = d.network_id \
             WHERE n.status = 'running' AND n.provisioner = 'local' AND d.managed = 1 \
             AND d.desired = 'running'",
        )
        .fetch_all(self.store().pool())
        .await?;
        for (network, node) in nodes {
            let launch = self
                .launch_of(&NetworkId::from_stored(network), &NodeId::from_stored(node))
                .await?;
            if let Err(e) = provisioner.ensure_running(launch).await {
                tracing::error!(error = %e, "resuming a node failed");
            }
        }
        Ok(())
    }

    /// Stops and deletes the validators voted out of their network once the network runs
    /// without them (another node is past the height they leave at); a registered node, run
    /// by its organization, is only forgotten.
    async fn retire_departed_validators(&self) -> Result<(), AccountsError> {
        let departing: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT d.id, d.network_id, d.name, d.leaves_at_height FROM nodes d \
             WHERE d.leaves_at_height IS NOT NULL AND d.leaves_at_height <= \
             (SELECT MAX(o.observed_height) FROM nodes o WHERE o.network_id = d.network_id AND o.id <> d.id)",
        )
        .fetch_all(self.store().pool())
        .await?;
        for (node, network, name, height) in departing {
            tracing::info!(%network, node = %name, height, "a validator voted out leaves the network");
            self.discard_node(&NetworkId::from_stored(network), &NodeId::from_stored(node))
                .await;
        }
        Ok(())
    }

    /// Reads `/ready` and `/metrics` of every node with an address.
    async fn observe_nodes(&self) -> Result<(), AccountsError> {
        let nodes: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT d.id, d.rpc_url, n.spec FROM nodes d JOIN networks n ON n.id = d.network_id \
             WHERE d.rpc_url IS NOT NULL AND n.status IN ('running', 'creating')",
        )
        .fetch_all(self.store().pool())
        .await?;
        for (id, url, spec) in nodes {
            let channel = serde_json::from_str::<NetworkSpec>(&spec)
                .map(|s| s.channel.name)
                .unwrap_or_else(|_| "default".into());
            let (ready, message) = match probe(&url, "/ready").await {
                Ok(_) => (1i64, None),
                Err(message) => (0, Some(message)),
            };
            let metrics = probe(&url, "/metrics").await.unwrap_or_default();
            let height = sample(&metrics, &format!("ricaas_height{{channel=\"{channel}\"}}"));
            let peers = sample(&metrics, "ricaas_peers_connected");
            sqlx::query(
                "UPDATE nodes SET observed_height = $1, observed_peers = $2, observed_ready = $3, \
                 observed_message = $4, observed_at = $5 WHERE id = $6",
            )
            .bind(height)
            .bind(peers)
            .bind(ready)
            .bind(message)
            .bind(now_ms())
            .bind(&id)
            .execute(self.store().pool())
            .await?;
        }
        Ok(())
    }
}

/// The value of the sample named exactly `series` in Prometheus text.
fn sample(metrics: &str, series: &str) -> Option<i64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse::<f64>().ok().map(|v| v as i64)
    })
}

/// `GET <base><path>` with a short timeout: the body if it answered 200, else what went wrong.
async fn probe(base: &str, path: &str) -> Result<String, String> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.get(&url).call().map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{url}: {e}"))?;
        if status == 200 {
            Ok(body)
        } else {
            Err(format!("{url} answered {status}: {body}"))
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

fn free_ports(count: usize) -> Result<Vec<u16>, StepError> {
    super::local::free_ports(count)
        .map_err(|e| StepError::Failed(format!("picking free ports: {e}")))
}

fn write_private(path: &std::path::Path, text: &str) -> Result<(), StepError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StepError::Failed(format!("creating {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| StepError::Failed(format!("writing {}: {e}", path.display())))
}
