//! The Kubernetes provisioner's objects: each node of a network as typed Kubernetes objects
//! (k8s-openapi) — a StatefulSet with a persistent volume for its data, a Service for its
//! JSON-RPC and one for its p2p endpoint, a Secret for its key, a ConfigMap for its
//! configuration — rendered to YAML or applied with server-side apply (kube).
//!
//! Nodes reach each other through their p2p Services by DNS name (resolved at every dial), so
//! a pod rescheduled elsewhere keeps its address; connections are admitted by node key.

use k8s_openapi::{
    api::{
        apps::v1::{StatefulSet, StatefulSetSpec},
        core::v1::{
            Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
            HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext,
            PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Secret, SecretVolumeSource,
            SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
            VolumeResourceRequirements,
        },
    },
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{LabelSelector, ObjectMeta},
        util::intstr::IntOrString,
    },
};
use ricaas_node::NodeConfig;
use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

/// Where things live inside a node's container.
const CONFIG_DIR: &str = "/etc/ricaas";
const CONFIG_NAME: &str = "ricaas.toml";
const KEY_DIR: &str = "/etc/ricaas/key";
const KEY_NAME: &str = "key.pem";
const DATA_DIR: &str = "/var/lib/ricaas";
/// The unprivileged user the node runs as.
const RUN_AS: i64 = 10_001;

/// How a network's nodes run on a cluster.
#[derive(Clone, Debug)]
pub struct KubeSettings {
    /// The network's name: a prefix of every object's name and a label.
    pub network: String,
    pub namespace: String,
    /// Container image holding the `ricaas` binary.
    pub image: String,
    /// Persistent volume size per node (e.g. `20Gi`).
    pub storage: String,
    /// The storage class of node volumes (the cluster's default if `None`).
    pub storage_class: Option<String>,
    /// CPU and memory each node requests (and is limited to, for memory).
    pub cpu: String,
    pub memory: String,
    pub rpc_port: u16,
    pub p2p_port: u16,
}

impl KubeSettings {
    pub fn new(network: &str, namespace: &str, image: &str) -> Self {
        Self {
            network: network.to_owned(),
            namespace: namespace.to_owned(),
            image: image.to_owned(),
            storage: "20Gi".into(),
            storage_class: None,
            cpu: "500m".into(),
            memory: "1Gi".into(),
            rpc_port: 8545,
            p2p_port: 9545,
        }
    }
}

/// One node to run: its name, organization and role, its configuration (as written for the
/// local provisioner or by `ricaas up`) and its private key (PEM).
#[derive(Clone, Debug)]
pub struct KubeNode {
    pub name: String,
    pub org: String,
    pub role: String,
    pub config: NodeConfig,
    pub key_pem: String,
}

/// The objects of one node.
#[derive(Clone, Debug)]
pub struct NodeObjects {
    pub config_map: ConfigMap,
    pub secret: Secret,
    pub rpc_service: Service,
    pub p2p_service: Service,
    pub stateful_set: StatefulSet,
}

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("{0}")]
    Invalid(String),
    #[error("rendering YAML: {0}")]
    Yaml(String),
    #[error(
        "no Kubernetes cluster is reachable ({0}): set KUBECONFIG or run inside a cluster, or render the objects to YAML instead"
    )]
    NoCluster(String),
    #[error("applying {kind} {name}: {message}")]
    Apply {
        kind: &'static str,
        name: String,
        message: String,
    },
}

/// A DNS-1123 label from `text`: lowercase letters, digits and hyphens, at most 63.
fn label(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_owned()
}

impl KubeSettings {
    /// The settings of a network the platform provisions on `target`.
    pub fn for_target(network: &str, target: &super::KubernetesTarget) -> Self {
        let mut settings = Self::new(network, &target.namespace, &target.image);
        if let Some(storage) = &target.storage {
            settings.storage = storage.clone();
        }
        settings.storage_class = target.storage_class.clone();
        settings
    }

    /// The JSON-RPC base URL of node `node` inside the cluster (its RPC Service).
    pub fn rpc_url(&self, node: &str) -> String {
        format!(
            "http://{}-rpc.{}.svc.cluster.local:{}",
            self.base(node),
            self.namespace,
            self.rpc_port
        )
    }

    /// The name of node `node`'s objects (its StatefulSet; Services add `-rpc` and `-p2p`).
    pub fn base(&self, node: &str) -> String {
        // Leave room for the longest suffix ("-rpc", "-p2p") within 63 characters.
        let mut base = label(&format!("{}-{node}", self.network));
        base.truncate(59);
        base.trim_end_matches('-').to_owned()
    }

    /// The DNS name of node `node`'s p2p Service, with its port.
    pub fn p2p_host(&self, node: &str) -> String {
        format!(
            "{}-p2p.{}.svc.cluster.local:{}",
            self.base(node),
            self.namespace,
            self.p2p_port
        )
    }

    fn labels(&self, node: &KubeNode) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".into(), "ricaas-node".into()),
            ("app.kubernetes.io/instance".into(), self.base(&node.name)),
            ("app.kubernetes.io/managed-by".into(), "ricaas".into()),
            ("ricaas.io/network".into(), label(&self.network)),
            ("ricaas.io/org".into(), label(&node.org)),
            ("ricaas.io/role".into(), label(&node.role)),
        ])
    }

    fn meta(&self, name: String, node: &KubeNode) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels(node)),
            ..ObjectMeta::default()
        }
    }
}

/// The objects of every node of a network. Each node's configuration is rewritten for its
/// container: listening on all interfaces, its data on its volume, its key from its Secret, and
/// the other nodes of the network reached through their p2p Services.
pub fn render_network(
    settings: &KubeSettings,
    nodes: &[KubeNode],
) -> Result<Vec<NodeObjects>, KubeError> {
    if nodes.is_empty() {
        return Err(KubeError::Invalid("the network has no nodes".into()));
    }
    if label(&settings.namespace) != settings.namespace || settings.namespace.is_empty() {
        return Err(KubeError::Invalid(format!(
            "namespace {:?} is not a DNS label (lowercase letters, digits, hyphens)",
            settings.namespace
        )));
    }
    // Each node's p2p key → its Service's DNS name.
    let mut by_key: BTreeMap<String, String> = BTreeMap::new();
    for node in nodes {
        let key = node_public_key(&node.key_pem)
            .map_err(|e| KubeError::Invalid(format!("node {}'s key: {e}", node.name)))?;
        by_key.insert(key, settings.p2p_host(&node.name));
    }
    nodes
        .iter()
        .map(|node| node_objects(settings, node, &by_key))
        .collect()
}

/// The Ed25519 public key (hex) of a node's private key (PKCS#8 PEM).
pub fn node_public_key(key_pem: &str) -> Result<String, KubeError> {
    let key = ricaas_crypto::ca::IdentityKey::from_pkcs8_pem(key_pem)
        .map_err(|e| KubeError::Invalid(format!("not a PKCS#8 private key: {e}")))?;
    let info = key
        .public_key_info()
        .map_err(|e| KubeError::Invalid(e.to_string()))?;
    let raw = info.subject_public_key.raw_bytes();
    if raw.len() != 32 {
        return Err(KubeError::Invalid("not an Ed25519 node key".into()));
    }
    Ok(hex::encode(raw))
}

fn node_objects(
    settings: &KubeSettings,
    node: &KubeNode,
    by_key: &BTreeMap<String, String>,
) -> Result<NodeObjects, KubeError> {
    let base = settings.base(&node.name);
    let mut config = node.config.clone();
    config.data_dir = PathBuf::from(DATA_DIR);
    config.rpc.listen = SocketAddr::from(([0, 0, 0, 0], settings.rpc_port));
    if let Some(bft) = config.consensus.as_mut() {
        bft.key_file = PathBuf::from(format!("{KEY_DIR}/{KEY_NAME}"));
        bft.p2p_listen = SocketAddr::from(([0, 0, 0, 0], settings.p2p_port));
        for validator in &mut bft.validators {
            if let Some(host) = by_key.get(&validator.public_key.to_lowercase()) {
                validator.address = host.parse().map_err(|e| {
                    KubeError::Invalid(format!("the p2p address of {}: {e}", validator.public_key))
                })?;
            }
        }
    }
    let selector = BTreeMap::from([("app.kubernetes.io/instance".to_string(), base.clone())]);
    let config_map = ConfigMap {
        metadata: settings.meta(format!("{base}-config"), node),
        data: Some(BTreeMap::from([(
            CONFIG_NAME.to_string(),
            config.documented_toml(),
        )])),
        ..ConfigMap::default()
    };
    let secret = Secret {
        metadata: settings.meta(format!("{base}-key"), node),
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(
            KEY_NAME.to_string(),
            node.key_pem.clone(),
        )])),
        ..Secret::default()
    };
    let service = |suffix: &str, port: u16, publish_not_ready: bool| Service {
        metadata: settings.meta(format!("{base}-{suffix}"), node),
        spec: Some(ServiceSpec {
            selector: Some(selector.clone()),
            ports: Some(vec![ServicePort {
                name: Some(suffix.to_owned()),
                port: i32::from(port),
                target_port: Some(IntOrString::String(suffix.to_owned())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            // Peers must reach a node that is catching up (not ready yet) to let it catch up.
            publish_not_ready_addresses: publish_not_ready.then_some(true),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let rpc_service = service("rpc", settings.rpc_port, false);
    let p2p_service = service("p2p", settings.p2p_port, true);
    let probe = |path: &str, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("rpc".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(3),
        ..Probe::default()
    };
    let quantity = |text: &str| Quantity(text.to_owned());
    let container = Container {
        name: "ricaas".into(),
        image: Some(settings.image.clone()),
        args: Some(vec![
            "node".into(),
            "--config".into(),
            format!("{CONFIG_DIR}/{CONFIG_NAME}"),
        ]),
        ports: Some(vec![
            ContainerPort {
                name: Some("rpc".into()),
                container_port: i32::from(settings.rpc_port),
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("p2p".into()),
                container_port: i32::from(settings.p2p_port),
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        readiness_probe: Some(probe("/ready", 5, 3)),
        // Liveness only asks that the engines run: a node catching up is alive, not ready.
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(30),
            ..probe("/health", 10, 6)
        }),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), quantity(&settings.cpu)),
                ("memory".to_string(), quantity(&settings.memory)),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".to_string(),
                quantity(&settings.memory),
            )])),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "config".into(),
                mount_path: CONFIG_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "key".into(),
                mount_path: KEY_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "data".into(),
                mount_path: DATA_DIR.into(),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    };
    let stateful_set = StatefulSet {
        metadata: settings.meta(base.clone(), node),
        spec: Some(StatefulSetSpec {
            // One replica: a node is one identity; two pods with one key would equivocate.
            replicas: Some(1),
            service_name: Some(format!("{base}-p2p")),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(settings.labels(node)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    termination_grace_period_seconds: Some(30),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        fs_group: Some(RUN_AS),
                        ..PodSecurityContext::default()
                    }),
                    volumes: Some(vec![
                        Volume {
                            name: "config".into(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: format!("{base}-config"),
                                ..ConfigMapVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        Volume {
                            name: "key".into(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(format!("{base}-key")),
                                default_mode: Some(0o400),
                                ..SecretVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                    ]),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    storage_class_name: settings.storage_class.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            quantity(&settings.storage),
                        )])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    Ok(NodeObjects {
        config_map,
        secret,
        rpc_service,
        p2p_service,
        stateful_set,
    })
}

/// The objects as one multi-document YAML stream (`kubectl apply -f` reads it).
pub fn to_yaml(objects: &[NodeObjects]) -> Result<String, KubeError> {
    let mut out = String::new();
    for node in objects {
        let documents = [
            yaml_of(&node.config_map)?,
            yaml_of(&node.secret)?,
            yaml_of(&node.rpc_service)?,
            yaml_of(&node.p2p_service)?,
            yaml_of(&node.stateful_set)?,
        ];
        for document in documents {
            out.push_str("---\n");
            out.push_str(&document);
        }
    }
    Ok(out)
}

/// One object as YAML, with its `apiVersion` and `kind`.
fn yaml_of<T>(object: &T) -> Result<String, KubeError>
where
    T: k8s_openapi::Resource + serde::Serialize,
{
    let mut value = serde_json::to_value(object).map_err(|e| KubeError::Yaml(e.to_string()))?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), T::API_VERSION.into());
        map.insert("kind".into(), T::KIND.into());
    }
    serde_yaml::to_string(&value).map_err(|e| KubeError::Yaml(e.to_string()))
}

async fn client() -> Result<kube::Client, KubeError> {
    kube::Client::try_default()
        .await
        .map_err(|e| KubeError::NoCluster(e.to_string()))
}

/// Runs (1) or stops (0) node StatefulSet `set`: its volume, and so its data, stays.
pub async fn scale(namespace: &str, set: &str, replicas: i32) -> Result<(), KubeError> {
    let api: kube::Api<StatefulSet> = kube::Api::namespaced(client().await?, namespace);
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    api.patch(
        set,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .map_err(|e| KubeError::Apply {
        kind: "StatefulSet",
        name: set.to_owned(),
        message: e.to_string(),
    })?;
    Ok(())
}

/// Restarts node StatefulSet `set`: its pod is deleted and the StatefulSet makes it again.
pub async fn restart(namespace: &str, set: &str) -> Result<(), KubeError> {
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(client().await?, namespace);
    api.delete(&format!("{set}-0"), &kube::api::DeleteParams::default())
        .await
        .map_err(|e| KubeError::Apply {
            kind: "Pod",
            name: format!("{set}-0"),
            message: e.to_string(),
        })?;
    Ok(())
}

/// The last `lines` lines of node StatefulSet `set`'s log.
pub async fn logs(namespace: &str, set: &str, lines: i64) -> Result<Vec<String>, KubeError> {
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(client().await?, namespace);
    let text = api
        .logs(
            &format!("{set}-0"),
            &kube::api::LogParams {
                tail_lines: Some(lines),
                ..kube::api::LogParams::default()
            },
        )
        .await
        .map_err(|e| KubeError::Apply {
            kind: "Pod",
            name: format!("{set}-0"),
            message: e.to_string(),
        })?;
    Ok(text.lines().map(str::to_owned).collect())
}

/// Applies the objects to the cluster of the ambient configuration (`KUBECONFIG`, or the pod's
/// service account) with server-side apply, field manager `ricaas`: repeating it converges.
pub async fn apply(namespace: &str, objects: &[NodeObjects]) -> Result<(), KubeError> {
    let client = client().await?;
    for node in objects {
        apply_one(&client, namespace, &node.config_map).await?;
        apply_one(&client, namespace, &node.secret).await?;
        apply_one(&client, namespace, &node.rpc_service).await?;
        apply_one(&client, namespace, &node.p2p_service).await?;
        apply_one(&client, namespace, &node.stateful_set).await?;
    }
    Ok(())
}

async fn apply_one<T>(client: &kube::Client, namespace: &str, object: &T) -> Result<(), KubeError>
where
    T: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + k8s_openapi::Resource
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
    <T as kube::Resource>::DynamicType: Default,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let api: kube::Api<T> = kube::Api::namespaced(client.clone(), namespace);
    let mut value = serde_json::to_value(object).map_err(|e| KubeError::Yaml(e.to_string()))?;
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "apiVersion".into(),
            <T as k8s_openapi::Resource>::API_VERSION.into(),
        );
        map.insert("kind".into(), <T as k8s_openapi::Resource>::KIND.into());
    }
    api.patch(
        &name,
        &kube::api::PatchParams::apply("ricaas").force(),
        &kube::api::Patch::Apply(value),
    )
    .await
    .map_err(|e| KubeError::Apply {
        kind: <T as k8s_openapi::Resource>::KIND,
        name,
        message: e.to_string(),
    })?;
    Ok(())
}
