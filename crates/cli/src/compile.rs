//! `ricaas compile`: Solidity from files on disk with the solcjs release their pragmas allow,
//! diagnostics printed as `file:line:column`, one JSON artifact per contract.

use anyhow::{Context as _, bail};
use ricaas_solc::{CompileRequest, Compiler, CompilerConfig, Severity, default_cache_dir};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

#[derive(clap::Args)]
pub struct CompileArgs {
    /// Solidity files to compile. Files they import are read from disk (names relative to
    /// --base-path), `@openzeppelin/…` imports from the npm package.
    files: Vec<PathBuf>,
    /// The solc release to use (default: the newest every pragma allows).
    #[arg(long)]
    version: Option<String>,
    /// An npm package version for imports, as `name@version` (repeatable), e.g.
    /// `@openzeppelin/contracts@4.9.6`.
    #[arg(long = "dependency", value_name = "NAME@VERSION")]
    dependencies: Vec<String>,
    /// Compile without the optimizer.
    #[arg(long)]
    no_optimize: bool,
    /// Optimizer runs.
    #[arg(long)]
    runs: Option<u32>,
    /// Target EVM version (default: the compiler's).
    #[arg(long)]
    evm_version: Option<String>,
    /// The directory source names are relative to (default: the current directory).
    #[arg(long)]
    base_path: Option<PathBuf>,
    /// Write `<Contract>.json` per contract here: name, source, abi, bytecode,
    /// deployedBytecode, compiler, sourceHash.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the whole result as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Where compilers and packages are installed.
    #[arg(long, env = "RICAAS_COMPILER_CACHE")]
    cache: Option<PathBuf>,
    /// List the solcjs releases (installed ones marked) and exit.
    #[arg(long)]
    list: bool,
    /// Install releases ahead of time and exit: exact (`0.8.26`) or the newest of a series
    /// (`0.8`).
    #[arg(long, num_args = 1.., value_name = "VERSION")]
    install: Vec<String>,
    /// Install npm Solidity packages ahead of time and exit, as `name` or `name@version`.
    #[arg(long = "install-package", value_name = "NAME[@VERSION]")]
    install_packages: Vec<String>,
}

/// `name@version` → (name, version); a leading `@` belongs to the scope.
pub(crate) fn split_package(spec: &str) -> (&str, Option<&str>) {
    match spec.get(1..).and_then(|rest| rest.rfind('@')) {
        Some(at) => (&spec[..at + 1], Some(&spec[at + 2..])),
        None => (spec, None),
    }
}

/// The newest of `releases` (newest first) in the series `wanted` (`0.8`), or exactly
/// `wanted` when it has three parts (`0.8.26`).
fn newest_of_series<'a>(releases: &'a [String], wanted: &str) -> Option<&'a String> {
    if wanted.split('.').count() == 3 {
        return releases.iter().find(|r| *r == wanted);
    }
    let prefix = format!("{wanted}.");
    releases.iter().find(|r| r.starts_with(&prefix))
}

pub fn run(args: CompileArgs) -> anyhow::Result<()> {
    let cache = args.cache.clone().unwrap_or_else(default_cache_dir);
    let compiler = Compiler::new(CompilerConfig::new(cache.clone()));
    if args.list {
        for release in compiler.releases()? {
            let mark = if release.installed { "  installed" } else { "" };
            println!("{}{mark}", release.version);
        }
        return Ok(());
    }
    if !args.install.is_empty() || !args.install_packages.is_empty() {
        let releases: Vec<String> = compiler
            .releases()?
            .into_iter()
            .map(|r| r.version)
            .collect();
        for wanted in &args.install {
            let version = newest_of_series(&releases, wanted)
                .with_context(|| format!("no solcjs release matches {wanted}"))?;
            let path = compiler.install(&version.parse()?)?;
            println!("solc {version}: {}", path.display());
        }
        for spec in &args.install_packages {
            let (name, version) = split_package(spec);
            let (dir, version) = compiler.install_package(name, version)?;
            println!("{name}@{version}: {}", dir.display());
        }
        return Ok(());
    }
    if args.files.is_empty() {
        bail!("name the Solidity files to compile, e.g. `ricaas compile contracts/Token.sol`");
    }
    let base = base_dir(args.base_path.as_deref())?;
    let mut sources = BTreeMap::new();
    for file in &args.files {
        let path = file
            .canonicalize()
            .with_context(|| format!("reading {}", file.display()))?;
        let name = source_name(&base, &path)?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", file.display()))?;
        sources.insert(name, text);
    }
    let mut dependencies = BTreeMap::new();
    for spec in &args.dependencies {
        let (name, version) = split_package(spec);
        let version =
            version.with_context(|| format!("--dependency {spec}: write it as name@version"))?;
        dependencies.insert(name.to_owned(), version.to_owned());
    }
    let request = CompileRequest {
        sources,
        version: args.version.clone(),
        dependencies,
        optimize: Some(!args.no_optimize),
        runs: args.runs,
        evm_version: args.evm_version.clone(),
    };
    let loader = |name: &str| -> Option<String> { std::fs::read_to_string(base.join(name)).ok() };
    let output = compiler.compile(&request, Some(&loader))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        for diagnostic in &output.diagnostics {
            eprintln!("{}\n", diagnostic.formatted);
        }
    }
    let errors = output
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        let first = output
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .map(|d| match (&d.file, d.line, d.column) {
                (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}: {}", d.message),
                _ => d.message.clone(),
            })
            .unwrap_or_default();
        bail!(
            "{errors} error(s) with {}; the first: {first}",
            output.compiler
        );
    }
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for contract in &output.contracts {
            let artifact = serde_json::json!({
                "contractName": contract.name,
                "sourceName": contract.file,
                "abi": contract.abi,
                "bytecode": contract.bytecode,
                "deployedBytecode": contract.deployed_bytecode,
                "compiler": output.compiler,
                "sourceHash": output.source_hash,
            });
            let path = out.join(format!("{}.json", contract.name));
            std::fs::write(&path, serde_json::to_vec_pretty(&artifact)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    if !args.json {
        println!(
            "Compiled {} contract(s) with {} ({}) in {} ms:",
            output.contracts.len(),
            output.compiler,
            output.version_reason,
            output.elapsed_ms
        );
        for contract in &output.contracts {
            let size = contract.deployed_bytecode.len().saturating_sub(2) / 2;
            let note = if contract.deployable {
                format!("{size} bytes of code")
            } else {
                "not deployable (interface, abstract or unlinked)".into()
            };
            println!("  {}:{}  {note}", contract.file, contract.name);
        }
        if let Some(out) = &args.out {
            println!("Artifacts in {}", out.display());
        }
    }
    Ok(())
}

/// The directory source names are relative to: `--base-path`, or the current directory.
pub(crate) fn base_dir(base_path: Option<&Path>) -> anyhow::Result<PathBuf> {
    let base = match base_path {
        Some(base) => base.to_path_buf(),
        None => std::env::current_dir()?,
    };
    base.canonicalize()
        .with_context(|| format!("the base path {}", base.display()))
}

/// A file's source name: its path relative to the base, with `/` separators.
pub(crate) fn source_name(base: &Path, path: &Path) -> anyhow::Result<String> {
    let relative = path.strip_prefix(base).with_context(|| {
        format!(
            "{} is outside the base path {}; run from a directory that holds it or pass --base-path",
            path.display(),
            base.display()
        )
    })?;
    let parts: Option<Vec<&str>> = relative.iter().map(|p| p.to_str()).collect();
    parts
        .map(|p| p.join("/"))
        .context("source paths must be UTF-8")
}
