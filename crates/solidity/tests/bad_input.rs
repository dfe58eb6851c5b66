//! The checker on input meant to break it: sources nested deeper than solc's output parser
//! used to read, deeper than the checker reads, deeper than solc itself can compile; a time
//! limit reached mid-way; sources that do not compile or ask for no known compiler. Each ends in
//! a report or a clear error, never a crash or a hang.

use ricaas_solc::{CompileRequest, Compiler, CompilerConfig, default_cache_dir};
use ricaas_solidity::{
    CheckError, analyze_compilation, check,
    deadline::{self, Stopped},
    detectors::DETECTORS,
    program::Program,
};
use std::time::{Duration, Instant};

fn compiler() -> Compiler {
    Compiler::new(CompilerConfig::new(default_cache_dir()))
}

fn request(source: String) -> CompileRequest {
    CompileRequest {
        sources: [("Deep.sol".to_owned(), source)].into(),
        ..CompileRequest::default()
    }
}

/// A contract whose function nests `depth` `if` blocks around an unchecked `send`.
fn nested(pragma: &str, depth: usize) -> String {
    let mut body = "x += 1; msg.sender.send(1);".to_owned();
    for level in 0..depth {
        body = format!("if (x > {level}) {{ {body} }}");
    }
    format!(
        "pragma solidity {pragma};\ncontract Deep {{\n    uint x;\n    function f() public {{ {body} }}\n}}\n"
    )
}

#[test]
fn deeply_nested_functions_are_checked_and_deeper_ones_reported_as_not_read() {
    // 150 levels: beyond serde_json's default recursion limit (this once failed to compile).
    let (_, report) = check(
        &compiler(),
        &request(nested("^0.4.24", 150)),
        None,
        Duration::from_secs(20),
    )
    .expect("a deeply nested contract is checked");
    assert_eq!(report.files, ["Deep.sol"]);
    assert!(report.incomplete.is_empty(), "{:?}", report.incomplete);
    assert_eq!(
        report
            .findings
            .iter()
            .map(|f| (f.rule, f.line))
            .collect::<Vec<_>>(),
        [("unchecked-call", 4)],
        "{:#?}",
        report.findings
    );

    // 400 levels: solc compiles it, its syntax tree is deeper than the checker reads.
    let (output, report) = check(
        &compiler(),
        &request(nested("0.4.26", 400)),
        None,
        Duration::from_secs(20),
    )
    .expect("compiles");
    assert!(output.success);
    assert!(output.syntax["Deep.sol"].too_deep);
    assert!(report.findings.is_empty());
    assert!(report.files.is_empty());
    assert_eq!(report.incomplete.len(), 1, "{:?}", report.incomplete);
    assert!(
        report.incomplete[0].starts_with("Deep.sol: nested deeper than the checker reads"),
        "{:?}",
        report.incomplete
    );

    // 600 levels: solc itself runs out of stack, and says so in one line.
    let started = Instant::now();
    let error = check(
        &compiler(),
        &request(nested("0.4.26", 600)),
        None,
        Duration::from_secs(20),
    )
    .expect_err("solc cannot compile it");
    let message = error.to_string();
    assert!(
        message.contains("ran out of stack: the sources nest too deeply"),
        "{message}"
    );
    assert!(message.len() < 600, "{} bytes: {message}", message.len());
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_time_limit_reached_returns_what_was_found_and_says_what_was_not_checked() {
    let functions: String = (0..40)
        .map(|i| format!("    function f{i}(address a) public {{ a.send({i}); }}\n"))
        .collect();
    let source = format!("pragma solidity ^0.4.24;\ncontract Many {{\n{functions}}}\n");
    let compiler = compiler();
    let (output, full) =
        check(&compiler, &request(source), None, Duration::from_secs(20)).expect("checks");
    assert_eq!(full.findings.len(), 40);
    assert!(full.incomplete.is_empty());
    let cut = analyze_compilation(&output, Duration::ZERO);
    assert!(cut.findings.len() < 40);
    assert_eq!(cut.incomplete.len(), 1, "{:?}", cut.incomplete);
    assert!(
        cut.incomplete[0].starts_with("the time limit (0 s) was reached"),
        "{:?}",
        cut.incomplete
    );
}

#[test]
fn sources_that_do_not_compile_or_want_no_known_compiler_are_refused_saying_why() {
    let error = check(
        &compiler(),
        &request("pragma solidity ^0.8.0;\ncontract C { function f() public { y = 1; } }\n".into()),
        None,
        Duration::from_secs(20),
    )
    .expect_err("does not compile");
    assert!(
        matches!(&error, CheckError::DoesNotCompile { error: m, version, .. } if m.contains("Undeclared identifier") && m.contains("Deep.sol:2") && version.starts_with("0.")),
        "{error}"
    );
    let error = check(
        &compiler(),
        &request("pragma solidity ^0.99.0;\ncontract C {}\n".into()),
        None,
        Duration::from_secs(20),
    )
    .expect_err("no such compiler");
    assert!(error.to_string().contains("0.99"), "{error}");
}

/// A recursive internal helper with `branches` returns, each calling it twice: every detector
/// that follows internal calls must read each function once, not once per path to it.
fn recursive(branches: usize) -> String {
    let returns: String = (1..=branches)
        .map(|i| format!("        if (n == {i}) {{ return f(n - 1) + f(n - 2); }}\n"))
        .collect();
    format!(
        "pragma solidity ^0.4.24;\ncontract Recursive {{\n    uint public total;\n    address owner;\n    function f(uint n) internal returns (uint) {{\n{returns}        return n;\n    }}\n    function add(uint n) public {{ total = f(n); owner = msg.sender; }}\n    function close() public {{ require(msg.sender == owner); selfdestruct(owner); }}\n}}\n"
    )
}

#[test]
fn recursive_helpers_are_read_once_per_function_not_once_per_path() {
    let started = Instant::now();
    let (_, report) = check(
        &compiler(),
        &request(recursive(30)),
        None,
        Duration::from_secs(20),
    )
    .expect("checks");
    // Reading every path (30 call sites two levels deep, for each detector's walk) took minutes;
    // the time limit would then cut the report short, which `incomplete` would say.
    assert!(report.incomplete.is_empty(), "{:?}", report.incomplete);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    assert!(
        rules.contains(&"integer-overflow"),
        "{:#?}",
        report.findings
    );
    assert!(
        rules.contains(&"unprotected-authority-change"),
        "{:#?}",
        report.findings
    );
}

#[test]
fn every_detector_stops_inside_a_function_once_the_time_limit_passes() {
    // One function of 300 statements (taking an address and an amount, so that even the
    // short-address detector reads its body): the limit was once read only between functions,
    // so a detector slow on one long function ran to its end.
    let statements: String = (0..300)
        .map(|i| format!("        if (x > {i}) {{ x += a; msg.sender.send({i}); }}\n"))
        .collect();
    let source = format!(
        "pragma solidity ^0.4.24;\ncontract Long {{\n    uint x;\n    function f(address to, uint a) public {{\n{statements}    }}\n}}\n"
    );
    let (output, full) =
        check(&compiler(), &request(source), None, Duration::from_secs(60)).expect("checks");
    assert!(full.incomplete.is_empty(), "{:?}", full.incomplete);
    assert!(full.findings.len() >= 300, "{}", full.findings.len());
    let program = Program::new(&output.syntax, &output.version);
    for (name, detector) in DETECTORS {
        let in_time = deadline::run(Instant::now() + Duration::from_secs(60), || {
            detector(&program)
        });
        assert!(in_time.is_ok(), "{name}");
        let late = deadline::run(Instant::now(), || detector(&program));
        assert_eq!(late.err(), Some(Stopped::TimeLimit), "{name}");
    }
}
