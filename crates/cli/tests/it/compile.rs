//! `ricaas compile` as a developer runs it: files on disk importing each other, artifacts per
//! contract, errors printed as `file:line:column` with a failing exit status, releases listed
//! and installed ahead of time.

use std::process::Command;

fn ricaas(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ricaas"));
    command
        .current_dir(dir)
        .env("RICAAS_COMPILER_CACHE", ricaas_solc::default_cache_dir());
    command
}

#[test]
fn ricaas_compile_reads_imports_from_disk_writes_artifacts_and_fails_on_errors_with_their_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("contracts/lib")).expect("mkdir");
    std::fs::write(
        dir.path().join("contracts/Vault.sol"),
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport \"./lib/Checks.sol\";\ncontract Vault {\n    uint256 public total;\n    function put(uint256 amount) external { total = Checks.positive(amount) + total; }\n}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("contracts/lib/Checks.sol"),
        "// SPDX-License-Identifier: MIT\npragma solidity >=0.8.0;\nlibrary Checks {\n    function positive(uint256 v) internal pure returns (uint256) { require(v > 0, \"zero\"); return v; }\n}\n",
    )
    .expect("write");
    let output = ricaas(dir.path())
        .args([
            "compile",
            "contracts/Vault.sol",
            "--out",
            "build",
            "--runs",
            "500",
        ])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("contracts/Vault.sol:Vault"), "{stdout}");
    let artifact: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("build/Vault.json")).expect("artifact"),
    )
    .expect("json");
    assert_eq!(artifact["sourceName"], "contracts/Vault.sol");
    assert!(
        artifact["abi"]
            .as_array()
            .expect("abi")
            .iter()
            .any(|f| f["name"] == "put")
    );
    assert!(artifact["bytecode"].as_str().expect("bytecode").len() > 100);
    assert!(
        artifact["compiler"]
            .as_str()
            .expect("compiler")
            .starts_with("solc 0.8.")
    );

    std::fs::write(
        dir.path().join("Broken.sol"),
        "pragma solidity ^0.8.0;\ncontract Broken {\n    function f() public { missing(); }\n}\n",
    )
    .expect("write");
    let output = ricaas(dir.path())
        .args(["compile", "Broken.sol"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("Broken.sol:3:27"), "{stderr}");
    assert!(stderr.contains("Undeclared identifier"), "{stderr}");

    let output = ricaas(dir.path())
        .args([
            "compile",
            "Broken.sol",
            "--dependency",
            "@openzeppelin/contracts",
        ])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("write it as name@version"));
}

#[test]
fn releases_are_listed_and_the_newest_of_a_series_installs_ahead_of_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = ricaas(dir.path())
        .args(["compile", "--install", "0.4"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("solc 0.4.26: "), "{stdout}");
    let output = ricaas(dir.path())
        .args(["compile", "--list"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().any(|l| l == "0.4.26  installed"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("0.5.17")), "{stdout}");
    let output = ricaas(dir.path())
        .args(["compile", "--install", "0.3"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no solcjs release matches 0.3"));
}
