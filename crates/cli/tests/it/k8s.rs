//! `ricaas k8s`: the Kubernetes objects of a network's nodes, rendered without a cluster and
//! checked field by field; applying without a reachable cluster is refused with what to do.
//! (No cluster runs on the CI machines: nothing here was applied to a real one.)

use serde::Deserialize as _;
use serde_yaml::Value;
use std::process::Command;

fn k8s(args: &[&str], nodes_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .arg("k8s")
        .arg("--nodes-dir")
        .arg(nodes_dir)
        .args(args)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("ricaas k8s runs")
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    let mut at = value;
    for key in path {
        at = &at[*key];
    }
    at.as_str()
        .unwrap_or_else(|| panic!("{path:?} is not text in {value:?}"))
}

#[test]
fn a_networks_nodes_render_as_statefulsets_services_secrets_and_configmaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new(env!("CARGO_BIN_EXE_ricaas"))
        .args(["up", "--create-only", "--nodes", "4", "--data-dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("ricaas up runs");
    assert!(status.success());
    let nodes = dir.path().join("nodes");
    let output = k8s(
        &[
            "--network",
            "trade",
            "--namespace",
            "ledger",
            "--image",
            "registry.example/ricaas:1.0",
            "--storage",
            "50Gi",
        ],
        &nodes,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let yaml = String::from_utf8(output.stdout).expect("utf-8");
    let documents: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|document| Value::deserialize(document).expect("a YAML document"))
        .collect();
    assert_eq!(documents.len(), 20, "{yaml}");
    let of_kind = |kind: &str| -> Vec<&Value> {
        documents
            .iter()
            .filter(|d| d["kind"].as_str() == Some(kind))
            .collect()
    };
    assert_eq!(of_kind("StatefulSet").len(), 4);
    assert_eq!(of_kind("Service").len(), 8);
    assert_eq!(of_kind("Secret").len(), 4);
    assert_eq!(of_kind("ConfigMap").len(), 4);
    for document in &documents {
        assert_eq!(text(document, &["metadata", "namespace"]), "ledger");
        assert_eq!(
            text(document, &["metadata", "labels", "ricaas.io/network"]),
            "trade"
        );
    }

    // The StatefulSet: one replica, a volume for its data, probes on /ready and /health, a
    // non-root, read-only container with requests and a memory limit.
    let set = of_kind("StatefulSet")[0];
    assert_eq!(set["apiVersion"].as_str(), Some("apps/v1"));
    assert_eq!(text(set, &["metadata", "name"]), "trade-node0");
    assert_eq!(set["spec"]["replicas"].as_i64(), Some(1));
    let pod = &set["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(text(container, &["image"]), "registry.example/ricaas:1.0");
    assert_eq!(
        container["args"],
        serde_yaml::from_str::<Value>("[node, --config, /etc/ricaas/ricaas.toml]").expect("yaml")
    );
    assert_eq!(
        text(container, &["readinessProbe", "httpGet", "path"]),
        "/ready"
    );
    assert_eq!(
        text(container, &["livenessProbe", "httpGet", "path"]),
        "/health"
    );
    assert_eq!(
        container["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );
    assert_eq!(text(container, &["resources", "requests", "cpu"]), "500m");
    assert_eq!(text(container, &["resources", "limits", "memory"]), "1Gi");
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
    let claim = &set["spec"]["volumeClaimTemplates"][0];
    assert_eq!(text(claim, &["metadata", "name"]), "data");
    assert_eq!(
        text(claim, &["spec", "resources", "requests", "storage"]),
        "50Gi"
    );
    assert_eq!(
        text(&pod["volumes"][1], &["secret", "secretName"]),
        "trade-node0-key"
    );

    // Services: JSON-RPC, and p2p (published before the node is ready: peers must reach a
    // node that is catching up).
    let service = |name: &str| -> &Value {
        of_kind("Service")
            .into_iter()
            .find(|s| s["metadata"]["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no Service {name}"))
    };
    let p2p = service("trade-node2-p2p");
    assert_eq!(p2p["spec"]["ports"][0]["port"].as_i64(), Some(9545));
    assert_eq!(
        p2p["spec"]["publishNotReadyAddresses"].as_bool(),
        Some(true)
    );
    assert_eq!(
        text(p2p, &["spec", "selector", "app.kubernetes.io/instance"]),
        "trade-node2"
    );
    assert_eq!(
        service("trade-node2-rpc")["spec"]["ports"][0]["port"].as_i64(),
        Some(8545)
    );

    // The Secret holds the node's key, the same one its directory holds.
    let secret = of_kind("Secret")[1];
    let key = text(secret, &["stringData", "key.pem"]);
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    let on_disk = std::fs::read_to_string(dir.path().join("orgs/org2/node1/key.pem")).expect("key");
    assert_eq!(key, on_disk);

    // The configuration: listening on all interfaces, data on the volume, the key from the
    // Secret, the other validators reached through their p2p Services by name.
    let config = text(of_kind("ConfigMap")[3], &["data", "ricaas.toml"]);
    let parsed: toml::Value = toml::from_str(config).expect("the configuration is TOML");
    assert_eq!(parsed["data_dir"].as_str(), Some("/var/lib/ricaas"));
    assert_eq!(parsed["rpc"]["listen"].as_str(), Some("0.0.0.0:8545"));
    assert_eq!(
        parsed["consensus"]["key_file"].as_str(),
        Some("/etc/ricaas/key/key.pem")
    );
    assert_eq!(
        parsed["consensus"]["p2p_listen"].as_str(),
        Some("0.0.0.0:9545")
    );
    let addresses: Vec<&str> = parsed["consensus"]["validators"]
        .as_array()
        .expect("validators")
        .iter()
        .filter_map(|v| v["address"].as_str())
        .collect();
    assert_eq!(
        addresses,
        (0..4)
            .map(|i| format!("trade-node{i}-p2p.ledger.svc.cluster.local:9545"))
            .collect::<Vec<_>>()
    );

    // Refusals: a namespace that is not a DNS label; applying with no cluster reachable.
    let output = k8s(
        &[
            "--network",
            "trade",
            "--namespace",
            "Bad_NS",
            "--image",
            "x",
        ],
        &nodes,
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not a DNS label"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = k8s(&["--network", "trade", "--image", "x", "--apply"], &nodes);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no Kubernetes cluster is reachable"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
