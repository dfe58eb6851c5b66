//! The npm registry as a source of compilers and Solidity libraries: package indexes (cached,
//! refreshed after a while, the stale copy used when the registry cannot be reached) and
//! tarballs checked against the registry's published `sha512` integrity before anything in
//! them is used.

use crate::CompileError;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::{
    collections::BTreeMap,
    io::Read as _,
    path::{Component, Path, PathBuf},
    time::{Duration, SystemTime},
};

/// How long a cached package index is used before it is fetched again.
const INDEX_TTL: Duration = Duration::from_secs(600);
/// Largest tarball accepted (soljson.js releases are about 3 MB compressed, 9 MB unpacked).
const MAX_TARBALL_BYTES: u64 = 64 * 1024 * 1024;
/// Largest package index accepted.
const MAX_INDEX_BYTES: u64 = 32 * 1024 * 1024;

/// Where a version's tarball is and the hash the registry publishes for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dist {
    pub tarball: String,
    pub integrity: String,
}

/// The versions of one package.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PackageIndex {
    pub latest: Option<String>,
    pub versions: BTreeMap<String, Dist>,
}

pub struct Registry {
    url: String,
    agent: ureq::Agent,
    cache: PathBuf,
}

#[derive(Deserialize)]
struct AbbreviatedDocument {
    #[serde(rename = "dist-tags", default)]
    dist_tags: BTreeMap<String, String>,
    #[serde(default)]
    versions: BTreeMap<String, AbbreviatedVersion>,
}

#[derive(Deserialize)]
struct AbbreviatedVersion {
    dist: AbbreviatedDist,
}

#[derive(Deserialize)]
struct AbbreviatedDist {
    tarball: String,
    integrity: Option<String>,
}

impl Registry {
    pub fn new(url: &str, cache: &Path, timeout: Duration) -> Self {
        // The system's trust store, not a bundled one: machines behind a TLS-inspecting
        // proxy trust its CA there.
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .tls_config(tls)
            .build()
            .into();
        Self {
            url: url.trim_end_matches('/').to_owned(),
            agent,
            cache: cache.to_owned(),
        }
    }

    /// The package's versions: from the cache while fresh, else from the registry; a stale
    /// cached copy when the registry cannot be reached.
    pub fn index(&self, package: &str) -> Result<PackageIndex, CompileError> {
        let path = self
            .cache
            .join("index")
            .join(format!("{}.json", package.replace('/', "+")));
        let cached = || -> Option<(PackageIndex, Duration)> {
            let age = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or(Duration::MAX);
            let text = std::fs::read(&path).ok()?;
            Some((serde_json::from_slice(&text).ok()?, age))
        };
        if let Some((index, age)) = cached()
            && age < INDEX_TTL
        {
            return Ok(index);
        }
        match self.fetch_index(package) {
            Ok(index) => {
                let text = serde_json::to_vec(&index)
                    .map_err(|e| CompileError::Registry(e.to_string()))?;
                crate::write_atomically(&self.cache, &path, &text)?;
                Ok(index)
            }
            Err(e) => match cached() {
                Some((index, _)) => {
                    tracing::warn!(package, error = %e, "npm registry unreachable; using the cached index");
                    Ok(index)
                }
                None => Err(e),
            },
        }
    }

    fn fetch_index(&self, package: &str) -> Result<PackageIndex, CompileError> {
        let url = format!("{}/{}", self.url, package.replace('/', "%2f"));
        let mut response = self
            .agent
            .get(&url)
            .header("Accept", "application/vnd.npm.install-v1+json")
            .call()
            .map_err(|e| CompileError::Registry(format!("{url}: {e}")))?;
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_INDEX_BYTES)
            .read_to_vec()
            .map_err(|e| CompileError::Registry(format!("{url}: {e}")))?;
        let document: AbbreviatedDocument = serde_json::from_slice(&bytes)
            .map_err(|e| CompileError::Registry(format!("{url}: not a package document: {e}")))?;
        Ok(PackageIndex {
            latest: document.dist_tags.get("latest").cloned(),
            versions: document
                .versions
                .into_iter()
                // A version without a sha512 integrity cannot be checked, so it is not offered.
                .filter_map(|(version, v)| {
                    let integrity = v.dist.integrity.filter(|i| i.starts_with("sha512-"))?;
                    Some((
                        version,
                        Dist {
                            tarball: v.dist.tarball,
                            integrity,
                        },
                    ))
                })
                .collect(),
        })
    }

    /// The tarball of `what`, refused unless its sha512 is the one the registry publishes.
    pub fn download(&self, what: &str, dist: &Dist) -> Result<Vec<u8>, CompileError> {
        let mut response = self
            .agent
            .get(&dist.tarball)
            .call()
            .map_err(|e| CompileError::Registry(format!("{}: {e}", dist.tarball)))?;
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_TARBALL_BYTES)
            .read_to_vec()
            .map_err(|e| CompileError::Registry(format!("{}: {e}", dist.tarball)))?;
        check_integrity(what, &bytes, &dist.integrity)?;
        Ok(bytes)
    }
}

/// Checks `bytes` against a subresource-integrity string (`sha512-<base64>`).
pub fn check_integrity(what: &str, bytes: &[u8], integrity: &str) -> Result<(), CompileError> {
    let mismatch = || CompileError::Integrity {
        what: what.to_owned(),
        expected: integrity.to_owned(),
    };
    let expected = integrity
        .strip_prefix("sha512-")
        .and_then(|b64| data_encoding::BASE64.decode(b64.as_bytes()).ok())
        .ok_or_else(mismatch)?;
    if sha2::Sha512::digest(bytes)[..] == expected[..] {
        Ok(())
    } else {
        Err(mismatch())
    }
}

/// Unpacks the files of an npm tarball (`package/…`) that `keep` accepts into `into`, paths
/// relative to the package root. Entries that would leave `into` are refused.
pub fn extract(
    tarball: &[u8],
    keep: impl Fn(&str) -> bool,
    into: &Path,
) -> Result<usize, CompileError> {
    let broken =
        |e: std::io::Error| CompileError::Registry(format!("a broken package tarball: {e}"));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    let mut count = 0;
    for entry in archive.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(broken)?.into_owned();
        let mut components = path.components();
        // npm packs everything under one top directory, usually `package/`.
        if !matches!(components.next(), Some(Component::Normal(_))) {
            continue;
        }
        let relative: PathBuf = components.as_path().to_owned();
        if relative.as_os_str().is_empty()
            || !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            continue;
        }
        let Some(name) = relative.to_str() else {
            continue;
        };
        if !keep(name) {
            continue;
        }
        let target = into.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| crate::cache_error(parent, e))?;
        }
        let mut content = Vec::new();
        entry
            .by_ref()
            .take(MAX_TARBALL_BYTES)
            .read_to_end(&mut content)
            .map_err(broken)?;
        std::fs::write(&target, &content).map_err(|e| crate::cache_error(&target, e))?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_is_the_sha512_the_registry_publishes() {
        let bytes = b"soljson";
        let good = format!(
            "sha512-{}",
            data_encoding::BASE64.encode(&sha2::Sha512::digest(bytes))
        );
        assert!(check_integrity("solc 0.8.0", bytes, &good).is_ok());
        let err = check_integrity("solc 0.8.0", b"tampered", &good).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(check_integrity("x", bytes, "sha1-abc").is_err());
    }
}
