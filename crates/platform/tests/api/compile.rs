//! `POST /compile` and `GET /compilers` over HTTP with a real solcjs release: sources that
//! import each other compile, errors come back placed in the sources, bad requests are refused
//! with what to fix, and an account needs `contract:Compile`.

use super::{Served, iam, message};
use serde_json::json;

const TOKEN: &str = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport \"./Owned.sol\";\ncontract Token is Owned {\n    uint256 public supply = 1000;\n}\n";
const OWNED: &str = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\ncontract Owned {\n    address public owner = msg.sender;\n}\n";

pub fn compiles_solidity_over_http(served: &Served) {
    let root = iam::tenant_root(served, "acme");
    let (status, output) = root.post(
        "/api/v1/compile",
        json!({"sources": {"contracts/Token.sol": TOKEN, "contracts/Owned.sol": OWNED}, "runs": 1000}),
    );
    assert_eq!(status, 200, "{output}");
    assert_eq!(output["success"], true, "{output}");
    assert!(
        output["version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("0.8."),
        "{output}"
    );
    let names: Vec<&str> = output["contracts"]
        .as_array()
        .expect("contracts")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["Owned", "Token"]);
    let token = &output["contracts"][1];
    assert_eq!(token["deployable"], true);
    assert!(
        token["abi"]
            .as_array()
            .expect("abi")
            .iter()
            .any(|f| f["name"] == "owner")
    );
    assert!(
        output["source_hash"]
            .as_str()
            .unwrap_or_default()
            .starts_with("0x")
    );

    // Sources that compile are checked: nothing found here, and the report has a hash.
    assert_eq!(output["security"]["findings"], json!([]), "{output}");
    assert_eq!(
        output["security"]["report_hash"].as_str().map(str::len),
        Some(66),
        "{output}"
    );
    // A weakness comes back placed, with its rule's explanation and fix.
    let (status, checked) = root.post(
        "/api/v1/compile",
        json!({"sources": {"Bank.sol": "pragma solidity ^0.8.0;\ncontract Bank {\n    mapping(address => uint256) balances;\n    function withdraw() external {\n        (bool ok, ) = msg.sender.call{value: balances[msg.sender]}(\"\");\n        require(ok);\n        balances[msg.sender] = 0;\n    }\n}\n"}}),
    );
    assert_eq!(status, 200, "{checked}");
    let finding = &checked["security"]["findings"][0];
    assert_eq!(
        (
            finding["rule"].as_str(),
            finding["file"].as_str(),
            finding["line"].as_u64()
        ),
        (Some("reentrancy-eth"), Some("Bank.sol"), Some(5)),
        "{checked}"
    );
    assert_eq!(finding["swc"], json!(["SWC-107"]));
    assert_eq!(finding["severity"], "high");
    let rule = &checked["security"]["rules"][0];
    assert_eq!(rule["id"], "reentrancy-eth");
    assert!(
        rule["fix"]
            .as_str()
            .unwrap_or_default()
            .contains("nonReentrant"),
        "{rule}"
    );
    assert_ne!(
        checked["security"]["report_hash"],
        output["security"]["report_hash"]
    );

    // The report is stored for the tenant, with the contract it built; findings are resolved
    // only with a reason, once, and only in the tenant's own reports.
    let hash = checked["security"]["report_hash"]
        .as_str()
        .expect("report hash")
        .to_owned();
    assert_eq!(
        checked["security"]["builds"][0]["contract"], "Bank",
        "{checked}"
    );
    let (status, stored) = root.get(&format!("/api/v1/security-reports/{hash}"));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["unresolved"]["high"], 1, "{stored}");
    assert_eq!(stored["tenant"], "acme");
    let id = stored["findings"][0]["id"]
        .as_str()
        .expect("finding id")
        .to_owned();
    assert_eq!(id, "reentrancy-eth@Bank.sol:5:23");
    assert_eq!(stored["findings"][0]["resolution"], json!(null));
    let resolutions = format!("/api/v1/security-reports/{hash}/resolutions");
    for (body, expected, says) in [
        (
            json!({"finding": id, "reason": "fine"}),
            400,
            "10 to 2000 characters",
        ),
        (
            json!({"finding": "tx-origin@Bank.sol:1:1", "reason": "not a weakness here"}),
            400,
            "has no finding",
        ),
        (json!({"finding": id}), 422, "reason"),
    ] {
        let (status, refused) = root.post(&resolutions, body);
        assert_eq!(status, expected, "{refused}");
        assert!(message(&refused).contains(says), "{refused}");
    }
    let reason = "withdraw is only called by our own settlement contract, which cannot re-enter";
    let (status, resolved) = root.post(&resolutions, json!({"finding": id, "reason": reason}));
    assert_eq!(status, 201, "{resolved}");
    assert_eq!(resolved["findings"][0]["resolution"]["reason"], reason);
    assert_eq!(resolved["findings"][0]["resolution"]["account"], "root");
    assert_eq!(resolved["unresolved"]["high"], 0, "{resolved}");
    let (status, again) = root.post(&resolutions, json!({"finding": id, "reason": reason}));
    assert_eq!(status, 409, "{again}");
    assert!(message(&again).contains("already resolved"), "{again}");
    let other = iam::tenant_root(served, "globex");
    let (status, hidden) = other.get(&format!("/api/v1/security-reports/{hash}"));
    assert_eq!(status, 404, "another tenant's report: {hidden}");
    let (status, hidden) = other.post(&resolutions, json!({"finding": id, "reason": reason}));
    assert_eq!(status, 404, "{hidden}");
    let (status, bad) = root.get("/api/v1/security-reports/0x1234");
    assert_eq!(status, 400, "{bad}");
    assert!(message(&bad).contains("64 hex digits"), "{bad}");

    // Errors are an answer, not a failure: placed in the file, line and column.
    let (status, failed) = root.post(
        "/api/v1/compile",
        json!({"sources": {"Bad.sol": "pragma solidity ^0.8.0;\ncontract Bad {\n  function f() public { y = 2; }\n}\n"}}),
    );
    assert_eq!(status, 200, "{failed}");
    assert_eq!(failed["success"], false);
    assert_eq!(
        failed["security"],
        json!(null),
        "nothing to check: {failed}"
    );
    let error = failed["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .find(|d| d["severity"] == "error")
        .expect("an error");
    assert_eq!(
        (
            error["file"].as_str(),
            error["line"].as_u64(),
            error["column"].as_u64()
        ),
        (Some("Bad.sol"), Some(3), Some(25)),
        "{error}"
    );
    assert_eq!(error["kind"], "DeclarationError");

    // What cannot compile at all is refused with what to fix.
    for (body, expected, says) in [
        (json!({"sources": {}}), 400, "give at least one source"),
        (
            json!({"sources": {"A.sol": "import \"./B.sol\";"}}),
            400,
            "A.sol:1: import \"./B.sol\"",
        ),
        (
            json!({"sources": {"A.sol": "pragma solidity ^0.3.0;"}}),
            400,
            "no solc release satisfies",
        ),
        (
            json!({"sources": {"A.sol": "contract A {}"}, "version": "9.9.9"}),
            400,
            "is not a solcjs release",
        ),
        (
            json!({"sources": {"../A.sol": "contract A {}"}}),
            400,
            "`..`",
        ),
        (
            json!({"source": {"A.sol": "contract A {}"}}),
            422,
            "unknown field `source`, expected one of `sources`",
        ),
        (
            json!({"sources": {"A.sol": "contract A {}"}, "optimise": true}),
            422,
            "unknown field `optimise`",
        ),
    ] {
        let (status, refused) = root.post("/api/v1/compile", body.clone());
        assert_eq!(status, expected, "{body}: {refused}");
        assert!(message(&refused).contains(says), "{body}: {refused}");
    }
    // Sources over the limit: 413, and the platform keeps serving. The platform reads the rest
    // of a refused body before it answers, so a client still writing it reads the 413 every
    // time rather than a reset connection.
    let huge = "// x\n".repeat(ricaas_solc::MAX_SOURCE_BYTES / 4);
    for _ in 0..5 {
        let (status, refused) =
            root.post("/api/v1/compile", json!({"sources": {"Huge.sol": huge}}));
        assert_eq!(status, 413, "{refused}");
        assert!(
            message(&refused).contains("larger than this endpoint accepts"),
            "{refused}"
        );
    }
    // A 100 KiB source is fine for /compile, though other endpoints accept 64 KiB.
    let long = format!(
        "pragma solidity ^0.8.0;\n{}contract Long {{}}\n",
        "// padding\n".repeat(10_000)
    );
    let (status, output) = root.post("/api/v1/compile", json!({"sources": {"Long.sol": long}}));
    assert_eq!(status, 200, "{output}");
    assert_eq!(output["success"], true);

    let (status, releases) = root.get("/api/v1/compilers");
    assert_eq!(status, 200, "{releases}");
    let releases = releases.as_array().expect("releases");
    assert!(
        releases
            .iter()
            .any(|r| r["version"] == output["version"] && r["installed"] == true)
    );
    assert!(releases.iter().any(|r| r["version"] == "0.4.26"));

    // Without credentials, 401; a sub-account without contract:Compile, 403.
    let (status, _) = served.client().post(
        "/api/v1/compile",
        json!({"sources": {"A.sol": "contract A {}"}}),
    );
    assert_eq!(status, 401);
    iam::create_account(&root, "intern", "intern's passphrase!");
    let intern = served
        .client()
        .login(Some("acme"), "intern", "intern's passphrase!");
    let (status, refused) = intern.post(
        "/api/v1/compile",
        json!({"sources": {"A.sol": "contract A {}"}}),
    );
    assert_eq!(status, 403, "{refused}");
    assert!(message(&refused).contains("contract:Compile"), "{refused}");
}
