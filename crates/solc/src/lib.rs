//! Solidity compilation as the platform and the CLI offer it. The compiler is a solcjs release
//! (`soljson.js` from the `solc` npm package) run by Node.js: the version the sources' pragmas
//! allow (the highest, unless one is asked for), installed on first use from the npm registry
//! after its tarball matched the registry's published sha512, and kept in a cache directory
//! (each use re-checks the installed file against the hash recorded at install). Imports are
//! resolved before the compiler runs — between the given files, from a loader (the CLI reads
//! the disk), and from allowed npm packages such as `@openzeppelin/contracts` — so the
//! compiler gets every source in one standard-JSON input. Diagnostics carry file, line and
//! column.

mod legacy;
mod pragma;
mod registry;
mod sources;

pub use pragma::Pragma;

/// Whether `range` is an npm version range the compiler reads for a package pin (`4.9.6`,
/// `^4.9.0`, `>=3.4 <4`); the reason when not (`npm:` aliases, git and file URLs, tags).
pub fn check_version_range(range: &str) -> Result<(), String> {
    pragma::parse_range(range).map(|_| ())
}
use registry::Registry;
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    io::Read as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Largest total size of the sources of one compilation (the caller's, not the packages').
pub const MAX_SOURCE_BYTES: usize = 2 * 1024 * 1024;
/// Most source files in one compilation.
pub const MAX_SOURCE_FILES: usize = 200;
/// npm packages whose Solidity files imports may name unless configured otherwise.
pub const DEFAULT_PACKAGES: &[&str] = &[
    "@openzeppelin/contracts",
    "@openzeppelin/contracts-upgradeable",
];
/// The EVM versions solc knows; the chain executes the newest (Osaka), so any is accepted.
pub const EVM_VERSIONS: &[&str] = &[
    "homestead",
    "tangerineWhistle",
    "spuriousDragon",
    "byzantium",
    "constantinople",
    "petersburg",
    "istanbul",
    "berlin",
    "london",
    "paris",
    "shanghai",
    "cancun",
    "prague",
    "osaka",
];

const RUNNER: &str = include_str!("runner.js");
const SOLC_PACKAGE: &str = "solc";

/// Why a compilation could not run. A compilation that ran and found errors in the sources is
/// not one of these: it is a [`CompileOutput`] with error diagnostics.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{file}:{line}: import \"{import}\" (source unit `{resolved}`) is not among the sources, and no allowed npm package provides it ({allowed}); add the file, or import from one of those packages"
    )]
    ImportNotFound {
        file: String,
        line: u32,
        import: String,
        resolved: String,
        allowed: String,
    },
    #[error("no solc release satisfies every pragma: {constraints}; change a pragma{hint}")]
    NoRelease { constraints: String, hint: String },
    #[error(
        "solc {0} is not a solcjs release; list them with GET /api/v1/compilers or `ricaas compile --list`"
    )]
    UnknownVersion(String),
    #[error("npm package {package}: {message}")]
    Package { package: String, message: String },
    #[error(
        "the npm registry could not be reached ({0}); compilers and packages already in the cache still work"
    )]
    Registry(String),
    #[error(
        "{what} does not match the integrity the npm registry publishes ({expected}); it was not installed"
    )]
    Integrity { what: String, expected: String },
    #[error(
        "the installed {what} changed since it was installed (its hash differs); delete {path} to reinstall it"
    )]
    Tampered { what: String, path: String },
    #[error("compiling Solidity needs Node.js, which runs solcjs: {0}")]
    Node(String),
    #[error("solc {version} did not finish within {seconds} s; compile fewer or smaller sources")]
    Timeout { version: String, seconds: u64 },
    #[error("solc {version} failed: {message}")]
    Crashed { version: String, message: String },
    #[error("the compiler cache at {path}: {message}")]
    Cache { path: String, message: String },
}

pub(crate) fn cache_error(path: &Path, e: impl std::fmt::Display) -> CompileError {
    CompileError::Cache {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `path` whole or not at all (a temporary file in `cache`, renamed).
pub(crate) fn write_atomically(
    cache: &Path,
    path: &Path,
    bytes: &[u8],
) -> Result<(), CompileError> {
    use std::io::Write as _;
    let parent = path.parent().unwrap_or(cache);
    std::fs::create_dir_all(parent).map_err(|e| cache_error(parent, e))?;
    let mut file = tempfile::NamedTempFile::new_in(parent).map_err(|e| cache_error(parent, e))?;
    file.write_all(bytes).map_err(|e| cache_error(path, e))?;
    file.persist(path).map_err(|e| cache_error(path, e.error))?;
    Ok(())
}

/// Where compilers come from and how they run.
#[derive(Clone, Debug)]
pub struct CompilerConfig {
    /// Installed compilers, npm packages and registry indexes.
    pub cache_dir: PathBuf,
    /// The npm registry (`https://registry.npmjs.org`).
    pub registry_url: String,
    /// The Node.js executable.
    pub node: PathBuf,
    /// npm packages imports may name.
    pub packages: Vec<String>,
    /// Longest one compilation may run.
    pub timeout: Duration,
}

impl CompilerConfig {
    /// The defaults, with the cache in `cache_dir`: `RICAAS_NODE` or `node` on `PATH`,
    /// `RICAAS_NPM_REGISTRY` or npmjs.org, OpenZeppelin's packages, two minutes per compilation.
    pub fn new(cache_dir: PathBuf) -> Self {
        Self {
            cache_dir,
            registry_url: std::env::var("RICAAS_NPM_REGISTRY")
                .unwrap_or_else(|_| "https://registry.npmjs.org".into()),
            node: std::env::var_os("RICAAS_NODE").map_or_else(|| "node".into(), PathBuf::from),
            packages: DEFAULT_PACKAGES.iter().map(|p| (*p).to_owned()).collect(),
            timeout: Duration::from_secs(120),
        }
    }
}

/// The cache directory shared by tools on this machine: `RICAAS_COMPILER_CACHE`, else
/// `$XDG_CACHE_HOME/ricaas/compilers`, else `~/.cache/ricaas/compilers`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RICAAS_COMPILER_CACHE") {
        return dir.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map_or_else(std::env::temp_dir, |h| PathBuf::from(h).join(".cache"))
        });
    base.join("ricaas").join("compilers")
}

/// What to compile and how.
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompileRequest {
    /// Source unit name (a relative path ending in `.sol`) → its text. Imports between them
    /// use these names (`./Token.sol`, `contracts/lib/Math.sol`).
    pub sources: BTreeMap<String, String>,
    /// The solc version, e.g. `0.8.26`; by default the highest release every pragma allows.
    #[serde(default)]
    pub version: Option<String>,
    /// npm package → version or range for imports from it (default: its latest release),
    /// e.g. `{"@openzeppelin/contracts": "4.9.6"}`.
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
    /// Run the optimizer (default true).
    #[serde(default)]
    pub optimize: Option<bool>,
    /// Optimizer runs (default 200).
    #[serde(default)]
    pub runs: Option<u32>,
    /// Target EVM version (default: the compiler's own default).
    #[serde(default)]
    pub evm_version: Option<String>,
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// An error, warning or note of the compiler, placed in the sources.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Diagnostic {
    pub severity: Severity,
    /// The compiler's kind, e.g. `ParserError`, `TypeError`, `Warning`.
    pub kind: String,
    /// solc's error code (0.6 and later), e.g. `2314`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
    /// Where, when the compiler says: source unit, 1-based line and column (characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
    /// The compiler's own rendering, with the source line and a caret.
    pub formatted: String,
}

/// A contract of the caller's sources (not of imported packages).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CompiledContract {
    pub file: String,
    pub name: String,
    #[cfg_attr(feature = "schema", schema(value_type = Vec<Object>))]
    pub abi: Value,
    /// Creation code (`0x…`); `0x` for interfaces and abstract contracts.
    pub bytecode: String,
    /// Runtime code (`0x…`).
    pub deployed_bytecode: String,
    /// Whether it can be deployed: it has creation code and no unlinked libraries.
    pub deployable: bool,
}

/// The result of a compilation that ran.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CompileOutput {
    /// No error diagnostics.
    pub success: bool,
    /// The release, e.g. `0.8.26`.
    pub version: String,
    /// The compiler as it names itself, e.g. `solc 0.8.26+commit.8a97fa7a`.
    pub compiler: String,
    /// Why this version: asked for, or the pragmas that allowed it.
    pub version_reason: String,
    pub diagnostics: Vec<Diagnostic>,
    pub contracts: Vec<CompiledContract>,
    /// Keccak-256 (hex) over the caller's sources in name order: each name, a zero byte, its
    /// text, a zero byte — what a deployment records as its source hash.
    pub source_hash: String,
    /// npm packages the imports used, with the version.
    pub packages: BTreeMap<String, String>,
    /// Every source unit compiled: the caller's and those from packages.
    pub units: Vec<String>,
    pub elapsed_ms: u64,
    /// Per source unit, its text and solc's AST: what the security checker reads. Not part of
    /// the answer (an OpenZeppelin token's ASTs are megabytes).
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schema(ignore))]
    pub syntax: BTreeMap<String, SourceSyntax>,
}

/// A source unit as compiled: its text and solc's compact JSON AST (`nodeType`, `src` as
/// `start:length:file` in bytes of the text).
#[derive(Clone, Debug, Default)]
pub struct SourceSyntax {
    pub text: String,
    pub ast: Value,
    /// Its AST nested deeper than [`MAX_AST_DEPTH`] and was left out (`ast` is null).
    pub too_deep: bool,
}

/// A solcjs release and whether it is installed here.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Release {
    pub version: String,
    pub installed: bool,
}

/// Compiles Solidity. Safe to share between threads; installs are atomic renames, so two
/// compilations installing the same release at once both succeed.
pub struct Compiler {
    config: CompilerConfig,
    registry: Registry,
}

/// Reads a source unit the caller did not give, by its name (the CLI reads the disk).
pub type Loader<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Compiler {
    pub fn new(config: CompilerConfig) -> Self {
        let registry = Registry::new(
            &config.registry_url,
            &config.cache_dir,
            Duration::from_secs(60),
        );
        Self { config, registry }
    }

    pub fn config(&self) -> &CompilerConfig {
        &self.config
    }

    /// Every solcjs release from 0.4.0 (before 0.4.11, without the standard-JSON interface,
    /// through the multi-file one), newest first. Without the registry, the installed ones.
    pub fn releases(&self) -> Result<Vec<Release>, CompileError> {
        let installed = self.installed();
        let mut versions: BTreeSet<Version> = match self.registry.index(SOLC_PACKAGE) {
            Ok(index) => solc_releases(&index).into_keys().collect(),
            Err(e) if !installed.is_empty() => {
                tracing::warn!(error = %e, "listing the installed compilers only");
                installed.iter().cloned().collect()
            }
            Err(e) => return Err(e),
        };
        versions.extend(installed.iter().cloned());
        Ok(versions
            .into_iter()
            .rev()
            .map(|v| Release {
                installed: installed.contains(&v),
                version: v.to_string(),
            })
            .collect())
    }

    fn installed(&self) -> BTreeSet<Version> {
        let Ok(entries) = std::fs::read_dir(self.config.cache_dir.join("solc")) else {
            return BTreeSet::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("soljson.sha256").is_file())
            .filter_map(|e| Version::parse(e.file_name().to_str()?).ok())
            .collect()
    }

    /// The release's `soljson.js`, installed first if it is not (downloaded, checked against
    /// the registry's integrity, unpacked, renamed into place).
    pub fn install(&self, version: &Version) -> Result<PathBuf, CompileError> {
        let dir = self.config.cache_dir.join("solc").join(version.to_string());
        let soljson = dir.join("soljson.js");
        let what = format!("solc {version}");
        if let Ok(recorded) = std::fs::read_to_string(dir.join("soljson.sha256")) {
            let actual = std::fs::read(&soljson).map(|b| hex(&sha2::Sha256::digest(&b)));
            if actual.as_deref().is_ok_and(|a| a == recorded.trim()) {
                return Ok(soljson);
            }
            return Err(CompileError::Tampered {
                what,
                path: dir.display().to_string(),
            });
        }
        let index = self.registry.index(SOLC_PACKAGE)?;
        let releases = solc_releases(&index);
        let dist = releases
            .get(version)
            .ok_or_else(|| CompileError::UnknownVersion(version.to_string()))?;
        tracing::info!(%version, "installing solc from the npm registry");
        let tarball = self.registry.download(&what, dist)?;
        let staging = self.staging()?;
        let count = registry::extract(&tarball, |name| name == "soljson.js", staging.path())?;
        if count != 1 {
            return Err(CompileError::Package {
                package: format!("solc@{version}"),
                message: "the tarball has no soljson.js".into(),
            });
        }
        let bytes = std::fs::read(staging.path().join("soljson.js"))
            .map_err(|e| cache_error(staging.path(), e))?;
        // solc@0.4.0 on npm carries a "Page not found" web page where the compiler should be.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
            return Err(CompileError::Package {
                package: format!("solc@{version}"),
                message: "its soljson.js is a web page, not a compiler (the release was \
                    published broken); choose another release of the same series"
                    .into(),
            });
        }
        std::fs::write(
            staging.path().join("soljson.sha256"),
            hex(&sha2::Sha256::digest(&bytes)),
        )
        .map_err(|e| cache_error(staging.path(), e))?;
        self.publish(staging, &dir)?;
        Ok(soljson)
    }

    /// A fresh directory inside the cache (same file system, so it can be renamed into place).
    fn staging(&self) -> Result<tempfile::TempDir, CompileError> {
        let tmp = self.config.cache_dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| cache_error(&tmp, e))?;
        tempfile::tempdir_in(&tmp).map_err(|e| cache_error(&tmp, e))
    }

    /// Renames a staged directory into place; if another install got there first, keeps that.
    fn publish(&self, staging: tempfile::TempDir, dir: &Path) -> Result<(), CompileError> {
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| cache_error(parent, e))?;
        }
        let staged = staging.keep();
        if let Err(e) = std::fs::rename(&staged, dir) {
            let _ = std::fs::remove_dir_all(&staged);
            if !dir.is_dir() {
                return Err(cache_error(dir, e));
            }
        }
        Ok(())
    }

    /// An npm package's Solidity files at the version `requested` names (exact or a range;
    /// latest by default): its directory in the cache and the version.
    pub fn install_package(
        &self,
        package: &str,
        requested: Option<&str>,
    ) -> Result<(PathBuf, String), CompileError> {
        let package_error = |message: String| CompileError::Package {
            package: package.to_owned(),
            message,
        };
        if !self.config.packages.iter().any(|p| p == package) {
            return Err(package_error(format!(
                "imports may use only {}",
                self.config.packages.join(", ")
            )));
        }
        let base = self.config.cache_dir.join("npm").join(package);
        // An exact version already installed needs no registry.
        if let Some(exact) = requested.filter(|r| Version::parse(r).is_ok())
            && base.join(exact).join(".integrity").is_file()
        {
            return Ok((base.join(exact), exact.to_owned()));
        }
        let index = self.registry.index(package)?;
        let version = match requested {
            None => index
                .latest
                .clone()
                .ok_or_else(|| package_error("the registry names no latest version".into()))?,
            Some(range) => {
                let pragma = pragma::parse_range(range).map_err(|e| {
                    package_error(format!("cannot read the version `{range}`: {e}"))
                })?;
                // A range takes releases only; a version named exactly may be a pre-release
                // (OpenZeppelin published `3.4.1-solc-0.7-2` for solc 0.7 projects).
                let exact = Version::parse(range).ok();
                index
                    .versions
                    .keys()
                    .filter_map(|v| Version::parse(v).ok())
                    .filter(|v| {
                        exact.as_ref() == Some(v)
                            || (v.pre.is_empty() && pragma.iter().any(|r| r.matches(v)))
                    })
                    .max()
                    .map(|v| v.to_string())
                    .ok_or_else(|| package_error(format!("no release matches `{range}`")))?
            }
        };
        let dir = base.join(&version);
        if dir.join(".integrity").is_file() {
            return Ok((dir, version));
        }
        let dist = index
            .versions
            .get(&version)
            .ok_or_else(|| package_error(format!("version {version} is not published")))?;
        tracing::info!(package, %version, "installing an npm package of Solidity sources");
        let tarball = self
            .registry
            .download(&format!("{package}@{version}"), dist)?;
        let staging = self.staging()?;
        registry::extract(
            &tarball,
            |name| name.ends_with(".sol") || name == "package.json",
            staging.path(),
        )?;
        std::fs::write(staging.path().join(".integrity"), &dist.integrity)
            .map_err(|e| cache_error(staging.path(), e))?;
        self.publish(staging, &dir)?;
        Ok((dir, version))
    }

    /// Compiles `request`. Sources it imports but does not give come from `loader`, then from
    /// the allowed npm packages.
    pub fn compile(
        &self,
        request: &CompileRequest,
        loader: Option<Loader<'_>>,
    ) -> Result<CompileOutput, CompileError> {
        let started = Instant::now();
        check_request(request)?;
        let (units, packages) = self.resolve_imports(request, loader)?;
        let mut pragmas = Vec::new();
        for (name, content) in &units {
            pragmas.extend(pragma::pragmas(name, content).map_err(CompileError::Invalid)?);
        }
        let (mut version, mut version_reason) =
            self.choose_version(request, &pragmas, &packages)?;
        let soljson = self.install(&version)?;
        let input = standard_input(request, &units);
        let (mut long_version, mut output, mut too_deep) = self.run(&version, &soljson, &input)?;
        let mut diagnostics = diagnostics(&output, &units);
        if request.version.is_none()
            && let Some(failure) = diagnostics.iter().find(|d| d.severity == Severity::Error)
            && let Some(older) = self.older_series_that_compiles(&version, &pragmas, &input)
        {
            let allowed = if pragmas.is_empty() {
                "the newest release that compiles the sources (no pragma names a version; "
                    .to_owned()
            } else {
                format!(
                    "the newest release allowed by {} that compiles the sources (",
                    pragma_texts(&pragmas)
                )
            };
            version_reason = format!("{allowed}{version} does not: {})", failure.message);
            (version, long_version, output, too_deep) = older;
            diagnostics = self::diagnostics(&output, &units);
        }
        let user: BTreeSet<&str> = request.sources.keys().map(String::as_str).collect();
        let contracts = contracts(&output, &user);
        Ok(CompileOutput {
            success: !diagnostics.iter().any(|d| d.severity == Severity::Error),
            version: version.to_string(),
            compiler: format!(
                "solc {}",
                long_version.trim_end_matches(".Emscripten.clang")
            ),
            version_reason,
            diagnostics,
            contracts,
            source_hash: source_hash(&request.sources),
            packages,
            syntax: syntax(&output, &units, &too_deep),
            units: units.keys().cloned().collect(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Every source unit the compilation needs, by following imports from the caller's.
    #[allow(clippy::type_complexity)]
    fn resolve_imports(
        &self,
        request: &CompileRequest,
        loader: Option<Loader<'_>>,
    ) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>), CompileError> {
        let mut units = request.sources.clone();
        let mut packages: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
        let mut queue: VecDeque<String> = units.keys().cloned().collect();
        let mut loaded_bytes = 0usize;
        while let Some(name) = queue.pop_front() {
            let imports = sources::imports(&units[&name]);
            for import in imports {
                let resolved = sources::resolve(&name, &import.path)
                    .map_err(|e| CompileError::Invalid(format!("{name}:{}: {e}", import.line)))?;
                if units.contains_key(&resolved) {
                    continue;
                }
                let content = if let Some(text) = loader.and_then(|load| load(&resolved)) {
                    Some(text)
                } else if let Some(package) = self.package_of(&resolved) {
                    let (dir, _) = match packages.get(&package) {
                        Some(found) => found.clone(),
                        None => {
                            let found = self.install_package(
                                &package,
                                request.dependencies.get(&package).map(String::as_str),
                            )?;
                            packages.insert(package.clone(), found.clone());
                            found
                        }
                    };
                    std::fs::read_to_string(dir.join(&resolved[package.len() + 1..])).ok()
                } else {
                    None
                };
                let Some(content) = content else {
                    return Err(CompileError::ImportNotFound {
                        file: name.clone(),
                        line: import.line,
                        import: import.path,
                        resolved,
                        allowed: self.config.packages.join(", "),
                    });
                };
                loaded_bytes += content.len();
                if loaded_bytes > 16 * MAX_SOURCE_BYTES {
                    return Err(CompileError::Invalid(
                        "the imported sources are larger than the compiler accepts".into(),
                    ));
                }
                units.insert(resolved.clone(), content);
                queue.push_back(resolved);
            }
        }
        Ok((
            units,
            packages.into_iter().map(|(p, (_, v))| (p, v)).collect(),
        ))
    }

    /// The allowed npm package a source unit name belongs to, if any.
    fn package_of(&self, name: &str) -> Option<String> {
        self.config
            .packages
            .iter()
            .find(|p| name.starts_with(p.as_str()) && name.as_bytes().get(p.len()) == Some(&b'/'))
            .cloned()
    }

    /// When the newest release a range of pragmas (or none) allows does not compile the sources
    /// (code written for 0.5 under `>=0.5.12`, which 0.8 refuses), the newest release of an
    /// older series the pragmas also allow that does, trying each series down, at most four.
    fn older_series_that_compiles(
        &self,
        failed: &Version,
        pragmas: &[Pragma],
        input: &Value,
    ) -> Option<(Version, String, Value, BTreeSet<String>)> {
        let releases: Vec<Version> = self
            .releases()
            .ok()?
            .into_iter()
            .filter_map(|r| Version::parse(&r.version).ok())
            .collect();
        let mut below = (failed.major, failed.minor);
        for _ in 0..4 {
            let older = pragma::select(
                releases.iter().filter(|v| (v.major, v.minor) < below),
                pragmas,
            )?;
            below = (older.major, older.minor);
            let Ok(soljson) = self.install(&older) else {
                continue;
            };
            let Ok((long_version, output, too_deep)) = self.run(&older, &soljson, input) else {
                continue;
            };
            let compiled = output["errors"]
                .as_array()
                .is_none_or(|errors| errors.iter().all(|e| e["severity"] != "error"));
            if compiled {
                return Some((older, long_version, output, too_deep));
            }
        }
        None
    }

    fn choose_version(
        &self,
        request: &CompileRequest,
        pragmas: &[Pragma],
        packages: &BTreeMap<String, String>,
    ) -> Result<(Version, String), CompileError> {
        if let Some(asked) = &request.version {
            let version = Version::parse(asked.trim().trim_start_matches('v'))
                .map_err(|_| CompileError::UnknownVersion(asked.clone()))?;
            // An installed release needs no registry; any other must be one.
            if !self.installed().contains(&version) {
                let index = self.registry.index(SOLC_PACKAGE)?;
                if !solc_releases(&index).contains_key(&version) {
                    return Err(CompileError::UnknownVersion(asked.clone()));
                }
            }
            return Ok((version, "asked for".into()));
        }
        let releases: Vec<Version> = self
            .releases()?
            .into_iter()
            .filter_map(|r| Version::parse(&r.version).ok())
            .collect();
        let describe = |p: &Pragma| format!("{} ({}:{})", p.text, p.file, p.line);
        match pragma::select(&releases, pragmas) {
            Some(version) => {
                let reason = if pragmas.is_empty() {
                    "the newest release (no pragma names a version)".to_owned()
                } else {
                    format!("the newest release allowed by {}", pragma_texts(pragmas))
                };
                Ok((version, reason))
            }
            None => {
                let mut constraints: Vec<String> = pragmas.iter().map(describe).collect();
                constraints.dedup();
                let hint = if packages.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", or pin another version of {} in `dependencies`",
                        packages
                            .iter()
                            .map(|(p, v)| format!("{p} (now {v})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                Err(CompileError::NoRelease {
                    constraints: constraints.join(", "),
                    hint,
                })
            }
        }
    }

    /// Runs the release on a standard-JSON input in a Node.js process bounded in time.
    fn run(
        &self,
        version: &Version,
        soljson: &Path,
        input: &Value,
    ) -> Result<(String, Value, BTreeSet<String>), CompileError> {
        let work = self.staging()?;
        let runner = work.path().join("runner.js");
        let input_path = work.path().join("input.json");
        let output_path = work.path().join("output.json");
        std::fs::write(&runner, RUNNER).map_err(|e| cache_error(&runner, e))?;
        std::fs::write(&input_path, input.to_string()).map_err(|e| cache_error(&input_path, e))?;
        let crashed = |message: String| CompileError::Crashed {
            version: version.to_string(),
            message,
        };
        let mut child = Command::new(&self.config.node)
            .arg("--max-old-space-size=2048")
            .arg(&runner)
            .arg(soljson)
            .arg(&input_path)
            .arg(&output_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                CompileError::Node(if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "`{}` was not found; install Node.js 18 or later, or name it with RICAAS_NODE",
                        self.config.node.display()
                    )
                } else {
                    format!("starting `{}`: {e}", self.config.node.display())
                })
            })?;
        let stderr = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stderr) = stderr {
                // Read all of it (a child blocked on a full pipe would never exit), keep the end.
                let mut bytes = Vec::new();
                let _ = stderr.read_to_end(&mut bytes);
                let keep = bytes.len().saturating_sub(64 * 1024);
                text = String::from_utf8_lossy(&bytes[keep..]).into_owned();
            }
            text
        });
        let deadline = Instant::now() + self.config.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CompileError::Timeout {
                        version: version.to_string(),
                        seconds: self.config.timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(crashed(e.to_string())),
            }
        };
        let stderr = reader.join().unwrap_or_default();
        if !status.success() {
            // The last lines, each cut short: a crash inside soljson.js prints a line of its
            // minified source (megabytes) before the error.
            let tail: String = stderr
                .lines()
                .filter(|line| !line.trim().is_empty())
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .map(|line| {
                    let chars: Vec<char> = line.chars().collect();
                    if chars.len() <= 240 {
                        return line.to_owned();
                    }
                    let head: String = chars[..80].iter().collect();
                    let tail: String = chars[chars.len() - 160..].iter().collect();
                    format!("{head} … {tail}")
                })
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(crashed(format!(
                "the compiler process exited with {status}: {tail}"
            )));
        }
        let text = std::fs::read(&output_path).map_err(|e| crashed(format!("no output: {e}")))?;
        let texts: HashMap<String, String> = input["sources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(name, unit)| Some((name.clone(), unit["content"].as_str()?.to_owned())))
            .collect();
        let (mut result, too_deep) =
            parse_output(text, texts).map_err(|e| crashed(format!("unreadable output: {e}")))?;
        let long_version = result["version"].as_str().unwrap_or_default().to_owned();
        Ok((long_version, result["output"].take(), too_deep))
    }
}

/// JSON nesting of a unit's AST the compiler hands on (a function nested about 250 blocks or
/// expressions deep). Deeper ASTs are left out — the unit still compiles, and the security
/// checker says it could not read it — so that nothing downstream recurses without bound.
pub const MAX_AST_DEPTH: usize = 1_000;

/// Stack of the thread that parses solc's output: parsing JSON recurses once per level, and
/// solc's own parser allows deeper nesting than a default thread stack holds.
const PARSE_STACK_BYTES: usize = 64 << 20;

/// solc's standard JSON output, with every unit AST nested deeper than [`MAX_AST_DEPTH`]
/// removed (and dropped here, on the big stack) and legacy ASTs (releases before 0.4.11)
/// converted to compact ones (`texts`: each unit's source); returns the names of the units
/// left without an AST.
fn parse_output(
    text: Vec<u8>,
    texts: HashMap<String, String>,
) -> Result<(Value, BTreeSet<String>), String> {
    let parse = move || -> Result<(Value, BTreeSet<String>), String> {
        use serde::Deserialize as _;
        let mut reader = serde_json::Deserializer::from_slice(&text);
        reader.disable_recursion_limit();
        let mut value = Value::deserialize(&mut reader).map_err(|e| e.to_string())?;
        reader.end().map_err(|e| e.to_string())?;
        let mut too_deep = BTreeSet::new();
        if let Some(sources) = value["output"]["sources"].as_object_mut() {
            for (name, source) in sources.iter_mut() {
                for key in ["ast", "legacyAST"] {
                    if json_depth(&source[key]) > MAX_AST_DEPTH {
                        drop(source[key].take());
                        too_deep.insert(name.clone());
                    }
                }
            }
        }
        if json_depth(&value) > MAX_AST_DEPTH + 8 {
            drop(value);
            return Err(format!("nested deeper than {MAX_AST_DEPTH} levels"));
        }
        if let Some(sources) = value["output"]["sources"].as_object_mut() {
            legacy::convert_units(sources, &texts);
        }
        Ok((value, too_deep))
    };
    std::thread::Builder::new()
        .name("solc-output".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(parse)
        .map_err(|e| format!("no thread to read it: {e}"))?
        .join()
        .map_err(|_| "reading it failed".to_owned())?
}

/// How deeply `value` nests (a scalar is 1), without recursing.
fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(fields) => pending.extend(fields.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    deepest
}

/// solc's releases from its npm index: `0.8.7-fixed` replaces a broken `0.8.7`; other
/// pre-releases and versions before 0.4.0 (another language, outside what the security
/// checker reads) are left out.
fn solc_releases(index: &registry::PackageIndex) -> BTreeMap<Version, registry::Dist> {
    let mut releases = BTreeMap::new();
    let mut fixed = BTreeSet::new();
    for (name, dist) in &index.versions {
        let Ok(mut version) = Version::parse(name) else {
            continue;
        };
        if version.pre.as_str() == "fixed" {
            version.pre = semver::Prerelease::EMPTY;
            fixed.insert(version.clone());
        } else if !version.pre.is_empty() || fixed.contains(&version) {
            continue;
        }
        if version < Version::new(0, 4, 0) {
            continue;
        }
        releases.insert(version, dist.clone());
    }
    releases
}

fn check_request(request: &CompileRequest) -> Result<(), CompileError> {
    if request.sources.is_empty() {
        return Err(CompileError::Invalid(
            "give at least one source: `sources` maps a file name such as `contracts/Token.sol` to its text".into(),
        ));
    }
    if request.sources.len() > MAX_SOURCE_FILES {
        return Err(CompileError::Invalid(format!(
            "{} sources; at most {MAX_SOURCE_FILES} in one compilation",
            request.sources.len()
        )));
    }
    let total: usize = request.sources.values().map(String::len).sum();
    if total > MAX_SOURCE_BYTES {
        return Err(CompileError::Invalid(format!(
            "the sources are {total} bytes; at most {MAX_SOURCE_BYTES} in one compilation"
        )));
    }
    for name in request.sources.keys() {
        sources::check_name(name).map_err(CompileError::Invalid)?;
    }
    if let Some(evm) = &request.evm_version
        && !EVM_VERSIONS.contains(&evm.as_str())
    {
        return Err(CompileError::Invalid(format!(
            "`evm_version` {evm} is not one solc knows: {}",
            EVM_VERSIONS.join(", ")
        )));
    }
    if request.runs == Some(0) {
        return Err(CompileError::Invalid("`runs` is at least 1".into()));
    }
    Ok(())
}

fn standard_input(request: &CompileRequest, units: &BTreeMap<String, String>) -> Value {
    let sources: serde_json::Map<String, Value> = units
        .iter()
        .map(|(name, content)| (name.clone(), json!({ "content": content })))
        .collect();
    let mut settings = json!({
        "optimizer": {
            "enabled": request.optimize.unwrap_or(true),
            "runs": request.runs.unwrap_or(200),
        },
        "outputSelection": {
            "*": {
                "": ["ast"],
                "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]
            }
        },
    });
    if let Some(evm) = &request.evm_version {
        settings["evmVersion"] = json!(evm);
    }
    json!({ "language": "Solidity", "sources": sources, "settings": settings })
}

fn diagnostics(output: &Value, units: &BTreeMap<String, String>) -> Vec<Diagnostic> {
    let Some(errors) = output["errors"].as_array() else {
        return Vec::new();
    };
    errors
        .iter()
        .map(|e| {
            let text = |key: &str| e[key].as_str().map(str::to_owned);
            let severity = match e["severity"].as_str() {
                Some("error") => Severity::Error,
                Some("warning") => Severity::Warning,
                _ => Severity::Info,
            };
            let location = &e["sourceLocation"];
            let file = location["file"]
                .as_str()
                .filter(|f| !f.is_empty())
                .map(str::to_owned);
            let (mut line, mut column, mut end_line, mut end_column) = (None, None, None, None);
            if let (Some(file), Some(start)) = (&file, location["start"].as_u64())
                && let Some(content) = units.get(file)
                && start as i64 >= 0
            {
                let start = usize::try_from(start).unwrap_or(usize::MAX);
                let end = location["end"]
                    .as_u64()
                    .and_then(|e| usize::try_from(e).ok())
                    .unwrap_or(start);
                let (l, c) = sources::position(content, start);
                let (el, ec) = sources::position(content, end.max(start));
                (line, column, end_line, end_column) = (Some(l), Some(c), Some(el), Some(ec));
            }
            Diagnostic {
                severity,
                kind: text("type").unwrap_or_else(|| "Error".into()),
                code: text("errorCode"),
                message: text("message").unwrap_or_default(),
                file,
                line,
                column,
                end_line,
                end_column,
                formatted: text("formattedMessage")
                    .unwrap_or_default()
                    .trim_end()
                    .to_owned(),
            }
        })
        .collect()
}

/// Each unit's text with the AST solc gave for it (units without one, after an error, are left
/// out; those whose AST was too deep to hand on are kept, marked, without it).
fn syntax(
    output: &Value,
    units: &BTreeMap<String, String>,
    too_deep: &BTreeSet<String>,
) -> BTreeMap<String, SourceSyntax> {
    units
        .iter()
        .filter_map(|(name, text)| {
            let ast = &output["sources"][name]["ast"];
            let too_deep = too_deep.contains(name);
            (ast.is_object() || too_deep).then(|| {
                (
                    name.clone(),
                    SourceSyntax {
                        text: text.clone(),
                        ast: ast.clone(),
                        too_deep,
                    },
                )
            })
        })
        .collect()
}

fn contracts(output: &Value, user: &BTreeSet<&str>) -> Vec<CompiledContract> {
    let Some(files) = output["contracts"].as_object() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (file, contracts) in files {
        if !user.contains(file.as_str()) {
            continue;
        }
        let Some(contracts) = contracts.as_object() else {
            continue;
        };
        for (name, contract) in contracts {
            let code = |key: &str| {
                format!(
                    "0x{}",
                    contract["evm"][key]["object"].as_str().unwrap_or_default()
                )
            };
            let bytecode = code("bytecode");
            // Unlinked library references are `__$…$__` placeholders, not hex.
            let deployable =
                bytecode.len() > 2 && bytecode[2..].bytes().all(|b| b.is_ascii_hexdigit());
            found.push(CompiledContract {
                file: file.clone(),
                name: name.clone(),
                abi: contract["abi"].clone(),
                deployed_bytecode: code("deployedBytecode"),
                bytecode,
                deployable,
            });
        }
    }
    found
}

/// The pragmas' version ranges as written, once each: `^0.8.0, >=0.5.12`.
fn pragma_texts(pragmas: &[Pragma]) -> String {
    let mut texts: Vec<&str> = pragmas.iter().map(|p| p.text.as_str()).collect();
    texts.dedup();
    texts.join(", ")
}

fn source_hash(sources: &BTreeMap<String, String>) -> String {
    let mut bytes = Vec::new();
    for (name, content) in sources {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(content.as_bytes());
        bytes.push(0);
    }
    format!("{}", alloy_primitives::keccak256(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    alloy_primitives::hex::encode(bytes)
}
