//! `ricaas check`: the contract security checker over Solidity files or directories, each file
//! compiled with the solcjs release its pragma allows; findings as text, JSON or SARIF 2.1, and
//! an exit status for CI (1 when something at or above `--fail-on` is found, 2 when a file
//! could not be checked). Imports come from the base path, then the project's `node_modules`,
//! then OpenZeppelin's npm packages at the version the project's package.json (or
//! `--dependency`) pins.

use anyhow::{Context as _, bail};
use ricaas_solc::{CompileRequest, Compiler, CompilerConfig, default_cache_dir};
use ricaas_solidity::{Finding, Report, Severity};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Solidity files, or directories whose `.sol` files are all checked (each file on its
    /// own, with the files it imports).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Exit with 1 when a finding of this severity or higher is found: info, low, medium,
    /// high, or none to exit 0 whatever is found.
    #[arg(long, default_value = "high")]
    fail_on: String,
    /// The solc release to use (default: the newest each file's pragma allows).
    #[arg(long)]
    version: Option<String>,
    /// The directory source names are relative to (default: the current directory).
    #[arg(long)]
    base_path: Option<PathBuf>,
    /// Longest the detectors may run over one file, in seconds (a partial report after).
    #[arg(long, default_value_t = 20)]
    time_limit: u64,
    /// Where compilers and packages are installed.
    #[arg(long, env = "RICAAS_COMPILER_CACHE")]
    cache: Option<PathBuf>,
    /// Pin an npm package that imports name (e.g. `@openzeppelin/contracts@4.9.6`, or a range);
    /// overrides the project's package.json. Repeatable.
    #[arg(long = "dependency", value_name = "NAME@VERSION")]
    dependencies: Vec<String>,
}

/// The package versions a project pins: the `dependencies` and `devDependencies` of the
/// package.json nearest `base` (itself or an ancestor) that name an npm package imports may use,
/// as Hardhat and Truffle projects write them. Returns the pins, and notes for stderr: where they
/// came from, and pins the compiler cannot follow (`npm:` aliases, git URLs), which are skipped —
/// such imports then come from the project's `node_modules` if it has one, else the newest
/// release.
fn project_pins(base: &Path, allowed: &[String]) -> (BTreeMap<String, String>, Vec<String>) {
    let mut pins = BTreeMap::new();
    let mut notes = Vec::new();
    let Some(manifest) = base
        .ancestors()
        .map(|dir| dir.join("package.json"))
        .find(|path| path.is_file())
    else {
        return (pins, notes);
    };
    let parsed = std::fs::read_to_string(&manifest)
        .map_err(|e| e.to_string())
        .and_then(|text| {
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string())
        });
    let document = match parsed {
        Ok(document) => document,
        Err(e) => {
            notes.push(format!(
                "{}: not read ({e}); npm packages are taken at their newest release",
                manifest.display()
            ));
            return (pins, notes);
        }
    };
    for section in ["devDependencies", "dependencies"] {
        let Some(entries) = document.get(section).and_then(|d| d.as_object()) else {
            continue;
        };
        for (name, spec) in entries {
            if !allowed.contains(name) {
                continue;
            }
            let Some(spec) = spec.as_str() else {
                continue;
            };
            match ricaas_solc::check_version_range(spec) {
                Ok(()) => {
                    pins.insert(name.clone(), spec.to_owned());
                }
                Err(e) => notes.push(format!(
                    "{}: {name} `{spec}` is not a version range the checker follows ({e}); its imports come from node_modules if present, else the newest release",
                    manifest.display()
                )),
            }
        }
    }
    if !pins.is_empty() {
        let listed: Vec<String> = pins.iter().map(|(n, v)| format!("{n} {v}")).collect();
        notes.push(format!(
            "npm packages as {} pins them: {}",
            manifest.display(),
            listed.join(", ")
        ));
    }
    (pins, notes)
}

/// Every `.sol` file named or below a named directory, sorted.
fn solidity_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        let meta =
            std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            for entry in
                std::fs::read_dir(&path).with_context(|| format!("reading {}", path.display()))?
            {
                let entry = entry?.path();
                if entry.is_dir() || entry.extension().is_some_and(|e| e == "sol") {
                    pending.push(entry);
                }
            }
        } else {
            files.push(path);
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let fail_on = match args.fail_on.as_str() {
        "none" => None,
        other => Some(Severity::parse(other).with_context(|| {
            format!("--fail-on {other}: write info, low, medium, high or none")
        })?),
    };
    let cache = args.cache.clone().unwrap_or_else(default_cache_dir);
    let config = CompilerConfig::new(cache);
    let base = crate::compile::base_dir(args.base_path.as_deref())?;
    let (mut dependencies, notes) = project_pins(&base, &config.packages);
    for spec in &args.dependencies {
        let (name, version) = crate::compile::split_package(spec);
        let version =
            version.with_context(|| format!("--dependency {spec}: write it as name@version"))?;
        dependencies.insert(name.to_owned(), version.to_owned());
    }
    for note in notes {
        eprintln!("{note}");
    }
    let compiler = Compiler::new(config);
    let files = solidity_files(&args.paths)?;
    if files.is_empty() {
        bail!("no .sol files in {:?}", args.paths);
    }
    let started = Instant::now();
    let mut report = Report::default();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut timings: BTreeMap<String, u64> = BTreeMap::new();
    for file in &files {
        let path = file
            .canonicalize()
            .with_context(|| format!("reading {}", file.display()))?;
        // A file outside the current directory, with no --base-path, is its own directory's.
        let base = match (&args.base_path, path.parent()) {
            (None, Some(parent)) if !path.starts_with(&base) => parent.to_path_buf(),
            _ => base.clone(),
        };
        let name = crate::compile::source_name(&base, &path)?;
        let one = Instant::now();
        match check_file(&compiler, &base, &path, &name, &dependencies, &args) {
            Ok(found) => {
                report.findings.extend(found.findings);
                report.files.extend(found.files);
                report.incomplete.extend(found.incomplete);
            }
            Err(e) => failed.push((name.clone(), format!("{e:#}"))),
        }
        timings.insert(
            name,
            u64::try_from(one.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
    }
    report.normalize();
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match args.format {
        Format::Text => print_text(&report, &failed),
        Format::Json => {
            let errors: Vec<_> = failed
                .iter()
                .map(|(file, error)| serde_json::json!({ "file": file, "error": error }))
                .collect();
            let mut value = serde_json::to_value(&report)?;
            value["errors"] = errors.into();
            value["file_ms"] = serde_json::to_value(&timings)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        Format::Sarif => {
            let mut sarif = ricaas_solidity::sarif::to_sarif(&report);
            // Files that could not be checked are the run's notifications.
            sarif["runs"][0]["invocations"] = serde_json::json!([{
                "executionSuccessful": failed.is_empty(),
                "toolExecutionNotifications": failed.iter().map(|(file, error)| serde_json::json!({
                    "level": "error",
                    "message": { "text": error },
                    "locations": [{ "physicalLocation": { "artifactLocation": { "uri": file } } }],
                })).collect::<Vec<_>>(),
            }]);
            println!("{}", serde_json::to_string_pretty(&sarif)?);
        }
    }
    if !failed.is_empty() {
        eprintln!("{} file(s) could not be checked", failed.len());
        std::process::exit(2);
    }
    if let Some(threshold) = fail_on
        && report.findings.iter().any(|f| f.severity >= threshold)
    {
        std::process::exit(1);
    }
    Ok(())
}

fn check_file(
    compiler: &Compiler,
    base: &Path,
    path: &Path,
    name: &str,
    dependencies: &BTreeMap<String, String>,
    args: &CheckArgs,
) -> anyhow::Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let request = CompileRequest {
        sources: BTreeMap::from([(name.to_owned(), text)]),
        version: args.version.clone(),
        dependencies: dependencies.clone(),
        optimize: Some(false),
        runs: None,
        evm_version: None,
    };
    // An import is a file under the base path, or else a package the project installed: the
    // nearest `node_modules` holding it, as Node, Hardhat and solc's `--include-path` find it.
    // Those are the project's dependencies: read for context, not reported on.
    let installed = std::sync::Mutex::new(std::collections::BTreeSet::<String>::new());
    let loader = |unit: &str| -> Option<String> {
        if let Ok(text) = std::fs::read_to_string(base.join(unit)) {
            return Some(text);
        }
        let text = base
            .ancestors()
            .find_map(|dir| std::fs::read_to_string(dir.join("node_modules").join(unit)).ok())?;
        if let Ok(mut installed) = installed.lock() {
            installed.insert(unit.to_owned());
        }
        Some(text)
    };
    let dependency = |unit: &str| installed.lock().is_ok_and(|set| set.contains(unit));
    let (_, report) = ricaas_solidity::check_excluding(
        compiler,
        &request,
        Some(&loader),
        &dependency,
        Duration::from_secs(args.time_limit),
    )?;
    Ok(report)
}

fn print_text(report: &Report, failed: &[(String, String)]) {
    for finding in &report.findings {
        print_finding(finding);
    }
    for (file, error) in failed {
        eprintln!("{file}: not checked: {error}");
    }
    for note in &report.incomplete {
        eprintln!("incomplete: {note}");
    }
    let mut by_severity: BTreeMap<Severity, usize> = BTreeMap::new();
    for finding in &report.findings {
        *by_severity.entry(finding.severity).or_default() += 1;
    }
    let counts: Vec<String> = by_severity
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    println!(
        "{} finding(s){} in {} file(s), {} ms",
        report.findings.len(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        },
        report.files.len(),
        report.elapsed_ms
    );
}

fn print_finding(finding: &Finding) {
    // A weakness the SWC registry has no entry for (short addresses) shows its rule alone.
    let swc = if finding.swc.is_empty() {
        String::new()
    } else {
        format!(" {}", finding.swc.join(","))
    };
    println!(
        "{}:{}:{}: {} [{}{swc}] {}",
        finding.file,
        finding.line,
        finding.column,
        finding.severity.as_str(),
        finding.rule,
        finding.message
    );
    if let Some(rule) = Report::rule(finding.rule) {
        println!("    fix: {}", rule.fix);
    }
}
