//! Networks as resources. A tenant asks for a consortium network (its desired state: name,
//! consensus, validators, epoch length, block interval, first channel and its policies); the
//! platform stores it, starts an [`Operation`] that the [`reconciler`] carries out step by step
//! through a provisioner ([`local`] runs nodes as supervised child processes), and reports each
//! node as read from the node itself. The network `ricaas up` creates is registered the same
//! way, its nodes as nodes the platform does not run.
//!
//! Trust: everything a network's genesis holds for the creating organization (its CA, its admin
//! certificate, its node certificates) is made because an account of that organization asked
//! to create the network; other organizations join later from their own accounts.

pub mod channels;
pub mod contracts;
pub mod gateway;
pub mod genesis;
pub mod invitations;
pub mod kubernetes;
pub mod local;
pub mod reconciler;
pub mod validators;

use crate::{
    accounts::{AccountsError, Platform, check_name},
    ids::{NetworkId, NodeId, OperationId, TenantId},
    store::now_ms,
};
use serde::{Deserialize, Serialize};

/// How a network's channel orders blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Consensus {
    /// Byzantine fault tolerant replication among the validators (4 tolerate one failure).
    #[default]
    Bft,
    /// One node orders alone: development and tests.
    Solo,
}

impl Consensus {
    fn as_str(self) -> &'static str {
        match self {
            Consensus::Bft => "bft",
            Consensus::Solo => "solo",
        }
    }
}

/// The first channel of a network and its policies (policy language of the chain, e.g.
/// `ANY Members`, `MAJORITY Admins`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    #[serde(default = "default_channel")]
    pub name: String,
    #[serde(default = "default_chain_id")]
    pub chain_id: u64,
    #[serde(default = "any_members")]
    pub readers: String,
    #[serde(default = "any_members")]
    pub writers: String,
    #[serde(default = "any_members")]
    pub contract_deployers: String,
    #[serde(default = "majority_admins")]
    pub admins: String,
}

impl Default for ChannelSpec {
    fn default() -> Self {
        Self {
            name: default_channel(),
            chain_id: default_chain_id(),
            readers: any_members(),
            writers: any_members(),
            contract_deployers: any_members(),
            admins: majority_admins(),
        }
    }
}

fn default_channel() -> String {
    "default".into()
}
fn default_chain_id() -> u64 {
    1337
}
fn any_members() -> String {
    "ANY Members".into()
}
fn majority_admins() -> String {
    "MAJORITY Admins".into()
}
fn default_validators() -> u32 {
    4
}
fn default_epoch_length() -> u64 {
    100
}
/// The BFT default (the platform's default consensus); a solo network, for development, may
/// ask for `ricaas_node`'s longer solo interval to batch more.
fn default_block_interval_ms() -> u64 {
    ricaas_node::BFT_BLOCK_INTERVAL_MS
}

/// What a tenant asks for when it creates a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// 2–63 lowercase letters, digits and hyphens; unique on the platform.
    pub name: String,
    #[serde(default)]
    pub consensus: Consensus,
    /// Validators the creating organization runs: 1 to 16 for BFT (4 tolerate one failure),
    /// exactly 1 for solo.
    #[serde(default = "default_validators")]
    pub validators: u32,
    /// Heights per consensus epoch (validator changes take effect at epoch boundaries).
    #[serde(default = "default_epoch_length")]
    pub epoch_length: u64,
    /// Longest a transaction waits for its block, in ms (50 to 60,000).
    #[serde(default = "default_block_interval_ms")]
    pub block_interval_ms: u64,
    #[serde(default)]
    pub channel: ChannelSpec,
    /// Run the nodes on a Kubernetes cluster instead of as the platform's child processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesTarget>,
}

/// Where on a Kubernetes cluster a network's nodes run (the cluster is the one the platform's
/// own configuration reaches: `KUBECONFIG`, or its service account when it runs in a pod).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesTarget {
    /// An existing namespace (a DNS label).
    pub namespace: String,
    /// Container image holding the `ricaas` binary (run as user 10001).
    pub image: String,
    /// Persistent volume per node (default `20Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// Most validators a channel may have (the chain's limit).
pub const MAX_VALIDATORS: u32 = ricaas_primitives::system::MAX_VALIDATORS as u32;

impl NetworkSpec {
    /// Checks every field, naming the first wrong one and what is allowed.
    pub fn validate(&self, org: &str) -> Result<(), AccountsError> {
        let invalid = |message: String| Err(AccountsError::Invalid(message));
        check_name("network", &self.name)?;
        check_name("channel", &self.channel.name)?;
        match self.consensus {
            Consensus::Solo if self.validators != 1 => {
                return invalid("a solo network has exactly 1 validator".into());
            }
            Consensus::Bft if !(1..=MAX_VALIDATORS).contains(&self.validators) => {
                return invalid(format!(
                    "validators must be 1 to {MAX_VALIDATORS} (4 tolerate one failed validator)"
                ));
            }
            _ => {}
        }
        if !(10..=1_000_000).contains(&self.epoch_length) {
            return invalid("epoch_length must be 10 to 1000000 blocks".into());
        }
        if !(50..=60_000).contains(&self.block_interval_ms) {
            return invalid("block_interval_ms must be 50 to 60000".into());
        }
        if let Some(target) = &self.kubernetes {
            if self.consensus != Consensus::Bft {
                return invalid("kubernetes runs BFT networks; a solo network runs locally".into());
            }
            let label = |text: &str| {
                (1..=63).contains(&text.len())
                    && text
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !text.starts_with('-')
                    && !text.ends_with('-')
            };
            if !label(&target.namespace) {
                return invalid(format!(
                    "kubernetes.namespace {:?} is not a DNS label (lowercase letters, digits, hyphens)",
                    target.namespace
                ));
            }
            if target.image.is_empty()
                || target.image.len() > 255
                || target.image.chars().any(char::is_whitespace)
            {
                return invalid("kubernetes.image must be a container image reference".into());
            }
        }
        if self.channel.chain_id == 0 || self.channel.chain_id > u64::from(u32::MAX) {
            return invalid("channel.chain_id must be 1 to 4294967295".into());
        }
        for (field, text) in [
            ("readers", &self.channel.readers),
            ("writers", &self.channel.writers),
            ("contract_deployers", &self.channel.contract_deployers),
            ("admins", &self.channel.admins),
        ] {
            let policy: ricaas_primitives::policy::Policy = text
                .parse()
                .map_err(|e| AccountsError::Invalid(format!("channel.{field}: {e}")))?;
            policy
                .check_orgs(&[org.to_string()])
                .map_err(|e| AccountsError::Invalid(format!("channel.{field}: {e}")))?;
        }
        Ok(())
    }
}

/// Where a network stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkStatus {
    /// Its creation operation has not finished.
    Creating,
    /// Created: its nodes are supervised.
    Running,
    /// Creation failed; retry the operation.
    Failed,
    /// Creation was cancelled; retry the operation to resume it.
    Cancelled,
}

impl NetworkStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NetworkStatus::Creating => "creating",
            NetworkStatus::Running => "running",
            NetworkStatus::Failed => "failed",
            NetworkStatus::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Result<Self, AccountsError> {
        Ok(match text {
            "creating" => NetworkStatus::Creating,
            "running" => NetworkStatus::Running,
            "failed" => NetworkStatus::Failed,
            "cancelled" => NetworkStatus::Cancelled,
            other => return Err(AccountsError::Corrupt(format!("network status {other:?}"))),
        })
    }
}

/// A member organization of a network.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    /// The organization's name on chain.
    pub org: String,
    pub tenant: String,
    pub joined_at: i64,
}

/// A node of a network, with what was last read from it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Node {
    #[schema(value_type = String)]
    pub id: NodeId,
    pub name: String,
    /// The organization that runs it.
    pub org: String,
    /// `validator` or `observer`.
    pub role: String,
    /// Whether the platform runs it (`false`: registered by address, run by its organization).
    pub managed: bool,
    /// `running` or `stopped`: what the platform keeps it at.
    pub desired: String,
    pub rpc_url: Option<String>,
    pub p2p_address: Option<String>,
    /// Ed25519 public key (hex): its identity on the p2p network and in votes.
    pub public_key: Option<String>,
    /// Times the platform restarted it after it exited on its own.
    pub restarts: i64,
    /// How it last exited (e.g. `killed by signal 9`, `exit code 1`).
    pub last_exit: Option<String>,
    pub last_exit_at: Option<i64>,
    /// Its channel's height, read from the node.
    pub height: Option<i64>,
    /// Blocks behind the highest node of the network.
    pub lag: Option<i64>,
    /// Peers it has a live p2p connection to.
    pub peers: Option<i64>,
    /// Whether its `/ready` answered 200 at `observed_at`.
    pub ready: bool,
    /// What `/ready` or the connection said when it was not ready.
    pub message: Option<String>,
    pub observed_at: Option<i64>,
    /// A validator voted out of the validator set: the height from which the network runs
    /// without it; the platform then stops and deletes it.
    pub leaves_at: Option<i64>,
}

/// A network as its members see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Network {
    #[schema(value_type = String)]
    pub id: NetworkId,
    pub name: String,
    /// The tenant that created it.
    pub owner: String,
    pub consensus: Consensus,
    /// `local` (nodes run by the platform) or `external` (registered nodes).
    pub provisioner: String,
    pub status: NetworkStatus,
    pub status_message: String,
    pub spec: NetworkSpec,
    pub members: Vec<Member>,
    pub nodes: Vec<Node>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where an operation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OperationStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl OperationStatus {
    fn parse(text: &str) -> Result<Self, AccountsError> {
        Ok(match text {
            "pending" => OperationStatus::Pending,
            "running" => OperationStatus::Running,
            "succeeded" => OperationStatus::Succeeded,
            "failed" => OperationStatus::Failed,
            "cancelled" => OperationStatus::Cancelled,
            other => {
                return Err(AccountsError::Corrupt(format!(
                    "operation status {other:?}"
                )));
            }
        })
    }
}

/// A long operation: its progress in steps, and what went wrong if it failed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Operation {
    #[schema(value_type = String)]
    pub id: OperationId,
    /// `create_network`.
    pub kind: String,
    /// The network it works on.
    pub network: String,
    pub status: OperationStatus,
    /// Steps done, of `steps`.
    pub step: i64,
    pub steps: i64,
    /// What it is doing or did last.
    pub message: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub cancel_requested: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The steps of creating a network, in order.
pub const CREATE_STEPS: [&str; 4] = [
    "issuing the organization's identities",
    "writing the genesis and node configurations",
    "starting the nodes and waiting until they are ready",
    "registering the channel",
];

type OperationRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
);

const OPERATION_COLUMNS: &str = "o.id, o.kind, n.name, o.status, o.step, o.steps, o.message, \
     o.error, o.attempts, o.cancel_requested, o.created_at, o.updated_at";

fn operation_from_row(row: OperationRow) -> Result<Operation, AccountsError> {
    let (
        id,
        kind,
        network,
        status,
        step,
        steps,
        message,
        error,
        attempts,
        cancel,
        created,
        updated,
    ) = row;
    Ok(Operation {
        id: OperationId::from_stored(id),
        kind,
        network,
        status: OperationStatus::parse(&status)?,
        step,
        steps,
        message,
        error,
        attempts,
        cancel_requested: cancel != 0,
        created_at: created,
        updated_at: updated,
    })
}

/// A node's row: id, name, org, role, managed, desired, rpc_url, p2p_address, public_key,
/// restarts, last_exit, last_exit_at.
type NodeRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<i64>,
);

/// What was last read from a node (id, height, peers, ready, message, when), and the height it
/// leaves the network at.
type ObservedRow = (
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

impl Platform {
    /// Creates network `spec` for `tenant`, with its validators run by the platform, and the
    /// operation that brings it about. Returns the operation.
    pub async fn create_network(
        &self,
        tenant: &TenantId,
        spec: NetworkSpec,
    ) -> Result<Operation, AccountsError> {
        if self.provisioner().is_none() {
            return Err(AccountsError::Unavailable(
                "this platform runs no nodes (it was started without a provisioner); ask its operator".into(),
            ));
        }
        let tenant_name = self.tenant_name(tenant).await?;
        let org = match self.ca_info(tenant).await {
            Ok(ca) => ca.org,
            Err(AccountsError::Missing(_)) => tenant_name.clone(),
            Err(e) => return Err(e),
        };
        spec.validate(&org)?;
        let now = now_ms();
        let network = NetworkId::generate();
        let operation = OperationId::generate();
        let mut tx = self.store().pool().begin().await?;
        insert_network(
            &mut tx,
            &network,
            &spec,
            tenant,
            (
                if spec.kubernetes.is_some() {
                    "kubernetes"
                } else {
                    "local"
                },
                NetworkStatus::Creating,
                CREATE_STEPS[0],
            ),
            now,
        )
        .await?;
        sqlx::query(
            "INSERT INTO network_members (network_id, tenant_id, org, joined_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(network.as_str())
        .bind(tenant.as_str())
        .bind(&org)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for index in 0..spec.validators {
            sqlx::query(
                "INSERT INTO nodes (id, network_id, tenant_id, name, role, managed, desired, created_at) \
                 VALUES ($1, $2, $3, $4, 'validator', 1, 'running', $5)",
            )
            .bind(NodeId::generate().as_str())
            .bind(network.as_str())
            .bind(tenant.as_str())
            .bind(format!("{org}-validator{index}"))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO operations (id, tenant_id, kind, target, status, step, steps, message, \
             created_at, updated_at) VALUES ($1, $2, 'create_network', $3, 'pending', 0, $4, $5, $6, $6)",
        )
        .bind(operation.as_str())
        .bind(tenant.as_str())
        .bind(network.as_str())
        .bind(CREATE_STEPS.len() as i64)
        .bind("waiting for the reconciler")
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(wake) = self.reconciler_wake() {
            wake.notify_one();
        }
        self.operation(tenant, &operation).await
    }

    pub(crate) async fn tenant_name(&self, tenant: &TenantId) -> Result<String, AccountsError> {
        sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_optional(self.store().pool())
            .await?
            .ok_or_else(|| AccountsError::Corrupt(format!("tenant {tenant} has no row")))
    }

    /// The networks `tenant` is a member of, by name.
    pub async fn networks(&self, tenant: &TenantId) -> Result<Vec<Network>, AccountsError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT n.id FROM networks n JOIN network_members m ON m.network_id = n.id \
             WHERE m.tenant_id = $1 ORDER BY n.name",
        )
        .bind(tenant.as_str())
        .fetch_all(self.store().pool())
        .await?;
        let mut networks = Vec::with_capacity(ids.len());
        for id in ids {
            networks.push(self.network_by_id(&NetworkId::from_stored(id)).await?);
        }
        Ok(networks)
    }

    /// Network `name`, if `tenant` is a member (otherwise it does not exist for it).
    pub async fn network(&self, tenant: &TenantId, name: &str) -> Result<Network, AccountsError> {
        let id = self.network_id(tenant, name).await?;
        self.network_by_id(&id).await
    }

    /// The id of network `name`, if `tenant` is a member: what a call that needs neither its
    /// members nor its nodes reads.
    pub(crate) async fn network_id(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<NetworkId, AccountsError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT n.id FROM networks n JOIN network_members m ON m.network_id = n.id \
             WHERE n.name = $1 AND m.tenant_id = $2",
        )
        .bind(name)
        .bind(tenant.as_str())
        .fetch_optional(self.store().pool())
        .await?;
        let id = id.ok_or_else(|| AccountsError::NotFound {
            what: "network",
            name: name.to_string(),
        })?;
        Ok(NetworkId::from_stored(id))
    }

    pub(crate) async fn network_by_id(&self, id: &NetworkId) -> Result<Network, AccountsError> {
        let pool = self.store().pool();
        let (name, owner, consensus, provisioner, spec, status, message, created, updated): (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT n.name, t.name, n.consensus, n.provisioner, n.spec, n.status, n.status_message, \
             n.created_at, n.updated_at FROM networks n JOIN tenants t ON t.id = n.owner_tenant_id \
             WHERE n.id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AccountsError::Corrupt(format!("network {id} vanished")))?;
        let members: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT m.org, t.name, m.joined_at FROM network_members m JOIN tenants t ON t.id = m.tenant_id \
             WHERE m.network_id = $1 ORDER BY m.joined_at, m.org",
        )
        .bind(id.as_str())
        .fetch_all(pool)
        .await?;
        let nodes = self.nodes_of(id).await?;
        let highest = nodes.iter().filter_map(|n| n.height).max();
        let nodes = nodes
            .into_iter()
            .map(|mut node| {
                node.lag = node.height.zip(highest).map(|(h, top)| top - h);
                node
            })
            .collect();
        Ok(Network {
            id: id.clone(),
            name,
            owner,
            consensus: if consensus == "solo" {
                Consensus::Solo
            } else {
                Consensus::Bft
            },
            provisioner,
            status: NetworkStatus::parse(&status)?,
            status_message: message,
            spec: serde_json::from_str(&spec)
                .map_err(|e| AccountsError::Corrupt(format!("network spec: {e}")))?,
            members: members
                .into_iter()
                .map(|(org, tenant, joined_at)| Member {
                    org,
                    tenant,
                    joined_at,
                })
                .collect(),
            nodes,
            created_at: created,
            updated_at: updated,
        })
    }

    pub(crate) async fn nodes_of(&self, network: &NetworkId) -> Result<Vec<Node>, AccountsError> {
        let rows: Vec<NodeRow> = sqlx::query_as(
            "SELECT d.id, d.name, m.org, d.role, d.managed, d.desired, d.rpc_url, d.p2p_address, \
             d.public_key, d.restarts, d.last_exit, d.last_exit_at FROM nodes d \
             JOIN network_members m ON m.network_id = d.network_id AND m.tenant_id = d.tenant_id \
             WHERE d.network_id = $1 ORDER BY d.created_at, d.name",
        )
        .bind(network.as_str())
        .fetch_all(self.store().pool())
        .await?;
        let observed: Vec<ObservedRow> =
            sqlx::query_as(
                "SELECT id, observed_height, observed_peers, observed_ready, observed_message, observed_at, \
                 leaves_at_height FROM nodes WHERE network_id = $1",
            )
            .bind(network.as_str())
            .fetch_all(self.store().pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    name,
                    org,
                    role,
                    managed,
                    desired,
                    rpc_url,
                    p2p,
                    key,
                    restarts,
                    exit,
                    exit_at,
                )| {
                    let seen = observed.iter().find(|o| o.0 == id);
                    Node {
                        name,
                        org,
                        role,
                        managed: managed != 0,
                        desired,
                        rpc_url,
                        p2p_address: p2p,
                        public_key: key,
                        restarts,
                        last_exit: exit,
                        last_exit_at: exit_at,
                        height: seen.and_then(|o| o.1),
                        lag: None,
                        peers: seen.and_then(|o| o.2),
                        ready: seen.and_then(|o| o.3).unwrap_or(0) != 0,
                        message: seen.and_then(|o| o.4.clone()),
                        observed_at: seen.and_then(|o| o.5),
                        leaves_at: seen.and_then(|o| o.6),
                        id: NodeId::from_stored(id),
                    }
                },
            )
            .collect())
    }

    /// Operation `id` of `tenant`.
    pub async fn operation(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Operation, AccountsError> {
        let row: Option<OperationRow> = sqlx::query_as(&format!(
            "SELECT {OPERATION_COLUMNS} FROM operations o JOIN networks n ON n.id = o.target \
             WHERE o.id = $1 AND o.tenant_id = $2"
        ))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(self.store().pool())
        .await?;
        operation_from_row(row.ok_or_else(|| AccountsError::NotFound {
            what: "operation",
            name: id.to_string(),
        })?)
    }

    /// `tenant`'s operations, newest first (at most 100).
    pub async fn operations(&self, tenant: &TenantId) -> Result<Vec<Operation>, AccountsError> {
        let rows: Vec<OperationRow> = sqlx::query_as(&format!(
            "SELECT {OPERATION_COLUMNS} FROM operations o JOIN networks n ON n.id = o.target \
             WHERE o.tenant_id = $1 ORDER BY o.created_at DESC LIMIT 100"
        ))
        .bind(tenant.as_str())
        .fetch_all(self.store().pool())
        .await?;
        rows.into_iter().map(operation_from_row).collect()
    }

    /// Starts a failed or cancelled operation again from the step it stopped at.
    pub async fn retry_operation(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Operation, AccountsError> {
        let operation = self.operation(tenant, id).await?;
        if !matches!(
            operation.status,
            OperationStatus::Failed | OperationStatus::Cancelled
        ) {
            return Err(AccountsError::Conflict(
                format!(
                    "operation {id} is {:?}: only a failed or cancelled operation can be retried",
                    operation.status
                )
                .to_lowercase(),
            ));
        }
        let now = now_ms();
        let mut tx = self.store().pool().begin().await?;
        sqlx::query(
            "UPDATE operations SET status = 'pending', error = NULL, cancel_requested = 0, \
             message = 'waiting for the reconciler', lease_owner = NULL, lease_until = NULL, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE networks SET status = 'creating', status_message = 'retrying', updated_at = $1 \
             WHERE id = (SELECT target FROM operations WHERE id = $2)",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(wake) = self.reconciler_wake() {
            wake.notify_one();
        }
        self.operation(tenant, id).await
    }

    /// Asks a pending or running operation to stop after its current step; nodes it started
    /// are stopped.
    pub async fn cancel_operation(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Operation, AccountsError> {
        let operation = self.operation(tenant, id).await?;
        match operation.status {
            OperationStatus::Pending | OperationStatus::Running => {}
            other => {
                return Err(AccountsError::Conflict(format!(
                    "operation {id} already ended ({}): nothing to cancel",
                    serde_json::to_value(other)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )));
            }
        }
        sqlx::query("UPDATE operations SET cancel_requested = 1, updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id.as_str())
            .execute(self.store().pool())
            .await?;
        if let Some(wake) = self.reconciler_wake() {
            wake.notify_one();
        }
        self.operation(tenant, id).await
    }

    /// Node `node` of network `network`, if `tenant` runs it (an organization acts on its own
    /// nodes only).
    pub(super) async fn own_node(
        &self,
        tenant: &TenantId,
        network: &str,
        node: &str,
    ) -> Result<(Network, Node), AccountsError> {
        let network = self.network(tenant, network).await?;
        let owner: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM nodes WHERE network_id = $1 AND name = $2")
                .bind(network.id.as_str())
                .bind(node)
                .fetch_optional(self.store().pool())
                .await?;
        let not_found = || AccountsError::NotFound {
            what: "node",
            name: format!("{}/{node}", network.name),
        };
        match owner {
            Some(owner) if owner == tenant.as_str() => {}
            Some(_) => {
                return Err(AccountsError::Conflict(format!(
                    "node {node} belongs to another organization of network {}: only it may act on it",
                    network.name
                )));
            }
            None => return Err(not_found()),
        }
        let found = network
            .nodes
            .iter()
            .find(|n| n.name == node)
            .cloned()
            .ok_or_else(not_found)?;
        Ok((network, found))
    }

    /// Stops, starts or restarts one of `tenant`'s nodes (the platform keeps it so).
    pub async fn node_action(
        &self,
        tenant: &TenantId,
        network: &str,
        node: &str,
        action: NodeAction,
    ) -> Result<Node, AccountsError> {
        let (network, found) = self.own_node(tenant, network, node).await?;
        if !found.managed {
            return Err(AccountsError::Conflict(format!(
                "node {node} is run by its organization outside the platform: start and stop it there"
            )));
        }
        if network.status != NetworkStatus::Running {
            return Err(AccountsError::Conflict(format!(
                "network {} is {}: wait until its creation finishes",
                network.name,
                network.status.as_str()
            )));
        }
        let provisioner = self.provisioner().ok_or_else(|| {
            AccountsError::Unavailable("this platform runs no nodes (no provisioner)".into())
        })?;
        let desired = match action {
            NodeAction::Stop => "stopped",
            NodeAction::Start | NodeAction::Restart => "running",
        };
        sqlx::query("UPDATE nodes SET desired = $1 WHERE id = $2")
            .bind(desired)
            .bind(found.id.as_str())
            .execute(self.store().pool())
            .await?;
        if let Some(target) = &network.spec.kubernetes {
            // On a cluster: the node's StatefulSet is scaled to 0 or 1, its pod deleted to
            // restart it (its volume, and so its data, stays).
            let set = kubernetes::KubeSettings::for_target(&network.name, target).base(&found.name);
            let result = match action {
                NodeAction::Stop => kubernetes::scale(&target.namespace, &set, 0).await,
                NodeAction::Start => kubernetes::scale(&target.namespace, &set, 1).await,
                NodeAction::Restart => kubernetes::restart(&target.namespace, &set).await,
            };
            result.map_err(cluster_error)?;
        } else {
            let launch = self.launch_of(&network.id, &found.id).await?;
            let result = match action {
                NodeAction::Stop => provisioner.stop(&found.id).await,
                NodeAction::Start => provisioner.ensure_running(launch).await,
                NodeAction::Restart => provisioner.restart(launch).await,
            };
            result.map_err(|e| AccountsError::Unavailable(e.to_string()))?;
        }
        let network = self.network_by_id(&network.id).await?;
        network
            .nodes
            .into_iter()
            .find(|n| n.id == found.id)
            .ok_or_else(|| AccountsError::Corrupt("node vanished".into()))
    }

    /// The last `lines` lines of one of `tenant`'s nodes' log.
    pub async fn node_logs(
        &self,
        tenant: &TenantId,
        network: &str,
        node: &str,
        lines: usize,
    ) -> Result<Vec<String>, AccountsError> {
        let (network, found) = self.own_node(tenant, network, node).await?;
        if !found.managed {
            return Err(AccountsError::Conflict(format!(
                "node {node} is run outside the platform: its logs are where its organization keeps them"
            )));
        }
        if let Some(target) = &network.spec.kubernetes {
            let set = kubernetes::KubeSettings::for_target(&network.name, target).base(&found.name);
            return kubernetes::logs(&target.namespace, &set, lines.clamp(1, 1000) as i64)
                .await
                .map_err(cluster_error);
        }
        let provisioner = self.provisioner().ok_or_else(|| {
            AccountsError::Unavailable("this platform runs no nodes (no provisioner)".into())
        })?;
        let launch = self.launch_of(&network.id, &found.id).await?;
        provisioner
            .logs(&launch, lines.clamp(1, 1000))
            .map_err(|e| AccountsError::Unavailable(e.to_string()))
    }
}

/// A cluster failure as a tenant sees it: what failed, without the platform's own files.
fn cluster_error(e: kubernetes::KubeError) -> AccountsError {
    match e {
        kubernetes::KubeError::NoCluster(detail) => {
            tracing::warn!(%detail, "no Kubernetes cluster is reachable");
            AccountsError::Unavailable(
                "no Kubernetes cluster is reachable from this platform: its operator configures one"
                    .into(),
            )
        }
        other => AccountsError::Unavailable(other.to_string()),
    }
}

/// A node run outside the platform, registered by address.
#[derive(Clone, Debug)]
pub struct ExternalNode {
    /// The member organization that runs it.
    pub org: String,
    pub name: String,
    /// `validator` or `observer`.
    pub role: String,
    /// Base URL of its JSON-RPC server (`http://host:port`).
    pub rpc_url: String,
    pub p2p_address: Option<String>,
    /// Ed25519 public key, hex.
    pub public_key: Option<String>,
}

impl Platform {
    /// Registers a network whose nodes run outside the platform (the network `ricaas up`
    /// creates): `members` are its organizations' tenants (the first owns it), `nodes` where
    /// each node answers. The platform reads their status like its own nodes'.
    pub async fn register_external_network(
        &self,
        spec: &NetworkSpec,
        members: &[(TenantId, String)],
        nodes: &[ExternalNode],
    ) -> Result<NetworkId, AccountsError> {
        check_name("network", &spec.name)?;
        let (owner, _) = members
            .first()
            .ok_or_else(|| AccountsError::Invalid("a network needs a member".into()))?;
        let now = now_ms();
        let id = NetworkId::generate();
        let mut tx = self.store().pool().begin().await?;
        insert_network(
            &mut tx,
            &id,
            spec,
            owner,
            (
                "external",
                NetworkStatus::Running,
                "registered: its nodes run outside the platform",
            ),
            now,
        )
        .await?;
        for (tenant, org) in members {
            sqlx::query(
                "INSERT INTO network_members (network_id, tenant_id, org, joined_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.as_str())
            .bind(tenant.as_str())
            .bind(org)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for node in nodes {
            let tenant = members
                .iter()
                .find(|(_, org)| *org == node.org)
                .map(|(tenant, _)| tenant)
                .ok_or_else(|| {
                    AccountsError::Invalid(format!(
                        "node {} belongs to {}, which is not a member",
                        node.name, node.org
                    ))
                })?;
            sqlx::query(
                "INSERT INTO nodes (id, network_id, tenant_id, name, role, managed, rpc_url, p2p_address, \
                 public_key, desired, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, 'running', $9)",
            )
            .bind(NodeId::generate().as_str())
            .bind(id.as_str())
            .bind(tenant.as_str())
            .bind(&node.name)
            .bind(&node.role)
            .bind(&node.rpc_url)
            .bind(&node.p2p_address)
            .bind(&node.public_key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }
}

/// Stores network `id` (`spec`, owned by `owner`) as (provisioner, status, status message).
async fn insert_network(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &NetworkId,
    spec: &NetworkSpec,
    owner: &TenantId,
    (provisioner, status, message): (&str, NetworkStatus, &str),
    now: i64,
) -> Result<(), AccountsError> {
    let spec_json = serde_json::to_string(spec)
        .map_err(|e| AccountsError::Corrupt(format!("network spec: {e}")))?;
    sqlx::query(
        "INSERT INTO networks (id, name, owner_tenant_id, consensus, provisioner, spec, status, \
         status_message, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(id.as_str())
    .bind(&spec.name)
    .bind(owner.as_str())
    .bind(spec.consensus.as_str())
    .bind(provisioner)
    .bind(&spec_json)
    .bind(status.as_str())
    .bind(message)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| crate::accounts::exists_or(e, "network", &spec.name))?;
    Ok(())
}

/// What a tenant may do to one of its nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAction {
    Stop,
    Start,
    Restart,
}
