//! `ricaas check` as a CI job runs it: files and directories (inside the working directory or
//! not), text, JSON and SARIF, the exit status by `--fail-on`, and files that do not compile.

use serde_json::Value;
use std::process::Command;

fn ricaas(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ricaas"));
    command.current_dir(dir);
    command
}

const PAYER: &str = "pragma solidity ^0.4.24;\n\
contract Payer {\n\
    address owner;\n\
    function pay(address a) public {\n\
        require(tx.origin == owner);\n\
        a.send(1);\n\
    }\n\
}\n";

#[test]
fn ricaas_check_reports_findings_as_text_json_and_sarif_and_exits_by_severity() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("contracts/lib")).expect("dirs");
    std::fs::write(dir.path().join("contracts/Payer.sol"), PAYER).expect("write");
    std::fs::write(
        dir.path().join("contracts/lib/Safe.sol"),
        "pragma solidity ^0.8.0;\ncontract Safe { function f() external pure returns (uint) { return 1; } }\n",
    )
    .expect("write");

    // Text: each finding with its place, rule and SWC id; a high finding fails the default.
    let out = ricaas(dir.path())
        .args(["check", "contracts"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("contracts/Payer.sol:5:9: high [tx-origin SWC-115]"),
        "{text}"
    );
    assert!(
        text.contains("contracts/Payer.sol:6:1: medium [unchecked-call SWC-104]"),
        "{text}"
    );
    assert!(
        text.contains("2 finding(s) (1 high, 1 medium) in 2 file(s)"),
        "{text}"
    );

    // A file outside the working directory, named by its path, is read from its own directory.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let out = ricaas(elsewhere.path())
        .args(["check", "--fail-on", "none"])
        .arg(dir.path().join("contracts/Payer.sol"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Payer.sol:5:9: high [tx-origin SWC-115]"),
        "{text}"
    );

    // --fail-on: none never fails; a threshold above what was found passes.
    let status = |args: &[&str]| {
        ricaas(dir.path())
            .args(args)
            .output()
            .expect("runs")
            .status
            .code()
    };
    assert_eq!(
        status(&["check", "contracts", "--fail-on", "none"]),
        Some(0)
    );
    assert_eq!(
        status(&["check", "contracts/lib", "--fail-on", "info"]),
        Some(0)
    );
    assert_eq!(
        status(&["check", "contracts/Payer.sol", "--fail-on", "medium"]),
        Some(1)
    );
    let out = ricaas(dir.path())
        .args(["check", "contracts", "--fail-on", "urgent"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("write info, low, medium, high or none"));

    // JSON: the findings with category and severity.
    let out = ricaas(dir.path())
        .args([
            "check",
            "contracts",
            "--format",
            "json",
            "--fail-on",
            "none",
        ])
        .output()
        .expect("runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(rules, ["tx-origin", "unchecked-call"]);
    assert_eq!(
        report["findings"][1]["category"],
        "unchecked_low_level_calls"
    );

    // SARIF 2.1: rules with SWC ids and DASP category as tags, one result per finding.
    let out = ricaas(dir.path())
        .args([
            "check",
            "contracts",
            "--format",
            "sarif",
            "--fail-on",
            "none",
        ])
        .output()
        .expect("runs");
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["ruleId"], "tx-origin");
    assert_eq!(results[0]["level"], "error");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );
    let rule = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == "tx-origin")
        .expect("described");
    let tags = rule["properties"]["tags"].to_string();
    assert!(
        tags.contains("SWC-115") && tags.contains("DASP-access_control"),
        "{tags}"
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
}

#[test]
fn ricaas_check_names_files_that_do_not_compile_and_still_reports_the_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("Payer.sol"), PAYER).expect("write");
    std::fs::write(
        dir.path().join("Broken.sol"),
        "pragma solidity ^0.8.0;\ncontract Broken { function f() public { undefined = 1; } }\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("Future.sol"),
        "pragma solidity ^0.99.0;\ncontract F {}\n",
    )
    .expect("write");
    let out = ricaas(dir.path())
        .args(["check", ".", "--fail-on", "none"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Payer.sol:6:1: medium [unchecked-call"),
        "{stdout}"
    );
    assert!(
        stderr.contains("Broken.sol: not checked: the sources do not compile")
            && stderr.contains("Broken.sol:2"),
        "{stderr}"
    );
    assert!(stderr.contains("Future.sol: not checked"), "{stderr}");
    assert!(
        stderr.contains("2 file(s) could not be checked"),
        "{stderr}"
    );
}

/// A contract written against OpenZeppelin 4 (`Ownable()` takes no owner; 5 requires one).
const OWNED: &str = "pragma solidity ^0.8.0;\n\
import \"@openzeppelin/contracts/access/Ownable.sol\";\n\
contract Vault is Ownable {\n\
    constructor() Ownable() {}\n\
    function pay(address payable to) external {\n\
        require(tx.origin == owner());\n\
        to.transfer(1);\n\
    }\n\
}\n";

#[test]
fn ricaas_check_takes_package_versions_from_the_projects_package_json_and_node_modules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("contracts")).expect("dirs");
    std::fs::write(project.join("contracts/Vault.sol"), OWNED).expect("write");
    let check = |extra: &[&str]| {
        let out = ricaas(&project)
            .args(["check", "contracts", "--fail-on", "none"])
            .args(extra)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // Pinned by package.json (as a Hardhat project writes it): compiled against 4.9.6.
    std::fs::write(
        project.join("package.json"),
        r#"{"name": "vault", "devDependencies": {"@openzeppelin/contracts": "4.9.6", "hardhat": "^2.22.0"}}"#,
    )
    .expect("write");
    let (code, stdout, stderr) = check(&[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("[tx-origin"), "{stdout}");
    assert!(
        stderr.contains("pins them: @openzeppelin/contracts 4.9.6"),
        "{stderr}"
    );

    // A pin the checker cannot follow is named, not guessed at; `--dependency` overrides it.
    std::fs::write(
        project.join("package.json"),
        r#"{"dependencies": {"@openzeppelin/contracts": "github:OpenZeppelin/openzeppelin-contracts#v4.9.6"}}"#,
    )
    .expect("write");
    let (code, stdout, stderr) = check(&["--dependency", "@openzeppelin/contracts@4.9.6"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("[tx-origin"), "{stdout}");
    assert!(
        stderr.contains("is not a version range the checker follows"),
        "{stderr}"
    );
    // Without the override, the newest release (5.x: `Ownable` needs its owner) refuses it.
    let (code, _, stderr) = check(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("Vault.sol: not checked"), "{stderr}");

    // A package the project installed is read from node_modules (nearest first), whatever
    // its name, and not reported on: it is a dependency (its open `kill` is its authors').
    std::fs::remove_file(project.join("package.json")).expect("remove");
    std::fs::create_dir_all(dir.path().join("node_modules/@acme/auth")).expect("dirs");
    std::fs::write(
        dir.path().join("node_modules/@acme/auth/Owned.sol"),
        "pragma solidity ^0.8.0;\ncontract Owned {\n    address public owner = msg.sender;\n    function kill() public { selfdestruct(payable(msg.sender)); }\n}\n",
    )
    .expect("write");
    std::fs::write(
        project.join("contracts/Vault.sol"),
        "pragma solidity ^0.8.0;\n\
import \"@acme/auth/Owned.sol\";\n\
contract Vault is Owned {\n\
    function pay(address payable to) external {\n\
        require(tx.origin == owner);\n\
        to.transfer(1);\n\
    }\n\
}\n",
    )
    .expect("write");
    let (code, stdout, stderr) = check(&[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Vault.sol:5:"), "{stdout}");
    assert!(stdout.contains("[tx-origin"), "{stdout}");
    assert!(!stdout.contains("Owned.sol"), "{stdout}");
    assert!(!stdout.contains("unprotected-selfdestruct"), "{stdout}");
}
