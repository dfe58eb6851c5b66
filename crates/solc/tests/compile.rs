//! Compilation against real solcjs releases from the npm registry, cached in the machine's
//! compiler cache (the test install step fills it ahead of time; otherwise the first run
//! downloads them).

use ricaas_solc::{
    CompileError, CompileRequest, Compiler, CompilerConfig, Severity, default_cache_dir,
};
use std::{collections::BTreeMap, io::Write as _, net::TcpListener, path::Path};

fn compiler() -> Compiler {
    Compiler::new(CompilerConfig::new(default_cache_dir()))
}

fn request(sources: &[(&str, &str)]) -> CompileRequest {
    CompileRequest {
        sources: sources
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect(),
        ..CompileRequest::default()
    }
}

const TOKEN: &str = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

import "./lib/Math.sol";

contract Token {
    using Math for uint256;
    mapping(address => uint256) public balanceOf;
    constructor() { balanceOf[msg.sender] = 1000; }
    function give(address to, uint256 amount) external {
        balanceOf[msg.sender] = balanceOf[msg.sender].sub(amount);
        balanceOf[to] += amount;
    }
}
"#;

const MATH: &str = r#"// SPDX-License-Identifier: MIT
pragma solidity >=0.8.0 <0.9.0;

library Math {
    function sub(uint256 a, uint256 b) internal pure returns (uint256) { return a - b; }
}
"#;

#[test]
fn files_importing_each_other_compile_with_the_newest_release_their_pragmas_allow() {
    let compiler = compiler();
    let output = compiler
        .compile(
            &request(&[
                ("contracts/Token.sol", TOKEN),
                ("contracts/lib/Math.sol", MATH),
            ]),
            None,
        )
        .unwrap();
    assert!(output.success, "{:?}", output.diagnostics);
    let newest_08 = compiler
        .releases()
        .unwrap()
        .into_iter()
        .find(|r| r.version.starts_with("0.8."))
        .unwrap();
    assert_eq!(output.version, newest_08.version);
    assert!(
        output
            .compiler
            .starts_with(&format!("solc {}+commit.", output.version)),
        "{}",
        output.compiler
    );
    assert!(
        output.version_reason.contains("^0.8.0"),
        "{}",
        output.version_reason
    );
    let token = output.contracts.iter().find(|c| c.name == "Token").unwrap();
    assert_eq!(token.file, "contracts/Token.sol");
    assert!(token.deployable && token.bytecode.len() > 100);
    assert!(
        token
            .abi
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "give")
    );
    // The source hash is over the sources only: the same sources, the same hash.
    let again = compiler
        .compile(
            &request(&[
                ("contracts/lib/Math.sol", MATH),
                ("contracts/Token.sol", TOKEN),
            ]),
            None,
        )
        .unwrap();
    assert_eq!(again.source_hash, output.source_hash);
    assert_eq!(output.source_hash.len(), 66);
}

#[test]
fn each_series_from_0_4_to_0_8_compiles_with_its_own_release() {
    let compiler = compiler();
    let cases = [
        (
            "^0.4.24",
            "0.4.26",
            "contract C { uint x; function set(uint v) public { x = v; } }",
        ),
        (
            "^0.5.0",
            "0.5.17",
            "contract C { uint x; function set(uint v) public { x = v; } }",
        ),
        (
            "^0.6.0",
            "0.6.12",
            "contract C { uint x; function set(uint v) public { x = v; } }",
        ),
        (
            "^0.7.0",
            "0.7.6",
            "contract C { uint x; function set(uint v) public { x = v; } }",
        ),
    ];
    for (pragma, expected, body) in cases {
        let source = format!("pragma solidity {pragma};\n{body}\n");
        let output = compiler
            .compile(&request(&[("C.sol", &source)]), None)
            .unwrap();
        assert_eq!(output.version, expected, "{pragma}");
        assert!(output.success, "{pragma}: {:?}", output.diagnostics);
        assert!(output.contracts[0].deployable, "{pragma}");
    }
    // A version asked for wins over the newest the pragma allows.
    let output = compiler
        .compile(
            &CompileRequest {
                version: Some("0.8.20".into()),
                ..request(&[("Math.sol", MATH)])
            },
            None,
        )
        .unwrap();
    assert_eq!(output.version, "0.8.20");
    assert_eq!(output.version_reason, "asked for");
}

#[test]
fn an_open_range_falls_back_to_the_newest_older_series_that_compiles() {
    // Written for 0.7 under `>=0.6.0`: 0.8 refuses `uint256(-1)`, 0.7.6 compiles it.
    let compiler = compiler();
    let source = "pragma solidity >=0.6.0;\ncontract C { uint public max = uint256(-1); }\n";
    let output = compiler
        .compile(&request(&[("C.sol", source)]), None)
        .unwrap();
    assert!(output.success, "{:?}", output.diagnostics);
    assert_eq!(output.version, "0.7.6");
    assert!(
        output
            .version_reason
            .starts_with("the newest release allowed by >=0.6.0 that compiles the sources (0.8."),
        "{}",
        output.version_reason
    );
    assert!(
        output.version_reason.contains("does not: "),
        "{}",
        output.version_reason
    );
    // Without a pragma, the same: every release is allowed.
    let output = compiler
        .compile(
            &request(&[("C.sol", "contract C { uint public max = uint256(-1); }\n")]),
            None,
        )
        .unwrap();
    assert!(output.success, "{:?}", output.diagnostics);
    assert_eq!(output.version, "0.7.6");
    assert!(
        output.version_reason.starts_with(
            "the newest release that compiles the sources (no pragma names a version; 0.8."
        ),
        "{}",
        output.version_reason
    );
    // Sources no allowed release compiles keep the newest release's errors.
    let broken = "pragma solidity >=0.6.0;\ncontract C { function f() public { x = 1; } }\n";
    let output = compiler
        .compile(&request(&[("C.sol", broken)]), None)
        .unwrap();
    assert!(!output.success);
    assert!(output.version.starts_with("0.8."), "{}", output.version);
    assert!(
        output
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && d.line == Some(2)),
        "{:?}",
        output.diagnostics
    );
}

#[test]
fn errors_and_warnings_name_file_line_and_column_in_old_and_new_releases() {
    let compiler = compiler();
    for pragma in ["^0.8.0", "^0.4.24"] {
        let source = format!(
            "pragma solidity {pragma};\n\ncontract Broken {{\n    uint x;\n    function f() public {{ x = 1 }}\n}}\n"
        );
        let output = compiler
            .compile(&request(&[("src/Broken.sol", &source)]), None)
            .unwrap();
        assert!(!output.success);
        let error = output
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .unwrap();
        assert_eq!(error.kind, "ParserError");
        assert_eq!(error.file.as_deref(), Some("src/Broken.sol"));
        assert_eq!(
            (error.line, error.column),
            (Some(5), Some(33)),
            "{pragma}: {error:?}"
        );
        assert!(error.message.contains("Expected ';'"), "{}", error.message);
        assert!(output.contracts.is_empty());
    }
    let warned = compiler
        .compile(
            &request(&[("W.sol", "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\ncontract W {\n    function f(uint a) public pure returns (uint) { uint unused; return 1; }\n}\n")]),
            None,
        )
        .unwrap();
    assert!(warned.success);
    let warning = warned
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Warning)
        .unwrap();
    assert_eq!(warning.line, Some(4), "{warning:?}");
    assert!(warning.code.is_some());
}

#[test]
fn openzeppelin_imports_come_from_the_npm_package_at_the_version_pinned_or_the_latest() {
    let compiler = compiler();
    let source = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
contract Coin is ERC20 {
    constructor() ERC20("Coin", "CN") { _mint(msg.sender, 1000); }
}
"#;
    let latest = compiler
        .compile(&request(&[("Coin.sol", source)]), None)
        .unwrap();
    assert!(latest.success, "{:?}", latest.diagnostics);
    let oz = &latest.packages["@openzeppelin/contracts"];
    assert!(oz.starts_with("5."), "{oz}");
    assert!(
        latest
            .units
            .iter()
            .any(|u| u == "@openzeppelin/contracts/token/ERC20/IERC20.sol")
    );
    assert_eq!(
        latest.contracts.len(),
        1,
        "only the caller's contracts are listed"
    );
    let coin = &latest.contracts[0];
    assert!(
        coin.abi
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "transfer")
    );

    let pinned = compiler
        .compile(
            &CompileRequest {
                dependencies: BTreeMap::from([("@openzeppelin/contracts".into(), "4.9.6".into())]),
                ..request(&[("Coin.sol", source)])
            },
            None,
        )
        .unwrap();
    assert!(pinned.success, "{:?}", pinned.diagnostics);
    assert_eq!(pinned.packages["@openzeppelin/contracts"], "4.9.6");

    // A pre-release named exactly is taken (OpenZeppelin's build for solc 0.7, which Uniswap v3
    // pins); a range still takes releases only.
    let (_, version) = compiler
        .install_package("@openzeppelin/contracts", Some("3.4.1-solc-0.7-2"))
        .unwrap();
    assert_eq!(version, "3.4.1-solc-0.7-2");
    let (_, version) = compiler
        .install_package("@openzeppelin/contracts", Some("^3.4.0"))
        .unwrap();
    assert_eq!(version, "3.4.2");
}

#[test]
fn what_cannot_compile_is_refused_with_what_to_fix() {
    let compiler = compiler();
    let missing = compiler
        .compile(
            &request(&[(
                "a/A.sol",
                "pragma solidity ^0.8.0;\n\nimport \"./Nope.sol\";\n",
            )]),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(missing, CompileError::ImportNotFound { line: 3, .. }),
        "{missing}"
    );
    assert!(
        missing
            .to_string()
            .contains("a/A.sol:3: import \"./Nope.sol\" (source unit `a/Nope.sol`)"),
        "{missing}"
    );

    let foreign = compiler
        .compile(
            &request(&[("A.sol", "import \"@evil/pkg/X.sol\";\n")]),
            None,
        )
        .unwrap_err();
    assert!(
        foreign.to_string().contains("@openzeppelin/contracts"),
        "{foreign}"
    );

    let future = compiler
        .compile(
            &request(&[("A.sol", "pragma solidity ^0.9.0;\ncontract A {}\n")]),
            None,
        )
        .unwrap_err();
    assert!(
        future
            .to_string()
            .contains("no solc release satisfies every pragma: ^0.9.0 (A.sol:1)"),
        "{future}"
    );

    let unknown = compiler
        .compile(
            &CompileRequest {
                version: Some("0.8.999".into()),
                ..request(&[("A.sol", "contract A {}")])
            },
            None,
        )
        .unwrap_err();
    assert!(
        matches!(unknown, CompileError::UnknownVersion(_)),
        "{unknown}"
    );

    for (sources, says) in [
        (vec![], "give at least one source"),
        (vec![("../up.sol", "")], "`..`"),
        (vec![("notes.txt", "")], "end in `.sol`"),
    ] {
        let e = compiler.compile(&request(&sources), None).unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
    let e = compiler
        .compile(
            &CompileRequest {
                evm_version: Some("frontier2".into()),
                ..request(&[("A.sol", "contract A {}")])
            },
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("osaka"), "{e}");
}

#[test]
fn a_loader_supplies_files_the_request_does_not_name() {
    let compiler = compiler();
    let loader = |name: &str| (name == "contracts/lib/Math.sol").then(|| MATH.to_owned());
    let output = compiler
        .compile(&request(&[("contracts/Token.sol", TOKEN)]), Some(&loader))
        .unwrap();
    assert!(output.success);
    assert!(output.units.contains(&"contracts/lib/Math.sol".to_owned()));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn an_installed_compiler_that_changed_is_refused_and_an_offline_cache_still_compiles() {
    // Make sure 0.4.26 is installed in the shared cache, then work on a copy of it.
    let shared = compiler();
    shared.install(&"0.4.26".parse().unwrap()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    copy_dir(
        &default_cache_dir().join("solc/0.4.26"),
        &cache.path().join("solc/0.4.26"),
    );
    // No registry: what is cached still compiles, what is not gets a clear error.
    let offline = Compiler::new(CompilerConfig {
        registry_url: "http://127.0.0.1:9".into(),
        ..CompilerConfig::new(cache.path().to_owned())
    });
    let output = offline
        .compile(
            &request(&[("C.sol", "pragma solidity ^0.4.24;\ncontract C {}\n")]),
            None,
        )
        .unwrap();
    assert_eq!(output.version, "0.4.26");
    let releases = offline.releases().unwrap();
    assert_eq!(releases.len(), 1);
    assert!(releases[0].installed);
    let e = offline
        .compile(
            &request(&[("C.sol", "pragma solidity ^0.8.0;\ncontract C {}\n")]),
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("no solc release satisfies"), "{e}");
    let e = offline
        .compile(
            &CompileRequest {
                version: Some("0.8.1".into()),
                ..request(&[("C.sol", "contract C {}")])
            },
            None,
        )
        .unwrap_err();
    assert!(matches!(e, CompileError::Registry(_)), "{e}");

    // One byte changed in the installed compiler: refused, naming what to delete.
    let soljson = cache.path().join("solc/0.4.26/soljson.js");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&soljson)
        .unwrap();
    file.write_all(b"\n// changed").unwrap();
    let e = offline
        .compile(
            &request(&[("C.sol", "pragma solidity ^0.4.24;\ncontract C {}\n")]),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, CompileError::Tampered { .. }), "{e}");
    assert!(e.to_string().contains("solc/0.4.26"), "{e}");
}

/// A registry on a local port that serves an index for `solc` and a tarball whose bytes are
/// not those the index's integrity names.
fn lying_registry() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let index = serde_json::json!({
        "dist-tags": { "latest": "0.8.99" },
        "versions": { "0.8.99": { "dist": {
            "tarball": format!("{base}/solc/-/solc-0.8.99.tgz"),
            // sha512 of the empty string: not of what is served.
            "integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
        }}}
    })
    .to_string();
    let handle = std::thread::spawn(move || {
        use std::io::{BufRead as _, BufReader};
        for _ in 0..2 {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                    break;
                }
            }
            let body: Vec<u8> = if request_line.contains(".tgz") {
                b"not the published tarball".to_vec()
            } else {
                index.clone().into_bytes()
            };
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    (base, handle)
}

#[test]
fn a_tarball_that_does_not_match_the_published_integrity_is_not_installed() {
    let (base, server) = lying_registry();
    let cache = tempfile::tempdir().unwrap();
    let compiler = Compiler::new(CompilerConfig {
        registry_url: base,
        ..CompilerConfig::new(cache.path().to_owned())
    });
    let e = compiler
        .compile(
            &request(&[("C.sol", "pragma solidity ^0.8.0;\ncontract C {}\n")]),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, CompileError::Integrity { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("solc 0.8.99 does not match the integrity"),
        "{e}"
    );
    assert!(
        !cache.path().join("solc/0.8.99").exists(),
        "nothing was installed"
    );
    server.join().unwrap();
}

#[test]
fn a_release_published_without_its_compiler_is_refused_and_not_installed() {
    // solc@0.4.0 on npm carries a web page where soljson.js should be.
    let cache = tempfile::tempdir().unwrap();
    let compiler = Compiler::new(CompilerConfig::new(cache.path().to_owned()));
    let e = compiler.install(&"0.4.0".parse().unwrap()).unwrap_err();
    assert!(matches!(e, CompileError::Package { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("solc@0.4.0: its soljson.js is a web page"),
        "{e}"
    );
    assert!(
        !cache.path().join("solc/0.4.0").exists(),
        "nothing was installed"
    );
}
