//! The RiCaaS contract security checker. It reads solc's AST of every source unit of a
//! compilation (0.4 to 0.8, see [`ast`]), finds the contracts, functions and modifiers in it
//! ([`program`]) and runs detectors over them ([`detectors`]), each reporting findings of one
//! class of weakness with its SWC registry identifiers, DASP category, severity, the line, an
//! explanation and a fix. Reports print as text, JSON or SARIF 2.1 ([`sarif`]).

pub mod ast;
pub mod confirm;
pub mod deadline;
pub mod detectors;
pub mod program;
pub mod reachability;
pub mod sarif;
pub mod source;
pub mod taint;

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

pub use detectors::RULES;

/// The DASP top-10 category a weakness belongs to (the SmartBugs dataset's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Reentrancy,
    AccessControl,
    Arithmetic,
    UncheckedLowLevelCalls,
    DenialOfService,
    BadRandomness,
    FrontRunning,
    TimeManipulation,
    ShortAddresses,
    Other,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Self::Reentrancy,
        Self::AccessControl,
        Self::Arithmetic,
        Self::UncheckedLowLevelCalls,
        Self::DenialOfService,
        Self::BadRandomness,
        Self::FrontRunning,
        Self::TimeManipulation,
        Self::ShortAddresses,
        Self::Other,
    ];

    /// The SmartBugs/DASP name, e.g. `unchecked_low_level_calls`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Reentrancy => "reentrancy",
            Self::AccessControl => "access_control",
            Self::Arithmetic => "arithmetic",
            Self::UncheckedLowLevelCalls => "unchecked_low_level_calls",
            Self::DenialOfService => "denial_of_service",
            Self::BadRandomness => "bad_randomness",
            Self::FrontRunning => "front_running",
            Self::TimeManipulation => "time_manipulation",
            Self::ShortAddresses => "short_addresses",
            Self::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Info, Self::Low, Self::Medium, Self::High]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A class of weakness a detector finds.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Rule {
    /// Stable identifier, e.g. `unchecked-call`.
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub id: &'static str,
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub title: &'static str,
    /// SWC registry identifiers, e.g. `SWC-104`.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<String>))]
    pub swc: &'static [&'static str],
    pub category: Category,
    pub severity: Severity,
    /// Why it is a weakness.
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub explanation: &'static str,
    /// How to fix it.
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub fix: &'static str,
}

/// One weakness found at one place.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Finding {
    /// The rule's id (`unchecked-call`); its explanation and fix are in the report's `rules`.
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub rule: &'static str,
    pub category: Category,
    pub severity: Severity,
    #[cfg_attr(feature = "schema", schema(value_type = Vec<String>))]
    pub swc: &'static [&'static str],
    /// Source unit name.
    pub file: String,
    /// 1-based line and character column of the start, and the last line.
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub contract: String,
    /// The function (or modifier) it is in; empty at contract level.
    pub function: String,
    /// What was found here, naming the variables and calls involved.
    pub message: String,
    /// Shown by running the compiled contract, not only by reading it.
    pub confirmed: bool,
    /// Other places the finding involves (where a block value becomes a draw), in the same
    /// source unit.
    pub related: Vec<Related>,
}

/// A place a finding involves besides its own.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Related {
    /// 1-based line and character column of the start, and the last line.
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    /// What happens there.
    pub message: String,
}

/// What the checker found in a compilation.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Source units analysed.
    pub files: Vec<String>,
    /// What could not be analysed, and why (the rest of the report stands).
    pub incomplete: Vec<String>,
    pub elapsed_ms: u64,
}

impl Report {
    /// The highest severity found, if anything was.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Orders the findings by file, line and rule, one per (file, line, rule), and the files by
    /// name, one each: what merging reports of several compilations needs too.
    pub fn normalize(&mut self) {
        self.files.sort();
        self.files.dedup();
        self.findings
            .sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
        self.findings
            .dedup_by(|a, b| a.file == b.file && a.line == b.line && a.rule == b.rule);
    }

    pub fn rule(id: &str) -> Option<&'static Rule> {
        RULES.iter().find(|r| r.id == id).copied()
    }
}

/// Why a compilation could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// solc's first error, with the release that gave it: the newest a pragma allows may be
    /// newer than the code (`>=0.5.0` over 0.7 code), which `--version` answers.
    #[error("the sources do not compile: {error} (solc {version}, {reason})")]
    DoesNotCompile {
        error: String,
        version: String,
        reason: String,
    },
    #[error(transparent)]
    Compile(#[from] ricaas_solc::CompileError),
}

/// How long the detectors may run over one compilation before the report is returned with
/// what was found so far.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(20);

/// Stack of the thread the detectors run on: they recurse over ASTs nested up to
/// [`ricaas_solc::MAX_AST_DEPTH`] levels.
const ANALYSIS_STACK_BYTES: usize = 64 << 20;

/// Runs every detector over the units of `output` the caller wrote (`user`; units from npm
/// packages are read for context but not reported on), within `limit`: past it, what was found
/// so far is reported and `incomplete` says the rest was not checked (the limit is kept inside
/// every detector's walks, [`deadline`]). A detector that fails is reported as such, the others
/// still run, and none takes the caller down with it.
pub fn analyze(
    output: &ricaas_solc::CompileOutput,
    user: &(dyn Fn(&str) -> bool + Sync),
    limit: Duration,
) -> Report {
    let started = Instant::now();
    let mut report = Report {
        files: output
            .syntax
            .iter()
            .filter(|(name, unit)| user(name) && !unit.too_deep)
            .map(|(name, _)| name.clone())
            .collect(),
        incomplete: output
            .syntax
            .iter()
            .filter(|(name, unit)| user(name) && unit.too_deep)
            .map(|(name, _)| {
                format!(
                    "{name}: nested deeper than the checker reads ({} levels of solc's syntax tree); it was not checked",
                    ricaas_solc::MAX_AST_DEPTH
                )
            })
            .collect(),
        ..Report::default()
    };
    let deadline = started + limit;
    let run = || {
        let program =
            program::Program::new(&output.syntax, &output.version).with_deadline(deadline);
        let mut findings = Vec::new();
        let mut failed = Vec::new();
        // Whether the deadline left something unread: a detector not run, stopped mid-walk, or
        // handed fewer functions than there are. All of them finishing just past it is not.
        let mut stopped = false;
        for (name, detector) in detectors::DETECTORS {
            if program.expired() {
                stopped = true;
                break;
            }
            match deadline::run(deadline, || detector(&program)) {
                Ok(found) => findings.extend(found.into_iter().filter(|f| user(&f.file))),
                Err(deadline::Stopped::TimeLimit) => {
                    stopped = true;
                    break;
                }
                Err(deadline::Stopped::Failed) => failed.push(*name),
            }
        }
        confirm::confirm(output, &program, &mut findings, deadline);
        (findings, failed, stopped || program.was_cut())
    };
    let outcome = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("checker".into())
            .stack_size(ANALYSIS_STACK_BYTES)
            .spawn_scoped(scope, run)
            .map(|handle| handle.join())
    });
    match outcome {
        Ok(Ok((findings, failed, expired))) => {
            report.findings = findings;
            for name in failed {
                report.incomplete.push(format!(
                    "the {name} detector failed on these sources (a bug in it: please report it); the other detectors ran"
                ));
            }
            if expired {
                report.incomplete.push(format!(
                    "the time limit ({} s) was reached: what was not read by then was not checked",
                    limit.as_secs_f64()
                ));
            }
        }
        Ok(Err(_)) => report
            .incomplete
            .push("the checker failed on these sources (a bug in it: please report it); nothing was checked".into()),
        Err(e) => report
            .incomplete
            .push(format!("the checker could not start: {e}")),
    }
    report.normalize();
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

/// Compiles `request` with `compiler` and checks it: sources that do not compile are refused
/// with solc's first error, placed.
pub fn check(
    compiler: &ricaas_solc::Compiler,
    request: &ricaas_solc::CompileRequest,
    loader: Option<ricaas_solc::Loader<'_>>,
    limit: Duration,
) -> Result<(ricaas_solc::CompileOutput, Report), CheckError> {
    check_excluding(compiler, request, loader, &|_| false, limit)
}

/// [`check`], with the units `dependency` names (packages the loader read from a project's
/// `node_modules`) read for context only, as npm packages' units are.
pub fn check_excluding(
    compiler: &ricaas_solc::Compiler,
    request: &ricaas_solc::CompileRequest,
    loader: Option<ricaas_solc::Loader<'_>>,
    dependency: &(dyn Fn(&str) -> bool + Sync),
    limit: Duration,
) -> Result<(ricaas_solc::CompileOutput, Report), CheckError> {
    let output = compiler.compile(request, loader)?;
    if !output.success {
        let first = output
            .diagnostics
            .iter()
            .find(|d| d.severity == ricaas_solc::Severity::Error)
            .map(|d| d.formatted.clone())
            .unwrap_or_default();
        return Err(CheckError::DoesNotCompile {
            error: first,
            version: output.version.clone(),
            reason: output.version_reason.clone(),
        });
    }
    let report = analyze_excluding(&output, dependency, limit);
    Ok((output, report))
}

/// [`analyze`] reporting on the caller's files and those they import from disk; npm packages'
/// units (OpenZeppelin) are read for context only.
pub fn analyze_compilation(output: &ricaas_solc::CompileOutput, limit: Duration) -> Report {
    analyze_excluding(output, &|_| false, limit)
}

/// [`analyze_compilation`], with the units `dependency` names read for context only too.
fn analyze_excluding(
    output: &ricaas_solc::CompileOutput,
    dependency: &(dyn Fn(&str) -> bool + Sync),
    limit: Duration,
) -> Report {
    let from_package = |name: &str| {
        output
            .packages
            .keys()
            .any(|p| name.starts_with(p.as_str()) && name.as_bytes().get(p.len()) == Some(&b'/'))
    };
    analyze(
        output,
        &|name| !from_package(name) && !dependency(name),
        limit,
    )
}
